-- Mail forwarding: a domain's forwards (Forwarding, GetForwarding), a
-- mailbox's own forward (SetPOPForwarding, GetPOPForwarding), the
-- catch-all (GetCatchAll, SetCatchAll), .name forwarding, and eNom's
-- forward opt-in (support article 201000120770, effective 2025-09-18):
--
--   * a new forward, or one whose target changes, waits for its recipient
--     to approve it ("pending") and forwards nothing until then;
--   * an unanswered request expires after 24 hours ("expired"); sending
--     the same forward again asks again;
--   * removing a forward revokes its approval; keeping it unchanged keeps
--     the approval;
--   * at most 20 requests may be pending per mailbox. eNom does not say
--     whether the forwarding or the receiving one; with eNom's one-target
--     forwards only the receiving side can reach 20, so the sandbox
--     counts pending requests per recipient address (UNVERIFIED).
--
-- The admin API approves or expires a request (the recipient's click, or
-- the clock). How eNom's API shows a pending forward is not published:
-- GetForwarding's numeric `status` gains 2 (pending) and 3 (expired)
-- beside eNom's 0 (on) and 1 (off), with a `rejectreason`; GetPOPForwarding
-- gains the same `status` beside `active` (UNVERIFIED, documented in
-- sandbox/README.md and doc/enom-responses.md).

local state = require("enom_sandbox.state")
local util = require("enom_sandbox.util")

local _M = {}

local err, fail, field, bool01 = util.err, util.fail, util.field, util.bool01

local MAX_FWD_ADDRESS = 30
local MAX_FWD_TARGET = 130
local MAX_FORWARDS = 100
local MAX_DOMAIN_EMAIL = 78
local EXPIRES_AFTER = 24 * 3600
local MAX_PENDING = 20
_M.EXPIRES_AFTER, _M.MAX_PENDING = EXPIRES_AFTER, MAX_PENDING

-- eNom's forwarding status codes (0, 1) and the sandbox's for the opt-in.
local STATUS = { on = 0, off = 1, pending = 2, expired = 3 }
_M.STATUS = STATUS

-- The sandbox's own texts for the opt-in (UNVERIFIED, see above).
local TEXT = {
  pending = "Waiting for the recipient to approve this forward",
  expired = "The recipient did not approve this forward within 24 hours",
  too_many = "Forward to %s refused: %d requests already wait for this recipient's approval",
}

-- ---- the opt-in ---------------------------------------------------------
-- A forward is either a domain forward { forward_to, state, requested_at }
-- or a mailbox { forward_to, forward_state, forward_requested_at }; these
-- accessors let one set of rules serve both.

local ALIAS = { target = "forward_to", state = "state", at = "requested_at" }
local MAILBOX = { target = "forward_to", state = "forward_state", at = "forward_requested_at" }

-- The request's state now: a pending one older than 24 hours expires.
local function current(rec, keys)
  if rec[keys.state] == "pending" and rec[keys.at] and ngx.time() - rec[keys.at] >= EXPIRES_AFTER then
    rec[keys.state] = "expired"
  end
  return rec[keys.state]
end

local function ask(rec, keys)
  rec[keys.state] = "pending"
  rec[keys.at] = ngx.time()
end

-- Pending requests per recipient (lower-cased), over every domain but
-- `skip_domain`'s forwards and `skip_mailbox`.
local function pending_counts(skip_domain, skip_mailbox)
  local counts = {}
  local function count(rec, keys)
    if rec[keys.target] ~= "" and current(rec, keys) == "pending" then
      local k = rec[keys.target]:lower()
      counts[k] = (counts[k] or 0) + 1
    end
  end
  for _, d in ipairs(state.get().domains) do
    if d ~= skip_domain then
      for _, f in ipairs(d.forwarding) do count(f, ALIAS) end
    end
    for _, m in ipairs(d.mailboxes) do
      if m ~= skip_mailbox then count(m, MAILBOX) end
    end
  end
  return counts
end

local function too_many(target, n)
  return err(string.format(TEXT.too_many, target, n), 706172)
end

-- Does the forward `rec` need a new approval to point at `target`?
local function needs_approval(rec, keys, target)
  return not rec or rec[keys.target] == "" or rec[keys.target]:lower() ~= target:lower()
    or current(rec, keys) == "expired"
end

-- GetForwarding's status code and reason for a domain forward.
local function alias_status(f)
  local st = current(f, ALIAS)
  if st == "pending" then return STATUS.pending, TEXT.pending end
  if st == "expired" then return STATUS.expired, TEXT.expired end
  if f.status == "1" or f.status == "Disabled" or f.status == "Inactive" then return STATUS.off, "" end
  return STATUS.on, ""
end

-- The mailbox's forward: its status code and whether it forwards.
local function mailbox_status(m)
  if m.forward_to == "" then return STATUS.off, false end
  local st = current(m, MAILBOX)
  if st == "pending" then return STATUS.pending, false end
  if st == "expired" then return STATUS.expired, false end
  if m.forward_flags == "" then return STATUS.off, false end
  return STATUS.on, true
end

-- ---- the commands ---------------------------------------------------------

