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
local inventory = require "enom.provision.inventory"
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
local ipairs = ipairs
local lower = string.lower

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
        -- paks bought and in doubt; paks renewed, pak-years renewed and in
        -- doubt (money counts pak-years: a pak bought is one)
        spend = { paks = 0, in_doubt = 0, renewed = 0, renewed_years = 0, renew_doubt = 0, renewals_in_doubt = 0 },
        leases = { backend = tostring(locker.backend or "custom"), granted = 0, busy = 0, error = 0 },
        pricing = { done = false, pending = false, err = nil },
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

--- Refuse every purchase and renewal of the run from now on, on every
-- domain, `why` (eNom said the account's balance does not cover an
-- order: no other domain will do better). The first reason is kept.
function Run.stop_buying(self, why)
    if not self.no_buy then
        self.no_buy = why
        self.report:note("no more paks are bought or renewed in this run: " .. why)
    end
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
-- purchases in flight and in doubt, and the money renewals took (none
-- once `stop_buying` was said).
function Run.allowed(self, want)
    if self.no_buy then
        return 0
    end
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

--- Why nothing more may be bought or renewed (eNom said the balance does
-- not cover an order: `stop_buying`), or nil.
function Run.funds(self)
    return self.no_buy
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

-- Read the account's paks (policy `inventory`), and report those that
-- expire within `expiring_within` days. A failed read is said, and every
-- domain is read as without it.
local function take_inventory(self)
    local inv, err = inventory.read(self.sched)
    if not inv then
        if err.kind ~= "stopped" then
            self.report:note("the account's paks could not be read (GetPOPExpirations: "
                .. report_mod.reason(err) .. "): every domain was read")
        end
        return
    end
    self.inventory, self.seen, self.idle = inv, {}, 0
    local days = self.policy.expiring_within
    local soon, unreadable = inventory.expiring(inv, days)
    for _, e in ipairs(soon) do
        local p = e.pak
        self:event(p.domain, "paks", "expiring", ("pak %s expires %s (%s)%s"):format(tostring(p.bundle_id),
            tostring(p.expires), e.days_left < 0 and "expired" or (e.days_left .. " days left"),
            p.auto_renew and ", renews by itself" or ""), nil, { bundle_id = p.bundle_id, expires = p.expires })
    end
    if #soon > 0 then
        self.report:note(("%d pak(s) of the account expire within %d days (enom paks expiring)"):format(#soon, days))
    end
    for _, p in ipairs(unreadable) do
        self:event(p.domain, "paks", "unreadable_expiry", "pak " .. tostring(p.bundle_id)
            .. ": its expiry cannot be read; check it by hand", nil, { bundle_id = p.bundle_id })
    end
end

-- The paks of domains the desired state did not name (inventory): the
-- account pays for them all the same.
local function report_unmanaged(self)
    local list = inventory.unmanaged(self.inventory, self.seen)
    local paks = 0
    for _, u in ipairs(list) do
        paks = paks + #u.paks
        self:event(u.domain, "paks", "unmanaged", ("%d pak(s), not in the desired state"):format(#u.paks))
    end
    if #list > 0 then
        self.report:note(("%d pak(s) on %d domain(s) not in the desired state (their renewals are still "
            .. "charged)"):format(paks, #list))
    end
    if self.idle > 0 then
        self.report:note(("%d domain(s) hold no pak and want none, or want nothing and are not pruned: "
            .. "not read"):format(self.idle))
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
    -- One loop starts domains: a domain that ends at once (nothing to
    -- do, nothing read) asks for the next from inside its own task, and
    -- is owed one here instead of nesting a task in a task (thousands of
    -- idle domains would overflow the C stack).
    local starting, owed = false, 0
    local function start_next()
        owed = owed + 1
        if starting then
            return
        end
        starting = true
        while owed > 0 do
            owed = owed - 1
            if bad_input or (sched.stopped and self.streamed) then
                break
            end
            local intent, err = pull()
            if intent then
                self.taken = self.taken + 1
                if self.seen then
                    self.seen[lower(intent.domain)] = true
                end
                sched:spawn(domain_task, self, domain.new(self, intent, lease_key(self, intent)), start_next)
            else
                if err ~= nil then
                    bad_input = err
                end
                break
            end
        end
        owed, starting = 0, false
    end
    local function start()
        for _ = 1, self.policy.concurrency * ACTIVE_PER_SLOT do
            start_next()
        end
    end
    if self.policy.inventory then
        -- The account's paks first: then the domains, idle ones unread.
        sched:spawn(function()
            take_inventory(self)
            start()
        end)
    else
        start()
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
    if ok and self.inventory and not sched.stopped and not bad_input then
        report_unmanaged(self)
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
    stats.pak_price = self.policy.pak_price or self.budget.price
    self.report:finish(stats, self.spend, sched.stopped, self.failure)
    return self.report
end

return _M
