--- Time for back-off and budgets: nginx's clock and sleep inside nginx
-- (ngx.sleep yields, it never blocks the worker), the C core's monotonic
-- clock and nanosleep elsewhere.
local _M = { _VERSION = "0.1.0" }

local core = require "enom.core"

if type(ngx) == "table" and ngx.now and ngx.sleep and ngx.get_phase then
    -- ngx.sleep exists only where a request can yield; elsewhere (init,
    -- log, filters) nothing here should wait, but never block a worker.
    local YIELDING = { rewrite = true, access = true, content = true, timer = true }
    local ngx_now, ngx_sleep, update, phase = ngx.now, ngx.sleep, ngx.update_time, ngx.get_phase
    _M.now = function()
        update()
        return ngx_now()
    end
    _M.sleep = function(s)
        if YIELDING[phase()] then
            return ngx_sleep(s)
        end
        error("enom: cannot wait in nginx's " .. phase() .. " phase", 2)
    end
else
    _M.now = core.now
    _M.sleep = core.sleep
end

return _M