local function check_target(t, name)
  if t == nil or t == "" then return err(name .. " is required", 301172) end
  if #t > MAX_FWD_TARGET then
    return err(name .. " is longer than " .. MAX_FWD_TARGET .. " characters", 304172)
  end
  if not util.valid_email(t) then return err(name .. " is not a valid e-mail address", 304172) end
end

-- Forwarding replaces the whole set, so it is all-or-nothing: one bad
-- entry rejects the call and the previous set stays.
function _M.forwarding(p, _, dom)
  local rows = util.indexed(p, { "address", "forwardto" })
  if #rows > MAX_FORWARDS then
    return fail("At most " .. MAX_FORWARDS .. " forwarding addresses are allowed", 706170)
  end
  local seen = {}
  for i, r in ipairs(rows) do
    local a = r.address or ""
    if a == "" then return fail("Address" .. i .. " is required", 301170) end
    if #a > MAX_FWD_ADDRESS then
      return fail("Address " .. a .. " is longer than " .. MAX_FWD_ADDRESS .. " characters", 304170)
    end
    if not util.valid_username(a) and a ~= "*" then
      return fail("Address " .. a .. " contains invalid characters", 304170)
    end
    if seen[a:lower()] then return fail("Address " .. a .. " is repeated in this request", 304170) end
    seen[a:lower()] = true
    local e = check_target(r.forwardto, "ForwardTo" .. i)
    if e then return { items = {}, errors = { e } } end
  end
  local old = {}
  for _, f in ipairs(dom.forwarding) do old[f.alias:lower()] = f end
  local counts = pending_counts(dom, nil)
  local new = {}
  for i, r in ipairs(rows) do
    local prev = old[r.address:lower()]
    local f = { alias = r.address, forward_to = r.forwardto, status = "Active",
      mail_id = prev and prev.mail_id or false, state = "approved", requested_at = false }
    if needs_approval(prev, ALIAS, r.forwardto) then
      ask(f, ALIAS)
    else
      f.state, f.requested_at, f.status = prev.state, prev.requested_at, prev.status
    end
    if f.state == "pending" then
      local k = f.forward_to:lower()
      counts[k] = (counts[k] or 0) + 1
      if counts[k] > MAX_PENDING then return { items = {}, errors = { too_many(f.forward_to, MAX_PENDING) } } end
    end
    new[i] = f
  end
  for _, f in ipairs(new) do
    if not f.mail_id then f.mail_id = state.next_mail_id() end
  end
  dom.forwarding = new
  dom.email_forwarding_enabled = true
  return {
    items = { field("EmailForwardingEnabled", true), field("MailCount", #new) },
    applied = true,
  }
end

function _M.getforwarding(_, _, dom)
  local rows = {}
  for i, f in ipairs(dom.forwarding) do
    local code, reason = alias_status(f)
    rows[i] = { f.alias, f.forward_to, code, reason, f.mail_id }
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

function _M.getpopforwarding(p, _, dom)
  local boxes = dom.mailboxes
  local one = p.username ~= nil and p.username ~= ""
  if one then
    local m = state.find_mailbox(dom, p.username)
    if not m then return fail("User name " .. p.username .. " not found", 316286) end
    boxes = { m }
  end
  local rows = {}
  for i, m in ipairs(boxes) do
    local code, active = mailbox_status(m)
    rows[i] = { dom.name, util.domain_name_id(dom.name), m.username, m.forward_to, bool01(active), code }
  end
  -- eNom's answer for one UserName: <popforwarding> in XML, the record
  -- un-indexed in Text (with Success, without Count). Without a UserName
  -- (the sandbox's own extension) every mailbox, indexed. `status` is
  -- the sandbox's, for the opt-in (see above).
  return {
    items = {
      { group = true, elem = "popforwarding", rows = rows, noindex = one, cols = {
        { "domainname", "domainname" }, { "domainnameid", "domainnameid" }, { "username", "username" },
        { "forwardto", "forwardto" }, { "active", "active" }, { "status", "status" } } },
      { k = "Count", v = #rows, only = one and "xml" or nil },
      { k = "Success", v = true, only = "kv" },
    },
  }
end

-- SetPOPForwarding: one mailbox's forward, added or changed (Enable=1)
-- or deleted (Enable=0); every other forward stays as it is. StatusFlags:
-- empty delivers to the mailbox only, 0 to the mailbox and the forward
-- (a copy kept), 1 to the forward only.
function _M.setpopforwarding(p, _, dom)
  local user = p.username
  if user == nil or user == "" then return fail("UserName is required", 301286) end
  local m = state.find_mailbox(dom, user)
  if not m then return fail("User name " .. user .. " not found", 316286) end
  local email = p.email or ""
  if email == "" then return fail("EMail is required", 301012) end
  if #email > MAX_DOMAIN_EMAIL or email:lower() ~= dom.name then
    return fail("EMail must be the domain of SLD and TLD (" .. dom.name .. ")", 304012)
  end
  local enable = util.flag(p.enable)
  if enable == nil then return fail("Enable is required", 301239) end
  if enable == "bad" then return fail("Enable must be 0 or 1", 304239) end
  local flags = p.statusflags or ""
  if flags ~= "" and flags ~= "0" and flags ~= "1" then
    return fail("StatusFlags must be empty, 0 or 1", 304239)
  end
  if enable then
    local target = p.forwardto
    local e = check_target(target, "ForwardTo")
    if e then return { items = {}, errors = { e } } end
    if needs_approval(m, MAILBOX, target) then
      local counts = pending_counts(nil, m)
      local n = counts[target:lower()] or 0
      if n >= MAX_PENDING then return { items = {}, errors = { too_many(target, n) } } end
      ask(m, MAILBOX)
    end
    m.forward_to, m.forward_flags = target, flags
  else
    m.forward_to, m.forward_flags, m.forward_state, m.forward_requested_at = "", "", "", false
  end
  return {
    items = { { k = "DomainRRP", v = "E", only = "xml" }, field("success", 1) },
    applied = true,
  }
end

function _M.getcatchall(_, _, dom)
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

function _M.setcatchall(p, _, dom)
  local e = check_target(p.forwardto, "ForwardTo")
  if e then return { items = {}, errors = { e } } end
  dom.catch_all = p.forwardto
  -- As in GetCatchAll: CatchAll in XML, ForwardTo (with success, Version)
  -- in Text.
  return {
    items = {
      { k = "success", v = true, only = "kv" },
      { k = "CatchAll", v = dom.catch_all, only = "xml" },
      { k = "ForwardTo", v = dom.catch_all, only = "kv" },
      { k = "Version", v = 2, only = "kv" },
    },
    applied = true,
  }
end

local function dotname_only()
  return fail("This command is only available for .name domains", 304153)
end

function _M.getdotnameforwarding(_, _, dom)
  if not dom.dotname then return dotname_only() end
  local sld, tld = dom.name:match("^(.-)%.([^.]+)$")
  return {
    items = {
      field("DomainRRP", "E"),
      { nest = "dotnameforwarding", items = {
        { k = "domainname", v = "", attrs = { { "domainnameid", util.domain_name_id(dom.name) }, { "sld", sld },
          { "tld", tld } } },
        field("status", dom.dotname.address ~= "" and 1 or 0),
        field("address", dom.dotname.address),
      } },
    },
  }
end

function _M.setdotnameforwarding(p, _, dom)
  if not dom.dotname then return dotname_only() end
  local to = p.forwardto or ""
  if to == "" then return fail("ForwardTo is required", 301172) end
  if #to > MAX_FWD_TARGET or not util.valid_email(to) then
    return fail("ForwardTo is not a valid e-mail address", 304172)
  end
  dom.dotname.address = to
  dom.dotname.status = "Active"
  return {
    items = { field("DomainRRP", "E"), { nest = "dotnameforwarding", items = { field("ForwardTo", to) } } },
    applied = true,
  }
end

-- ---- the admin API's side ---------------------------------------------------

--- Every forward that went through the opt-in, with its state now.
function _M.requests()
  local out = {}
  for _, d in ipairs(state.get().domains) do
    for _, f in ipairs(d.forwarding) do
      out[#out + 1] = { domain = d.name, address = f.alias, mailbox = false, forward_to = f.forward_to,
        state = current(f, ALIAS), requested_at = f.requested_at or nil }
    end
    for _, m in ipairs(d.mailboxes) do
      if m.forward_to ~= "" then
        out[#out + 1] = { domain = d.name, address = m.username, mailbox = true, forward_to = m.forward_to,
          state = current(m, MAILBOX), requested_at = m.forward_requested_at or nil }
      end
    end
  end
  return out
end

-- The forward named by an admin request: { domain, address, mailbox }.
local function find(t)
  if type(t) ~= "table" or type(t.domain) ~= "string" or type(t.address) ~= "string" then
    return nil, nil, "body must be {\"domain\": ..., \"address\": ..., \"mailbox\": true|false}"
  end
  local dom = state.domain(t.domain)
  if not dom then return nil, nil, "no domain " .. t.domain end
  if t.mailbox == true then
    local m = state.find_mailbox(dom, t.address)
    if m and m.forward_to ~= "" then return m, MAILBOX end
  else
    for _, f in ipairs(dom.forwarding) do
      if f.alias:lower() == t.address:lower() then return f, ALIAS end
    end
  end
  return nil, nil, "no forward " .. t.address .. " on " .. dom.name
end

--- The recipient approves: a pending request starts forwarding. An
-- expired one cannot be approved any more (eNom: the sender asks again).
function _M.approve(t)
  local rec, keys, e = find(t)
  if not rec then return nil, e end
  local st = current(rec, keys)
  if st ~= "pending" then return nil, "the forward is " .. st .. ", not pending" end
  rec[keys.state] = "approved"
  return true
end

--- The 24 hours are over: a pending request expires now.
function _M.expire(t)
  local rec, keys, e = find(t)
  if not rec then return nil, e end
  local st = current(rec, keys)
  if st ~= "pending" then return nil, "the forward is " .. st .. ", not pending" end
  rec[keys.state] = "expired"
  return true
end

return _M
