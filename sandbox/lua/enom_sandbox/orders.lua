-- The order history, GetOrderList and GetOrderDetail, in the shape of
-- eNom's command pages (samples in spec/fixtures/enom/GetOrderList and
-- GetOrderDetail):
--
-- * GetOrderList: the account's orders of the last six months (or of
--   BeginDate..EndDate, MM/DD/YYYY, at most six months apart), newest
--   first, 25 from Start. XML: <OrderList> holding BeginDate, EndDate,
--   one <OrderDetail> per order and the paging fields; Text and HTML
--   repeat OrderID, OrderDate, StatusDesc and OrderProcessFlag for every
--   order without an index, as eNom's sample does.
-- * GetOrderDetail: order-level fields (a numeric OrderStatus: 6 complete,
--   3 processing, as the page lists them) and one item per product, with
--   an item-level OrderStatus word (Open while eNom still works on it,
--   then Closed) and the product-bundle fields BundleID,
--   BundleInstanceID, BundleName, empty as in eNom's sample.
--
-- eNom publishes no order of a POP pak: ProductType "POP Pak" (a
-- purchase) and "POP Pak Renewal", Quantity (paks, or years of a
-- renewal), DetailStatusID and the empty bundle fields are the sandbox's
-- choice (UNVERIFIED). The paks an order bought are not in its answer:
-- eNom shows no such field.

local state = require("enom_sandbox.state")
local util = require("enom_sandbox.util")

local _M = {}

local fail, field = util.fail, util.field

local PAGE = 25
local DAY = 24 * 3600

-- The order's status as the pages write it.
local ORDER_STATUS = { Closed = 6, Open = 3 }
local STATUS_DESC = { Closed = "Order complete", Open = "Processing" }
local DETAIL_STATUS = { Closed = "Successful", Open = "Processing" }
local DETAIL_STATUS_ID = { Closed = 9, Open = 3 }

local function mine(account, from, to)
  local out = {}
  local all = state.orders()
  local uid = account.uid:lower()
  for i = #all, 1, -1 do
    local o = all[i]
    if o.uid:lower() == uid and o.time >= from and o.time <= to then out[#out + 1] = o end
  end
  return out
end

-- MM/DD/YYYY as eNom's page asks: the day's first second, or nil.
local function day_start(s)
  if type(s) ~= "string" or not s:match("^%d%d?/%d%d?/%d%d%d%d$") then return nil end
  return util.date_time(s)
end

-- Six months back from `t`, by the calendar.
local function six_months_before(t)
  local d = os.date("!*t", t)
  d.month = d.month - 6
  if d.month < 1 then d.month, d.year = d.month + 12, d.year - 1 end
  d.day = math.min(d.day, 28)
  return util.utc_time(d)
end

function _M.getorderlist(p, account)
  local start = tonumber(p.start or "1") or 0
  if start < 1 or start ~= math.floor(start) then return fail("Start must be a whole number from 1", 304188) end
  local now = ngx.time()
  local to, from = now, six_months_before(now)
  if p.enddate ~= nil then
    local t = day_start(p.enddate)
    if not t then return fail("EndDate must be MM/DD/YYYY", 304217) end
    to = t + DAY - 1
  end
  if p.begindate ~= nil then
    local t = day_start(p.begindate)
    if not t then return fail("BeginDate must be MM/DD/YYYY", 304217) end
    from = t
    if p.enddate == nil then to = now end
  end
  if from > to or from < six_months_before(to) - DAY then
    return fail("BeginDate must be before EndDate and no more than six months before it", 303217)
  end
  local list = mine(account, from, to)
  local rows = {}
  for i = start, math.min(#list, start + PAGE - 1) do
    local o = list[i]
    rows[#rows + 1] = { o.order_id, o.date, STATUS_DESC[o.status], o.status == "Closed" }
  end
  local prev_link = start > 1
  local next_link = start + PAGE <= #list
  local yes = function(b) return b and "Yes" or "No" end
  return {
    items = {
      { nest = "OrderList", items = {
        field("BeginDate", util.datetime(from)),
        field("EndDate", util.datetime(to)),
        { group = true, elem = "OrderDetail", noindex = true, rows = rows, cols = {
          { "OrderID", "OrderID" }, { "OrderDate", "OrderDate" }, { "StatusDesc", "StatusDesc" },
          { "OrderProcessFlag", "OrderProcessFlag" } } },
        field("ShowPreviousAndNext", yes(prev_link or next_link)),
        field("ShowPreviousLink", yes(prev_link)),
        field("PreviousStartPosition", math.max(1, start - PAGE)),
        field("ShowStart", start),
        field("ShowEnd", start + #rows - 1),
        field("ShowNextLink", yes(next_link)),
        field("NextStartPosition", start + PAGE),
        field("RecordCount", #list),
      } },
    },
  }
end

function _M.getorderdetail(p, account)
  local id = tonumber(p.orderid)
  if p.orderid == nil or p.orderid == "" then return fail("OrderID is required", 301259) end
  local order
  for _, o in ipairs(state.orders()) do
    if o.order_id == id and o.uid:lower() == account.uid:lower() then order = o end
  end
  if not order then return fail("Order " .. tostring(p.orderid) .. " not found", 316259) end
  local st = order.status
  local amount = string.format("%.2f", order.amount)
  return {
    items = {
      { nest = "Order", items = {
        field("OrderID", order.order_id),
        field("Result", true),
        field("BillDate", order.date),
        { k = "CCRefNum", v = "", only = "xml" },
        field("OrderBillAmount", "$" .. amount),
        { k = "AdjustToAccount", v = "", only = "xml" },
        field("Certs", false),
        field("OrderStatus", ORDER_STATUS[st]),
        field("StatusDesc", DETAIL_STATUS[st]),
        field("OrderDate", order.date),
        { group = true, elem = "OrderDetail", rows = { {
          order.product, order.domain, DETAIL_STATUS[st], order.quantity, DETAIL_STATUS_ID[st], amount, "",
          st, "", "", "", "", "", order.expires } }, cols = {
          { "ProductType", "ProductType" }, { "Description", "Description" }, { "Status", "Status" },
          { "Quantity", "Quantity" }, { "DetailStatusID", "DetailStatusID" }, { "AmountPaid", "AmountPaid" },
          { "DomainPassword", "DomainPassword" }, { "OrderStatus", "OrderStatus" }, { "BundleID", "BundleID" },
          { "BundleInstanceID", "BundleInstanceID" }, { "Discount", "Discount" },
          { "BundleDescription", "BundleDescription" }, { "BundleName", "BundleName" },
          { "ExpiryDatetime", "ExpiryDatetime" } } },
      } },
    },
  }
end

return _M
