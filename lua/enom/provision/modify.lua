--- Changing existing mailboxes (ModifyPOP3: the admin flag). Setting a
-- flag to the value it has is harmless, so the request is one that may
-- be sent again after any failure.
local report = require "enom.provision.report"

local _M = {}

local ipairs = ipairs

--- Modify the planned mailboxes of `dom` (an enom.provision.domain job).
function _M.all(dom)
    local d = dom.d
    local res, err = dom.sched:call_retry("modify_pop3", { sld = d.sld, tld = d.tld, users = d.modify }, dom.guard)
    if not res and err.kind == "stopped" then
        return
    end
    for _, m in ipairs(d.modify) do
        dom:mailbox(m.username, "modify", res and "modified" or "failed", not res and report.reason(err) or nil, 1,
            { tracking_key = (res or err).tracking_key })
    end
end

return _M
