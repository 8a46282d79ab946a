--- Time for back-off, budgets and reports: the C core's monotonic clock
-- everywhere (inside nginx too: nginx's own `ngx.now` is a cached wall
-- clock that moves only when the event loop turns and jumps with the
-- system time), and a sleep that suits where the code runs: `ngx.sleep`
-- inside nginx (it yields, never blocking the worker), nanosleep elsewhere.
local _M = {}

local core = require "enom.core"

--- Seconds (a float) on a monotonic clock; only differences mean anything.
_M.now = core.now

if type(ngx) == "table" and ngx.sleep and ngx.get_phase then
    -- ngx.sleep exists only where a request can yield; elsewhere (init,
    -- log, filters) nothing here should wait, but never block a worker.
    local YIELDING = { rewrite = true, access = true, content = true, timer = true }
    local ngx_sleep, phase = ngx.sleep, ngx.get_phase
    _M.sleep = function(s)
        if YIELDING[phase()] then
            return ngx_sleep(s)
        end
        error("enom: cannot wait in nginx's " .. phase() .. " phase", 2)
    end
else
    _M.sleep = core.sleep
end

return _M
