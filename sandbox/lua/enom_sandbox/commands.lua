-- One function per eNom command, with eNom's validation rules.
--
-- Each command gets (p, account, domain) where p holds the request
-- parameters with lower-cased names, and returns a result for respond.lua:
-- { items = {...}, errors = {{msg=, num=}}, applied = bool }. `applied` is
-- true when the call changed state; the counters report it so tests can
-- tell whether a retried call was applied twice.
--
-- Response numbers follow eNom's six-digit scheme: system (3 validation,
-- 4 auth, 5 payment, 7 policy), type (01 missing, 04 invalid, 13
-- unauthorized, 16 not found), parameter. Parameter codes are eNom's where
-- its table has one: 150 command, 153 domain name, 155 login id, 156
-- password, 170 email record, 172 forward to, 181 account balance, 183
-- quantity, 269 pak id, 271 POP pak, 286 POP user name, 391 BundleID; 440
-- (EmailCount) is the sandbox's own. An error eNom sends without a number
-- (ResponseCount=0: "Invalid Item specified", and the IP allow list error,
-- whose number no recorded answer shows) has none here either.

local state = require("enom_sandbox.state")
local orders = require("enom_sandbox.orders")

local M = {}

local MAX_USER = 30
local MAX_POP_PASSWORD = 50
local MAX_FWD_ADDRESS = 30
local MAX_FWD_TARGET = 130
local MAX_FORWARDS = 100
-- eNom's parameter table gives Quantity a "Max Size" of 10, the column
-- that is a field length everywhere else (UID 20, SLD 63, RenewPOPBundle's
-- Quantity of years 2): up to 10 digits, no limit on the number of paks
-- beyond the balance.
local MAX_QUANTITY_DIGITS = 10
local POP_PROD_TYPE = 38

local function err(msg, num) return { msg = msg, num = num } end
local function fail(msg, num) return { items = {}, errors = { err(msg, num) } } end
M.fail = fail

local function field(k, v) return { k = k, v = v } end

local function bool01(b) return b and 1 or 0 end

local function money(n)
  -- eNom prints balances with thousands separators (1,000.00).
  local s = string.format("%.2f", n)
  local int, frac = s:match("^(-?%d+)(%.%d+)$")
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^(-?),", "%1")
  return int .. frac
end

-- Values of Name1, Name2, ... up to the first index with none of the names.
-- eNom indexes from 1 and stops at the first gap.
local function indexed(p, names)
  local rows = {}
  local i = 1
  while true do
    local row, any = {}, false
    for _, n in ipairs(names) do
      local v = p[n .. i]
      if v ~= nil then any = true end
      row[n] = v
    end
    if not any then break end
    rows[i] = row
    i = i + 1
  end
  return rows
end

local function has_control(s)
  return s:find("[%z\1-\31\127]") ~= nil
end

local function valid_username(u)
  return u:match("^[A-Za-z0-9][A-Za-z0-9._-]*$") ~= nil
end

local function check_password(user, pw)
  if pw == nil or pw == "" then
    return err("Password is required for user " .. user, 301156)
  end
  if #pw > MAX_POP_PASSWORD then
    return err("Password for user " .. user .. " is longer than " .. MAX_POP_PASSWORD .. " characters", 304156)
  end
  if has_control(pw) then
    return err("Password for user " .. user .. " contains invalid characters", 304156)
  end
end

local function check_username(u, index)
  if u == nil or u == "" then
    return err("UserName" .. index .. " is required", 301286)
  end
  if #u > MAX_USER then
    return err("User name " .. u .. " is longer than " .. MAX_USER .. " characters", 304286)
  end
  if not valid_username(u) then
    return err("User name " .. u .. " contains invalid characters", 304286)
  end
end

-- eNom answers an unknown BundleID with "Invalid Item specified" and no
-- response number (ResponseCount=0).
local function bad_bundle(items) return { items = items or {}, errors = { err("Invalid Item specified") } } end

local function exp_date_in_a_year()
  local d = os.date("!*t", ngx.time())
  return string.format("%d/%d/%d", d.month, d.day, d.year + 1)
