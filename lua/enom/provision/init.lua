--- Provisioning: desired state, plan, apply, with retries that never
-- buy a pak twice, never create a mailbox twice and never lose one.
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
--
-- Beyond mailboxes: a policy may renew the paks that expire within a
-- window (`renew = { within_days = 30, years = 1 }`), a mailbox may ask
-- for a forward (`forward_to`, `keep_copy`), and `max_spend` counts money
-- at the account's price (`pak_price`, else eNom's PE_GetPOPPrice, read
-- once per run when money is about to be decided). See doc/lifecycle.md.
--
-- The package: `planner` (pure: desired x current x policy -> actions),
-- `plan` (the Plan object: format, save, load), `run` (one run's state),
-- `domain` (one domain's job) with `delete`, `modify`, `renew`, `buy`,
-- `create`, `forwards` and `orders` (eNom's order history), `scheduler`
-- (coroutines over a batch of concurrent requests), `report`, `policy`,
-- `paks`, `templates` (user names from people's records) and `input`
-- (CSV files).
local templates = require "enom.provision.templates"
local policy_mod = require "enom.provision.policy"
local planner = require "enom.provision.planner"
local plan_mod = require "enom.provision.plan"
local run_mod = require "enom.provision.run"
local scheduler = require "enom.provision.scheduler"
local paks = require "enom.provision.paks"
local errors = require "enom.errors"
local names = require "enom.names"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local pcall = pcall
local tostring = tostring

_M.DEFAULTS = policy_mod.DEFAULTS
_M.PAK_SIZE = paks.PAK_SIZE

--- Check one desired mailbox with SetUpPOP3User's rules (user name,
-- password, flags, display name) before anything is planned for it.
-- @function check_mailbox
-- @param m { username, password?, admin?, display_name? }
-- @param sld the domain's second-level name
-- @param tld the domain's top-level name
-- @param ctx optional { password_rule, uid } (a client's: `client.password_rule`,
--   `client.uid`) to check a given password against eNom's rule
-- @return nil when it may be created, else the reason (a string)
_M.check_mailbox = planner.check_mailbox

--- Merge `policy` over the defaults and check it (see enom.provision.policy).
-- @param policy the options to merge (a table, or nil)
-- @return the policy, or nil and an error of kind "invalid" naming the option
function _M.policy(policy)
    return policy_mod.merge(policy)
end

--- Desired mailboxes from people's records, through templates (see
-- enom.provision.templates.people).
-- @function from_people
-- @param people an array of records (tables of strings: first, last, role, ...)
-- @param opts { username = "{first}.{last}", display_name = "{first} {last}",
--   admin = function(person) -> boolean, taken = set of names in use }
-- @return the mailboxes, and the people that could not be named
--   ({ index, reason })
_M.from_people = templates.people

--- Compute the plan: read each domain (GetPOP3, concurrently) and work
-- out what to buy, create, modify and delete. Nothing that changes state
-- is sent. A mailbox that breaks SetUpPOP3User's rules is `invalid` in
-- the plan, with the reason; it is never sent and never causes a purchase.
-- @param client an enom client
-- @param desired an array of { domain = "x.com" (or sld, tld),
--   mailboxes = { { username, display_name, admin, password }, ... } }
-- @param policy the options (see enom.provision.policy)
-- @return plan, or nil and an error (kind "invalid": bad input or policy,
--   with `field` or `option`; kind "callback": the admin hook raised)
function _M.plan(client, desired, policy)
    local perr
    policy, perr = policy_mod.merge(policy)
    if not policy then
        return nil, perr
    end
    local intents, bad = planner.intents(desired)
    if not intents then
        return nil, bad
    end
    local sched = scheduler.new(client, policy)
    local reads = {}
    for i, intent in ipairs(intents) do
        sched:spawn(function(s)
            local res, err = s:call_retry("get_pop3", { sld = intent.sld, tld = intent.tld })
            reads[i] = res and { res = res } or { err = err }
        end)
    end
    sched:loop()
    local budget = planner.budget(policy)
    if policy.max_spend and not budget.price then
        -- The account's price, read only when some domain would spend.
        local spends = false
        for i, intent in ipairs(intents) do
            local got = reads[i]
            if got and got.res and not spends then
                local ok, yes = pcall(planner.spends, intent, got.res, policy, budget.now)
                spends = ok and yes
            end
        end
        if spends then
            sched:spawn(function(s)
                local res = s:call_retry("get_pop_price", {})
                budget.price = res and type(res.price) == "number" and res.price >= 0 and res.price or nil
            end)
            sched:loop()
        end
    end
    local domains, errs, passwords = {}, {}, {}
    for i, intent in ipairs(intents) do
        local got = reads[i]
        if not got or got.err then
            errs[#errs + 1] = { domain = intent.domain, error = got and got.err or sched.stopped }
        else
            local ok, d, given = pcall(planner.domain, intent, got.res, policy, budget,
                { password_rule = client.password_rule, uid = client.uid })
            if not ok then
                return nil, errors.new("callback", "the admin policy hook raised an error: " .. tostring(d),
                    { maybe_delivered = false })
            end
            domains[#domains + 1] = d
            passwords[d.domain] = given
        end
    end
    local plan = plan_mod.new(domains, errs, passwords)
    plan.policy = policy
    return plan
end

-- Merge a policy, then make the run.
local function start(client, opts, streamed)
    local policy, perr = policy_mod.merge(opts)
    if not policy then
        return nil, perr
    end
    return run_mod.new(client, policy, streamed)
end

--- Apply a plan: each domain under its lease is read again, planned
-- again from that read (the plan is a request: its mailboxes are checked
-- again, the policy of this run bounds its purchases and deletions), and
-- carried out, so a stale plan, a second run or a concurrent one does no
-- harm.
--
-- The contract when something goes wrong: failures of the world end up
-- in the report, per mailbox. A callback (on_password, progress, retry,
-- backoff) that raises stops the run after the requests in flight; the
-- report, file included, is complete up to there with its summary,
-- `report.error` holds what was raised, `report.ok` is false, and apply
-- still returns the report (it never raises for it).
-- @param client an enom client
-- @param plan a plan from `plan` or `load_plan`
-- @param opts policy options over the plan's (on_password, progress,
--   report_file, password_file, lock, ...)
-- @return the report (see enom.provision.report), or nil and an error
--   (kind "invalid": a bad option; kind "io": the report file cannot be
--   opened)
function _M.apply(client, plan, opts)
    local merged = {}
    for k, v in pairs(plan.policy or {}) do
        merged[k] = v
    end
    for k, v in pairs(opts or {}) do
        merged[k] = v
    end
    local run, err = start(client, merged)
    if not run then
        return nil, err
    end
    return run:execute(plan:intents())
end

--- Plan and apply in one run: each domain is read once, under its lease,
-- planned from that read and applied at once (no second read). For runs
-- that need no review between plan and apply (a cron job, an API call).
--
-- `desired` is an array, or a function that returns one entry at a time
-- and nil at the end (a stream: see `enom.provision.input` for CSV and
-- JSON lines files): a stream is read as domains finish, so memory holds
-- the domains under way, not the whole job; its report keeps counts and
-- the records that fell short (policy `records`), while every record
-- goes to `report_file` and `progress` as it is made. An entry that is
-- wrong stops a stream there: the domains before it are done, the report
-- says which entry and why, and `report.ok` is false.
-- @param client an enom client
-- @param desired as for `plan`, or a function returning its entries one by one
-- @param opts policy options, as for `apply`
-- @return the report, or nil and an error (as plan and apply)
function _M.ensure(client, desired, opts)
    local source, bad
    if type(desired) == "function" then
        source = planner.stream(desired)
    else
        source, bad = planner.intents(desired)
        if not source then
            return nil, bad
        end
    end
    local run, err = start(client, opts, type(desired) == "function")
    if not run then
        return nil, err
    end
    return run:execute(source)
end

--- Renew one pak of a domain now, under the money rules of every run:
-- the domain's lease, the pak checked to be the domain's (read under the
-- lease: a pak of another domain is refused before anything is sent),
-- the intent written to the journal before RenewPOPBundle leaves, an
-- answer that was lost settled from the pak's expiry read back (never
-- sent twice), the spending caps of `opts` (max_spend at the account's
-- price). An earlier renewal of the pak still in doubt is settled first.
-- @usage
-- local rep = provision.renew_pak(client, "example.com", 5134, 1, { lock = "host" })
-- for _, e in ipairs(rep:events_with("renew")) do print(e.outcome, e.detail) end
-- @param client an enom client
-- @param domain the domain, like example.com
-- @param bundle_id the pak's id (GetPOP3's BundleId, GetPOPExpirations' bundleid)
-- @param years how long to renew for (1 to 10)
-- @param opts policy options, as for `ensure` (lock, settle, max_spend, ...)
-- @return the report (its "renew" events say what happened: renewed,
--   refused, failed, unknown, not_done), or nil and an error of kind
--   "invalid"
function _M.renew_pak(client, domain, bundle_id, years, opts)
    local sld, tld = names.split_domain(domain)
    if not sld then
        return nil, errors.new("invalid", "the domain " .. tld, { field = "domain", maybe_delivered = false })
    end
    if type(bundle_id) ~= "number" or bundle_id % 1 ~= 0 or bundle_id < 1 then
        return nil, errors.new("invalid", "bundle_id must be a pak's id (a whole number)",
            { field = "bundle_id", maybe_delivered = false })
    end
    if type(years) ~= "number" or years % 1 ~= 0 or years < 1 or years > 10 then
        return nil, errors.new("invalid", "years must be a whole number from 1 to 10",
            { field = "years", maybe_delivered = false })
    end
    local run, err = start(client, opts)
    if not run then
        return nil, err
    end
    return run:execute { { domain = sld .. "." .. tld, sld = sld, tld = tld, mailboxes = {},
        renew_paks = { { bundle_id = bundle_id, years = years } } } }
end

--- Load a plan saved with `plan:save(path)`; it holds no passwords, so
-- mailboxes to create get theirs from `passwords` or are generated.
-- @param path the JSON file written by plan:save
-- @param policy the policy options the plan is applied under (optional)
-- @param passwords { ["domain/username"] = password } (optional): the
--   passwords given in the original input
-- @return the plan, or nil and an error (kind "io" or "invalid")
function _M.load_plan(path, policy, passwords)
    local p, perr = policy_mod.merge(policy)
    if not p then
        return nil, perr
    end
    local plan, err = plan_mod.load(path, passwords)
    if not plan then
        return nil, err
    end
    plan.policy = policy
    return plan
end

return _M
