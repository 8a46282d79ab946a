--- Provisioning: desired state, plan, apply, with retries that never
-- create a mailbox twice nor lose one.
--
-- eNom has no idempotency key and SetUpPOP3User spends a pak's slots, so
-- a request that may have reached eNom is never simply sent again: the
-- domain is read back (GetPOP3) and only what is still missing is sent.
-- Requests that surely never left are retried as they are. Everything is
-- Lua the caller can replace: `policy.retry`, `policy.backoff`, ...
--
-- @usage
-- local provision = require "enom.provision"
-- local plan = assert(provision.plan(client, {
--   { domain = "example.com", mailboxes = { { username = "ann", display_name = "Ann Lee" } } },
-- }, { buy_paks = true, max_paks_per_run = 5 }))
-- print(plan:format())
-- local report = provision.apply(client, plan, { on_password = function(domain, user, pw) ... end })
-- -- or, planned and applied in one run, one read per domain:
-- local report = assert(provision.ensure(client, desired, { buy_paks = true, on_password = ... }))
local templates = require "enom.provision.templates"
local runner = require "enom.provision.scheduler"
local apply_mod = require "enom.provision.domain"
local report_mod = require "enom.provision.report"
local policy_mod = require "enom.provision.policy"
local paks = require "enom.provision.paks"
local errors = require "enom.errors"
local plan_mod = require "enom.provision.plan"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local sort = table.sort

local PAK_SIZE = paks.PAK_SIZE

_M.DEFAULTS = policy_mod.DEFAULTS
_M.PAK_SIZE = PAK_SIZE

local Plan = plan_mod.Plan
local PASSWORDS = plan_mod.PASSWORDS

--- Check one desired mailbox with the typed methods' rules (user name,
-- password, flags) before anything is planned for it.
-- @function check_mailbox
-- @param m { username, password?, admin?, display_name? }
-- @param sld the domain's second-level name
-- @param tld the domain's top-level name
-- @return nil when it may be created, else the reason (a string)
_M.check_mailbox = plan_mod.check_mailbox

--- Merge `policy` over the defaults and check it (see enom.policy).
-- @param policy a table of policy options (see enom.provision.policy), or nil for the defaults
-- @return the policy, or nil and an error of kind "invalid" naming the option
function _M.policy(policy)
    return policy_mod.merge(policy)
end

local split_domain = plan_mod.split_domain

--- Desired mailboxes from people's records, through templates.
-- opts: username = "{first}.{last}", display_name = "{first} {last}",
-- admin = function(person) -> boolean, taken = set of names in use.
-- Returns mailboxes and a list of people that could not be named.
-- @param people an array of records, such as the rows `enom.provision.input.read_csv` returns
-- @param opts optional: the templates and hooks above
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

