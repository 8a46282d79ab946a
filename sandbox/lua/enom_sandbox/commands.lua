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
-- its table has one: 000 does not apply, 012 e-mail, 150 command, 153
-- domain name, 155 login id, 156 password, 163 renewal settings, 170
-- email record, 172 forward to, 181 account balance, 183 quantity, 188
-- page, 190 URL, 217 date, 239 status, 259 order ID, 269 pak id, 271 POP
-- pak, 286 POP user name, 391 BundleID; 440 (EmailCount) is the
-- sandbox's own. An error eNom sends without a number
-- (ResponseCount=0: "Invalid Item specified", and the IP allow list error,
-- whose number no recorded answer shows) has none here either.

local state = require("enom_sandbox.state")
local util = require("enom_sandbox.util")
local passwords = require("enom_sandbox.passwords")
local orders = require("enom_sandbox.orders")
local forwarding = require("enom_sandbox.forwarding")
local lifecycle = require("enom_sandbox.lifecycle")

local _M = {}

local MAX_USER = 30
local MAX_POP_PASSWORD = 50
local POP_PROD_TYPE = 38

local err, fail, field, bool01, indexed = util.err, util.fail, util.field, util.bool01, util.indexed
_M.fail = fail

-- A password as SetUpPOP3User and ModifyPOP3 receive it: present, within
-- eNom's field length, then the account's password rule (passwords.lua).
local function check_password(user, pw, account, dom)
  if pw == nil or pw == "" then
    return err("Password is required for user " .. user, 301156)
  end
  if #pw > MAX_POP_PASSWORD then
    return err("Password for user " .. user .. " is longer than " .. MAX_POP_PASSWORD .. " characters", 304156)
  end
  if util.has_control(pw) then
    return err("Password for user " .. user .. " contains invalid characters", 304156)
  end
  return passwords.check(account.password_rule, pw, user,
    { sld = dom.name:match("^(.-)%.[^.]+$"), uid = account.uid })
end

local function check_username(u, index)
  if u == nil or u == "" then
    return err("UserName" .. index .. " is required", 301286)
  end
  if #u > MAX_USER then
    return err("User name " .. u .. " is longer than " .. MAX_USER .. " characters", 304286)
  end
  if not util.valid_username(u) then
    return err("User name " .. u .. " contains invalid characters", 304286)
  end
end

-- eNom answers an unknown BundleID with "Invalid Item specified" and no
-- response number (ResponseCount=0).
local function bad_bundle(items) return { items = items or {}, errors = { err("Invalid Item specified") } } end

-- SetUpPOP3User: each user succeeds or fails on its own; the call as a
-- whole fails only when the BundleID is not a pak of the domain.
function _M.setuppop3user(p, account, dom)
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
    e = e or check_password(name, u.password, account, dom)
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
        bundle_id = pak.bundle_id, forward_to = "", forward_flags = "", forward_state = "",
        forward_requested_at = false,
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

function _M.getpop3(_, _, dom)
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
function _M.modifypop3(p, account, dom)
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
      e = check_password(u.username, u.password, account, dom)
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

function _M.deletepop3(p, _, dom)
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

function _M.deletepoppak(p, _, dom)
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

function _M.deleteallpoppaks(_, _, dom)
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

function _M.getmailhosts(_, _, dom)
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

-- The sandbox's list prices for GetBalance's price fields.
local PRICES = {
  { "Price", 8.95 }, { "COMPrice", 8.95 }, { "NETPrice", 9.00 }, { "ORGPrice", 9.00 }, { "CCPrice", 24.95 },
  { "TVPrice", 39.95 }, { "BZPrice", 24.95 }, { "NUPrice", 24.95 },
}

function _M.getbalance(_, account)
  local items = {
    field("Reseller", 1),
    field("Balance", util.money(account.balance)),
    field("AvailableBalance", util.money(account.balance)),
  }
  for _, pr in ipairs(PRICES) do items[#items + 1] = field(pr[1], string.format("%.2f", pr[2])) end
  local count = 0
  for _, d in ipairs(state.get().domains or {}) do
    if (d.owner or ""):lower() == account.uid:lower() then count = count + 1 end
  end
  items[#items + 1] = field("DomainCount", count)
  return { items = items }
end

-- name: eNom's spelling (used in counters); domain: needs SLD/TLD (or
-- DomainNameID).
_M.table = {}
for _, def in ipairs {
  { "SetUpPOP3User", _M.setuppop3user, true },
  { "PurchasePOPBundle", lifecycle.purchasepopbundle, true },
  { "GetPOP3", _M.getpop3, true },
  { "ModifyPOP3", _M.modifypop3, true },
  { "DeletePOP3", _M.deletepop3, true },
  { "DeletePOPPak", _M.deletepoppak, true },
  { "DeleteAllPOPPaks", _M.deleteallpoppaks, true },
  { "GetMailHosts", _M.getmailhosts, true },
  { "GetBalance", _M.getbalance },
  { "GetPOPForwarding", forwarding.getpopforwarding, true },
  { "SetPOPForwarding", forwarding.setpopforwarding, true },
  { "Forwarding", forwarding.forwarding, true },
  { "GetForwarding", forwarding.getforwarding, true },
  { "GetCatchAll", forwarding.getcatchall, true },
  { "SetCatchAll", forwarding.setcatchall, true },
  { "GetDotNameForwarding", forwarding.getdotnameforwarding, true },
  { "SetDotNameForwarding", forwarding.setdotnameforwarding, true },
  { "GetPOPExpirations", lifecycle.getpopexpirations },
  { "RenewPOPBundle", lifecycle.renewpopbundle, true },
  { "SetPakRenew", lifecycle.setpakrenew, true },
  { "GetRenew", lifecycle.getrenew, true },
  { "SetRenew", lifecycle.setrenew, true },
  { "UpdateRenewalSettings", lifecycle.updaterenewalsettings },
  { "PE_GetPOPPrice", lifecycle.pe_getpopprice },
  { "GetOrderList", orders.getorderlist },
  { "GetOrderDetail", orders.getorderdetail },
} do
  _M.table[def[1]:lower()] = { name = def[1], fn = def[2], domain = def[3] == true }
end

function _M.lookup(command)
  return _M.table[(command or ""):lower()]
end

-- Authentication, then the command, then the domain: the order in which
-- eNom reports problems.
function _M.execute(def, p)
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
      return { items = {}, errors = { util.ip_refused(addr) } }
    end
  end
  if not def then
    return fail("Invalid command: " .. (p.command or ""), 304150)
  end
  local dom
  if def.domain then
    local sld, tld = p.sld or "", p.tld or ""
    if (sld == "" or tld == "") and (p.domainnameid or "") ~= "" then
      -- eNom's pages also name a domain by its DomainNameID (SetPakRenew's sample).
      dom = state.domain_by_id(p.domainnameid)
    elseif sld == "" or tld == "" then
      return fail("SLD and TLD are required", 301153)
    else
      dom = state.domain(sld .. "." .. tld)
    end
    if not dom then return fail("Domain name not found", 316153) end
    if dom.owner:lower() ~= account.uid:lower() then
      return fail("The domain does not belong to this account", 313153)
    end
  end
  return def.fn(p, account, dom)
end

return _M
