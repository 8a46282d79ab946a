-- A POP pak's life and money: buying (PurchasePOPBundle, and a person
-- buying in eNom's web interface through the admin API), the account's
-- price (PE_GetPOPPrice), expiry dates (GetPOPExpirations), renewal
-- (RenewPOPBundle), auto-renew per pak (SetPakRenew) and per domain
-- (GetRenew / SetRenew's AutoPakRenew), and the account's renewal
-- settings (UpdateRenewalSettings), as eNom's command pages describe them.
--
-- eNom's UpdateRenewalSettings page documents RenewalSetting, RenewalBCC,
-- AcceptTerms and URL (how eNom writes to the reseller's customers about
-- renewals), no AutoPakRenew: the per-domain pak auto-renew is SetRenew's
-- AutoPakRenew, read back by GetRenew. An AutoPakRenew sent to
-- UpdateRenewalSettings changes nothing here, as an unknown parameter.

local state = require("enom_sandbox.state")
local util = require("enom_sandbox.util")

local _M = {}

local err, fail, field, bool01 = util.err, util.fail, util.field, util.bool01

-- eNom's parameter table gives Quantity a "Max Size" of 10, the column
-- that is a field length everywhere else (UID 20, SLD 63, RenewPOPBundle's
-- Quantity of years 2): up to 10 digits, no limit on the number of paks
-- beyond the balance.
local MAX_QUANTITY_DIGITS = 10
-- Years of one renewal: eNom's MaxPeriod, which every answer carries.
local MAX_YEARS = 10
local MAX_URL = 63

-- Charges `cost` cents to the account; nil and the error when the
-- balance is short.
local function charge(account, cost)
  local have = util.cents(account.balance)
  if cost > have then return nil, util.insufficient(cost, have) end
  account.balance = (have - cost) / 100
  return true
end

local function in_a_year()
  local now = ngx.time()
  return util.add_years(util.datetime(now), 1)
end

-- Buys `qty` paks for `dom`, recorded as an order of `by`; the paks
-- appear `delay_ms` after the order (eNom's purchases take seconds).
-- Returns the order, or nil and an error.
local function buy(account, dom, qty, by, delay_ms)
  local cost = util.cents(qty * account.pop_pak_price)
  local ok, e = charge(account, cost)
  if not ok then return nil, e end
  local order = state.add_order({ uid = account.uid, domain = dom.name, product = "POP Pak",
    quantity = qty, amount = cost / 100, by = by })
  if delay_ms and delay_ms > 0 then ngx.sleep(delay_ms / 1000) end
  local settings = state.settings()
  for i = 1, qty do
    local id = state.next_bundle_id()
    order.bundle_ids[i] = id
    local exp = in_a_year()
    order.expires = exp
    dom.paks[#dom.paks + 1] = {
      bundle_id = id, size = settings.pak_size, exp_date = exp,
      auto_renew = dom.auto_pak_renew, quota = settings.quota,
    }
  end
  order.status = "Closed"
  return order
end

function _M.purchasepopbundle(p, account, dom)
  local qty = 1
  if p.quantity ~= nil and p.quantity ~= "" then
    qty = type(p.quantity) == "string" and #p.quantity <= MAX_QUANTITY_DIGITS and p.quantity:match("^%d+$")
      and tonumber(p.quantity)
    if not qty or qty < 1 then
      return fail("Quantity must be a whole number of at most " .. MAX_QUANTITY_DIGITS .. " digits, 1 or more",
        304183)
    end
  end
  local order, e = buy(account, dom, qty, "api", state.settings().purchase_delay_ms)
  if not order then return { items = {}, errors = { e } } end
  local ids = {}
  for i, id in ipairs(order.bundle_ids) do ids[i] = { id } end
  return {
    items = {
      field("orderid", order.order_id),
      { group = true, wrap = "Bundles", cols = { { "BundleID", "BundleID" } }, rows = ids },
      field("BundleCount", qty),
    },
    applied = true,
  }
end

--- A person buys paks in eNom's web interface (the admin API): the same
-- money, paks and order history as PurchasePOPBundle, at once.
function _M.web_purchase(t)
  if type(t) ~= "table" or type(t.domain) ~= "string" then
    return nil, "body must be {\"domain\": ..., \"quantity\": n}"
  end
  local dom = state.domain(t.domain)
  if not dom then return nil, "no domain " .. t.domain end
  local qty = t.quantity == nil and 1 or tonumber(t.quantity)
  if not qty or qty < 1 or qty ~= math.floor(qty) or qty > 1000 then
    return nil, "quantity must be a whole number from 1 to 1000"
  end
  local order, e = buy(state.account(dom.owner), dom, qty, "web")
  if not order then return nil, e.msg end
  return { order_id = order.order_id, bundle_ids = order.bundle_ids }
end

function _M.pe_getpopprice(_, account)
  -- XML: <pricing><pop>; Text: Price.
  local price = string.format("%.2f", account.pop_pak_price)
  return {
    items = {
      { nest = "pricing", only = "xml", items = { field("pop", price) } },
      { k = "Price", v = price, only = "kv" },
    },
  }
end

function _M.getpopexpirations(_, account)
  local rows = {}
  for _, d in ipairs(state.domains_of(account)) do
    for _, pk in ipairs(d.paks) do
      rows[#rows + 1] = { d.name, pk.bundle_id, pk.exp_date, pk.auto_renew, 2 }
    end
  end
  -- XML: <popexpirations> holding <pop> records and <count>; Text indexes
  -- domain, bundleid, expdate and adds renew, version and success.
  return {
    items = {
      { nest = "popexpirations", items = {
        { group = true, elem = "pop", rows = rows, cols = {
          { "domain", "domain" }, { "bundleid", "bundleid" }, { "expdate", "expdate" }, { nil, "renew" },
          { nil, "version" } } },
        field("count", #rows),
      } },
      { k = "success", v = true, only = "kv" },
    },
  }
end

-- The pak of `dom` named by `id`; an error for one that is not (another
-- domain's pak, or none).
local function pak_of(dom, id, name)
  if id == nil or id == "" then return nil, err(name .. " is required", 301269) end
  if not tostring(id):match("^%d+$") then return nil, err(name .. " must be a number", 304269) end
  local pak = state.find_pak(dom, id)
  if not pak then return nil, err("POP pak " .. id .. " is not a pak of " .. dom.name, 316269) end
  return pak
end

-- RenewPOPBundle: the pak's expiry moves by the years, charged at the
-- account's price per year; the order is recorded when it arrives and
-- completes after the purchase delay, as PurchasePOPBundle's.
function _M.renewpopbundle(p, account, dom)
  local pak, e = pak_of(dom, p.pakid, "PakID")
  if not pak then return { items = {}, errors = { e } } end
  local years = p.quantity
  if years == nil or years == "" then return fail("Quantity is required", 301183) end
  years = years:match("^%d%d?$") and tonumber(years)
  if not years or years < 1 or years > MAX_YEARS then
    return fail("Quantity (years) must be 1 to " .. MAX_YEARS, 303183)
  end
  local cost = util.cents(years * account.pop_pak_price)
  local ok, ce = charge(account, cost)
  if not ok then return { items = {}, errors = { ce } } end
  local order = state.add_order({ uid = account.uid, domain = dom.name, product = "POP Pak Renewal",
    quantity = years, amount = cost / 100, bundle_ids = { pak.bundle_id } })
  local delay = state.settings().purchase_delay_ms or 0
  if delay > 0 then ngx.sleep(delay / 1000) end
  pak.exp_date = util.add_years(pak.exp_date, years)
  order.expires = pak.exp_date
  order.status = "Closed"
  -- eNom's Text sample carries no OrderID, its XML an <orderid>.
  return { items = { { k = "orderid", v = order.order_id, only = "xml" } }, applied = true }
end

function _M.setpakrenew(p, _, dom)
  local pak, e = pak_of(dom, p.bundleid, "BundleID")
  if not pak then return { items = {}, errors = { e } } end
  local on = util.flag(p.autopakrenew)
  if on == nil then return fail("AutoPakRenew is required", 301163) end
  if on == "bad" then return fail("AutoPakRenew must be 1 or 0", 304163) end
  pak.auto_renew = on
  -- XML: PakUpdated and AutoPakRenew; Text: Success only.
  return {
    items = {
      { k = "PakUpdated", v = pak.bundle_id, only = "xml" },
      { k = "AutoPakRenew", v = bool01(on), only = "xml" },
      { k = "Success", v = true, only = "kv" },
    },
    applied = true,
  }
end

-- Do the domain's paks renew themselves? Every pak does (or, without
-- paks, new ones will).
local function paks_auto_renew(dom)
  if #dom.paks == 0 then return dom.auto_pak_renew end
  for _, pk in ipairs(dom.paks) do
    if not pk.auto_renew then return false end
  end
  return true
end

function _M.getrenew(_, _, dom)
  -- XML says auto-renew where Text and HTML say RenewName. The services
  -- the sandbox does not sell (URL forwarding, ID Protect, Mobilizer)
  -- show as absent.
  return {
    items = {
      { k = "auto-renew", v = bool01(dom.auto_renew), only = "xml" },
      { k = "RenewName", v = bool01(dom.auto_renew), only = "kv" },
      field("AutoPakRenew", bool01(paks_auto_renew(dom))),
      field("PakExist", bool01(#dom.paks > 0)),
      field("EmailForwardRenew", bool01(dom.email_forward_renew)),
      field("EmailFwdExists", bool01(#dom.forwarding > 0)),
      field("URLForwardRenew", bool01(dom.url_forward_renew)),
      field("URLFwdExists", 0),
      field("IDProtectRenew", bool01(dom.wpps_renew)),
      field("IDProtectExists", 0),
      field("MobilizerRenew", 0),
    },
  }
end

-- SetRenew: the registration's auto-renew (RenewFlag, required) and, when
-- given, the auto-renew of every pak of the domain and of the paks it
-- buys later (AutoPakRenew), of e-mail and URL forwarding and of ID
-- Protect (WPPSRenew).
function _M.setrenew(p, _, dom)
  local v = {}
  for _, n in ipairs { "RenewFlag", "AutoPakRenew", "EmailForwardRenew", "URLForwardRenew", "WPPSRenew" } do
    local k = n:lower()
    v[k] = util.flag(p[k])
    if v[k] == "bad" then return fail(n .. " must be 1 or 0", 304163) end
  end
  if v.renewflag == nil then return fail("RenewFlag is required", 301163) end
  dom.auto_renew = v.renewflag
  if v.autopakrenew ~= nil then
    dom.auto_pak_renew = v.autopakrenew
    for _, pk in ipairs(dom.paks) do pk.auto_renew = v.autopakrenew end
  end
  if v.emailforwardrenew ~= nil then dom.email_forward_renew = v.emailforwardrenew end
  if v.urlforwardrenew ~= nil then dom.url_forward_renew = v.urlforwardrenew end
  if v.wppsrenew ~= nil then dom.wpps_renew = v.wppsrenew end
  local items = { field("RenewName", dom.auto_renew), field("Success", true) }
  -- "This return parameter only appears if the AutoPakRenew is an input
  -- parameter" (eNom's SetRenew page).
  if v.autopakrenew ~= nil then items[#items + 1] = field("AutoPakRenew", v.autopakrenew) end
  return { items = items, applied = true }
end

function _M.updaterenewalsettings(p, account)
  local r = account.renewal
  local setting = p.renewalsetting
  if setting ~= nil and setting ~= "" then
    if not setting:match("^[012]$") then return fail("RenewalSetting must be 0, 1 or 2", 304163) end
  end
  local flags = {}
  for _, n in ipairs { "RenewalBCC", "AcceptTerms" } do
    local k = n:lower()
    flags[k] = util.flag(p[k] ~= "" and p[k] or nil)
    if flags[k] == "bad" then return fail(n .. " must be 0 or 1", 304163) end
  end
  if p.url ~= nil and #p.url > MAX_URL then return fail("URL is longer than " .. MAX_URL .. " characters", 304190) end
  if setting ~= nil and setting ~= "" then r.renewal_setting = tonumber(setting) end
  if flags.renewalbcc ~= nil then r.renewal_bcc = flags.renewalbcc end
  if flags.acceptterms ~= nil then r.accept_terms = flags.acceptterms end
  if p.url ~= nil then r.url = p.url end
  return {
    items = { field("AcceptTermsStatus", "Successful"), field("RenewalSetting", "Successful") },
    applied = true,
  }
end

return _M