end

-- SetUpPOP3User: each user succeeds or fails on its own; the call as a
-- whole fails only when the BundleID is not a pak of the domain.
function M.setuppop3user(p, _, dom)
  local pak = state.find_pak(dom, p.bundleid)
  local users = indexed(p, { "username", "password", "isadmin", "displayname" })
  if not pak then
    -- eNom's error answer still carries the three result fields
    return bad_bundle { field("Success", false), field("AccountsCreated", 0), field("AccountsFailed", #users) }
  end
  if #users == 0 then return fail("UserName1 is required", 301286) end

  local errors, created, seen = {}, 0, {}
  local free = pak.size - state.pak_used(dom, pak.bundle_id)
  for i, u in ipairs(users) do
    local name = u.username
    local e = check_username(name, i)
    if not e and seen[name:lower()] then
      e = err("User name " .. name .. " is repeated in this request", 304286)
    end
    if not e and state.find_mailbox(dom, name) then
      e = err("User name " .. name .. " already exists", 304286)
    end
    e = e or check_password(name, u.password)
    if not e and free <= 0 then
      e = err("POP pak " .. pak.bundle_id .. " is full", 704271)
    end
    if name and name ~= "" then seen[name:lower()] = true end
    if e then
      errors[#errors + 1] = e
    else
      dom.mailboxes[#dom.mailboxes + 1] = {
        username = name, password = u.password,
        display_name = (u.displayname or ""):gsub("[%z\1-\31\127]", ""),
        admin = state.truthy(u.isadmin), quota = pak.quota, quota_used = 0,
        bundle_id = pak.bundle_id, forward_to = "", forward_active = false,
      }
      free = free - 1
      created = created + 1
    end
  end
  return {
    items = {
      field("Success", created > 0),
      field("AccountsCreated", created),
      field("AccountsFailed", #users - created),
    },
    errors = errors,
    applied = created > 0,
  }
end

function M.purchasepopbundle(p, account, dom)
  local qty = 1
  if p.quantity ~= nil and p.quantity ~= "" then
    qty = type(p.quantity) == "string" and #p.quantity <= MAX_QUANTITY_DIGITS and p.quantity:match("^%d+$")
      and tonumber(p.quantity)
    if not qty or qty < 1 then
      return fail("Quantity must be a whole number of at most " .. MAX_QUANTITY_DIGITS .. " digits, 1 or more",
        304183)
    end
  end
  local settings = state.settings()
  -- Cents avoid 0.1 + 0.2 style drift in the balance.
  local cost = math.floor(qty * settings.pop_pak_price * 100 + 0.5)
  local have = math.floor(account.balance * 100 + 0.5)
  if cost > have then
    return fail("Insufficient funds: the order costs " .. money(cost / 100) ..
      ", the available balance is " .. money(have / 100), 524181)
  end
  account.balance = (have - cost) / 100
  -- The order exists from now on; its paks appear after the configured
  -- delay, also when the client has given up waiting by then.
  local order = state.add_order({ uid = account.uid, domain = dom.name, product = "POP Pak",
    quantity = qty, date = os.date("!%m/%d/%Y %I:%M:%S %p", ngx.time()) })
  local delay = settings.purchase_delay_ms or 0
  if delay > 0 then ngx.sleep(delay / 1000) end
  local ids = {}
  for i = 1, qty do
    local id = state.next_bundle_id()
    ids[i] = { id }
    order.bundle_ids[i] = id
    dom.paks[#dom.paks + 1] = {
      bundle_id = id, size = settings.pak_size, exp_date = exp_date_in_a_year(),
      auto_renew = true, quota = settings.quota,
    }
  end
  order.status = "Closed"
  return {
    items = {
      field("orderid", order.order_id),
      { group = true, wrap = "Bundles", cols = { { "BundleID", "BundleID" } }, rows = ids },
      field("BundleCount", qty),
    },
    applied = true,
  }
end

function M.getpop3(_, _, dom)
  local pops, paks = {}, {}
  local pak_by_id = {}
  for _, pk in ipairs(dom.paks) do pak_by_id[pk.bundle_id] = pk end
  for i, m in ipairs(dom.mailboxes) do
    local pk = pak_by_id[m.bundle_id] or {}
    pops[i] = { m.username, m.password, m.quota, pk.exp_date or "", m.bundle_id,
      bool01(pk.auto_renew), bool01(m.admin), m.quota_used, m.bundle_id, 2 }
  end
  for i, pk in ipairs(dom.paks) do
    paks[i] = { pk.bundle_id, pk.size, pk.size - state.pak_used(dom, pk.bundle_id), pk.exp_date,
      bool01(pk.auto_renew), pk.quota, POP_PROD_TYPE, 2 }
  end
  -- As eNom's samples show: XML and Text differ in a few keys (vasitemid and
  -- version only in Text, AdditionalHostPop only in XML, Success only in Text).
  return {
    items = {
      { group = true, elem = "pop", rows = pops, cols = {
        { "username", "Username" }, { "password", "Password" }, { "quota", "Quota" },
        { "expdate", "ExpDate" }, { "BundleId", "BundleId" }, { "AutoRenew", "AutoRenew" },
        { "admin", "admin" }, { "quotaused", "quotaused" }, { nil, "vasitemid" }, { nil, "version" } } },
      field("EmailCount", #pops),
      { group = true, wrap = "Paks", elem = "Pak", rows = paks, cols = {
        { "BundleId", "PakBundleId" }, { "QtyPurchased", "PakQtyPurchased" },
        { "QtyAvailable", "PakQtyAvailable" }, { "ExpDate", "PakExpDate" },
        { "AutoRenew", "PakAutoRenew" }, { "Quota", "PakQuota" }, { "ProdType", "PakProdType" },
        { nil, "PakVersion" } } },
      field("Count", #paks),
      { k = "AdditionalHostPop", v = "", only = "xml" },
      field("AdditionalHostAcctLogin", ""),
      field("Successful", true),
      { k = "Success", v = true, only = "kv" },
    },
  }
end

-- ModifyPOP3: EmailCount must match the users sent (eNom's guard against
-- truncated requests); each user then succeeds or fails on its own.
function M.modifypop3(p, _, dom)
  local users = indexed(p, { "username", "password", "isadmin" })
  if #users == 0 then return fail("UserName1 is required", 301286) end
  if tonumber(p.emailcount) ~= #users then
    return fail("EmailCount (" .. tostring(p.emailcount or "") .. ") does not match the " ..
      #users .. " user names sent", 304440)
  end
  local errors, modified = {}, 0
  for i, u in ipairs(users) do
    local m = u.username and u.username ~= "" and state.find_mailbox(dom, u.username)
    local e
    if not u.username or u.username == "" then
      e = err("UserName" .. i .. " is required", 301286)
    elseif not m then
      e = err("User name " .. u.username .. " not found", 316286)
    elseif u.password == nil and u.isadmin == nil then
      e = err("Nothing to modify for user " .. u.username .. ": send Password" .. i ..
        " and/or IsAdmin" .. i, 301156)
    elseif u.password ~= nil then
      e = check_password(u.username, u.password)
    end
    if e then
      errors[#errors + 1] = e
    else
      if u.password ~= nil then m.password = u.password end
      if u.isadmin ~= nil then m.admin = state.truthy(u.isadmin) end
      modified = modified + 1
    end
  end
  return {
    items = {
      field("Success", modified > 0),
      field("AccountsModified", modified),
      field("AccountsFailed", #users - modified),
    },
    errors = errors,
    applied = modified > 0,
  }
end

function M.deletepop3(p, _, dom)
  local users = indexed(p, { "username" })
  if #users == 0 then return fail("UserName1 is required", 301286) end
  local errors, deleted = {}, 0
  for i, u in ipairs(users) do
    local _, idx = state.find_mailbox(dom, u.username)
    if not u.username or u.username == "" then
      errors[#errors + 1] = err("UserName" .. i .. " is required", 301286)
    elseif not idx then
      errors[#errors + 1] = err("User name " .. u.username .. " not found", 316286)
    else
      table.remove(dom.mailboxes, idx)
      deleted = deleted + 1
    end
  end
  return {
    -- eNom's Text answer has no AccountsDeleted
    items = { { k = "AccountsDeleted", v = deleted, only = "xml" }, field("success", deleted > 0) },
    errors = errors,
    applied = deleted > 0,
  }
end

function M.deletepoppak(p, _, dom)
  local pak, idx = state.find_pak(dom, p.bundleid)
  if not pak then return bad_bundle() end
  local used = state.pak_used(dom, pak.bundle_id)
  if used > 0 then
    return fail("POP pak " .. pak.bundle_id .. " still holds " .. used ..
      " mailboxes; delete them first", 704269)
  end
  table.remove(dom.paks, idx)
  return { items = {}, applied = true }
end

function M.deleteallpoppaks(_, _, dom)
  for _, pak in ipairs(dom.paks) do
    local used = state.pak_used(dom, pak.bundle_id)
    if used > 0 then
      return fail("POP pak " .. pak.bundle_id .. " still holds " .. used ..
        " mailboxes; delete them first", 704269)
    end
  end
  local n = #dom.paks
  dom.paks = {}
  return { items = { field("PaksRemoved", n) }, applied = n > 0 }
end

-- A stand-in for eNom's DomainNameID: a number, stable per name.
local function domain_name_id(name)
  local h = 0
  for i = 1, #name do h = (h * 31 + name:byte(i)) % 9999991 end
  return 150000000 + h
end

function M.getpopforwarding(p, _, dom)
  local boxes = dom.mailboxes
  local one = p.username ~= nil and p.username ~= ""
  if one then
    local m = state.find_mailbox(dom, p.username)
    if not m then return fail("User name " .. p.username .. " not found", 316286) end
    boxes = { m }
  end
  local rows = {}
  for i, m in ipairs(boxes) do
    rows[i] = { dom.name, domain_name_id(dom.name), m.username, m.forward_to, bool01(m.forward_active) }
  end
  -- eNom's answer for one UserName: <popforwarding> in XML, the record
  -- un-indexed in Text (with Success, without Count). Without a UserName
  -- (the sandbox's own extension) every mailbox, indexed.
  return {
    items = {
      { group = true, elem = "popforwarding", rows = rows, noindex = one, cols = {
        { "domainname", "domainname" }, { "domainnameid", "domainnameid" }, { "username", "username" },
        { "forwardto", "forwardto" }, { "active", "active" } } },
      { k = "Count", v = #rows, only = one and "xml" or nil },
      { k = "Success", v = true, only = "kv" },
    },
  }
end

function M.getmailhosts(_, _, dom)
  local rows = {}
  for i, h in ipairs(dom.mail_hosts) do
    rows[i] = { h.host_id, h.host_name, h.record_type, h.address, h.mx_pref }
  end
  -- XML wraps the hosts and their count in <mailhosts>; Text/HTML index
  -- HostName, RecordType, Address and MXPref (no hostID).
  return {
    items = {
      { nest = "mailhosts", items = {
        { k = "EmailForwarding", v = dom.email_forwarding_enabled, only = "xml" },
        { group = true, elem = "host", rows = rows, cols = {
          { "hostID" }, { "HostName", "HostName" }, { "RecordType", "RecordType" },
          { "Address", "Address" }, { "MXPref", "MXPref" } } },
        field("LastNumberFromRegHostCounter", #rows),
        field("MailHostCount", #rows),
      } },
      field("ParkingEnabled", false),
      field("ServiceSelect", dom.service_select),
    },
  }
end

-- Forwarding replaces the whole set, so it is all-or-nothing: one bad
-- entry rejects the call and the previous set stays.
function M.forwarding(p, _, dom)
  local rows = indexed(p, { "address", "forwardto" })
  if #rows > MAX_FORWARDS then
    return fail("At most " .. MAX_FORWARDS .. " forwarding addresses are allowed", 706170)
  end
  local seen = {}
  for i, r in ipairs(rows) do
    local a, t = r.address or "", r.forwardto or ""
    if a == "" then return fail("Address" .. i .. " is required", 301170) end
    if #a > MAX_FWD_ADDRESS then
      return fail("Address " .. a .. " is longer than " .. MAX_FWD_ADDRESS .. " characters", 304170)
    end
    if not valid_username(a) and a ~= "*" then
      return fail("Address " .. a .. " contains invalid characters", 304170)
    end
    if seen[a:lower()] then return fail("Address " .. a .. " is repeated in this request", 304170) end
    seen[a:lower()] = true
    if t == "" then return fail("ForwardTo" .. i .. " is required", 301172) end
    if #t > MAX_FWD_TARGET then
      return fail("ForwardTo" .. i .. " is longer than " .. MAX_FWD_TARGET .. " characters", 304172)
    end
    if not t:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
      return fail("ForwardTo" .. i .. " is not a valid e-mail address", 304172)
    end
  end
  local old = {}
  for _, f in ipairs(dom.forwarding) do old[f.alias:lower()] = f end
  local new = {}
  for i, r in ipairs(rows) do
    local prev = old[r.address:lower()]
    new[i] = { alias = r.address, forward_to = r.forwardto, status = "Active",
      mail_id = prev and prev.mail_id or state.next_mail_id() }
  end
  dom.forwarding = new
  dom.email_forwarding_enabled = true
  return {
    items = { field("EmailForwardingEnabled", true), field("MailCount", #new) },
    applied = true,
  }
end

-- eNom's forwarding status is a code: 0 forwarding on, 1 off.
local function forward_status(st)
  if st == "1" or st == "0" then return st end
  return (st == "Disabled" or st == "Inactive") and "1" or "0"
end

function M.getforwarding(_, _, dom)
  local rows = {}
  for i, f in ipairs(dom.forwarding) do
    rows[i] = { f.alias, f.forward_to, forward_status(f.status), "", f.mail_id }
  end
  -- XML: <eforward> {alias, forward-to, ...}; Text: the alias is Username1.
  return {
    items = {
      { group = true, elem = "eforward", rows = rows, cols = {
        { "alias", "Username" }, { "forward-to", "ForwardTo" }, { "status", "Status" },
        { "rejectreason", "RejectReason" }, { "mailid", "MailID" } } },
      field("EmailCount", #rows),
      field("MaxEmail", MAX_FORWARDS),
      { nest = "DomainServices", items = {
        field("EmailForwarding", dom.email_forwarding_enabled),
        field("HostRecords", true),
      } },
    },
  }
end

function M.getcatchall(_, _, dom)
  -- eNom's Text answer has no CatchAll: the address comes as ForwardTo
  return {
    items = {
      { k = "success", v = true, only = "kv" },
      { k = "CatchAll", v = dom.catch_all, only = "xml" },
      { k = "ForwardTo", v = dom.catch_all, only = "kv" },
      { k = "Version", v = 2, only = "kv" },
    },
  }
end

local function dotname_only()
  return fail("This command is only available for .name domains", 304153)
end

function M.getdotnameforwarding(_, _, dom)
  if not dom.dotname then return dotname_only() end
  local sld, tld = dom.name:match("^(.-)%.([^.]+)$")
  return {
    items = {
      field("DomainRRP", "E"),
      { nest = "dotnameforwarding", items = {
        { k = "domainname", v = "", attrs = { { "domainnameid", domain_name_id(dom.name) }, { "sld", sld },
          { "tld", tld } } },
        field("status", dom.dotname.address ~= "" and 1 or 0),
        field("address", dom.dotname.address),
      } },
    },
  }
end

function M.setdotnameforwarding(p, _, dom)
  if not dom.dotname then return dotname_only() end
  local to = p.forwardto or ""
  if to == "" then return fail("ForwardTo is required", 301172) end
  if #to > MAX_FWD_TARGET or not to:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
    return fail("ForwardTo is not a valid e-mail address", 304172)
  end
  dom.dotname.address = to
  dom.dotname.status = "Active"
  return {
    items = { field("DomainRRP", "E"), { nest = "dotnameforwarding", items = { field("ForwardTo", to) } } },
    applied = true,
  }
end

-- The sandbox's list prices for GetBalance's price fields.
local PRICES = {
  { "Price", 8.95 }, { "COMPrice", 8.95 }, { "NETPrice", 9.00 }, { "ORGPrice", 9.00 }, { "CCPrice", 24.95 },
  { "TVPrice", 39.95 }, { "BZPrice", 24.95 }, { "NUPrice", 24.95 },
}

function M.getbalance(_, account)
  local items = {
    field("Reseller", 1),
    field("Balance", money(account.balance)),
    field("AvailableBalance", money(account.balance)),
  }
  for _, pr in ipairs(PRICES) do items[#items + 1] = field(pr[1], string.format("%.2f", pr[2])) end
  local count = 0
  for _, d in ipairs(state.get().domains or {}) do
    if (d.owner or ""):lower() == account.uid:lower() then count = count + 1 end
  end
  items[#items + 1] = field("DomainCount", count)
  return { items = items }
end
M.money = money

-- name: eNom's spelling (used in counters); domain: needs SLD/TLD.
M.table = {
  setuppop3user = { name = "SetUpPOP3User", fn = M.setuppop3user, domain = true },
  purchasepopbundle = { name = "PurchasePOPBundle", fn = M.purchasepopbundle, domain = true },
  getpop3 = { name = "GetPOP3", fn = M.getpop3, domain = true },
  modifypop3 = { name = "ModifyPOP3", fn = M.modifypop3, domain = true },
  deletepop3 = { name = "DeletePOP3", fn = M.deletepop3, domain = true },
  deletepoppak = { name = "DeletePOPPak", fn = M.deletepoppak, domain = true },
  deleteallpoppaks = { name = "DeleteAllPOPPaks", fn = M.deleteallpoppaks, domain = true },
  getpopforwarding = { name = "GetPOPForwarding", fn = M.getpopforwarding, domain = true },
  getmailhosts = { name = "GetMailHosts", fn = M.getmailhosts, domain = true },
  forwarding = { name = "Forwarding", fn = M.forwarding, domain = true },
  getforwarding = { name = "GetForwarding", fn = M.getforwarding, domain = true },
  getcatchall = { name = "GetCatchAll", fn = M.getcatchall, domain = true },
  getdotnameforwarding = { name = "GetDotNameForwarding", fn = M.getdotnameforwarding, domain = true },
  setdotnameforwarding = { name = "SetDotNameForwarding", fn = M.setdotnameforwarding, domain = true },
  getbalance = { name = "GetBalance", fn = M.getbalance },
  getorderlist = { name = "GetOrderList", fn = orders.getorderlist },
  getorderdetail = { name = "GetOrderDetail", fn = orders.getorderdetail },
}

function M.lookup(command)
  return M.table[(command or ""):lower()]
end

-- Authentication, then the command, then the domain: the order in which
-- eNom reports problems.
function M.execute(def, p)
  local account = state.account(p.uid)
  if not account or p.uid == "" or account.pw ~= p.pw then
    return fail("Bad User name or Password", 304155)
  end
  -- eNom's IP allow list, the most common set-up failure of a new client.
  if account.allowed_ips then
    local addr = ngx.var.remote_addr or ""
    local permitted = false
    for _, ip in ipairs(account.allowed_ips) do
      permitted = permitted or ip == addr
    end
    if not permitted then
      return { items = {}, errors = { err("User not permitted from this IP address - " .. addr) } }
    end
  end
  if not def then
    return fail("Invalid command: " .. (p.command or ""), 304150)
  end
  local dom
  if def.domain then
    local sld, tld = p.sld or "", p.tld or ""
    if sld == "" or tld == "" then return fail("SLD and TLD are required", 301153) end
    dom = state.domain(sld .. "." .. tld)
    if not dom then return fail("Domain name not found", 316153) end
    if dom.owner:lower() ~= account.uid:lower() then
      return fail("The domain does not belong to this account", 313153)
    end
  end
  return def.fn(p, account, dom)
end

return M
