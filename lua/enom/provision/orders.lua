--- eNom's order history, as corroboration when a purchase's answer was
-- lost (the paks a domain holds before and after decide; see buy.lua).
--
-- GetOrderList gives the account's orders newest first, 25 a page
-- (OrderID, OrderDate, StatusDesc: in Text and HTML repeated without an
-- index); GetOrderDetail gives an order's items (ProductType,
-- Description: the domain, Quantity, an item-level OrderStatus word,
-- Open while eNom still works on it). Both are typed commands
-- (enom.commands), read alike in XML, Text and HTML. A mark (the newest
-- order id before the run's purchases, taken as the run starts) bounds
-- the search: only orders after it can be the one in doubt.
--
-- eNom publishes no order of a POP pak: an item is taken for a purchase
-- when its ProductType names "pop" (and not "renew"), for a renewal
-- (enom.provision.renew) when it names both, and its Description is the
-- domain.
local _M = {}

local ipairs = ipairs
local type = type
local tonumber = tonumber
local lower = string.lower

local PAGE = 25
local MAX_PAGES = 8

--- The run's order history: what it learnt of eNom's orders.
function _M.new()
    return { known = {}, details = {}, taken = false, pending = false, mark = nil }
end

-- Order ids on one page of GetOrderList, newest first; nil when the
-- history cannot be read, or was not understood (no order read where the
-- account has some must not pass for an empty history).
local function page(sched, start)
    local res = sched:call_retry("get_order_list", { start = start })
    if not res then
        return nil
    end
    local ids = {}
    for _, o in ipairs(res.orders) do
        if type(o.order_id) == "number" then
            ids[#ids + 1] = o.order_id
        end
    end
    if #ids == 0 and start == 1 and res.record_count ~= 0 then
        return nil
    end
    return ids
end

-- Read the newest order id into `o` (the run's history): nil when the
-- history is unavailable.
local function take(sched, o)
    o.pending = true
    local ids = page(sched, 1)
    o.pending = false
    o.taken, o.mark = true, ids and (ids[1] or 0) or nil
end

--- Take the run's mark at its start, beside the first reads, so that no
-- purchase waits for it: a scheduler task, `sched:spawn(orders.early, run)`,
-- for a run that may buy.
function _M.early(sched, run)
    local o = run.orders
    if not o.taken and not o.pending then
        take(sched, o)
    end
end

--- The newest order id before the run's purchases (one GetOrderList per
-- run that buys), or nil when the history is unavailable. Orders of
-- other holders of a domain placed after the mark and before the
-- domain's lease was taken fall inside the search too: the paks a domain
-- holds decide (buy.lua), the history only corroborates.
function _M.mark(dom)
    local o = dom.run.orders
    while o.pending do
        dom.sched:sleep(0.01)
    end
    if not o.taken then
        take(dom.sched, o)
    end
    return o.mark
end

--- Remember an order `run` placed and knows about.
function _M.known(run, order_id)
    local id = tonumber(order_id)
    if id then
        run.orders.known[id] = true
    end
end

-- The items of one order; a closed order never changes, so it is
-- fetched once per run.
local function items(dom, id)
    local cache = dom.run.orders.details
    if cache[id] then
        return cache[id]
    end
    local res = dom.sched:call_retry("get_order_detail", { order_id = id })
    if not res then
        return nil
    end
    local list, open = {}, false
    for i, it in ipairs(res.items) do
        local product = type(it.product_type) == "string" and lower(it.product_type) or ""
        local pop = product:find("pop", 1, true) ~= nil
        local item = {
            kind = pop and (product:find("renew", 1, true) and "renewal" or "pak") or nil,
            domain = lower(it.description or ""),
            open = lower(it.order_status or "") == "open",
            successful = lower(it.status or "") == "successful",
            quantity = it.quantity or 1,
        }
        open = open or item.open
        list[i] = item
    end
    if not open then
        cache[id] = list
    end
    return list
end

-- This domain's items of `kind` ("pak", "renewal") of one order: state,
-- quantity.
local function detail(dom, id, kind)
    local list = items(dom, id)
    if not list or #list == 0 then
        -- An order without items read is no proof of anything.
        return "unknown"
    end
    local domain = lower(dom.intent.domain)
    for _, it in ipairs(list) do
        if it.kind == kind and it.domain == domain then
            if it.open then
                return "open"
            end
            return it.successful and "complete" or "failed", it.quantity
        end
    end
    return "other"
end

--- Look for this domain's orders of `kind` ("pak", the default, or
-- "renewal") placed after `mark`, other than those the run knows.
-- Returns "complete", quantity | "open" | "none" | nil (history
-- unavailable).
function _M.find(dom, mark, kind)
    kind = kind or "pak"
    local known = dom.run.orders.known
    local found, qty = "none", 0
    local start = 1
    for _ = 1, MAX_PAGES do
        local ids = page(dom.sched, start)
        if not ids then
            return nil
        end
        for _, id in ipairs(ids) do
            if id <= mark then
                return found, qty
            end
            if not known[id] then
                local state, n = detail(dom, id, kind)
                if state == "unknown" then
                    return nil
                elseif state == "open" then
                    found = "open"
                elseif state == "complete" then
                    _M.known(dom.run, id)
                    qty = qty + n
                    if found == "none" then found = "complete" end
                end
            end
        end
        if #ids < PAGE then
            -- The end of the history without reaching the mark: only an
            -- account with no order before the mark looks like this.
            if mark == 0 then
                return found, qty
            end
            return nil
        end
        start = start + PAGE
    end
    return nil
end

return _M