-- Buy what the domain lacks, within the run's caps; block what does not
-- fit. Deleted mailboxes free their slots before anything is created.
local function fit(d, free, policy, budget)
    local need = paks.needed(#d.create, free + #d.delete)
    if need == 0 then
        return
    end
    local allowed = 0
    if policy.buy_paks then
        allowed = math.min(need, budget.paks_left)
        if policy.max_spend and policy.pak_price and policy.pak_price > 0 then
            allowed = math.min(allowed, math.floor((budget.spend_left + 1e-9) / policy.pak_price))
        end
        allowed = math.max(allowed, 0)
    end
    d.buy = allowed
    budget.paks_left = budget.paks_left - allowed
    if policy.pak_price then
        budget.spend_left = budget.spend_left - allowed * policy.pak_price
    end
    local capacity = free + #d.delete + paks.slots(allowed)
    local reason = policy.buy_paks and "no free slot: the run's pak or spending cap is reached"
        or "no free slot and buying paks is not allowed (policy buy_paks)"
    while #d.create > capacity do
        local m = table.remove(d.create)
        d.blocked[#d.blocked + 1] = { username = m.username, reason = reason }
    end
end

-- Compute one domain's actions from its current state.
local function plan_domain(want, current, policy, budget)
    local sld, tld = split_domain(want)
    local d = {
        domain = sld .. "." .. tld, sld = sld, tld = tld,
        create = {}, modify = {}, delete = {}, keep = {}, blocked = {}, notes = {}, invalid = {},
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
        local bad = not cur and plan_mod.check_mailbox(m, sld, tld)
        if bad then
            d.invalid[#d.invalid + 1] = { username = m.username, reason = bad }
        elseif cur then
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
    fit(d, free, policy, budget)
    return d
end

--- Compute the plan: read each domain (GetPOP3, concurrently) and work
-- out what to buy, create, modify and delete. Nothing that changes state
-- is sent. `desired` is an array of { domain = "x.com" (or sld, tld),
-- mailboxes = { { username, display_name, admin, password }, ... } }.
-- A mailbox that breaks SetUpPOP3User's rules is `invalid` in the plan,
-- with the reason; it is never sent and never causes a purchase.
-- @param client the enom client that reads the domains
-- @param desired the array of domain entries described above
-- @param policy optional policy options (see enom.provision.policy): buy_paks, max_paks_per_run,
--   prune, ...
-- @return plan, or nil and an error (kind "invalid": bad input or policy,
--   with `field` or `option`; kind "callback": the admin hook raised)
function _M.plan(client, desired, policy)
    local perr
    policy, perr = _M.policy(policy)
    if not policy then
        return nil, perr
    end
    local bad = select(2, plan_mod.check_desired(desired))
    if bad then
        return nil, bad
    end
    local run = runner.new(client, policy)
    local states = {}
    for i, want in ipairs(desired) do
        local sld, tld = split_domain(want)
        run:spawn(function(r)
            local res, err = r:call_retry("get_pop3", { sld = sld, tld = tld })
            states[i] = res and { res = res } or { err = err }
        end)
    end
    run:loop()
    local budget = { paks_left = policy.max_paks_per_run, spend_left = policy.max_spend or math.huge }
    local plan = setmetatable({ domains = {}, policy = policy, errors = {} }, Plan)
    local secrets = {}
    PASSWORDS[plan] = secrets
    for i, want in ipairs(desired) do
        local st = states[i]
        local sld, tld = split_domain(want)
        if not st or st.err then
            plan.errors[#plan.errors + 1] = { domain = sld .. "." .. tld,
                error = st and tostring(st.err) or tostring(run.stopped) }
        else
            local ok, d = pcall(plan_domain, want, st.res, policy, budget)
            if not ok then
                return nil, errors.new("callback", "the admin policy hook raised an error: " .. tostring(d),
                    { maybe_delivered = false })
            end
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

-- Merge the options, make the locker, the report and the runner.
local function start(client, opts)
    local policy, perr = _M.policy(opts)
    if not policy then
        return nil, perr
    end
    local locker, lerr = apply_mod.locker(policy.lock)
    if not locker then
        return nil, lerr
    end
    local rep, ferr = report_mod.new(policy.report_file, policy.progress)
    if not rep then
        return nil, errors.new("io", "cannot open the report file: " .. tostring(ferr), { maybe_delivered = false })
    end
    local run = runner.new(client, policy)
    rep.on_error = function(err)
        run.failure = run.failure or err
        run:stop("the progress callback raised an error (see the report's error)")
    end
    return { policy = policy, locker = locker, report = rep, run = run, spend = { paks = 0, in_doubt = 0 },
        own_locker = type(policy.lock) ~= "table" }
end

local function finish(s, domains, passwords)
    local stats = apply_mod.run(s.run, domains, passwords, s.policy, s.report, s.locker, s.spend)
    if s.own_locker and s.locker.close then
        -- A locker made here from a backend name: its connections go too.
        s.locker:close()
    end
    s.report:finish(stats, s.spend)
    return s.report
end

--- Apply a plan. Takes each domain's lease, re-reads the domain, so a
-- stale plan, a second run or a concurrent one does no harm. opts: any
-- policy option to override (on_password, progress, report_file,
-- password_file, lock, ...).
--
-- The contract when something goes wrong: failures of the world end up
-- in the report, per mailbox. A callback (on_password, progress, retry,
-- backoff) that raises stops the run after the requests in flight; the
-- report, file included, is complete up to there with its summary,
-- `report.error` holds what was raised, `report.ok` is false, and apply
-- still returns the report (it never raises for it).
-- @param client the enom client that sends the requests
-- @param plan a plan from `plan` or `load_plan`
-- @param opts optional policy options that override the plan's
-- @return the report (see enom.report), or nil and an error (kind
--   "invalid": a bad option; kind "io": the report file cannot be opened)
function _M.apply(client, plan, opts)
    local merged = {}
    for k, v in pairs(plan.policy or {}) do
        merged[k] = v
    end
    for k, v in pairs(opts or {}) do
        merged[k] = v
    end
    local s, err = start(client, merged)
    if not s then
        return nil, err
    end
    return finish(s, plan.domains, PASSWORDS[plan] or {})
end

--- Plan and apply in one run: each domain is read once, under its lease,
-- planned from that read and applied at once (no second read). For runs
-- that need no review between plan and apply (a cron job, an API call).
-- Same `desired` as `plan`, same options and contract as `apply`.
-- @param client the enom client
-- @param desired the desired domains, as for `plan`
-- @param opts optional policy options, as for `apply`
-- @return the report, or nil and an error (as plan and apply)
function _M.ensure(client, desired, opts)
    local bad = select(2, plan_mod.check_desired(desired))
    if bad then
        return nil, bad
    end
    local s, err = start(client, opts)
    if not s then
        return nil, err
    end
    local policy = s.policy
    local budget = { paks_left = policy.max_paks_per_run, spend_left = policy.max_spend or math.huge }
    local secrets, domains = {}, {}
    for i, want in ipairs(desired) do
        local sld, tld = split_domain(want)
        local names = {}
        for j, m in ipairs(want.mailboxes or {}) do
            names[j] = { username = m.username }
        end
        -- Until the domain is read, every mailbox stands as one to create.
        domains[i] = {
            domain = sld .. "." .. tld, sld = sld, tld = tld, buy = 0,
            create = names, modify = {}, delete = {}, keep = {}, blocked = {}, invalid = {},
            planner = function(cur)
                local d = plan_domain(want, cur, policy, budget)
                for _, m in ipairs(d.create) do
                    if m.password then
                        secrets[d.domain .. "\0" .. lower(m.username)] = m.password
                        m.password = nil
                    end
                end
                return d
            end,
        }
    end
    return finish(s, domains, secrets)
end

--- Load a plan saved with `plan:save(path)`; it holds no passwords, so
-- mailboxes to create get theirs from `passwords` or are generated.
-- @function load_plan
-- @param path the JSON file written by plan:save
-- @param policy options merged over the saved plan's policy (optional)
-- @param passwords { ["domain/username"] = password } (optional): the
--   passwords given in the original input
-- @return the plan, or nil and an error
_M.load_plan = plan_mod.load

--- Plan, print nothing, send nothing that changes state.
-- @param client the enom client that reads the domains
-- @param desired the desired domains, as for `plan`
-- @param policy optional policy options, as for `plan`
function _M.dry_run(client, desired, policy)
    return _M.plan(client, desired, policy)
end

return _M
