-- The sandbox's whole world: accounts, domains, POP paks, mailboxes and
-- forwarding. It lives in the memory of the single nginx worker, so every
-- command sees a consistent state without locks (handlers only yield inside
-- ngx.sleep / body reads, never in the middle of a mutation).
--
-- The state has the same shape as a seed file, so `GET /admin/state` output
-- can be fed back to `POST /admin/reset`.

local cjson = require("cjson.safe")
local passwords = require("enom_sandbox.passwords")
local util = require("enom_sandbox.util")

local _M = {}

local seed_table      -- normalized seed, never mutated
local current         -- the live state
local accounts_by_uid = {}
local domains_by_name = {}

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end
_M.deep_copy = deep_copy

local function list(v)
  -- JSON decodes an empty array written as {} into a table too; anything
  -- else (nil, cjson.null) becomes an empty list.
  if type(v) == "table" then return v end
  return {}
end

local function truthy(v)
  if v == true or v == 1 then return true end
  if type(v) == "string" then
    local s = v:lower()
    return s == "1" or s == "true" or s == "yes" or s == "on"
  end
  return false
end
_M.truthy = truthy

local function str(v, default)
  if v == nil or v == cjson.null then return default end
  return tostring(v)
end

local RENEWAL_SETTINGS = { [0] = true, [1] = true, [2] = true }

-- The forward states of eNom's opt-in (effective 2025-09-18): a new
-- forward waits for its recipient's approval; an unanswered request
-- expires.
local FORWARD_STATES = { approved = true, pending = true, expired = true }

local function forward_state(v, where)
  local st = str(v, "")
  if st == "" then st = "approved" end
  if not FORWARD_STATES[st] then return nil, where .. ": state must be approved, pending or expired" end
  return st
end

