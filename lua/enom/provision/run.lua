--- One provisioning run (an `apply` or an `ensure`): the object that owns
-- the run's state. Its policy, its scheduler (enom.provision.scheduler),
-- its report, its spending ledger (paks bought, paks renewed and what is
-- in doubt, against the caps), the account's price (read once, when
-- money is about to be decided), its planning budget, what it learnt of
-- eNom's order history, the passwords it must keep out of the report,
-- and its failure: `fail` is the only writer of that.
--
-- The domains (enom.provision.domain) are jobs of the run; they ask it
-- to record, to spend, to fail. A bounded number of them are under way at
-- once: each holds a lease (a lock file, a Redis key) and its state while
-- it runs.
local scheduler = require "enom.provision.scheduler"
local report_mod = require "enom.provision.report"
local planner = require "enom.provision.planner"
local domain = require "enom.provision.domain"
local orders = require "enom.provision.orders"
local errors = require "enom.errors"
local lease = require "enom.lease"
local journal = require "enom.journal"

local _M = {}

local type = type
local pairs = pairs
local pcall = pcall
local tostring = tostring
local setmetatable = setmetatable
local min, max, floor = math.min, math.max, math.floor

-- Domains under way at once, per request in flight (`concurrency`).
local ACTIVE_PER_SLOT = 4

local Run = {}
Run.__index = Run
Run.__name = "enom.provision.run"

-- The `lock` policy option as a locker: a backend name made into one
-- here (and closed after the run), or the caller's own.
local function locker_of(lock)
    if type(lock) == "table" then
        return lock, false
    end
    local made, locker, err = pcall(lease.new, { backend = lock })
    if not made or not locker then
        return nil, errors.new("invalid", "lock: " .. tostring(made and err or locker),
            { option = "lock", maybe_delivered = false })
    end
    return locker, true
end

--- A run on `client` under `policy` (merged and checked: enom.provision.policy).
-- @return the run, or nil and an error (kind "invalid": the lock backend;
--   kind "io": the report file cannot be opened)
function _M.new(client, policy)
    local locker, own = locker_of(policy.lock)
    if not locker then
        return nil, own
    end
    local rep, ferr = report_mod.new(policy.report_file, policy.progress)
    if not rep then
        if own and locker.close then
            locker:close()
        end
        return nil, errors.new("io", "cannot open the report file: " .. tostring(ferr), { maybe_delivered = false })
    end
    local jn
    if policy.journal then
        jn = journal.new(locker.journal_store and locker:journal_store(policy.journal_dir)
            or journal.file_store(policy.journal_dir))
    end
    return setmetatable({
        client = client,
        policy = policy,
        journal = jn,       -- intents written down before acting, or nil
        sched = scheduler.new(client, policy),
        report = rep,
        locker = locker,
        own_locker = own,
        -- paks bought and in doubt; paks renewed, pak-years renewed and in
        -- doubt (money counts pak-years: a pak bought is one)
        spend = { paks = 0, in_doubt = 0, renewed = 0, renewed_years = 0, renew_doubt = 0, renewals_in_doubt = 0 },
        pricing = { done = false, pending = false, err = nil },
        budget = planner.budget(policy),
        orders = orders.new(),
        secrets = {},       -- passwords of the run: never in the report
        failure = nil,      -- what failed the run, or nil
        active = {},        -- domains under way
    }, Run)
end

function Run.__tostring(self)
    return "enom.provision.run (" .. (self.sched.stopped and "stopped" or "running") .. ")"
end

--- Fail the run: `err` is kept (the first one only) and the run stops
-- after the requests in flight, saying `why`.
function Run.fail(self, err, why)
    if self.failure == nil then
        self.failure = err == nil and why or err
    end
    self.sched:stop(why)
end

--- Record one mailbox's outcome in the report.
function Run.record(self, domain_name, username, intended, outcome, why, attempts, extra)
    local ok, err = self.report:mailbox(domain_name, username, intended, outcome, why, attempts, extra)
    if not ok then
        self:fail(err, "the progress callback raised an error (see the report's error)")
    end
end

--- Record a domain event (a pak purchase, a renewal, a forward) in the
-- report; `fields` are its own values (see enom.provision.report.event).
function Run.event(self, domain_name, action, outcome, detail, attempts, fields)
    local ok, err = self.report:event(domain_name, action, outcome, detail, attempts, fields)
    if not ok then
        self:fail(err, "the progress callback raised an error (see the report's error)")
    end
end

--- Record that a domain could not be read (`err`, an enom error).
function Run.unreachable(self, domain_name, err)
    local ok, perr = self.report:could_not_read(domain_name, err)
    if not ok then
        self:fail(perr, "the progress callback raised an error (see the report's error)")
    end
end

