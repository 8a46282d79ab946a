--- The account's paks as a run starts: one GetPOPExpirations lists every
-- pak of the account with its domain and expiry, so that a nightly
-- reconciliation over every domain of the account reads only the
-- domains that may have something to do.
--
-- A domain of the desired state is idle, and is not read, when nothing is
-- wanted of it (no mailbox) and either it holds no pak (so it has no
-- mailbox either) or the run neither deletes (prune) nor renews. A domain
-- that wants mailboxes is always read under its lease: what it holds is
-- decided by that read, never by this list (a pak bought meanwhile must
-- not be bought again).
--
-- The list also says what the reseller pays for without asking: paks
-- that expire within a window (`expiring_within` days) and paks of
-- domains the desired state does not name.
local renew = require "enom.provision.renew"

local _M = {}

local pairs = pairs
local ipairs = ipairs
local lower = string.lower

--- Read the account's paks (inside a task of the run's scheduler).
-- @param sched the run's scheduler
-- @return { by_domain = { [domain] = { paks } }, paks = { all } }, or nil and the error
function _M.read(sched)
    local res, err = sched:call_retry("get_pop_expirations", {})
    if not res then
        return nil, err
    end
    local by_domain = {}
    for _, p in ipairs(res.paks or {}) do
        local d = lower(p.domain or "")
        local list = by_domain[d]
        if not list then
            list = {}
            by_domain[d] = list
        end
        list[#list + 1] = p
    end
    return { by_domain = by_domain, paks = res.paks or {} }
end

--- Is `intent` idle under `policy`, as far as the account's paks `inv` say?
-- @param inv what `read` returned
-- @param intent the domain's intent (enom.provision.planner)
-- @param policy the run's policy
-- @return true when the domain need not be read
function _M.idle(inv, intent, policy)
    if #intent.mailboxes > 0 or intent.planned then
        return false
    end
    local held = inv.by_domain[lower(intent.domain)]
    return held == nil or (not policy.prune and not policy.renew)
end

--- The paks of the account that expire within `days` of `now`, soonest
-- first (see enom.provision.renew.expiring).
-- @param inv what `read` returned
-- @param days the window, in days
-- @param now seconds since the epoch (default: now)
-- @return the list, and the paks whose expiry could not be read
function _M.expiring(inv, days, now)
    return renew.expiring(inv.paks, days, now)
end

--- The domains holding paks that `seen` (a set of domain names) lacks.
-- @param inv what `read` returned
-- @param seen { [domain] = true }
-- @return an array of { domain, paks }, by name
function _M.unmanaged(inv, seen)
    local out = {}
    for d, list in pairs(inv.by_domain) do
        if d ~= "" and not seen[d] then
            out[#out + 1] = { domain = d, paks = list }
        end
    end
    table.sort(out, function(a, b) return a.domain < b.domain end)
    return out
end

return _M
