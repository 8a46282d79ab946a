--- A coroutine scheduler for many eNom requests at once: each task reads
-- like straight-line code (`sched:request(...)` yields until the answer
-- is in), many tasks share one batch of concurrent requests, with retry
-- and capped back-off, a time budget and a circuit breaker. It knows
-- nothing of mailboxes: a provisioning run (enom.provision.run) runs its
-- domains as tasks on it.
local clock = require "enom.clock"
local errors = require "enom.errors"
local ratelimit = require "enom.ratelimit"

local _M = {}
local mt = { __index = _M }

local pairs = pairs
local tostring = tostring
local ipairs = ipairs
local min, max = math.min, math.max
local random = math.random
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.status
local co_running = coroutine.running

-- Seconds between two questions to `policy.stop` while requests are out.
local STOP_POLL = 0.2

--- Which queued request leaves first: the one with the longest chain of
-- work behind it. The order-history mark (GetOrderList) comes before
-- every purchase; a domain's read may lead to a purchase (1.5 s and more
-- at eNom) and then SetUps; a purchase leads to SetUps; a delete frees
-- slots for SetUps; a modify or a SetUp ends its chain. Of one priority,
-- requests leave in the order they were made.
_M.PRIORITY = {
    get_order_list = 4, get_order_detail = 3, get_pop3 = 3,
    purchase_pop_bundle = 2,
    delete_pop3 = 1,
}
local PRIORITY = _M.PRIORITY

--- Capped exponential back-off with full jitter: a random wait in
-- [0, min(cap, base * 2^(attempt-1))].
function _M.backoff(policy, attempt)
    local ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ^ (attempt - 1))
    return random() * ceiling
end

--- May a failed request be tried again (the library's one rule,
-- `enom.errors.retryable`)? A policy may give its own (`policy.retry`).
_M.retryable = errors.retryable

--- A scheduler over `client`. policy: concurrency, attempts, backoff_base,
-- backoff_cap, budget, circuit, and optionally retry, backoff.
function _M.new(client, policy)
    local now = clock.now()
    local notes = {}
    -- libcurl opens at most max_connections at once: more concurrency
    -- would only queue. Said, not silently swallowed.
    local cap = client.transport_name == "curl" and client.max_connections
    if cap and policy.concurrency > cap then
        notes[1] = ("concurrency %d is capped at the client's max_connections (%d): "
            .. "make the client with max_connections = %d"):format(policy.concurrency, cap, policy.concurrency)
    end
    return setmetatable({
        notes = notes,
        peak = 0,
        client = client,
        policy = policy,
        -- The policy's rate limit, else the client's (enom.batch).
        batch = client:batch { concurrency = policy.concurrency,
            rate_limit = policy.rate_limit and assert(ratelimit.of(policy.rate_limit, client.uid)) },
        started = now,
        deadline = now + policy.budget,
        failures_in_row = 0,
        stopped = nil,       -- why the scheduler stopped, or nil
        error = nil,         -- what a task raised, or nil
        waiting = {},        -- batch index -> task
        timers = {},         -- task -> time to wake it
        tasks = 0,
        counters = { requests = {}, sent = 0, retries = 0, reconciles = 0 },
        retry = policy.retry or _M.retryable,
        delay = policy.backoff or _M.backoff,
    }, mt)
end

--- Stop the run: requests not yet sent, queued ones included, fail with
-- kind "stopped"; only those already in flight finish.
function _M.stop(self, why)
    if not self.stopped then
        self.stopped = why
        self.batch:cancel(why)
    end
end

local function check_budget(self)
    if self.stopped then
        return errors.new("stopped", self.stopped, { maybe_delivered = false })
    end
    if clock.now() > self.deadline then
        _M.stop(self, "time budget of " .. self.policy.budget .. " s used up")
        return errors.new("stopped", self.stopped, { maybe_delivered = false })
    end
end

-- Failures that say "eNom cannot be reached or is down" (a transport
-- failure, a time-out, eNom's maintenance or system errors: what the one
-- retry rule lets pass) count toward the circuit; a refusal does not.
local function settle_circuit(self, res, err)
    if res then
        self.failures_in_row = 0
    elseif err.kind ~= "stopped" and errors.retryable(err) then
        self.failures_in_row = self.failures_in_row + 1
        if self.failures_in_row >= self.policy.circuit then
            _M.stop(self, "circuit open after " .. self.failures_in_row .. " failures in a row")
        end
    end
end

