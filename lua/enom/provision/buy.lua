--- Buying POP paks for one domain, never twice.
--
-- Before a PurchasePOPBundle goes out, the intent is written to the
-- journal (on disk, or in Redis) with what the domain held; it is struck
-- off once the outcome is known. An ambiguous answer (a time-out, a cut
-- connection) is settled, not repeated: the domain is read back and the
-- paks it holds now are compared with those it held before, the facts
-- that are certain; eNom's order history (GetOrderList, GetOrderDetail)
-- only corroborates. A purchase is never credited with more paks than it
-- ordered: paks that appeared beyond that were bought by someone else
-- (another program, a person in eNom's web interface) and are reported as
-- such. A purchase still in doubt at the end of the settle window stays
-- open in the journal: nothing more is bought for the domain, in this
-- run or a later one, until it is settled or an operator clears it, and
-- it counts against the run's caps (max_paks_per_run, max_spend).
--
-- An open purchase left by a run that stopped (killed, its lease lost)
-- is settled the same way before the domain buys anything.
--
-- The order step (journal, doubt, settling, the balance refusal) is
-- renewals' too: enom.provision.renew sends through `send`.
local clock = require "enom.clock"
local paks = require "enom.provision.paks"
local orders = require "enom.provision.orders"
local report = require "enom.provision.report"
local errors = require "enom.errors"

local _M = {}

local ipairs = ipairs
local min, max = math.min, math.max

local reason = report.reason

local function bundle_list(list)
    local out = {}
    for i, p in ipairs(list) do
        out[i] = p.bundle_id
    end
    return out
end

local function set_of(list)
    local set = {}
    for _, id in ipairs(list or {}) do
        set[id] = true
    end
    return set
end

-- Bundle ids in `cur` that were not in `before` (a set).
local function new_paks(cur, before)
    local out = {}
    for _, p in ipairs(cur.paks) do
        if not before[p.bundle_id] then out[#out + 1] = p.bundle_id end
    end
    return out
end

-- ---- an order that costs money --------------------------------------------
-- A purchase, or a renewal (enom.provision.renew): eNom gives neither an
-- idempotency key, so both go by the rules below, defined once here.

--- Wait for the outcome of an order whose answer was lost, until
-- `deadline` (the core's clock), reading the domain again between pauses.
-- @param dom the domain's job
-- @param look called with each read of the domain (nil when it failed):
--   a verdict (and what goes with it) ends the wait, nil goes on
-- @param last called once the window is over or the run or the domain
--   stops, with the last read and whether neither stopped: the verdict
-- @return the verdict
function _M.watch(dom, deadline, look, last)
    local sched, p = dom.sched, dom.policy
    while true do
        sched:reconciled()
        local cur = dom:read()
        local verdict, x, y = look(cur)
        if verdict then
            return verdict, x, y
        end
        local now = clock.now()
        if now >= deadline or sched.stopped or dom.halted then
            return last(cur, not sched.stopped and not dom.halted)
        end
        sched:sleep(min(p.settle_interval, deadline - now))
    end
end

--- When the settle window of an intent `e` that a stopped run left open
-- in the journal ends (the core's clock).
function _M.window_end(dom, e)
    return clock.now() + max(0, (e.sent_at or e.opened or 0) + dom.policy.settle - os.time())
end

--- One attempt at an order that costs money. The intent is written to
-- the journal (flushed) before the request leaves and struck off once
-- the outcome is certain; the order counts as in doubt while it is in
-- flight or being settled; an answer that was lost is settled, never
-- sent again; eNom's refusal for the balance stops every purchase and
-- renewal of the run.
-- @param o { entry = the intent, method, args, guard (see the
--   scheduler's request), what = "a purchase" (for the run's note),
--   doubt = function(sign) counting the order in doubt (1) or not (-1),
--   settle = function(dom, entry, deadline) giving a lost answer's
--   verdict: "unknown" leaves the intent open }
-- @return "journal", err: the intent could not be written, nothing sent;
--   "done", res: eNom's answer came; "refused", err: surely not carried
--   out (refused before it left, or by eNom); "settled", err, verdict,
--   what goes with it: the answer was lost
function _M.send(dom, o)
    local entry = o.entry
    local ok, jerr = dom:journal_open(entry, true)
    if not ok then
        return "journal", jerr
    end
    local sent_at = clock.now()
    o.doubt(1)
    local res, err = dom.sched:request(o.method, o.args, o.guard)
    o.doubt(-1)
    if res then
        dom:journal_close(entry)
        orders.known(dom.run, res.order_id)
        return "done", res
    end
    if err.maybe_delivered == false or err.kind == "api" then
        dom:journal_close(entry)
        if err.kind == "api" and err.category == "balance" then
            -- No other domain of the run will do better: every purchase
            -- and renewal of the run stops here.
            dom.run:stop_buying("eNom refused " .. o.what .. ": the account's balance does not cover it ("
                .. reason(err) .. "); add funds, then run again")
        end
        return "refused", err
    end
    o.doubt(1)
    local verdict, x, y = o.settle(dom, entry, sent_at + dom.policy.settle)
    o.doubt(-1)
    if verdict ~= "unknown" then
        dom:journal_close(entry)
    end
    return "settled", err, verdict, x, y
end

-- ---- purchases ---------------------------------------------------------------

-- Wait for the outcome of a purchase of `e.qty` paks whose answer was
-- lost, until `deadline`. Returns "bought", n, others (paks that appeared
-- beyond the order: someone else's); "none" (no new pak, and the order
-- history shows no such order once the window is over) or "unknown".
--
-- eNom adds an order's paks together, so fewer new paks than were
-- ordered are not this order's: a person may have bought one in eNom's
-- web interface meanwhile. Nor is an order in the history of fewer paks.
-- Both leave the purchase in doubt until its whole quantity shows. (A
-- person's order of as many paks or more for the same domain, inside the
-- window, cannot be told from this one: eNom gives no order key.)
local function settle(dom, e, deadline)
    local before = set_of(e.before)
    local ordered, state = 0, nil
    local function others(cur)
        return cur and max(0, #new_paks(cur, before) - e.qty) or 0
    end
    return _M.watch(dom, deadline, function(cur)
        local appeared = cur and #new_paks(cur, before) or 0
        if appeared >= e.qty then
            return "bought", e.qty, appeared - e.qty
        end
        state = nil
        if e.mark then
            local count
            state, count = orders.find(dom, e.mark)
            if state == "complete" then
                -- Paid for; the paks are on their way to GetPOP3. An
                -- order read once is known to the run, not read again.
                ordered = ordered + count
            end
        end
    end, function(cur, quiet)
        if ordered >= e.qty then
            return "bought", e.qty, others(cur)
        end
        if state == "none" and ordered == 0 and cur and quiet and #new_paks(cur, before) == 0 then
            return "none"
        end
        return "unknown"
    end)
end

-- Say what settling found for the record.
local function bought_note(n, others, earlier)
    local s = ("%d"):format(n)
    if earlier then
        s = s .. " (ordered by an earlier run that stopped before it knew)"
    end
    if others > 0 then
        s = s .. ("; %d more pak(s) appeared, bought by someone else"):format(others)
    end
    return s
end

-- One order of `qty` paks, with its retries. Returns "bought", n |
-- "failed" | "unknown".
local function order(dom, qty, mark)
    local sched, run, d, p = dom.sched, dom.run, dom.d, dom.policy
    local attempt = 0
    -- Asked as the order is handed to the transport: an order queued
    -- behind the one eNom refused for the balance is withdrawn unsent.
    local withdrawn
    local function guard()
        if run.no_buy then
            withdrawn = run.no_buy
            return nil, errors.new("stopped", "not ordered: " .. run.no_buy, { maybe_delivered = false })
        end
        return dom:hold()
    end
    local o = { method = "purchase_pop_bundle", args = { sld = d.sld, tld = d.tld, quantity = qty,
        timeout = p.purchase_timeout }, guard = guard, what = "a purchase", settle = settle,
        doubt = function(sign) run:doubt(sign * qty) end }
    while true do
        attempt = attempt + 1
        if not dom:hold() then
            return "failed"
        end
        o.entry = { kind = "purchase", domain = d.domain, qty = qty, before = bundle_list(dom.cur.paks),
            mark = mark, sent_at = os.time() }
        local how, got, state, n, others = _M.send(dom, o)
        if how == "journal" then
            dom:event("paks", "failed", "not ordered: " .. reason(got), attempt)
            return "failed"
        elseif withdrawn then
            dom:event("paks", "failed", ("%d pak(s) not ordered: %s"):format(qty, withdrawn), attempt)
            return "failed"
        elseif how == "done" then
            run:bought(qty)
            local ids = got.bundle_ids or {}
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
        local err = got
        local retry = sched.retry(err) and attempt < p.attempts
        if how == "refused" then
            -- Surely not bought: refused before sending, or eNom said no.
            if err.kind == "stopped" then
                return "failed"
            end
        elseif state == "bought" then
            run:bought(n)
            dom:event("paks", "bought", bought_note(n, others), attempt)
            return "bought", n
        elseif state == "unknown" then
            -- Counted as spent for the rest of the run, and open in the
            -- journal until settled.
            run:doubt(qty)
            dom:event("paks", "unknown", ("%d pak(s): %s; not confirmed within %g s, not bought again "
                .. "(open in the journal: `enom journal list`)"):format(qty, reason(err), p.settle), attempt,
                { tracking_key = err.tracking_key })
            return "unknown"
        end
        if not retry then
            dom:event("paks", "failed", reason(err), attempt, { tracking_key = err.tracking_key })
            return "failed"
        end
        sched:back_off(attempt)
    end
end

--- Settle an open purchase `e` of the journal, left by a run that
-- stopped, before the domain buys anything.
-- @return true when settled (bought or not), false while it stays in doubt
function _M.recover(dom, e)
    local state, n, others = settle(dom, e, _M.window_end(dom, e))
    if state == "bought" then
        dom:journal_close(e)
        dom:event("paks", "bought", bought_note(n, others, true), 0)
        return true
    elseif state == "none" then
        dom:journal_close(e)
        dom:event("paks", "settled", ("an earlier run's order of %d pak(s) did not go through"):format(e.qty), 0)
        return true
    end
    dom.run:doubt(e.qty)
    dom:event("paks", "unknown", ("an earlier run's order of %d pak(s) is still in doubt: nothing is bought for "
        .. "this domain until it is settled (`enom journal settle`)"):format(e.qty), 0)
    return false
end

--- Buy `want` paks for `dom` (an enom.provision.domain job), in
-- orders of at most paks.MAX_PER_ORDER.
function _M.paks(dom, want)
    local mark = orders.mark(dom)
    local left = want
    while left > 0 and not dom.halted do
        if dom.run:funds() then
            dom:event("paks", "failed", ("%d pak(s) not bought: %s"):format(left, dom.run:funds()))
            return
        end
        local qty = dom.run:allowed(min(left, paks.MAX_PER_ORDER))
        if qty == 0 then
            dom:event("paks", "failed", dom.run.no_buy or ("the run's pak or spending cap is reached "
                .. "(policy max_paks_per_run, --max-paks; max_spend)"))
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
