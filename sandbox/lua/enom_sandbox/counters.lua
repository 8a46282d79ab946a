-- Per-command request counters, so tests can check how many requests
-- reached the sandbox, how many changed state, and which faults were hit;
-- and when they arrived (per second, and the first and last), so a test
-- can check a client's requests per second against a rate limit.

local _M = {}

local by_command, totals, arrivals

local function fresh()
  return { received = 0, applied = 0, faults = {} }
end

function _M.clear()
  by_command, totals = {}, fresh()
  arrivals = { total = 0, per_second = {} }
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
  ngx.update_time()
  local t = ngx.now()
  arrivals.first = arrivals.first or t
  arrivals.last = t
  arrivals.total = arrivals.total + 1
  local sec = tostring(math.floor(t))
  arrivals.per_second[sec] = (arrivals.per_second[sec] or 0) + 1
end

-- { total, first, last (seconds, wall clock, ms precision), per_second =
-- { ["<unix second>"] = n } } of every /interface.asp request since the
-- last clear.
function _M.arrivals()
  return arrivals
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
