--- eNom's order history, to settle a purchase whose answer was lost.
--
-- GetOrderList gives the account's orders newest first, 25 a page
-- (OrderID, OrderDate, StatusDesc); GetOrderDetail gives an order's items
-- (ProductType, Description: the domain, Quantity, Status) and its
-- OrderStatus, "Open" while eNom still processes it. A mark (the newest
-- order id before a purchase, taken while the domain's lease is held)
-- bounds the search: only orders after it can be the one in doubt.
local _M = {}

local ipairs = ipairs
local pairs = pairs
local tonumber = tonumber
local type = type
local tostring = tostring
local lower = string.lower

local PAGE = 25
local MAX_PAGES = 8

-- A column of a parsed free-form answer: XML records, indexed Text keys,
-- or, when a Text answer holds one record, its fields Key1 (or Key).
local function column(parsed, record, key)
    local recs = parsed.records and parsed.records[record]
    local out = {}
    for _, r in ipairs(recs or {}) do
        if r[key] ~= nil then out[#out + 1] = r[key] end
    end
    if #out > 0 then
        return out
    end
    local ix = parsed.indexed and parsed.indexed[key]
    if ix and #ix > 0 then
        return ix
    end
    local lf = {}
    for k, v in pairs(parsed.fields or {}) do
        lf[lower(k)] = v
    end
    local i = 1
    while lf[key .. i] ~= nil do
        out[i] = lf[key .. i]
        i = i + 1
    end
    if #out == 0 and lf[key] ~= nil then
        out[1] = lf[key]
    end
    return out
end

-- A read of the history, tried again as reads are.
local function ask(sched, command, params)
    local res, err
    for attempt = 1, sched.policy.attempts do
        res, err = sched:call(command, params)
        if res or not sched.retry(err) or attempt == sched.policy.attempts then
            return res, err
        end
        sched:back_off(attempt)
    end
    return res, err
end

-- Order ids on one page of GetOrderList, newest first.
local function page(sched, start)
    local res, err = ask(sched, "GetOrderList", { Start = start })
    if not res then
        return nil, err
    end
    local ids = {}
    for _, v in ipairs(column(res, "orderdetail", "orderid")) do
        ids[#ids + 1] = tonumber(v)
    end
    -- No order read where the account has some: an answer not understood,
    -- which must not pass for an empty history.
    local total = tonumber(column(res, "orderlist", "recordcount")[1])
    if #ids == 0 and start == 1 and total ~= 0 then
        return nil
    end
    return ids
end

--- The run's order history: what it learnt of eNom's orders.
function _M.new()
    return { known = {}, details = {}, taken = false, pending = false, mark = nil }
end

--- The newest order id before the run's first purchase (one
-- GetOrderList per run that buys), or nil when the history is unavailable.
function _M.mark(dom)
    local o = dom.run.orders
    while o.pending do
        dom.sched:sleep(0.01)
    end
    if o.taken then
        return o.mark
    end
    o.pending = true
    local ids = page(dom.sched, 1)
    o.pending = nil
    o.taken, o.mark = true, ids and (ids[1] or 0) or nil
    return o.mark
end

--- Remember an order `run` placed and knows about.
function _M.known(run, order_id)
    local o = run.orders
    local id = tonumber(order_id)
    if id then
        o.known[id] = true
    end
end

-- The items of one order; a closed order never changes, so it is
-- fetched once per run.
local function items(dom, id)
    local cache = dom.run.orders.details
    if cache[id] then
        return cache[id]
    end
    local res = ask(dom.sched, "GetOrderDetail", { OrderID = id })
    if not res then
        return nil
    end
    local types = column(res, "orderdetail", "producttype")
    local descs = column(res, "orderdetail", "description")
    local statuses = column(res, "orderdetail", "orderstatus")
    local results = column(res, "orderdetail", "status")
    local qtys = column(res, "orderdetail", "quantity")
    local bundles = column(res, "orderdetail", "bundleid")
    local list, open = {}, false
    for i, t in ipairs(types) do
        local item = {
            pop = type(t) == "string" and lower(t):find("pop", 1, true) ~= nil,
            domain = lower(descs[i] or ""), open = lower(statuses[i] or "") == "open",
            successful = lower(results[i] or "") == "successful", quantity = tonumber(qtys[i]) or 1,
            bundles = {},
        }
        for b in tostring(bundles[i] or ""):gmatch("%d+") do
            item.bundles[#item.bundles + 1] = tonumber(b)
        end
        open = open or item.open
        list[i] = item
    end
    if not open then
        cache[id] = list
    end
    return list
end

-- Does the domain hold every pak of `item` already (`before`)?
local function had(item, before)
    if #item.bundles == 0 then
        return false
    end
    for _, b in ipairs(item.bundles) do
        if not before[b] then
            return false
        end
    end
    return true
end

-- This domain's POP pak items of one order: state, quantity.
local function detail(dom, id, before)
    local list = items(dom, id)
    if not list or #list == 0 then
        -- An order without items read is no proof of anything.
        return "unknown"
    end
    local domain = lower(dom.d.domain)
    for _, it in ipairs(list) do
        if it.pop and it.domain == domain and not had(it, before) then
            if it.open then
                return "open"
            end
            return it.successful and "complete" or "failed", it.quantity
        end
    end
    return "other"
end

--- Look for this domain's pak order placed after `mark`, other than
-- those whose paks are in `before` (a set of bundle ids). Returns
-- "complete", quantity | "open" | "none" | nil (history unavailable).
function _M.find(dom, mark, before)
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
                return found ~= "none" and found or "none", qty
            end
            if not known[id] then
                local state, n = detail(dom, id, before)
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
