--- One provisioning run (an `apply` or an `ensure`): the object that owns
-- the run's state. Its policy, its scheduler (enom.provision.scheduler),
-- its report, its spending ledger (paks bought and in doubt, against the
-- caps), its planning budget, what it learnt of eNom's order history,
-- the passwords it must keep out of the report, and its failure: `fail`
-- is the only writer of that.
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
-- `streamed`: the desired state comes one domain at a time, so the
-- report keeps only what fell short (policy `records`, "short", unless
-- the policy says "all"); every record still goes to the report file
-- and the progress callback.
-- @return the run, or nil and an error (kind "invalid": the lock backend;
--   kind "io": the report file cannot be opened)
function _M.new(client, policy, streamed)
    local locker, own = locker_of(policy.lock)
    if not locker then
        return nil, own
    end
    local rep, ferr = report_mod.new(policy.report_file, policy.progress,
        policy.records or (streamed and "short" or "all"))
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
        streamed = streamed or false,
        taken = 0,          -- domains taken from the input
        journal = jn,       -- intents written down before acting, or nil
        sched = scheduler.new(client, policy),
        report = rep,
        locker = locker,
        own_locker = own,
        spend = { paks = 0, in_doubt = 0 },
        leases = { backend = tostring(locker.backend or "custom"), granted = 0, busy = 0, error = 0 },
        budget = planner.budget(policy),
        orders = orders.new(),
        failure = nil,      -- what failed the run, or nil
        active = {},        -- domains under way
    }, Run)
end

function Run.__tostring(self)
    return "enom.provision.run (" .. (self.sched.stopped and "stopped" or "running") .. ")"
end

--- Fail the run: `err` is kept as text (the first one only), free of
-- `secrets` (the passwords of the domain that failed, or nil), and the
-- run stops after the requests in flight, saying `why`.
function Run.fail(self, err, why, secrets)
    if self.failure == nil then
        local text = tostring(err == nil and why or err)
        self.failure = secrets and errors.scrub(text, errors.secrets(secrets)) or text
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

--- Record a domain event (a pak purchase) in the report.
function Run.event(self, domain_name, action, outcome, detail, attempts, tracking_key)
    local ok, err = self.report:event(domain_name, action, outcome, detail, attempts, tracking_key)
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

--- Refuse every purchase of the run from now on, `why` (eNom said the
-- account's balance does not cover it: no other domain will do better).
function Run.stop_buying(self, why)
    if not self.no_buy then
        self.no_buy = why
        self.report:note("no more paks are bought in this run: " .. why)
    end
end

--- How many of `want` paks the run's caps still allow, counting the
-- purchases in flight and in doubt (none once `stop_buying` was said).
function Run.allowed(self, want)
    if self.no_buy then
        return 0
    end
    local s, p = self.spend, self.policy
    local used = s.paks + s.in_doubt
    local n = min(want, p.max_paks_per_run - used)
    if p.max_spend and p.pak_price and p.pak_price > 0 then
        n = min(n, floor((p.max_spend - used * p.pak_price) / p.pak_price + 1e-9))
    end
    return max(0, n)
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

--- Count one lease acquisition's result: granted, busy or error. The
-- first domain granted in a run that may buy takes the order-history
-- mark beside its read, so that no purchase waits for it.
function Run.leased(self, result)
    local l = self.leases
    l[result] = l[result] + 1
    if result == "granted" and l.granted == 1 and self.policy.buy_paks and self.policy.max_paks_per_run > 0 then
        self.sched:spawn(orders.early, self)
    end
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

-- What is left of the input once the run cannot go on: an array's
-- intents are each recorded (not_done); a stream is not read further,
-- and the report says how far it got.
local function record_unstarted(self, pull)
    if self.streamed then
        self.report:note(("the run stopped after taking %d domain(s) of the input; the rest was not read")
            :format(self.taken))
        return
    end
    for intent in pull do
        domain.new(self, intent, lease_key(self, intent)):record_rest()
    end
end

--- Carry out the intents and close the report. `source` is an array of
-- intents (see enom.provision.planner), or a function returning the
-- next intent, nil at the end, or nil and an error (a stream: see
-- planner.stream), which stops the run with that error once the domains
-- under way have ended. A stream is read as domains finish: only the
-- domains under way are in memory.
-- @return the report (never raises for what a callback raised: see
--   enom.provision.apply's contract)
function Run.execute(self, source)
    local sched = self.sched
    local pull = source
    if type(source) == "table" then
        local n = 0
        pull = function()
            n = n + 1
            return source[n]
        end
    end
    -- An entry of the input that is wrong ends the input there; the
    -- domains under way finish, then the run fails with it.
    local bad_input
    local function start_next()
        if bad_input or (sched.stopped and self.streamed) then
            return
        end
        local intent, err = pull()
        if intent then
            self.taken = self.taken + 1
            sched:spawn(domain_task, self, domain.new(self, intent, lease_key(self, intent)), start_next)
        elseif err ~= nil then
            bad_input = err
        end
    end
    for _ = 1, self.policy.concurrency * ACTIVE_PER_SLOT do
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
        record_unstarted(self, pull)
        stats = sched:stats()
    elseif stats.error ~= nil then
        self:fail(stats.error, "a task raised an error (see the report's error)")
    end
    if bad_input then
        self:fail(bad_input, ("the input ended after %d domain(s) with an error: %s"):format(self.taken,
            tostring(type(bad_input) == "table" and bad_input.message or bad_input)))
    elseif ok and self.streamed and sched.stopped then
        record_unstarted(self, pull)
    end
    if self.own_locker and self.locker.close then
        self.locker:close()
    end
    stats.leases = self.leases
    stats.pak_price = self.policy.pak_price
    self.report:finish(stats, self.spend, sched.stopped, self.failure)
    return self.report
end

return _M
