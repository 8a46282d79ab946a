--- eNom's order history, to settle a purchase whose answer was lost.
--
-- GetOrderList gives the account's orders newest first, 25 a page
-- (OrderID, OrderDate, StatusDesc); GetOrderDetail gives an order's items
-- (ProductType, Description: the domain, Quantity, Status) and its
-- OrderStatus, "Open" while eNom still processes it. A mark (the newest
-- order id before a purchase, taken while the domain's lease is held)
-- bounds the search: only orders after it can be the one in doubt.
local clock = require "enom.clock"

local _M = { _VERSION = "0.1.0" }

local ipairs = ipairs
local pairs = pairs
local tonumber = tonumber
local type = type
local lower = string.lower

local PAGE = 25
local MAX_PAGES = 8

-- A column of a parsed free-form answer: XML records or indexed Text keys.
local function column(parsed, record, key)
    local recs = parsed.records and parsed.records[record]
    local out = {}
    if recs and #recs > 0 then
        for _, r in ipairs(recs) do
            if r[key] ~= nil then out[#out + 1] = r[key] end
        end
        return out
    end
    local ix = parsed.indexed and parsed.indexed[key]
    if ix then
        return ix
    end
    for k, v in pairs(parsed.fields or {}) do
        if lower(k) == key then
            return { v }
        end
    end
    return out
end

-- Order ids on one page of GetOrderList, newest first.
local function page(run, start)
    local res, err = run:call("GetOrderList", { Start = start })
    if not res then
        return nil, err
    end
    local ids = {}
    for _, v in ipairs(column(res, "orderdetail", "orderid")) do
        ids[#ids + 1] = tonumber(v)
    end
    return ids
end

--- The newest order id now, or nil when the history is unavailable.
-- Shared by the domains of a run when it was taken after the domain's
-- lease, so a purchase by an earlier holder cannot pass for this run's.
function _M.mark(dom)
    local o = dom.shared.orders
    while o.pending do
        dom.run:sleep(0.01)
    end
    if o.at and dom.leased_at and o.at >= dom.leased_at then
        return o.mark
    end
    o.pending = true
    local at = clock.now()
    local ids = page(dom.run, 1)
    o.pending = nil
    o.at, o.mark = at, ids and (ids[1] or 0) or nil
    o.known = o.known or {}
    return o.mark
end

--- Remember an order this run placed and knows about.
function _M.known(dom, order_id)
    local o = dom.shared.orders
    o.known = o.known or {}
    local id = tonumber(order_id)
    if id then
        o.known[id] = true
    end
end

-- This domain's POP pak items of one order: state, quantity.
local function detail(dom, id)
    local res = dom.run:call("GetOrderDetail", { OrderID = id })
    if not res then
        return "unknown"
    end
    local types = column(res, "orderdetail", "producttype")
    local descs = column(res, "orderdetail", "description")
    local statuses = column(res, "orderdetail", "orderstatus")
    local results = column(res, "orderdetail", "status")
    local qtys = column(res, "orderdetail", "quantity")
    local domain = lower(dom.d.domain)
    for i, t in ipairs(types) do
        if type(t) == "string" and lower(t):find("pop", 1, true) and lower(descs[i] or "") == domain then
            if lower(statuses[i] or "") == "open" then
                return "open"
            end
            if lower(results[i] or "") == "successful" then
                return "complete", tonumber(qtys[i]) or 1
            end
            return "failed"
        end
    end
    return "other"
end

--- Look for this domain's pak order placed after `mark`. Returns
-- "complete", quantity | "open" | "none" | nil (history unavailable).
function _M.find(dom, mark)
    local known = dom.shared.orders.known or {}
    local found, qty = "none", 0
    local start = 1
    for _ = 1, MAX_PAGES do
        local ids = page(dom.run, start)
        if not ids then
            return nil
        end
        for _, id in ipairs(ids) do
            if id <= mark then
                return found ~= "none" and found or "none", qty
            end
            if not known[id] then
                local state, n = detail(dom, id)
                if state == "unknown" then
                    return nil
                elseif state == "open" then
                    found = "open"
                elseif state == "complete" then
                    _M.known(dom, id)
                    qty = qty + n
                    if found == "none" then found = "complete" end
                end
            end
        end
        if #ids < PAGE then
            return found, qty
        end
        start = start + PAGE
    end
    return nil
end

return _M
