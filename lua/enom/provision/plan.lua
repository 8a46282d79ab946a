--- A provisioning plan (made by enom.provision.plan): per domain what to
-- buy, create, modify and delete, readable, totalled, saved and loaded.
-- Passwords given in the input are kept beside the plan, never in it.
local errors = require "enom.errors"
local json = require "enom.json"
local paks = require "enom.provision.paks"
local policy_mod = require "enom.provision.policy"
local commands = require "enom.commands"
local validate = require "enom.validate"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local concat = table.concat

local PAK_SIZE = paks.PAK_SIZE

local Plan = {}
Plan.__index = Plan
Plan.__name = "enom.provision.plan"
_M.Plan = Plan

-- Passwords of a plan live here, keyed by the plan, never in it.
_M.PASSWORDS = setmetatable({}, { __mode = "k" })
local PASSWORDS = _M.PASSWORDS

local function invalid(msg, fields)
    fields = fields or {}
    fields.maybe_delivered = false
    return nil, errors.new("invalid", msg, fields)
end

--- sld, tld of a desired domain entry (domain = "x.com", or sld and tld).
-- @param d a desired domain entry
function _M.split_domain(d)
    if type(d.sld) == "string" and type(d.tld) == "string" then
        return d.sld, d.tld
    end
    local sld, tld = tostring(d.domain or ""):match("^([^.]+)%.(.+)$")
    return sld, tld
end

