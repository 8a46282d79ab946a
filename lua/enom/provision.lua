--- Provisioning: desired state, plan, apply, with retries that never
-- create a mailbox twice nor lose one.
--
-- @usage
-- local provision = require "enom.provision"
-- local plan = assert(provision.plan(client, {
--   { domain = "example.com", mailboxes = { { username = "ann", display_name = "Ann Lee" } } },
-- }, { buy_paks = true, max_paks_per_run = 5 }))
-- print(plan:format())
-- local report = provision.apply(client, plan, { on_password = function(domain, user, pw) ... end })
--
-- eNom has no idempotency key and SetUpPOP3User spends a pak's slots, so
-- a request that may have reached eNom is never simply sent again: the
-- domain is read back (GetPOP3) and only what is still missing is sent.
-- Requests that surely never left are retried as they are. Everything is
-- Lua the caller can replace: `policy.retry`, `policy.backoff`, ...
local templates = require "enom.templates"
local runner = require "enom.runner"
local report_mod = require "enom.report"
local json = require "enom.json"

local _M = { _VERSION = "0.1.0" }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local concat = table.concat
local sort = table.sort

local PAK_SIZE = 10

local DEFAULTS = {
    buy_paks = false,          -- buying paks spends money: off unless asked
    max_paks_per_run = 10,     -- across the whole run
    prune = false,             -- delete mailboxes that are not desired
    update_admin = true,       -- set IsAdmin on existing mailboxes when it differs
    batch_size = 10,           -- users per SetUpPOP3User request
    concurrency = 8,           -- requests in flight across domains
    attempts = 5,              -- tries per request
    backoff_base = 0.2,        -- seconds
    backoff_cap = 5,           -- seconds
    budget = 900,              -- seconds for the whole run
    circuit = 12,              -- consecutive failures that stop the run
    -- Also (no default): admin = function(mailbox, domain) -> may be admin;
    -- password = a templates.password policy for mailboxes without one;
    -- on_password = function(domain, username, password), called once per
    -- generated password; pak_price with max_spend = a spending cap;
    -- report_file = JSON lines, no secrets; retry, backoff = see enom.runner.
}
_M.DEFAULTS = DEFAULTS
_M.PAK_SIZE = PAK_SIZE

local Plan = {}
Plan.__index = Plan
Plan.__name = "enom.plan"

-- Passwords of a plan live here, keyed by the plan, never in it.
local PASSWORDS = setmetatable({}, { __mode = "k" })

-- Policy options without a default value.
local OPTIONAL = {
    retry = true,       -- function(err) -> may this failure be retried?
    backoff = true,     -- function(policy, attempt) -> seconds to wait
    password = true, admin = true, on_password = true,
    pak_price = true, max_spend = true, report_file = true,
}

--- Merge `policy` over the defaults; an unknown option is an error.
function _M.policy(policy)
    local p = {}
    for k, v in pairs(DEFAULTS) do
        p[k] = v
    end
    for k, v in pairs(policy or {}) do
        if DEFAULTS[k] == nil and not OPTIONAL[k] then
            error("unknown policy option '" .. tostring(k) .. "'", 2)
        end
        p[k] = v
    end
    return p
end

local function split_domain(d)
    if type(d.sld) == "string" and type(d.tld) == "string" then
        return d.sld, d.tld
    end
    local sld, tld = tostring(d.domain or ""):match("^([^.]+)%.(.+)$")
    return sld, tld
end

