-- Per-command request counters, so tests can check how many requests
-- reached the sandbox, how many changed state, and which faults were hit.

local _M = {}

local by_command, totals

local function fresh()
  return { received = 0, applied = 0, faults = {} }
end

function _M.clear()
  by_command, totals = {}, fresh()
end
_M.clear()

local function entry(command)
  local e = by_command[command]
  if not e then
    e = fresh()
    by_command[command] = e
  end
  return e
end

function _M.received(command)
  entry(command).received = entry(command).received + 1
  totals.received = totals.received + 1
end

function _M.applied(command)
  entry(command).applied = entry(command).applied + 1
  totals.applied = totals.applied + 1
end

function _M.fault(command, label)
  local e = entry(command)
  e.faults[label] = (e.faults[label] or 0) + 1
  totals.faults[label] = (totals.faults[label] or 0) + 1
end

function _M.snapshot()
  return { commands = by_command, totals = totals }
end

return _M