--- Keep a password of the run out of what the report may quote.
function Run.secret(self, pw)
    self.secrets[#self.secrets + 1] = pw
end

--- The account's price per pak and year: the policy's pak_price, else
-- eNom's (PE_GetPOPPrice), read once per run by the first domain that
-- asks (inside a task of the run's scheduler); the others wait for it.
-- @return the price, or nil and the error (then max_spend allows nothing)
function Run.price(self)
    if self.policy.pak_price then
        return self.policy.pak_price
    end
    local pr = self.pricing
    while pr.pending do
        self.sched:sleep(0.01)
    end
    if not pr.done then
        pr.pending = true
        local res, err = self.sched:call_retry("get_pop_price", {})
        pr.pending, pr.done = false, true
        if res and type(res.price) == "number" and res.price >= 0 then
            self.budget.price = res.price
        else
            pr.err = err or errors.new("parse", "PE_GetPOPPrice answered without a price",
                { maybe_delivered = false })
        end
    end
    return self.budget.price, pr.err
end

-- Money the run has spent or may have spent, in pak-years.
local function pak_years(s)
    return s.paks + s.in_doubt + s.renewed_years + s.renew_doubt
end

-- How many pak-years max_spend still allows (math.huge without a cap;
-- 0 while the price is unknown).
local function money_left(self)
    local p, price = self.policy, self.budget.price
    if not p.max_spend then
        return math.huge
    end
    if not price then
        return 0
    end
    if price <= 0 then
        return math.huge
    end
    return floor((p.max_spend - pak_years(self.spend) * price) / price + 1e-9)
end

--- How many of `want` paks the run's caps still allow, counting the
-- purchases in flight and in doubt, and the money renewals took.
function Run.allowed(self, want)
    local s, p = self.spend, self.policy
    local n = min(want, p.max_paks_per_run - (s.paks + s.in_doubt), money_left(self))
    return max(0, n)
end

--- May the run renew a pak for `years` more within max_spend?
function Run.may_renew(self, years)
    return money_left(self) >= years
end

--- Count `years` pak-years of a renewal as in doubt (in flight or
-- unsettled); negative takes them off again.
function Run.renew_doubt(self, years)
    local s = self.spend
    s.renew_doubt = s.renew_doubt + years
    s.renewals_in_doubt = s.renewals_in_doubt + (years > 0 and 1 or -1)
end

--- Count a pak renewed for `years`.
function Run.renewed(self, years)
    local s = self.spend
    s.renewed = s.renewed + 1
    s.renewed_years = s.renewed_years + years
end

--- The account's balance does not cover an order (eNom's answer of
-- category "balance", given in `why`): no purchase or renewal of the run
-- is sent after it, on any domain. The first reason is kept.
function Run.out_of_funds(self, why)
    if not self.no_funds then
        self.no_funds = why
    end
end

--- Why nothing more may be bought or renewed (the balance ran out), or nil.
function Run.funds(self)
    return self.no_funds
end

--- Count `n` paks as in doubt (a purchase in flight or unsettled); a
-- negative `n` takes them off again.
function Run.doubt(self, n)
    self.spend.in_doubt = self.spend.in_doubt + n
end

--- Count `n` paks as bought.
function Run.bought(self, n)
    self.spend.paks = self.spend.paks + n
end

local function lease_key(self, intent)
    return lease.key(self.client.uid, intent.domain)
end

-- The scheduler's task for one domain; when it ends, the next domain
-- waiting for its turn starts.
local function domain_task(_, self, dom, start_next)
    self.active[dom] = true
    dom:execute()
    self.active[dom] = nil
    start_next()
end

--- Carry out `intents` (see enom.provision.planner) and close the report.
-- @return the report (never raises for what a callback raised: see
--   enom.provision.apply's contract)
function Run.execute(self, intents)
    local sched = self.sched
    local n = 0
    local function start_next()
        n = n + 1
        local intent = intents[n]
        if intent then
            sched:spawn(domain_task, self, domain.new(self, intent, lease_key(self, intent)), start_next)
        end
    end
    for _ = 1, min(#intents, self.policy.concurrency * ACTIVE_PER_SLOT) do
        start_next()
    end
    local ok, stats = pcall(sched.loop, sched)
    if not ok then
        -- The scheduler itself failed: let go of every lease still held
        -- and record what those domains did not reach.
        self:fail(stats, "the run failed (see the report's error)")
        for dom in pairs(self.active) do
            dom:finish()
            dom:record_rest()
        end
        for i = n + 1, #intents do
            domain.new(self, intents[i], lease_key(self, intents[i])):record_rest()
        end
        stats = sched:stats()
    elseif stats.error ~= nil then
        self:fail(stats.error, "a task raised an error (see the report's error)")
    end
    if self.own_locker and self.locker.close then
        self.locker:close()
    end
    -- What a callback raised may quote a password: none reaches the report.
    local secrets = errors.secrets(self.secrets)
    local failure = self.failure ~= nil and errors.scrub(tostring(self.failure), secrets) or nil
    self.report:finish(stats, self.spend, errors.scrub(sched.stopped, secrets), failure)
    return self.report
end

return _M
