-- Per-command request counters, so tests can check how many requests
-- reached the sandbox, how many changed state, and which faults were hit.

local M = {}

local by_command, totals

local function fresh()
  return { received = 0, applied = 0, faults = {} }
end

function M.clear()
  by_command, totals = {}, fresh()
end
M.clear()

local function entry(command)
  local e = by_command[command]
  if not e then
    e = fresh()
    by_command[command] = e
  end
  return e
end

function M.received(command)
  entry(command).received = entry(command).received + 1
  totals.received = totals.received + 1
end

function M.applied(command)
  entry(command).applied = entry(command).applied + 1
  totals.applied = totals.applied + 1
end

function M.fault(command, label)
  local e = entry(command)
  e.faults[label] = (e.faults[label] or 0) + 1
  totals.faults[label] = (totals.faults[label] or 0) + 1
end

function M.snapshot()
  return { commands = by_command, totals = totals }
end

return M
