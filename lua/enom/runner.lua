--- The engine under enom.provision: runs each domain's actions as a
-- coroutine, many domains at once over one batch, with back-off, a time
-- budget, a circuit breaker and reconciliation after ambiguous failures.
--
-- A domain's task reads like straight-line code: `self:request(...)`
-- yields to the scheduler, which sends the request through the batch and
-- resumes the task with the answer. A domain's own actions stay in order.
local clock = require "enom.clock"
local errors = require "enom.errors"
local templates = require "enom.templates"

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local min = math.min
local random = math.random
local co_create, co_resume, co_yield, co_status = coroutine.create, coroutine.resume, coroutine.yield, coroutine.status

local PAK_SIZE = 10

--- Capped exponential back-off with full jitter: a random wait in
-- [0, min(cap, base * 2^(attempt-1))].
function _M.backoff(policy, attempt)
    local ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ^ (attempt - 1))
    return random() * ceiling
end

--- May a failed request be tried again? API and input errors are final;
-- so is a certificate failure, which no retry mends.
function _M.retryable(err)
    local k = err.kind
    if k == "api" or k == "invalid" or k == "tls" or k == "stopped" then
        return false
    end
    if k == "http" then
        return err.status == nil or err.status >= 500 or err.status == 429 or err.status == 408
    end
    return true
end

function _M.new(client, policy, report)
    local now = clock.now()
    return setmetatable({
        client = client,
        policy = policy,
        report = report,
        batch = client:batch { concurrency = policy.concurrency },
        started = now,
        deadline = now + policy.budget,
        failures_in_row = 0,
        stopped = nil,
        waiting = {},    -- batch index -> task
        timers = {},     -- { at, task }
        tasks = 0,
        stats = { requests = {}, sent = 0, retries = 0, reconciles = 0, paks_bought = 0 },
        retry = policy.retry or _M.retryable,
        backoff = policy.backoff or _M.backoff,
    }, mt)
end

local function stop(self, why)
    if not self.stopped then
        self.stopped = why
    end
end

-- Inside a task: send a typed request and wait for its answer.
function _M.request(self, method, args)
    if self.stopped then
        return nil, errors.new("stopped", self.stopped, { maybe_delivered = false })
    end
    if clock.now() > self.deadline then
        stop(self, "time budget of " .. self.policy.budget .. " s used up")
        return nil, errors.new("stopped", self.stopped, { maybe_delivered = false })
    end
    local res, err = co_yield { method = method, args = args }
    if res then
        self.failures_in_row = 0
    elseif err.kind ~= "api" and err.kind ~= "invalid" then
        self.failures_in_row = self.failures_in_row + 1
        if self.failures_in_row >= self.policy.circuit then
            stop(self, "circuit open after " .. self.failures_in_row .. " failures in a row")
        end
    end
    return res, err
end

-- Inside a task: wait `seconds` without holding up other domains.
function _M.sleep(_, seconds)
    if seconds > 0 then
        co_yield { sleep = seconds }
    end
end

-- Inside a task: a request that is safe to repeat (reads, ModifyPOP3).
function _M.call_retry(self, method, args)
    local res, err
    for attempt = 1, self.policy.attempts do
        res, err = self:request(method, args)
        if res or not self.retry(err) or attempt == self.policy.attempts then
            return res, err
        end
        self.stats.retries = self.stats.retries + 1
        self:sleep(self.backoff(self.policy, attempt))
    end
    return res, err
end

-- Inside a task: the domain's mailboxes (by lower-cased name) and paks.
function _M.read(self, d)
    local res, err = self:call_retry("get_pop3", { sld = d.sld, tld = d.tld })
    if not res then
        return nil, err
    end
    local by_name = {}
    for _, m in ipairs(res.mailboxes) do
        by_name[lower(m.username)] = m
    end
    return { mailboxes = res.mailboxes, by_name = by_name, paks = res.paks }
end

-- Scheduler -----------------------------------------------------------