--- Check one desired mailbox with the rules of the typed methods
-- (SetUpPOP3User's): nil when it may be created, else the reason.
-- @param m a desired mailbox { username, password, admin, display_name }
-- @param sld the domain's name without its TLD
-- @param tld the domain's TLD
function _M.check_mailbox(m, sld, tld)
    local _, err = validate.build(commands.by_method.setup_pop3_users, {
        sld = sld, tld = tld, bundle_id = 1,
        users = { { username = m.username, password = m.password or "Checked-Later-1",
            admin = m.admin and true or false, display_name = m.display_name } },
    })
    -- The check sends one mailbox: "users[1]." names nothing the caller gave.
    return err and (err.message:gsub("^users%[1%]%.", "")) or nil
end

--- The shape of `desired` (see enom.provision.plan): nil, or nil and an
-- error of kind "invalid" naming the entry at fault (`err.field`).
-- @param desired the array of desired domain entries
function _M.check_desired(desired)
    if type(desired) ~= "table" or #desired == 0 then
        return invalid("desired must be a non-empty array of domains", { field = "desired" })
    end
    local seen = {}
    for i, want in ipairs(desired) do
        local where = "desired[" .. i .. "]"
        if type(want) ~= "table" then
            return invalid(where .. " must be a table", { field = where })
        end
        local sld, tld = _M.split_domain(want)
        if not sld then
            return invalid(where .. ": domain must be like example.com (or give sld and tld)", { field = where })
        end
        local key = lower(sld .. "." .. tld)
        if seen[key] then
            return invalid(where .. ": domain " .. key .. " appears twice", { field = where })
        end
        seen[key] = true
        if want.mailboxes ~= nil and type(want.mailboxes) ~= "table" then
            return invalid(where .. ".mailboxes must be an array", { field = where .. ".mailboxes" })
        end
        local names = {}
        for j, m in ipairs(want.mailboxes or {}) do
            local at = ("%s.mailboxes[%d]"):format(where, j)
            if type(m) ~= "table" or type(m.username) ~= "string" or m.username == "" then
                return invalid(at .. ".username is missing", { field = at })
            end
            local k = lower(m.username)
            if names[k] then
                return invalid(("%s.username repeats mailboxes[%d]"):format(at, names[k]), { field = at })
            end
            names[k] = j
        end
    end
end


--- Totals of a plan: buy, create, modify, delete, keep, blocked, invalid.
-- @param self the plan
function Plan.totals(self)
    local t = { buy = 0, create = 0, modify = 0, delete = 0, keep = 0, blocked = 0, invalid = 0,
        domains = #self.domains }
    for _, d in ipairs(self.domains) do
        t.buy = t.buy + d.buy
        t.create = t.create + #d.create
        t.modify = t.modify + #d.modify
        t.delete = t.delete + #d.delete
        t.keep = t.keep + #d.keep
        t.blocked = t.blocked + #d.blocked
        t.invalid = t.invalid + #(d.invalid or {})
    end
    return t
end

--- The plan as readable text.
-- @param self the plan
function Plan.format(self)
    local out = {}
    local function add(s)
        out[#out + 1] = s
    end
    for _, d in ipairs(self.domains) do
        add(("%s: %d mailboxes, %d paks now"):format(d.domain, d.current.mailboxes, #d.current.paks))
        if d.buy > 0 then
            add(("  buy      %d pak(s) of %d mailboxes"):format(d.buy, PAK_SIZE))
        end
        local function names(list)
            local n = {}
            for i, m in ipairs(list) do
                n[i] = type(m) == "table" and (m.username .. (m.admin and " (admin)" or "")) or m
            end
            return concat(n, ", ")
        end
        if #d.create > 0 then add("  create   " .. #d.create .. ": " .. names(d.create)) end
        if #d.modify > 0 then add("  modify   " .. #d.modify .. ": " .. names(d.modify)) end
        if #d.delete > 0 then add("  delete   " .. #d.delete .. ": " .. names(d.delete)) end
        if #d.keep > 0 then add("  ok       " .. #d.keep .. ": " .. names(d.keep)) end
        for _, b in ipairs(d.blocked) do
            add("  blocked  " .. b.username .. ": " .. b.reason)
        end
        for _, b in ipairs(d.invalid or {}) do
            add("  invalid  " .. b.username .. ": " .. b.reason)
        end
        for _, n in ipairs(d.notes) do
            add("  note     " .. n)
        end
    end
    for _, e in ipairs(self.errors) do
        add(e.domain .. ": cannot plan: " .. e.error)
    end
    local t = self:totals()
    add(("total: %d domains, buy %d paks, create %d, modify %d, delete %d, already right %d, blocked %d, invalid %d")
        :format(t.domains, t.buy, t.create, t.modify, t.delete, t.keep, t.blocked, t.invalid))
    return concat(out, "\n")
end

Plan.__tostring = function(self)
    local t = self:totals()
    return ("enom.plan (%d domains: buy %d, create %d, modify %d, delete %d)")
        :format(t.domains, t.buy, t.create, t.modify, t.delete)
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
    local copy = { domains = self.domains, errors = self.errors, totals = self:totals() }
    local ok, werr = f:write(json.encode(copy), "\n")
    local closed, cerr = f:close()
    if not ok or not closed then
        return nil, errors.new("io", "cannot save the plan: " .. tostring(werr or cerr), { maybe_delivered = false })
    end
    return true
end

--- Load a saved plan. `passwords` (optional) maps "domain/username" to
-- the passwords given in the original input.
-- @param path a file written by `plan:save`
-- @param policy optional policy options for the loaded plan
-- @param passwords optional map of "domain/username" to password
function _M.load(path, policy, passwords)
    local p, perr = policy_mod.merge(policy)
    if not p then
        return nil, perr
    end
    local f, err = io.open(path, "r")
    if not f then
        return nil, errors.new("io", "cannot read the plan: " .. tostring(err), { maybe_delivered = false })
    end
    local data, derr = json.decode(f:read("a"))
    f:close()
    if type(data) ~= "table" then
        return nil, errors.new("invalid", "the plan file is not a saved plan: " .. tostring(derr),
            { maybe_delivered = false })
    end
    local plan = setmetatable({ domains = data.domains or {}, errors = data.errors or {},
        policy = p }, Plan)
    local secrets = {}
    for k, v in pairs(passwords or {}) do
        local dom, user = k:match("^(.-)/(.+)$")
        if dom then
            secrets[lower(dom) .. "\0" .. lower(user)] = v
        end
    end
    PASSWORDS[plan] = secrets
    return plan
end

return _M
