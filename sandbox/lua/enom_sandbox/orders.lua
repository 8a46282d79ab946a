-- The order history: GetOrderList and GetOrderDetail, as eNom's command
-- reference describes them. GetOrderList pages through the account's
-- orders 25 at a time, newest first (Start=26 gives the next page);
-- GetOrderDetail gives one order's items: ProductType, Description (the
-- domain), Quantity, Status, and OrderStatus Open until it is complete.

local state = require("enom_sandbox.state")

local M = {}

local PAGE = 25

local function field(k, v) return { k = k, v = v } end
local function fail(msg, num) return { items = {}, errors = { { msg = msg, num = num } } } end

local function mine(account)
  local out = {}
  local all = state.orders()
  for i = #all, 1, -1 do
    if all[i].uid:lower() == account.uid:lower() then out[#out + 1] = all[i] end
  end
  return out
end

local function status_desc(o)
  return o.status == "Closed" and "Order complete" or "Processing"
end

function M.getorderlist(p, account)
  local start = tonumber(p.start or "1") or 0
  if start < 1 or start ~= math.floor(start) then return fail("Start must be a whole number from 1", 304102) end
  local list = mine(account)
  local rows = {}
  for i = start, math.min(#list, start + PAGE - 1) do
    local o = list[i]
    rows[#rows + 1] = { o.order_id, o.date, status_desc(o), o.status == "Closed" and "True" or "False" }
  end
  return {
    items = {
      { group = true, wrap = "OrderList", elem = "OrderDetail", rows = rows, cols = {
        { "OrderID", "OrderID" }, { "OrderDate", "OrderDate" }, { "StatusDesc", "StatusDesc" },
        { "OrderProcessFlag", "OrderProcessFlag" } } },
      field("ShowStart", start),
      field("ShowEnd", start + #rows - 1),
      field("NextStartPosition", start + PAGE),
      field("RecordCount", #list),
    },
  }
end

function M.getorderdetail(p, account)
  local id = tonumber(p.orderid)
  local order
  for _, o in ipairs(state.orders()) do
    if o.order_id == id and o.uid:lower() == account.uid:lower() then order = o end
  end
  if not order then return fail("Order not found", 316103) end
  local done = order.status == "Closed"
  return {
    items = {
      field("OrderID", order.order_id),
      field("Result", true),
      field("OrderDate", order.date),
      { group = true, wrap = "Order", elem = "OrderDetail", rows = {
        { order.product, order.domain, done and "Successful" or "Processing", order.quantity,
          done and "Closed" or "Open", table.concat(order.bundle_ids, ",") } }, cols = {
        { "ProductType", "ProductType" }, { "Description", "Description" }, { "Status", "Status" },
        { "Quantity", "Quantity" }, { "OrderStatus", "OrderStatus" }, { "BundleID", "BundleID" } } },
    },
  }
end

return M