--- Inside a task: send a typed request (client method name and its
-- arguments) and wait for its answer. `guard` (optional) is asked when
-- the request is about to leave (see enom.batch's add_method).
function _M.request(self, method, args, guard)
    local stop = check_budget(self)
    if stop then
        return nil, stop
    end
    local res, err = co_yield { method = method, args = args, guard = guard }
    settle_circuit(self, res, err)
    return res, err
end

--- Inside a task: send a free-form command (as client:call).
function _M.call(self, command, params)
    local stop = check_budget(self)
    if stop then
        return nil, stop
    end
    local res, err = co_yield { command = command, params = params }
    settle_circuit(self, res, err)
    return res, err
end

--- Inside a task: wait `seconds` without holding up other tasks.
function _M.sleep(_, seconds)
    if seconds > 0 then
        co_yield { sleep = seconds }
    end
end

--- Inside a task: back off before attempt `attempt` + 1.
function _M.back_off(self, attempt)
    self.counters.retries = self.counters.retries + 1
    self:sleep(self.delay(self.policy, attempt))
end

--- Inside a task: a request that is safe to repeat (reads, ModifyPOP3).
function _M.call_retry(self, method, args, guard)
    local res, err
    for attempt = 1, self.policy.attempts do
        res, err = self:request(method, args, guard)
        if res or not self.retry(err) or attempt == self.policy.attempts then
            return res, err
        end
        self:back_off(attempt)
    end
    return res, err
end

--- Count one read made to reconcile after an ambiguous failure.
function _M.reconciled(self)
    self.counters.reconciles = self.counters.reconciles + 1
end

-- Scheduler -----------------------------------------------------------

local function resume(self, task, ...)
    local ok, want = co_resume(task, ...)
    if not ok then
        -- A task that raises stops the scheduler; the others end at their
        -- next request, so what is in flight is still recorded.
        if self.error == nil then
            self.error = want
        end
        _M.stop(self, "a task raised an error")
        self.tasks = self.tasks - 1
        return
    end
    if co_status(task) == "dead" then
        self.tasks = self.tasks - 1
        return
    end
    if want.sleep then
        self.timers[task] = clock.now() + want.sleep
    else
        local i
        if want.method then
            i = self.batch:add_method(want.method, want.args, want.guard, PRIORITY[want.method])
        else
            i = self.batch:add(want.command, want.params)
        end
        self.waiting[i] = task
        self.pending = (self.pending or 0) + 1
        if self.pending > self.peak then
            self.peak = self.pending
        end
    end
end

--- Start `fn(run, ...)` as a task. Returns the task.
function _M.spawn(self, fn, ...)
    local task = co_create(fn)
    self.tasks = self.tasks + 1
    resume(self, task, self, ...)
    return task
end

--- Inside a task: run `fns` (each fn(run)) as tasks of their own, at
-- once, and wait until all have ended. An error one raises is raised
-- here, after all have ended.
function _M.join(self, fns)
    local me = co_running()
    local left, failed = #fns, nil
    for _, fn in ipairs(fns) do
        self:spawn(function(run)
            local ok, err = pcall(fn, run)
            if not ok and failed == nil then
                failed = err
            end
            left = left - 1
            if left == 0 then
                run:wake(me)
            end
        end)
    end
    while left > 0 do
        co_yield { sleep = 3600 }
    end
    if failed ~= nil then
        error(failed, 0)
    end
end

--- Cut short the sleep of `task`, if it sleeps.
function _M.wake(self, task)
    if self.timers[task] then
        self.timers[task] = 0
    end
end

-- Wake the tasks whose time has come; returns the next wake-up time.
local function wake_due(self)
    local now, soonest = clock.now(), nil
    local due = {}
    for task, at in pairs(self.timers) do
        if at <= now then
            due[#due + 1] = task
        else
            soonest = soonest and min(soonest, at) or at
        end
    end
    for _, task in ipairs(due) do
        self.timers[task] = nil
        resume(self, task)
    end
    if #due > 0 then
        -- Woken tasks may have set new timers.
        for _, at in pairs(self.timers) do
            soonest = soonest and min(soonest, at) or at
        end
    end
    return soonest
end

--- Run until every task has ended. Returns the statistics.
function _M.loop(self)
    local should_stop = self.policy.stop
    while self.tasks > 0 do
        if should_stop and not self.stopped then
            local why = should_stop()
            if why then
                _M.stop(self, why)
            end
        end
        local soonest = wake_due(self)
        if self.tasks == 0 then
            break
        end
        local wait = soonest and max(0, soonest - clock.now())
        if should_stop then
            -- Asked often enough that a stop withdraws what is queued.
            wait = min(wait or STOP_POLL, STOP_POLL)
        end
        if self.batch:remaining() > 0 then
            local idx, res, err, sends = self.batch:next(wait)
            if idx then
                local task = self.waiting[idx]
                self.waiting[idx] = nil
                self.pending = self.pending - 1
                self:count(err and err.command or (res and res.command) or "?", sends)
                resume(self, task, res, err)
            elseif idx == nil and not soonest then
                error("enom.provision.scheduler: the batch ended with tasks still waiting")
            end
        elseif soonest then
            clock.sleep(wait)
        else
            error("enom.provision.scheduler: tasks are waiting on nothing")
        end
    end
    return self:stats()
end

-- Requests sent, by eNom command (upper case, as eNom names them).
function _M.count(self, command, n)
    if n == 0 then
        return
    end
    command = tostring(command):upper()
    local r = self.counters.requests
    r[command] = (r[command] or 0) + n
    self.counters.sent = self.counters.sent + n
end

--- The statistics: requests (by command), sent, retries, reconciles,
-- stopped (why, or nil), error (what a task raised), peak (most requests
-- waiting at once), rate_limit_wait (seconds requests were held back by
-- the account's rate limit; nil without one), notes (things the caller
-- should know, such as a capped concurrency).
function _M.stats(self)
    local c = self.counters
    local requests = {}
    for k, v in pairs(c.requests) do
        requests[k] = v
    end
    return { requests = requests, sent = c.sent, retries = c.retries, reconciles = c.reconciles,
        stopped = self.stopped, error = self.error, seconds = clock.now() - self.started,
        peak = self.peak, notes = self.notes,
        rate_limit_wait = self.batch.limiter and self.batch.rate_limit_wait or nil }
end

return _M