local function resume(self, task, ...)
    local ok, want = co_resume(task, ...)
    if not ok then
        error(want, 0)
    end
    if co_status(task) == "dead" then
        self.tasks = self.tasks - 1
        return
    end
    if want.sleep then
        self.timers[#self.timers + 1] = { at = clock.now() + want.sleep, task = task }
    else
        local i = self.batch:add_method(want.method, want.args)
        self.waiting[i] = task
    end
end

function _M.spawn(self, fn, ...)
    local task = co_create(fn)
    self.tasks = self.tasks + 1
    resume(self, task, self, ...)
end

--- Run until every task has ended.
function _M.loop(self)
    while self.tasks > 0 do
        -- Wake tasks whose back-off is over.
        local now, soonest = clock.now(), nil
        local i = 1
        while i <= #self.timers do
            local t = self.timers[i]
            if t.at <= now then
                table.remove(self.timers, i)
                resume(self, t.task)
            else
                soonest = soonest and min(soonest, t.at) or t.at
                i = i + 1
            end
        end
        if self.tasks == 0 then
            break
        end
        local wait = soonest and math.max(0, soonest - clock.now())
        if self.batch:remaining() > 0 then
            local idx, res, err, sends = self.batch:next(wait)
            if idx then
                local task = self.waiting[idx]
                self.waiting[idx] = nil
                local cmd = err and err.command or (res and res.command) or "?"
                self:count(cmd, sends)
                resume(self, task, res, err)
            elseif idx == nil and not wait then
                error("enom.runner: the batch ended with tasks still waiting")
            end
        elseif wait then
            clock.sleep(wait)
        else
            error("enom.runner: tasks are waiting on nothing")
        end
    end
end

-- Requests sent, by eNom command (upper case, as eNom names them).
function _M.count(self, command, n)
    if n == 0 then
        return
    end
    command = tostring(command):upper()
    local r = self.stats.requests
    r[command] = (r[command] or 0) + n
    self.stats.sent = self.stats.sent + n
end

--- For plan: read every domain concurrently. Returns { {res=} or {err=} }.
function _M.read_all(self, desired)
    local out = {}
    for i, want in ipairs(desired) do
        local sld, tld = want.sld, want.tld
        if not sld then
            sld, tld = tostring(want.domain):match("^([^.]+)%.(.+)$")
        end
        self:spawn(function(run)
            local st, err = run:read { sld = sld, tld = tld }
            out[i] = st and { res = st } or { err = err }
        end)
    end
    self:loop()
    return out
end

-- Apply ---------------------------------------------------------------

local function reason_of(err)
    if type(err) == "table" and err.errors and #err.errors > 0 then
        return table.concat(err.errors, "; ")
    end
    return tostring(err and err.message or err)
end

-- Buy `want` paks; never twice: after an ambiguous failure the pak count
-- is read back and only what is still missing is bought again.
local function buy(self, d, cur, want)
    local bought, attempt = 0, 0
    while bought < want do
        attempt = attempt + 1
        local before = #cur.paks
        local res, err = self:request("purchase_pop_bundle", { sld = d.sld, tld = d.tld, quantity = want - bought })
        if res then
            bought = want
        elseif not self.retry(err) or attempt >= self.policy.attempts then
            self.report:event(d.domain, "paks", "failed", reason_of(err), attempt)
            break
        else
            self.stats.retries = self.stats.retries + 1
            if err.maybe_delivered then
                self.stats.reconciles = self.stats.reconciles + 1
                local now, rerr = self:read(d)
                if not now then
                    self.report:event(d.domain, "paks", "unknown", "could not read back: " .. reason_of(rerr), attempt)
                    return bought, nil
                end
                bought = bought + math.max(0, #now.paks - before)
                cur = now
            end
            if bought < want then
                self:sleep(self.backoff(self.policy, attempt))
            end
        end
    end
    self.stats.paks_bought = self.stats.paks_bought + bought
    if bought > 0 then
        self.report:event(d.domain, "paks", "bought", tostring(bought), attempt)
    end
    return bought, self:read(d)
end

-- Delete mailboxes, reconciling after an ambiguous failure.
local function delete(self, d, cur)
    local pending = {}
    for _, name in ipairs(d.delete) do
        if cur.by_name[lower(name)] then
            pending[#pending + 1] = name
        else
            self.report:mailbox(d.domain, name, "delete", "already_absent", nil, 0)
        end
    end
    local attempt = 0
    while #pending > 0 do
        attempt = attempt + 1
        local chunk = {}
        for i = 1, min(#pending, self.policy.batch_size) do
            chunk[i] = pending[i]
        end
        local res, err = self:request("delete_pop3", { sld = d.sld, tld = d.tld, users = chunk })
        local gone = {}
        if res then
            for _, n in ipairs(chunk) do gone[n] = true end
        elseif err.kind == "stopped" then
            break
        else
            self.stats.reconciles = self.stats.reconciles + 1
            local now = self:read(d)
            if not now then
                for _, n in ipairs(chunk) do
                    self.report:mailbox(d.domain, n, "delete", "unknown", reason_of(err), attempt)
                end
                return
            end
            cur = now
            for _, n in ipairs(chunk) do
                if not now.by_name[lower(n)] then gone[n] = true end
            end
        end
        local rest = {}
        for _, n in ipairs(pending) do
            local in_chunk = false
            for _, c in ipairs(chunk) do in_chunk = in_chunk or c == n end
            if gone[n] then
                self.report:mailbox(d.domain, n, "delete", "deleted", nil, attempt)
            elseif in_chunk and (not self.retry(err) or attempt >= self.policy.attempts) then
                self.report:mailbox(d.domain, n, "delete", "failed", reason_of(err), attempt)
            else
                rest[#rest + 1] = n
            end
        end
        pending = rest
        if #pending > 0 and err and self.retry(err) then
            self.stats.retries = self.stats.retries + 1
            self:sleep(self.backoff(self.policy, attempt))
        end
    end
    for _, n in ipairs(pending) do
        self.report:mailbox(d.domain, n, "delete", "not_done", self.stopped, attempt)
    end
    return cur
end

-- Create mailboxes into free pak slots. A user is sent again only when a
-- read-back shows it does not exist, so none is created twice.
local function create(self, d, cur, passwords)
    local policy = self.policy
    local pending, tries, pw = {}, {}, {}
    for _, m in ipairs(d.create) do
        if cur.by_name[lower(m.username)] then
            self.report:mailbox(d.domain, m.username, "create", "already_present", nil, 0)
        else
            pending[#pending + 1] = m
        end
    end
    local round = 0
    while #pending > 0 and not self.stopped do
        round = round + 1
        local pak
        for _, p in ipairs(cur.paks) do
            if (p.free or 0) > 0 then
                pak = p
                break
            end
        end
        if not pak then
            break
        end
        local chunk = {}
        for i = 1, min(#pending, pak.free, policy.batch_size) do
            local m = pending[i]
            local key = lower(m.username)
            if not pw[key] then
                local given = passwords[d.domain .. "\0" .. key]
                if given then
                    pw[key] = given
                else
                    pw[key] = templates.password(policy.password)
                    if policy.on_password then
                        policy.on_password(d.domain, m.username, pw[key])
                    end
                end
            end
            chunk[i] = { username = m.username, password = pw[key], admin = m.admin, display_name = m.display_name }
            tries[key] = (tries[key] or 0) + 1
        end
        local res, err = self:request("setup_pop3_users", {
            sld = d.sld, tld = d.tld, bundle_id = pak.bundle_id, users = chunk,
        })
        local created, final = {}, {}
        if res then
            for _, u in ipairs(chunk) do created[lower(u.username)] = true end
            pak.free = pak.free - #chunk
        elseif err.kind == "stopped" then
            break
        elseif err.kind == "invalid" then
            for _, u in ipairs(chunk) do final[lower(u.username)] = reason_of(err) end
        elseif err.maybe_delivered == false then
            -- Surely never sent: the same request may go again as it is.
            for _, u in ipairs(chunk) do
                local key = lower(u.username)
                if tries[key] >= policy.attempts or not self.retry(err) then
                    final[key] = reason_of(err)
                end
            end
            self.stats.retries = self.stats.retries + 1
            self:sleep(self.backoff(policy, round))
        else
            -- Ambiguous or partly failed: find out what exists now.
            self.stats.reconciles = self.stats.reconciles + 1
            local now, rerr = self:read(d)
            if not now then
                for _, u in ipairs(chunk) do
                    final[lower(u.username)] = "unknown: could not read back after " .. reason_of(err)
                        .. " (" .. reason_of(rerr) .. ")"
                end
            else
                cur = now
                for _, u in ipairs(chunk) do
                    local key = lower(u.username)
                    if now.by_name[key] then
                        created[key] = true
                    elseif not self.retry(err) or tries[key] >= policy.attempts then
                        final[key] = reason_of(err)
                    end
                end
                if self.retry(err) then
                    self.stats.retries = self.stats.retries + 1
                    self:sleep(self.backoff(policy, round))
                end
            end
        end
        local rest = {}
        for _, m in ipairs(pending) do
            local key = lower(m.username)
            if created[key] then
                self.report:mailbox(d.domain, m.username, "create", "created", nil, tries[key])
            elseif final[key] then
                local outcome = final[key]:find("^unknown") and "unknown" or "failed"
                self.report:mailbox(d.domain, m.username, "create", outcome, final[key], tries[key])
            else
                rest[#rest + 1] = m
            end
        end
        pending = rest
        if #pending > 0 then
            -- An unknown outcome stops the domain: no blind retry.
            local unknown = false
            for _, v in pairs(final) do unknown = unknown or v:find("^unknown") ~= nil end
            if unknown then break end
        end
    end
    for _, m in ipairs(pending) do
        local why = self.stopped or "no free slot in any pak"
        self.report:mailbox(d.domain, m.username, "create", self.stopped and "not_done" or "blocked", why,
            tries[lower(m.username)] or 0)
    end
    return cur
end

local function apply_domain(self, d, passwords)
    local cur, err = self:read(d)
    if not cur then
        local why = "cannot read the domain: " .. reason_of(err)
        for _, m in ipairs(d.create) do self.report:mailbox(d.domain, m.username, "create", "not_done", why, 0) end
        for _, m in ipairs(d.modify) do self.report:mailbox(d.domain, m.username, "modify", "not_done", why, 0) end
        for _, n in ipairs(d.delete) do self.report:mailbox(d.domain, n, "delete", "not_done", why, 0) end
        return
    end
    for _, n in ipairs(d.keep) do
        self.report:mailbox(d.domain, n, "keep", "already_present", nil, 0)
    end
    for _, b in ipairs(d.blocked) do
        self.report:mailbox(d.domain, b.username, "create", "blocked", b.reason, 0)
    end
    if #d.delete > 0 then
        cur = delete(self, d, cur) or cur
    end
    if #d.modify > 0 then
        local res, merr = self:call_retry("modify_pop3", { sld = d.sld, tld = d.tld, users = d.modify })
        for _, m in ipairs(d.modify) do
            self.report:mailbox(d.domain, m.username, "modify", res and "modified" or "failed",
                not res and reason_of(merr) or nil, 1)
        end
    end
    if #d.create > 0 then
        local free, missing = 0, 0
        for _, p in ipairs(cur.paks) do free = free + (p.free or 0) end
        for _, m in ipairs(d.create) do
            if not cur.by_name[lower(m.username)] then missing = missing + 1 end
        end
        local need = math.min(d.buy, math.floor((math.max(0, missing - free) + PAK_SIZE - 1) / PAK_SIZE))
        if need > 0 then
            local _, now = buy(self, d, cur, need)
            cur = now or cur
        end
        create(self, d, cur, passwords)
    end
end

--- Apply every domain of a plan, concurrently across domains.
function _M.apply(self, domains, passwords)
    for _, d in ipairs(domains) do
        self:spawn(apply_domain, d, passwords)
    end
    self:loop()
end

return _M