--- Desired mailboxes from people's records, through templates.
-- opts: username = "{first}.{last}", display_name = "{first} {last}",
-- admin = function(person) -> boolean, taken = set of names in use.
-- Returns mailboxes and a list of people that could not be named.
function _M.from_people(people, opts)
    opts = opts or {}
    local utpl = opts.username or "{first}.{last}"
    local dtpl = opts.display_name or "{first} {last}"
    local taken, out, skipped = {}, {}, {}
    for k in pairs(opts.taken or {}) do
        taken[lower(k)] = true
    end
    for i, person in ipairs(people) do
        local name, why = templates.username(utpl, person)
        if not name then
            skipped[#skipped + 1] = { index = i, reason = why }
        else
            name = templates.unique(name, taken)
            local ok, display = pcall(templates.fill, dtpl, person)
            out[#out + 1] = {
                username = name,
                display_name = ok and display:sub(1, 60) or nil,
                admin = opts.admin and opts.admin(person) or false,
                password = person.password,
            }
        end
    end
    return out, skipped
end

-- Compute one domain's actions from its current state.
local function plan_domain(want, current, policy, budget)
    local sld, tld = split_domain(want)
    local d = {
        domain = sld .. "." .. tld, sld = sld, tld = tld,
        create = {}, modify = {}, delete = {}, keep = {}, blocked = {}, notes = {},
        buy = 0,
        current = { mailboxes = #current.mailboxes, paks = {} },
    }
    local have = {}
    for _, m in ipairs(current.mailboxes) do
        have[lower(m.username)] = m
    end
    local free = 0
    for _, p in ipairs(current.paks) do
        free = free + (p.free or 0)
        d.current.paks[#d.current.paks + 1] = { bundle_id = p.bundle_id, free = p.free }
    end
    local wanted = {}
    for _, m in ipairs(want.mailboxes or {}) do
        local key = lower(m.username)
        wanted[key] = true
        local admin = m.admin and true or false
        if admin and policy.admin and not policy.admin(m, d.domain) then
            d.notes[#d.notes + 1] = m.username .. ": admin refused by policy, created as a regular user"
            admin = false
        end
        local cur = have[key]
        if cur then
            if policy.update_admin and cur.admin ~= nil and cur.admin ~= admin then
                d.modify[#d.modify + 1] = { username = cur.username, admin = admin }
            else
                d.keep[#d.keep + 1] = cur.username
            end
            if m.display_name then
                d.notes[#d.notes + 1] = cur.username
                    .. ": exists; eNom sets a display name only when creating a mailbox, so it is left as is"
            end
        else
            d.create[#d.create + 1] = {
                username = m.username, display_name = m.display_name, admin = admin,
                password = m.password,
            }
        end
    end
    if policy.prune then
        for key, m in pairs(have) do
            if not wanted[key] then
                d.delete[#d.delete + 1] = m.username
            end
        end
        sort(d.delete)
    end
    -- Deleted mailboxes free their slots before anything is created.
    local short = #d.create - free - #d.delete
    if short > 0 then
        local need = math.floor((short + PAK_SIZE - 1) / PAK_SIZE)
        local allowed = 0
        if policy.buy_paks then
            allowed = math.min(need, budget.paks_left)
            if policy.max_spend and policy.pak_price then
                allowed = math.min(allowed, math.floor((budget.spend_left + 1e-9) / policy.pak_price))
            end
            allowed = math.max(allowed, 0)
        end
        d.buy = allowed
        budget.paks_left = budget.paks_left - allowed
        if policy.pak_price then
            budget.spend_left = budget.spend_left - allowed * policy.pak_price
        end
        local capacity = free + #d.delete + allowed * PAK_SIZE
        local reason = policy.buy_paks and "no free slot: the run's pak or spending cap is reached"
            or "no free slot and buying paks is not allowed (policy buy_paks)"
        while #d.create > capacity do
            local m = table.remove(d.create)
            d.blocked[#d.blocked + 1] = { username = m.username, reason = reason }
        end
    end
    return d
end

--- Compute the plan: read each domain (GetPOP3, concurrently) and work
-- out what to buy, create, modify and delete. Nothing that changes state
-- is sent. `desired` is an array of { domain = "x.com" (or sld, tld),
-- mailboxes = { { username, display_name, admin, password }, ... } }.
-- @return plan, or nil and an error
function _M.plan(client, desired, policy)
    policy = _M.policy(policy)
    if type(desired) ~= "table" or #desired == 0 then
        return nil, "desired must be a non-empty array of domains"
    end
    local seen = {}
    for i, want in ipairs(desired) do
        local sld, tld = split_domain(want)
        if not sld then
            return nil, "desired[" .. i .. "]: domain must be like example.com (or give sld and tld)"
        end
        local key = lower(sld .. "." .. tld)
        if seen[key] then
            return nil, "desired[" .. i .. "]: domain " .. key .. " appears twice"
        end
        seen[key] = true
        local names = {}
        for j, m in ipairs(want.mailboxes or {}) do
            if type(m.username) ~= "string" or m.username == "" then
                return nil, ("desired[%d].mailboxes[%d].username is missing"):format(i, j)
            end
            local k = lower(m.username)
            if names[k] then
                return nil, ("desired[%d].mailboxes[%d].username repeats mailboxes[%d]"):format(i, j, names[k])
            end
            names[k] = j
        end
    end
    local run = runner.new(client, policy)
    local states = run:read_all(desired)
    local budget = { paks_left = policy.max_paks_per_run, spend_left = policy.max_spend or math.huge }
    local plan = setmetatable({ domains = {}, policy = policy, errors = {} }, Plan)
    local secrets = {}
    PASSWORDS[plan] = secrets
    for i, want in ipairs(desired) do
        local st = states[i]
        if st.err then
            local sld, tld = split_domain(want)
            plan.errors[#plan.errors + 1] = { domain = sld .. "." .. tld, error = tostring(st.err) }
        else
            local d = plan_domain(want, st.res, policy, budget)
            for _, m in ipairs(d.create) do
                if m.password then
                    secrets[d.domain .. "\0" .. lower(m.username)] = m.password
                    m.password = nil
                end
            end
            plan.domains[#plan.domains + 1] = d
        end
    end
    return plan
end

--- Totals of a plan: buy, create, modify, delete, keep, blocked.
function Plan.totals(self)
    local t = { buy = 0, create = 0, modify = 0, delete = 0, keep = 0, blocked = 0, domains = #self.domains }
    for _, d in ipairs(self.domains) do
        t.buy = t.buy + d.buy
        t.create = t.create + #d.create
        t.modify = t.modify + #d.modify
        t.delete = t.delete + #d.delete
        t.keep = t.keep + #d.keep
        t.blocked = t.blocked + #d.blocked
    end
    return t
end

--- The plan as readable text.
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
        for _, n in ipairs(d.notes) do
            add("  note     " .. n)
        end
    end
    for _, e in ipairs(self.errors) do
        add(e.domain .. ": cannot plan: " .. e.error)
    end
    local t = self:totals()
    add(("total: %d domains, buy %d paks, create %d, modify %d, delete %d, already right %d, blocked %d")
        :format(t.domains, t.buy, t.create, t.modify, t.delete, t.keep, t.blocked))
    return concat(out, "\n")
end

Plan.__tostring = function(self)
    local t = self:totals()
    return ("enom.plan (%d domains: buy %d, create %d, modify %d, delete %d)")
        :format(t.domains, t.buy, t.create, t.modify, t.delete)
end

--- Save the plan as JSON (no passwords: those given in the input must be
-- given again to `apply`, generated ones are generated at apply time).
function Plan.save(self, path)
    local f, err = io.open(path, "w")
    if not f then
        return nil, err
    end
    local copy = { domains = self.domains, errors = self.errors, totals = self:totals() }
    f:write(json.encode(copy), "\n")
    f:close()
    return true
end

--- Load a saved plan. `passwords` (optional) maps "domain/username" to
-- the passwords given in the original input.
function _M.load_plan(path, policy, passwords)
    local f, err = io.open(path, "r")
    if not f then
        return nil, err
    end
    local data, derr = json.decode(f:read("a"))
    f:close()
    if not data then
        return nil, derr
    end
    local plan = setmetatable({ domains = data.domains or {}, errors = data.errors or {},
        policy = _M.policy(policy) }, Plan)
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

--- Apply a plan. Re-reads each domain first, so a stale plan or a second
-- run does no harm. Returns the report (see enom.report).
-- opts: on_password, report_file, and any policy option to override.
function _M.apply(client, plan, opts)
    local merged = {}
    for k, v in pairs(plan.policy or {}) do
        merged[k] = v
    end
    for k, v in pairs(opts or {}) do
        merged[k] = v
    end
    local policy = _M.policy(merged)
    local rep = report_mod.new(policy.report_file)
    local run = runner.new(client, policy, rep)
    run:apply(plan.domains, PASSWORDS[plan] or {})
    rep:finish(run)
    return rep
end

--- Plan, print nothing, send nothing that changes state.
function _M.dry_run(client, desired, policy)
    return _M.plan(client, desired, policy)
end

return _M