-- Fill defaults and check invariants; returns the table or nil, message.
local function normalize(t)
  if type(t) ~= "table" then return nil, "seed must be a table/object" end
  local s = type(t.settings) == "table" and t.settings or {}
  local settings = {
    pop_pak_price = tonumber(s.pop_pak_price) or 5.95,
    pak_size = tonumber(s.pak_size) or 10,
    quota = tonumber(s.quota) or 1024,
    next_bundle_id = tonumber(s.next_bundle_id) or 0,
    next_order_id = tonumber(s.next_order_id) or 157230001,
    next_mail_id = tonumber(s.next_mail_id) or 0,
    -- eNom's PurchasePOPBundle can take seconds: the order is recorded
    -- when it arrives and its paks appear this long after.
    purchase_delay_ms = tonumber(s.purchase_delay_ms) or 0,
    -- The mailbox password rule of accounts that name none.
    password_rule = str(s.password_rule, passwords.DEFAULT),
  }
  if settings.purchase_delay_ms < 0 or settings.purchase_delay_ms > 600000 then
    return nil, "settings.purchase_delay_ms must be 0..600000"
  end
  if not passwords.known(settings.password_rule) then
    return nil, "settings.password_rule must be pop_m2w or email_basic"
  end
  local out = { settings = settings, accounts = {}, domains = {}, orders = {} }

  local uids = {}
  for i, a in ipairs(list(t.accounts)) do
    local where = "accounts[" .. i .. "]"
    if type(a) ~= "table" or type(a.uid) ~= "string" or a.uid == "" then
      return nil, where .. ": uid missing"
    end
    local key = a.uid:lower()
    if uids[key] then return nil, "duplicate account uid " .. a.uid end
    uids[key] = true
    local allowed
    if a.allowed_ips ~= nil then
      allowed = {}
      for j, ip in ipairs(list(a.allowed_ips)) do
        if type(ip) ~= "string" then
          return nil, where .. ".allowed_ips[" .. j .. "] must be a string"
        end
        allowed[#allowed + 1] = ip
      end
    end
    local rule = str(a.password_rule, settings.password_rule)
    if not passwords.known(rule) then
      return nil, where .. ".password_rule must be pop_m2w or email_basic"
    end
    local price = tonumber(a.pop_pak_price) or settings.pop_pak_price
    if price < 0 then return nil, where .. ".pop_pak_price must not be negative" end
    local r = type(a.renewal) == "table" and a.renewal or {}
    local renewal = {
      renewal_setting = tonumber(r.renewal_setting) or 0, renewal_bcc = truthy(r.renewal_bcc),
      accept_terms = truthy(r.accept_terms), url = str(r.url, ""),
    }
    if not RENEWAL_SETTINGS[renewal.renewal_setting] then
      return nil, where .. ".renewal.renewal_setting must be 0, 1 or 2"
    end
    out.accounts[#out.accounts + 1] = {
      uid = a.uid, pw = str(a.pw, ""), balance = tonumber(a.balance) or 0,
      allowed_ips = allowed,  -- nil: any address, like an account without a list
      password_rule = rule, pop_pak_price = price, renewal = renewal,
    }
  end

  local names, bundles = {}, {}
  local max_bundle, max_mail = 0, 0
  for i, d in ipairs(list(t.domains)) do
    local where = "domains[" .. i .. "]"
    if type(d) ~= "table" or type(d.name) ~= "string" or not d.name:find("%.") then
      return nil, where .. ": name must look like sld.tld"
    end
    local name = d.name:lower()
    if names[name] then return nil, "duplicate domain " .. name end
    names[name] = true
    if type(d.owner) ~= "string" or not uids[d.owner:lower()] then
      return nil, where .. ": owner must be one of the accounts"
    end
    local function flag(v, default)
      if v == nil or v == cjson.null then return default end
      return truthy(v)
    end
    local dom = {
      name = name,
      owner = d.owner,
      service_select = str(d.service_select, ""),
      mail_hosts = {},
      email_forwarding_enabled = flag(d.email_forwarding_enabled, true),
      forwarding = {},
      catch_all = str(d.catch_all, ""),
      paks = {},
      mailboxes = {},
      -- GetRenew / SetRenew: the registration's auto-renew, and the
      -- auto-renew new paks of the domain get (SetRenew's AutoPakRenew
      -- also sets every pak's).
      auto_renew = flag(d.auto_renew, true),
      auto_pak_renew = flag(d.auto_pak_renew, true),
      email_forward_renew = flag(d.email_forward_renew, false),
      url_forward_renew = flag(d.url_forward_renew, false),
      wpps_renew = flag(d.wpps_renew, false),
    }
    if name:match("%.name$") then
      local dn = type(d.dotname) == "table" and d.dotname or {}
      dom.dotname = { address = str(dn.address, ""), status = str(dn.status, "") }
    end
    for j, h in ipairs(list(d.mail_hosts)) do
      dom.mail_hosts[j] = {
        host_id = tonumber(h.host_id) or j, host_name = str(h.host_name, "@"),
        record_type = str(h.record_type, "MX"), address = str(h.address, ""),
        mx_pref = tonumber(h.mx_pref) or 10,
      }
    end
    for j, f in ipairs(list(d.forwarding)) do
      local id = tonumber(f.mail_id)
      if id and id > max_mail then max_mail = id end
      local st, serr = forward_state(f.state, where .. ".forwarding[" .. j .. "]")
      if not st then return nil, serr end
      dom.forwarding[j] = {
        alias = str(f.alias, ""), forward_to = str(f.forward_to, ""),
        status = str(f.status, "Active"), mail_id = id or false,
        state = st, requested_at = tonumber(f.requested_at) or false,
      }
    end
    local paks = {}
    for j, p in ipairs(list(d.paks)) do
      local id = tonumber(p.bundle_id)
      if not id or id ~= math.floor(id) or id <= 0 then
        return nil, where .. ".paks[" .. j .. "]: bundle_id must be a positive integer"
      end
      if bundles[id] then return nil, "duplicate bundle_id " .. id end
      bundles[id] = true
      if id > max_bundle then max_bundle = id end
      paks[id] = 0
      local exp = str(p.exp_date, "1/1/2030")
      if not util.parse_date(exp) then
        return nil, where .. ".paks[" .. j .. "]: exp_date must be M/D/YYYY or M/D/YYYY h:mm:ss AM"
      end
      dom.paks[j] = {
        bundle_id = id, size = tonumber(p.size) or settings.pak_size,
        exp_date = exp, auto_renew = flag(p.auto_renew, true),
        quota = tonumber(p.quota) or settings.quota,
      }
    end
    local users = {}
    for j, m in ipairs(list(d.mailboxes)) do
      local mw = where .. ".mailboxes[" .. j .. "]"
      if type(m.username) ~= "string" or m.username == "" then return nil, mw .. ": username missing" end
      if users[m.username:lower()] then return nil, mw .. ": duplicate username " .. m.username end
      users[m.username:lower()] = true
      local b = tonumber(m.bundle_id)
      if not b or not paks[b] then return nil, mw .. ": bundle_id is not a pak of this domain" end
      paks[b] = paks[b] + 1
      local fwd = str(m.forward_to, "")
      -- A seed may still say forward_active: a copy kept (StatusFlags 0)
      -- when true, delivery to the mailbox only when false.
      local flags = m.forward_flags ~= nil and str(m.forward_flags, "") or (truthy(m.forward_active) and "0" or "")
      if flags ~= "" and flags ~= "0" and flags ~= "1" then
        return nil, mw .. ": forward_flags must be \"\", \"0\" or \"1\""
      end
      local st, serr = forward_state(m.forward_state, mw)
      if not st then return nil, serr end
      dom.mailboxes[j] = {
        username = m.username, password = str(m.password, ""),
        display_name = str(m.display_name, ""), admin = truthy(m.admin),
        quota = tonumber(m.quota) or settings.quota, quota_used = tonumber(m.quota_used) or 0,
        bundle_id = b, forward_to = fwd, forward_flags = flags,
        forward_state = fwd ~= "" and st or "", forward_requested_at = tonumber(m.forward_requested_at) or false,
      }
    end
    for _, p in ipairs(dom.paks) do
      if paks[p.bundle_id] > p.size then
        return nil, where .. ": pak " .. p.bundle_id .. " holds more mailboxes than its size"
      end
    end
    out.domains[#out.domains + 1] = dom
  end

  -- Forwarding entries without an id get fresh ones, after the seeded ones.
  for _, dom in ipairs(out.domains) do
    for _, f in ipairs(dom.forwarding) do
      if not f.mail_id then max_mail = max_mail + 1; f.mail_id = max_mail end
    end
  end
  -- The order history (GetOrderList, GetOrderDetail), oldest first.
  local max_order = 0
  local now = os.time()
  for i, o in ipairs(list(t.orders)) do
    local where = "orders[" .. i .. "]"
    local id = tonumber(type(o) == "table" and o.order_id)
    if not id or id ~= math.floor(id) or id <= 0 then
      return nil, where .. ": order_id must be a positive integer"
    end
    if id > max_order then max_order = id end
    local time = tonumber(o.time) or util.date_time(o.date) or now
    local status = str(o.status, "Closed")
    if status ~= "Open" and status ~= "Closed" then return nil, where .. ": status must be Open or Closed" end
    out.orders[i] = {
      order_id = id, uid = str(o.uid, ""), domain = str(o.domain, ""), product = str(o.product, "POP Pak"),
      quantity = tonumber(o.quantity) or 1, status = status, time = time, date = util.datetime(time),
      amount = tonumber(o.amount) or 0, bundle_ids = list(o.bundle_ids), expires = str(o.expires, ""),
      by = str(o.by, "api"),
    }
  end
  if settings.next_order_id <= max_order then settings.next_order_id = max_order + 1 end
  if settings.next_bundle_id <= max_bundle then settings.next_bundle_id = max_bundle + 1 end
  if settings.next_mail_id <= max_mail then settings.next_mail_id = max_mail + 1 end
  return out
end

local function reindex()
  accounts_by_uid, domains_by_name = {}, {}
  for _, a in ipairs(current.accounts) do accounts_by_uid[a.uid:lower()] = a end
  for _, d in ipairs(current.domains) do domains_by_name[d.name] = d end
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local data = f:read("*a")
  f:close()
  return data
end

-- Loads the seed from a .lua (returning a table) or .json file. Runs in
-- init_by_lua, so a broken seed stops nginx from starting.
function _M.load_seed(path)
  local data, err = read_file(path)
  if not data then error("cannot read seed " .. path .. ": " .. tostring(err)) end
  local t
  if path:match("%.json$") then
    t, err = cjson.decode(data)
    if not t then error("seed " .. path .. " is not valid JSON: " .. tostring(err)) end
  else
    local chunk, cerr = loadstring(data, "@" .. path)
    if not chunk then error("seed " .. path .. ": " .. cerr) end
    local ok, res = pcall(chunk)
    if not ok then error("seed " .. path .. ": " .. tostring(res)) end
    t = res
  end
  local norm, nerr = normalize(t)
  if not norm then error("seed " .. path .. ": " .. nerr) end
  seed_table = norm
  current = deep_copy(seed_table)
  reindex()
end

-- Back to the seed, or to a caller-supplied state (same shape as a seed).
function _M.reset(t)
  if t ~= nil then
    local norm, err = normalize(t)
    if not norm then return nil, err end
    current = norm
  else
    current = deep_copy(seed_table)
  end
  reindex()
  return true
end

function _M.get() return current end
function _M.settings() return current.settings end
function _M.account(uid) return accounts_by_uid[(uid or ""):lower()] end
function _M.domain(name) return domains_by_name[(name or ""):lower()] end

-- Lookups by user name and bundle id, and mailboxes per pak, through an
-- index of each domain's arrays, so that a domain of 20,000 mailboxes is
-- not scanned once per user of every request. Handlers change the arrays
-- directly (append, table.remove, a new table), so an index checks its
-- array before use: the same table whose element at the indexed length
-- is still the one indexed has only grown at the end (a removal shifts
-- that element down), and just the new tail is indexed; anything else
-- rebuilds it.
local indexes = setmetatable({}, { __mode = "k" })

local function index_of(arr, add)
  local ix = indexes[arr]
  local n = #arr
  if ix and ix.n <= n and (ix.n == 0 or arr[ix.n] == ix.last) then
    if ix.n == n then return ix end
  else
    ix = { n = 0, keys = {}, used = {} }
    indexes[arr] = ix
  end
  for i = ix.n + 1, n do add(ix, arr[i], i) end
  ix.n, ix.last = n, arr[n]
  return ix
end

local function add_pak(ix, p, i)
  ix.keys[p.bundle_id] = i
end

local function add_mailbox(ix, m, i)
  local key = m.username:lower()
  -- The first of two equal names wins, as a scan from the start would.
  if not ix.keys[key] then ix.keys[key] = i end
  ix.used[m.bundle_id] = (ix.used[m.bundle_id] or 0) + 1
end

function _M.find_pak(dom, bundle_id)
  local id = tonumber(bundle_id)
  if not id then return nil end
  local i = index_of(dom.paks, add_pak).keys[id]
  if i then return dom.paks[i], i end
end

function _M.find_mailbox(dom, username)
  local i = index_of(dom.mailboxes, add_mailbox).keys[(username or ""):lower()]
  if i then return dom.mailboxes[i], i end
end

function _M.pak_used(dom, bundle_id)
  return index_of(dom.mailboxes, add_mailbox).used[bundle_id] or 0
end

function _M.next_bundle_id()
  local id = current.settings.next_bundle_id
  current.settings.next_bundle_id = id + 1
  return id
end

function _M.next_order_id()
  local id = current.settings.next_order_id
  current.settings.next_order_id = id + 1
  return id
end

-- Records an order placed now; returns it (status "Open" until it is
-- complete). `by`: "api", or "web" for a purchase made by a person in
-- eNom's web interface (the admin API's purchase).
function _M.add_order(o)
  o.order_id = _M.next_order_id()
  o.status = o.status or "Open"
  o.bundle_ids = o.bundle_ids or {}
  o.time = ngx.time()
  o.date = util.datetime(o.time)
  o.amount = o.amount or 0
  o.expires = o.expires or ""
  o.by = o.by or "api"
  current.orders[#current.orders + 1] = o
  return o
end

--- The domains of an account, in the state's order.
function _M.domains_of(account)
  local out = {}
  local uid = account.uid:lower()
  for _, d in ipairs(current.domains) do
    if d.owner:lower() == uid then out[#out + 1] = d end
  end
  return out
end

--- A domain by its DomainNameID (eNom's pages also name a domain so).
function _M.domain_by_id(id)
  id = tonumber(id)
  if not id then return nil end
  for _, d in ipairs(current.domains) do
    if util.domain_name_id(d.name) == id then return d end
  end
end

function _M.orders() return current.orders end

-- Changes settings of the live state (purchase_delay_ms); nil, msg if bad.
function _M.update_settings(t)
  if type(t) ~= "table" then return nil, "body must be a JSON object" end
  for k, v in pairs(t) do
    if k == "purchase_delay_ms" then
      local ms = tonumber(v)
      if not ms or ms < 0 or ms > 600000 then return nil, "purchase_delay_ms must be 0..600000" end
      current.settings.purchase_delay_ms = ms
    else
      return nil, "setting '" .. tostring(k) .. "' cannot be changed"
    end
  end
  return true
end

function _M.next_mail_id()
  local id = current.settings.next_mail_id
  current.settings.next_mail_id = id + 1
  return id
end

-- Human-readable overview for `sandbox run`.
function _M.summary()
  local lines = {}
  for _, a in ipairs(current.accounts) do
    local names = {}
    for _, d in ipairs(current.domains) do
      if d.owner:lower() == a.uid:lower() then names[#names + 1] = d end
    end
    lines[#lines + 1] = string.format("account uid=%s pw=%s balance=%.2f (%d domains)",
      a.uid, a.pw, a.balance, #names)
    local shown = 0
    for _, d in ipairs(names) do
      if #d.paks > 0 or d.dotname or shown < 3 then
        local paks = {}
        for _, p in ipairs(d.paks) do
          paks[#paks + 1] = string.format("%d (%d/%d used)", p.bundle_id, _M.pak_used(d, p.bundle_id), p.size)
        end
        lines[#lines + 1] = string.format("  %s%s", d.name,
          #paks > 0 and ("  paks: " .. table.concat(paks, ", ")) or "")
        for _, m in ipairs(d.mailboxes) do
          lines[#lines + 1] = string.format("    mailbox %s pw=%s pak=%d%s", m.username, m.password,
            m.bundle_id, m.admin and " admin" or "")
        end
        shown = shown + 1
      end
    end
    if shown < #names then
      lines[#lines + 1] = string.format("  ... and %d more domains without paks", #names - shown)
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

return _M
