--- Applying a plan: each domain is one task of enom.runner that takes
-- the domain's lease, re-reads the domain, then deletes, modifies, buys
-- paks and creates mailboxes, and releases the lease on every way out.
--
-- Every mailbox of the plan gets exactly one record in the report,
-- whatever happens: a domain that stops early (lease busy or lost, a
-- purchase in doubt, the run stopped, a callback that raised) records
-- what it did not reach as `busy` or `not_done`, with the reason.
local errors = require "enom.errors"
local paks = require "enom.provision.paks"
local buy = require "enom.provision.buy"
local create = require "enom.provision.create"

local _M = {}

local type = type
local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local min = math.min
local concat = table.concat

-- Domains under way at once, per request in flight (`concurrency`).
local ACTIVE_PER_SLOT = 4

--- A failure as one line for a report.
function _M.reason(err)
    if type(err) == "table" and err.errors and #err.errors > 0 then
        return concat(err.errors, "; ")
    end
    return tostring(type(err) == "table" and err.message or err)
end
local reason = _M.reason

local Domain = {}
Domain.__index = Domain
_M.Domain = Domain

--- Read the domain (GetPOP3); `cur` keeps mailboxes by lower-cased name.
-- Passwords are asked for only to prove ownership after a doubtful SetUp.
function Domain.read(self, with_passwords)
    local d = self.d
    local res, err = self.run:call_retry("get_pop3",
        { sld = d.sld, tld = d.tld, include_passwords = with_passwords or nil })
    if not res then
        return nil, err
    end
    local by_name = {}
    for _, m in ipairs(res.mailboxes) do
        by_name[lower(m.username)] = m
    end
    self.cur = { mailboxes = res.mailboxes, by_name = by_name, paks = res.paks }
    return self.cur
end

--- Before each request that changes state: is the domain still ours?
function Domain.hold(self)
    if self.halted then
        return false
    end
    if self.lease then
        local ok, err = self.lease:check()
        if not ok then
            self:halt("the domain's lease was lost: " .. reason(err))
            return false
        end
    end
    return true
end

--- Stop this domain: what is left is recorded `outcome` (not_done).
function Domain.halt(self, why, outcome)
    if not self.halted then
        self.halted = why
        self.rest_outcome = outcome or "not_done"
    end
end

--- Record one mailbox's outcome (once per intended action and name).
function Domain.mailbox(self, username, intended, outcome, why, attempts, extra)
    local key = intended .. "\0" .. lower(username)
    if self.recorded[key] then
        return
    end
    self.recorded[key] = true
    self.report:mailbox(self.d.domain, username, intended, outcome, why, attempts, extra)
end

--- Record a domain event (a pak purchase).
function Domain.event(self, action, outcome, detail, attempts)
    self.report:event(self.d.domain, action, outcome, detail, attempts)
end

-- Everything of the plan not yet recorded, as `rest_outcome`.
local function record_rest(self)
    local d = self.d
    local outcome = self.rest_outcome or "not_done"
    local why = self.halted or self.run.stopped or "not reached"
    for _, m in ipairs(d.invalid or {}) do
        self:mailbox(m.username, "create", "invalid", m.reason, 0)
    end
    for _, n in ipairs(d.keep) do
        self:mailbox(n, "keep", outcome, why, 0)
    end
    for _, m in ipairs(d.modify) do
        self:mailbox(m.username, "modify", outcome, why, 0)
    end
    for _, n in ipairs(d.delete) do
        self:mailbox(n, "delete", outcome, why, 0)
    end
    for _, m in ipairs(d.create) do
        self:mailbox(m.username, "create", outcome, why, self.tries and self.tries[lower(m.username)] or 0)
    end
    for _, b in ipairs(d.blocked) do
        self:mailbox(b.username, "create", outcome == "busy" and "busy" or "blocked",
            outcome == "busy" and why or b.reason, 0)
    end
end

-- Keeps the lease alive while the domain works, long requests included.
local function renewer(run, self)
    local every = self.policy.lease_ttl / 3
    while not self.done do
        run:sleep(every)
        if self.done then
            break
        end
        local ok, err = self.lease:renew()
        if not ok then
            self:halt("the domain's lease was lost: " .. reason(err))
            break
        end
    end
