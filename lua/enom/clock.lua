--- Time for back-off and budgets: nginx's clock and sleep inside nginx
-- (ngx.sleep yields, it never blocks the worker), the C core's monotonic
-- clock and nanosleep elsewhere.
local _M = { _VERSION = "0.1.0" }

if type(ngx) == "table" and ngx.now and ngx.sleep then
    local ngx_now, ngx_sleep, update = ngx.now, ngx.sleep, ngx.update_time
    _M.now = function()
        update()
        return ngx_now()
    end
    _M.sleep = ngx_sleep
else
    local core = require "enom.core"
    _M.now = core.now
    _M.sleep = core.sleep
end

return _M
