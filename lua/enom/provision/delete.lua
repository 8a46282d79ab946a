--- Deleting a domain's mailboxes (DeletePOP3), never blindly twice:
-- after a failure that may have reached eNom the domain is read back and
-- only the names still there are sent again. A queue, so each name is
-- looked at a bounded number of times (`policy.attempts`).
local report = require "enom.provision.report"

local _M = {}

local ipairs = ipairs
local lower = string.lower
local remove = table.remove

local reason = report.reason

--- Delete the planned mailboxes of `dom` (an enom.provision.domain job).
function _M.all(dom)
    local sched, d, policy = dom.sched, dom.d, dom.policy
    local queue, head, again, tries = {}, 1, {}, {}
    for _, name in ipairs(d.delete) do
        if dom.cur.by_name[lower(name)] then
            queue[#queue + 1] = name
        else
            dom:mailbox(name, "delete", "already_absent", nil, 0)
        end
    end
    local round = 0
    while (#again > 0 or head <= #queue) and dom:hold() do
        round = round + 1
        local chunk = {}
        while #chunk < policy.per_request and #again > 0 do
            chunk[#chunk + 1] = remove(again)
        end
        while #chunk < policy.per_request and head <= #queue do
            chunk[#chunk + 1] = queue[head]
            head = head + 1
        end
        for _, n in ipairs(chunk) do tries[n] = (tries[n] or 0) + 1 end
        local res, err = sched:request("delete_pop3", { sld = d.sld, tld = d.tld, users = chunk }, dom.guard)
        if not res and err.kind == "stopped" then
            for _, n in ipairs(chunk) do again[#again + 1] = n end
            break
        end
        local gone = {}
        if res then
            for _, n in ipairs(chunk) do gone[n] = true end
        else
            sched:reconciled()
            local now, rerr = dom:read()
            if not now then
                for _, n in ipairs(chunk) do
                    dom:mailbox(n, "delete", "unknown", reason(err) .. "; could not read back: " .. reason(rerr), tries[n])
                end
                return dom:halt("could not read the domain back after a failed DeletePOP3")
            end
            for _, n in ipairs(chunk) do
                if not now.by_name[lower(n)] then gone[n] = true end
            end
        end
        local retry = err and sched.retry(err)
        for _, n in ipairs(chunk) do
            if gone[n] then
                dom:freed(n)
                dom:mailbox(n, "delete", "deleted", nil, tries[n])
            elseif not retry or tries[n] >= policy.attempts then
                dom:mailbox(n, "delete", "failed", reason(err), tries[n], { tracking_key = err.tracking_key })
            else
                again[#again + 1] = n
            end
        end
        if #again > 0 then
            sched:back_off(round)
        end
    end
end

return _M
