--- A provisioning plan (made by enom.provision.plan): per domain what to
-- buy, create, modify and delete, readable, totalled, saved and loaded.
-- Passwords given in the input are kept beside the plan, never in it.
--
-- A saved plan is a request, not an authority: loading checks every
-- field of the file (a malformed plan is an "invalid" error naming the
-- place), and applying it re-reads each domain, checks every mailbox
-- again and keeps within the policy of the run that applies it.
local errors = require "enom.errors"
local json = require "enom.json"
local paks = require "enom.provision.paks"
local planner = require "enom.provision.planner"
local names = require "enom.names"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local lower = string.lower
local concat = table.concat
local floor = math.floor

local PAK_SIZE = paks.PAK_SIZE

-- The format of a saved plan, written into it.
local FORMAT = "enom.plan/1"

local Plan = {}
Plan.__index = Plan
Plan.__name = "enom.plan"

-- Passwords of a plan live here, keyed by the plan, never in it:
-- plan -> { [domain] = { [lower name] = password } }.
local PASSWORDS = setmetatable({}, { __mode = "k" })

local function invalid(msg, fields)
    fields = fields or {}
    fields.maybe_delivered = false
    return nil, errors.new("invalid", msg, fields)
end

--- A plan of `domains` (each the planner's actions) and `errs` (domains
-- that could not be read: { domain, error }), with the given passwords
-- ({ [domain] = { [lower name] = password } }).
-- @param domains the planner's actions of each domain read
-- @param errs the domains that could not be read: { domain, error }
-- @param passwords { [domain] = { [lower name] = password } } (optional)
-- @return the plan
function _M.new(domains, errs, passwords)
    local plan = setmetatable({ domains = domains, errors = errs, made_at = os.time() }, Plan)
    PASSWORDS[plan] = passwords or {}
    return plan
end

--- The intents that applying the plan carries out, one per domain (see
-- enom.provision.planner.intent_of_plan).
-- @param self the plan
-- @return an array of intents
function Plan.intents(self)
    local pw = PASSWORDS[self] or {}
    local out = {}
    for i, d in ipairs(self.domains) do
        local intent = planner.intent_of_plan(d, pw[d.domain])
        intent.planned = d
        intent.planned_at = self.made_at
        out[i] = intent
    end
    return out
end