end

local function acquire(run, self)
    if not self.locker then
        return true
    end
    local p = self.policy
    local l, err = self.locker:acquire(self.key, {
        ttl = p.lease_ttl, wait = p.lease_wait, sleep = function(s) run:sleep(s) end,
    })
    if not l then
        if type(err) == "table" and err.kind == "busy" then
            self:halt(("busy: another run holds the domain (waited %g s)"):format(p.lease_wait), "busy")
        else
            self:halt("cannot take the domain's lease: " .. reason(err))
        end
        return false
    end
    self.lease = l
    self.renew_task = run:spawn(renewer, self)
    return true
end

-- A deleted mailbox's slot is free again: no read needed to use it.
local function freed(cur, name)
    local m = cur.by_name[lower(name)]
    if not m then
        return
    end
    cur.by_name[lower(name)] = nil
    if not cur.pak_by_id then
        cur.pak_by_id = {}
        for _, p in ipairs(cur.paks) do
            cur.pak_by_id[p.bundle_id] = p
        end
    end
    local p = cur.pak_by_id[m.bundle_id]
    if p then
        p.free = (p.free or 0) + 1
    end
end

-- Delete mailboxes, reconciling after an ambiguous failure. A queue, so
-- each name is looked at a bounded number of times.
local function delete(self)
    local run, d, policy = self.run, self.d, self.policy
    local queue, head, again, tries = {}, 1, {}, {}
    for _, name in ipairs(d.delete) do
        if self.cur.by_name[lower(name)] then
            queue[#queue + 1] = name
        else
            self:mailbox(name, "delete", "already_absent", nil, 0)
        end
    end
    local round = 0
    while (#again > 0 or head <= #queue) and self:hold() do
        round = round + 1
        local chunk = {}
        while #chunk < policy.batch_size and #again > 0 do
            chunk[#chunk + 1] = table.remove(again)
        end
        while #chunk < policy.batch_size and head <= #queue do
            chunk[#chunk + 1] = queue[head]
            head = head + 1
        end
        for _, n in ipairs(chunk) do tries[n] = (tries[n] or 0) + 1 end
        local res, err = run:request("delete_pop3", { sld = d.sld, tld = d.tld, users = chunk })
        if not res and err.kind == "stopped" then
            for _, n in ipairs(chunk) do again[#again + 1] = n end
            break
        end
        local gone = {}
        if res then
            for _, n in ipairs(chunk) do gone[n] = true end
        else
            run:reconciled()
            local now, rerr = self:read()
            if not now then
                for _, n in ipairs(chunk) do
                    self:mailbox(n, "delete", "unknown", reason(err) .. "; could not read back: " .. reason(rerr), tries[n])
                end
                return self:halt("could not read the domain back after a failed DeletePOP3")
            end
            for _, n in ipairs(chunk) do
                if not now.by_name[lower(n)] then gone[n] = true end
            end
        end
        local retry = err and run.retry(err)
        for _, n in ipairs(chunk) do
            if gone[n] then
                freed(self.cur, n)
                self:mailbox(n, "delete", "deleted", nil, tries[n])
            elseif not retry or tries[n] >= policy.attempts then
                self:mailbox(n, "delete", "failed", reason(err), tries[n])
            else
                again[#again + 1] = n
            end
        end
        if #again > 0 then
            run:back_off(round)
        end
    end
end

local function modify(self)
    local d = self.d
    if not self:hold() then
        return
    end
    local res, err = self.run:call_retry("modify_pop3", { sld = d.sld, tld = d.tld, users = d.modify })
    if not res and err.kind == "stopped" then
        return
    end
    for _, m in ipairs(d.modify) do
        self:mailbox(m.username, "modify", res and "modified" or "failed", not res and reason(err) or nil, 1)
    end
end

local function body(run, self)
    local d = self.d
    for _, m in ipairs(d.invalid or {}) do
        self:mailbox(m.username, "create", "invalid", m.reason, 0)
    end
    if not acquire(run, self) then
        return
    end
    local cur, err = self:read()
    if not cur then
        return self:halt("cannot read the domain: " .. reason(err))
    end
    if d.planner then
        -- Planned from this read, under this lease: no second read.
        d = d.planner(cur)
        self.d = d
        for _, m in ipairs(d.invalid or {}) do
            self:mailbox(m.username, "create", "invalid", m.reason, 0)
        end
    end
    for _, n in ipairs(d.keep) do
        self:mailbox(n, "keep", "already_present", nil, 0)
    end
    for _, b in ipairs(d.blocked) do
        self:mailbox(b.username, "create", "blocked", b.reason, 0)
    end
    if #d.delete > 0 then
        delete(self)
    end
    if #d.modify > 0 then
        modify(self)
    end
    if #d.create > 0 and not self.halted then
        local missing = 0
        for _, m in ipairs(d.create) do
            if not self.cur.by_name[lower(m.username)] then missing = missing + 1 end
        end
        local need = min(d.buy, paks.needed(missing, paks.free(self.cur.paks)))
        if need > 0 then
            buy.run(self, need)
        end
        if not self.halted then
            create.run(self)
        end
    end
end

-- One domain, start to end; the lease is released on every way out.
-- When it ends, the next domain waiting for its turn starts.
local function domain_task(run, self, start_next)
    self.shared.active[self] = true
    local ok, err = pcall(body, run, self)
    self.done = true
    if self.renew_task then
        run:wake(self.renew_task)
    end
    if self.lease then
        self.lease:release()
    end
    self.shared.active[self] = nil
    if not ok then
        run.failure = run.failure or err
        -- The message stays out of the records: it may quote a secret.
        run:stop("a callback or hook raised an error (see the report's error)")
    end
    record_rest(self)
    start_next(run)
end

local function lock_key(client, d)
    return "enom:" .. tostring(client.uid) .. ":" .. lower(d.sld .. "." .. d.tld)
end

--- Resolve the `lock` policy option into a locker (or nil, err).
function _M.locker(lock)
    if type(lock) == "table" then
        return lock
    end
    local ok, lease = pcall(require, "enom.lease")
    if not ok then
        return nil, errors.new("invalid", "the lock backend '" .. tostring(lock) .. "' needs enom.lease",
            { option = "lock", maybe_delivered = false })
    end
    local made, locker, err = pcall(lease.new, { backend = lock })
    if not made or not locker then
        return nil, errors.new("invalid", "lock: " .. tostring(made and err or locker),
            { option = "lock", maybe_delivered = false })
    end
    return locker
end

--- Apply `domains` (of a plan) on `run` (an enom.runner), recording into
-- `report`. `passwords` maps "domain\0username" to given passwords.
-- `spend` ({ paks, in_doubt }) counts the run's purchases.
function _M.run(run, domains, passwords, policy, report, locker, spend)
    local shared = { spend = spend or { paks = 0, in_doubt = 0 }, orders = { known = {}, details = {} },
        secrets = {}, active = {} }
    report.secrets = shared.secrets
    -- A bounded number of domains at a time: each holds a lease (a lock
    -- file, a Redis key) and its state while it runs.
    local n = 0
    local function make(r, d)
        return setmetatable({
            run = r, d = d, policy = policy, report = report, passwords = passwords,
            shared = shared, spend = shared.spend, recorded = {},
            locker = locker, key = lock_key(r.client, d),
        }, Domain)
    end
    local function start_next(r)
        n = n + 1
        if domains[n] then
            r:spawn(domain_task, make(r, domains[n]), start_next)
        end
    end
    for _ = 1, math.min(#domains, policy.concurrency * ACTIVE_PER_SLOT) do
        start_next(run)
    end
    local ok, stats = pcall(run.loop, run)
    if ok then
        return stats
    end
    -- The scheduler itself failed: let go of every lease still held and
    -- record what those domains did not reach.
    run.failure = run.failure or stats
    run:stop("the run failed (see the report's error)")
    for dom in pairs(shared.active) do
        dom.done = true
        if dom.lease then
            dom.lease:release()
        end
        record_rest(dom)
    end
    for i = n + 1, #domains do
        record_rest(make(run, domains[i]))
    end
    return run:stats()
end

return _M
