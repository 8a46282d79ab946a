--- Buying POP paks for one domain, never twice: after an ambiguous
-- PurchasePOPBundle nothing more is bought until its outcome is known.
-- The domain is read back and eNom's order history (GetOrderList,
-- GetOrderDetail) is searched for the order, within a settle window; a
-- purchase still in doubt at its end stops the domain (`unknown`) and
-- stays counted against the run's caps (max_paks_per_run, max_spend).
local clock = require "enom.clock"
local paks = require "enom.provision.paks"
local orders = require "enom.provision.orders"
local report = require "enom.provision.report"

local _M = {}

local ipairs = ipairs
local min = math.min

local reason = report.reason

local function bundle_set(list)
    local set = {}
    for _, p in ipairs(list) do
        set[p.bundle_id] = true
    end
    return set
end

-- Paks in `cur` that were not there `before`.
local function new_paks(cur, before)
    local n = 0
    for _, p in ipairs(cur.paks) do
        if not before[p.bundle_id] then n = n + 1 end
    end
    return n
end

-- Wait for the outcome of an ambiguous purchase. Returns "bought", n;
-- "none" (the order history shows no such order once the window is
-- over, and no new pak) or "unknown".
local function settle(dom, before, mark, sent_at)
    local sched, p = dom.sched, dom.policy
    local deadline = sent_at + p.settle
    local bought
    while true do
        sched:reconciled()
        local cur = dom:read()
        local n = cur and new_paks(cur, before) or 0
        if n > 0 then
            return "bought", n
        end
        local state, count = nil, nil
        if mark then
            state, count = orders.find(dom, mark, before)
        end
        if state == "complete" then
            -- Paid for; the paks are on their way to GetPOP3.
            bought = count
        end
        local now = clock.now()
        if now >= deadline or sched.stopped or dom.halted then
            if bought then
                return "bought", bought
            end
            if state == "none" and cur and not sched.stopped and not dom.halted then
                return "none"
            end
            return "unknown"
        end
        sched:sleep(min(p.settle_interval, deadline - now))
    end
end

-- One order of `qty` paks, with its retries. Returns "bought", n |
-- "failed" | "unknown".
local function order(dom, qty, mark)
    local sched, run, d, p = dom.sched, dom.run, dom.d, dom.policy
    local attempt = 0
    while true do
        attempt = attempt + 1
        if not dom:hold() then
            return "failed"
        end
        local before = bundle_set(dom.cur.paks)
        local sent_at = clock.now()
        run:doubt(qty)
        local res, err = sched:request("purchase_pop_bundle",
            { sld = d.sld, tld = d.tld, quantity = qty, timeout = p.purchase_timeout })
        run:doubt(-qty)
        if res then
            run:bought(qty)
            orders.known(run, res.order_id)
            local ids = res.bundle_ids or {}
            if #ids == qty then
                -- The answer names the new paks: no read needed.
                for _, id in ipairs(ids) do
                    dom.cur.paks[#dom.cur.paks + 1] = { bundle_id = id, free = paks.PAK_SIZE, purchased = paks.PAK_SIZE }
                end
            else
                dom:read()
            end
            dom:event("paks", "bought", ("%d"):format(qty), attempt)
            return "bought", qty
        end
        if err.kind == "stopped" then
            return "failed"
        end
        local retry = sched.retry(err) and attempt < p.attempts
        if err.maybe_delivered == false or err.kind == "api" then
            -- Surely not bought: refused before sending, or eNom said no.
            if not retry then
                dom:event("paks", "failed", reason(err), attempt)
                return "failed"
            end
            sched:back_off(attempt)
        else
            run:doubt(qty)
            local state, n = settle(dom, before, mark, sent_at)
            run:doubt(-qty)
            if state == "bought" then
                run:bought(n)
                dom:event("paks", "bought", ("%d"):format(n), attempt)
                return "bought", n
            elseif state == "unknown" then
                -- Counted as spent for the rest of the run.
                run:doubt(qty)
                dom:event("paks", "unknown", ("%d pak(s): %s; not confirmed within %g s, not bought again")
                    :format(qty, reason(err), p.settle), attempt)
                return "unknown"
            elseif not retry then
                dom:event("paks", "failed", reason(err), attempt)
                return "failed"
            end
            sched:back_off(attempt)
        end
    end
end

--- Buy `want` paks for `dom` (an enom.provision.domain job), in
-- orders of at most paks.MAX_PER_ORDER.
function _M.paks(dom, want)
    local mark = orders.mark(dom)
    local left = want
    while left > 0 and not dom.halted do
        local qty = dom.run:allowed(min(left, paks.MAX_PER_ORDER))
        if qty == 0 then
            dom:event("paks", "failed", "the run's pak or spending cap is reached (policy max_paks_per_run, --max-paks; max_spend)")
            return
        end
        local state = order(dom, qty, mark)
        if state == "unknown" then
            return dom:halt("a pak purchase is in doubt: nothing more is done on this domain in this run",
                "unknown")
        elseif state ~= "bought" then
            return
        end
        left = left - qty
    end
end

return _M