--- Totals of a plan: buy, create, modify, delete, keep, blocked, invalid,
-- renew (paks), forwards.
-- @param self the plan
function Plan.totals(self)
    local t = { buy = 0, create = 0, modify = 0, delete = 0, keep = 0, blocked = 0, invalid = 0,
        renew = 0, forwards = 0, domains = #self.domains }
    for _, d in ipairs(self.domains) do
        t.renew = t.renew + #(d.renew or {})
        t.forwards = t.forwards + #(d.forwards or {})
        t.buy = t.buy + d.buy
        t.create = t.create + #d.create
        t.modify = t.modify + #d.modify
        t.delete = t.delete + #d.delete
        t.keep = t.keep + #d.keep
        t.blocked = t.blocked + #d.blocked
        t.invalid = t.invalid + #d.invalid
    end
    return t
end

--- The plan as readable text. `shown` (optional) escapes text that came
-- from outside (names from a file, eNom's texts) for a terminal.
-- @param self the plan
-- @param shown optional: a function that makes outside text safe to print
-- @return the text
function Plan.format(self, shown)
    shown = shown or tostring
    local out = {}
    local function add(s)
        out[#out + 1] = s
    end
    local function list(l)
        local n = {}
        for i, m in ipairs(l) do
            n[i] = type(m) == "table" and (shown(m.username) .. (m.admin and " (admin)" or "")) or shown(m)
        end
        return concat(n, ", ")
    end
    for _, d in ipairs(self.domains) do
        add(("%s: %d mailboxes, %d paks now"):format(shown(d.domain), d.current.mailboxes, #d.current.paks))
        if d.buy > 0 then
            add(("  buy      %d pak%s of %d mailboxes"):format(d.buy, d.buy == 1 and "" or "s", PAK_SIZE))
        end
        if #d.create > 0 then add("  create   " .. #d.create .. ": " .. list(d.create)) end
        if #d.modify > 0 then add("  modify   " .. #d.modify .. ": " .. list(d.modify)) end
        if #d.delete > 0 then add("  delete   " .. #d.delete .. ": " .. list(d.delete)) end
        if #d.keep > 0 then add("  ok       " .. #d.keep .. ": " .. list(d.keep)) end
        for _, b in ipairs(d.blocked) do
            add("  blocked  " .. shown(b.username) .. ": " .. b.reason)
        end
        for _, b in ipairs(d.invalid) do
            add("  invalid  " .. shown(b.username) .. ": " .. b.reason)
        end
        for _, r in ipairs(d.renew or {}) do
            add(("  renew    pak %s (expires %s) for %d year%s"):format(tostring(r.bundle_id), shown(r.expires),
                r.years, r.years == 1 and "" or "s"))
        end
        for _, r in ipairs(d.renew_blocked or {}) do
            add(("  renew    pak %s: %s"):format(tostring(r.bundle_id), r.reason))
        end
        for _, r in ipairs(d.renew_refused or {}) do
            add("  renew    " .. r.reason)
        end
        for _, f in ipairs(d.forwards or {}) do
            if f.forward_to == false then
                add("  forward  " .. shown(f.username) .. ": none (removed if it has one)")
            else
                add(("  forward  %s -> %s%s"):format(shown(f.username), shown(f.forward_to),
                    f.keep_copy and " (a copy kept)" or " (forward only)"))
            end
        end
        for _, n in ipairs(d.notes) do
            add("  note     " .. shown(n))
        end
    end
    for _, e in ipairs(self.errors) do
        add(shown(e.domain) .. ": cannot plan: " .. shown(tostring(e.error)))
    end
    local t = self:totals()
    add(("total: %d domains, buy %d paks, create %d, modify %d, delete %d, already right %d, blocked %d, invalid %d")
        :format(t.domains, t.buy, t.create, t.modify, t.delete, t.keep, t.blocked, t.invalid)
        .. (t.renew > 0 and (", renew " .. t.renew .. " paks") or "")
        .. (t.forwards > 0 and (", forwards " .. t.forwards) or ""))
    return concat(out, "\n")
end

Plan.__tostring = function(self)
    local t = self:totals()
    return ("enom.plan (%d domains: buy %d, create %d, modify %d, delete %d)")
        :format(t.domains, t.buy, t.create, t.modify, t.delete)
end

--- The plan as a JSON-ready table (no passwords).
-- @param self the plan
-- @return the table
function Plan.document(self)
    local errs = {}
    for i, e in ipairs(self.errors) do
        errs[i] = { domain = e.domain, error = tostring(e.error),
            kind = type(e.error) == "table" and e.error.kind or nil }
    end
    return { format = FORMAT, made_at = self.made_at, domains = self.domains, errors = errs,
        totals = self:totals() }
end

--- Save the plan as JSON (no passwords: those given in the input must be
-- given again to `apply`, generated ones are generated at apply time).
-- @param self the plan
-- @param path the file to write (replaced)
-- @return true, or nil and an error (kind "io") when the file cannot
--   be written in full
function Plan.save(self, path)
    local f, err = io.open(path, "w")
    if not f then
        return nil, errors.new("io", "cannot save the plan: " .. tostring(err), { maybe_delivered = false })
    end
    local ok, werr = f:write(json.encode(self:document()), "\n")
    local closed, cerr = f:close()
    if not ok or not closed then
        return nil, errors.new("io", "cannot save the plan: " .. tostring(werr or cerr), { maybe_delivered = false })
    end
    return true
end

-- ---- checking a saved plan ------------------------------------------

local function is_array(v)
    if type(v) ~= "table" then
        return false
    end
    local n = #v
    for k in pairs(v) do
        if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
            return false
        end
    end
    return true
end

-- One saved domain, checked; returns the domain as the planner makes it
-- or nil and the reason (naming the place).
local function check_domain(d, at)
    if type(d) ~= "table" then
        return nil, at .. " must be an object"
    end
    local sld, why = names.split_domain(d.domain)
    if not sld then
        return nil, at .. ".domain " .. why
    end
    local out = { domain = sld .. "." .. why, sld = sld, tld = why, notes = {} }
    if type(d.buy) ~= "number" or d.buy < 0 or d.buy % 1 ~= 0 or d.buy > 100000 then
        return nil, at .. ".buy must be a whole number of paks"
    end
    out.buy = floor(d.buy)
    local seen = {}
    local function name(v, where)
        local bad = type(v) ~= "string" and "must be a string" or names.unprintable(v)
        if bad then
            return nil, where .. " " .. bad
        end
        if seen[lower(v)] then
            return nil, where .. " names " .. lower(v) .. " a second time"
        end
        seen[lower(v)] = true
        return v
    end
    for _, key in ipairs { "create", "modify", "blocked", "invalid", "keep", "delete" } do
        local l = d[key]
        if l == nil then
            l = {}
        end
        if not is_array(l) then
            return nil, at .. "." .. key .. " must be an array"
        end
        local copy = {}
        for i, m in ipairs(l) do
            local where = ("%s.%s[%d]"):format(at, key, i)
            if key == "keep" or key == "delete" then
                local v, err = name(m, where)
                if not v then
                    return nil, err
                end
                copy[i] = v
            else
                if type(m) ~= "table" then
                    return nil, where .. " must be an object"
                end
                local v, err = name(m.username, where .. ".username")
                if not v then
                    return nil, err
                end
                if m.admin ~= nil and type(m.admin) ~= "boolean" then
                    return nil, where .. ".admin must be true or false"
                end
                if m.display_name ~= nil and type(m.display_name) ~= "string" then
                    return nil, where .. ".display_name must be a string"
                end
                copy[i] = { username = v, admin = m.admin, display_name = m.display_name,
                    reason = type(m.reason) == "string" and m.reason or nil }
            end
        end
        out[key] = copy
    end
    -- A mailbox's forward: an address, or false for none. (Renewals are
    -- the applying run's policy's to decide, as its caps are.)
    local fwd = d.forwards == nil and {} or d.forwards
    if not is_array(fwd) then
        return nil, at .. ".forwards must be an array"
    end
    out.forwards = {}
    local fseen = {}
    for i, f in ipairs(fwd) do
        local where = ("%s.forwards[%d]"):format(at, i)
        if type(f) ~= "table" then
            return nil, where .. " must be an object"
        end
        local bad = names.check_username(f.username)
        if bad then
            return nil, where .. ".username " .. bad
        end
        if fseen[lower(f.username)] then
            return nil, where .. " names " .. lower(f.username) .. " a second time"
        end
        fseen[lower(f.username)] = true
        if f.forward_to ~= false then
            bad = names.check_address(f.forward_to)
            if bad then
                return nil, where .. ".forward_to " .. bad
            end
        end
        if f.keep_copy ~= nil and type(f.keep_copy) ~= "boolean" then
            return nil, where .. ".keep_copy must be true or false"
        end
        out.forwards[i] = { username = f.username, forward_to = f.forward_to, keep_copy = f.keep_copy ~= false }
    end
    local cur = type(d.current) == "table" and d.current or {}
    out.current = { mailboxes = type(cur.mailboxes) == "number" and cur.mailboxes or 0,
        paks = is_array(cur.paks) and cur.paks or {} }
    return out
end

--- Load a saved plan.
-- @param path the JSON file written by plan:save
-- @param passwords { ["domain/username"] = password } (optional): the
--   passwords given in the original input
-- @return the plan, or nil and an error (kind "io": unreadable; kind
--   "invalid": not a saved plan, naming the place at fault)
function _M.load(path, passwords)
    local f, err = io.open(path, "r")
    if not f then
        return nil, errors.new("io", "cannot read the plan: " .. tostring(err), { maybe_delivered = false })
    end
    local text = f:read("a")
    f:close()
    local data, derr = json.decode(text or "")
    if type(data) ~= "table" then
        return invalid(path .. " is not a saved plan: " .. tostring(derr), { field = "domains" })
    end
    return _M.from_document(data, path, passwords)
end

--- A plan from the decoded JSON of a saved plan, checked field by field.
-- @param data the decoded document
-- @param path where it came from (for messages)
-- @param passwords as for `load`
-- @return the plan, or nil and an error of kind "invalid"
function _M.from_document(data, path, passwords)
    if type(data) ~= "table" or not is_array(data.domains) then
        return invalid(path .. " is not a saved plan (no \"domains\" array)", { field = "domains" })
    end
    if data.format ~= nil and data.format ~= FORMAT then
        return invalid(path .. " is a plan of another format (" .. tostring(data.format) .. ")", { field = "format" })
    end
    local domains, seen = {}, {}
    for i, d in ipairs(data.domains) do
        local ok, why = check_domain(d, "domains[" .. i .. "]")
        if not ok then
            return invalid(path .. ": " .. why, { field = "domains[" .. i .. "]" })
        end
        if seen[ok.domain] then
            return invalid(path .. ": domains[" .. i .. "] repeats " .. ok.domain, { field = "domains[" .. i .. "]" })
        end
        seen[ok.domain] = true
        domains[i] = ok
    end
    local errs = {}
    for _, e in ipairs(is_array(data.errors) and data.errors or {}) do
        if type(e) == "table" then
            errs[#errs + 1] = { domain = tostring(e.domain), error = tostring(e.error) }
        end
    end
    local secrets = {}
    for k, v in pairs(passwords or {}) do
        local dom, user = tostring(k):match("^(.-)/(.+)$")
        if dom then
            dom = lower(dom)
            secrets[dom] = secrets[dom] or {}
            secrets[dom][lower(user)] = v
        end
    end
    local plan = _M.new(domains, errs, secrets)
    plan.made_at = type(data.made_at) == "number" and data.made_at or nil
    return plan
end

return _M
