--- One domain of a provisioning run, start to end: take the domain's
-- lease, read the domain (GetPOP3), settle what the journal holds open,
-- read the account's price when money is about to be decided, plan from
-- that read (enom.provision.planner), then delete, modify, renew paks,
-- buy paks, create mailboxes and set their forwards (the sibling modules
-- delete, modify, renew, buy, create and forwards), and let go of the
-- lease on every way out.
--
-- A Domain is the state of that one job; the run (enom.provision.run)
-- owns what the domains share: the scheduler, the report, the spending
-- ledger, the order history and the run's failure. The siblings get the
-- Domain and ask it (or its run); they never require this module.
--
-- Every mailbox of the intent gets exactly one record in the report,
-- whatever happens: a domain that stops early (lease busy or lost, a
-- purchase in doubt, the run stopped, a callback that raised) records
-- what it did not reach as `busy`, `not_done` or `unknown`, with the reason.
-- So does every renewal and forward planned (an event, `not_done`).
local planner = require "enom.provision.planner"
local paks = require "enom.provision.paks"
local report = require "enom.provision.report"
local delete = require "enom.provision.delete"
local modify = require "enom.provision.modify"
local buy = require "enom.provision.buy"
local create = require "enom.provision.create"
local inventory = require "enom.provision.inventory"
local renew = require "enom.provision.renew"
local forwards = require "enom.provision.forwards"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local pcall = pcall
local setmetatable = setmetatable
local lower = string.lower
local min = math.min

local reason = report.reason
local errors = require "enom.errors"

local Domain = {}
Domain.__index = Domain
Domain.__name = "enom.provision.domain"

--- A domain job of `run` for `intent` (see enom.provision.planner).
-- @param run the enom.provision.run it belongs to
-- @param intent what is asked of the domain
-- @param key the domain's lease key
function _M.new(run, intent, key)
    local self = setmetatable({
        run = run, sched = run.sched, policy = run.policy, intent = intent, key = key,
        d = nil,          -- the actions, once planned from the domain's read
        cur = nil,        -- the domain as last read
        given = {},       -- passwords the intent gave, by lower-cased name
        recorded = {},    -- lower-cased name -> true once recorded
        tries = {},       -- SetUps sent per lower-cased name
        halted = nil,     -- why the domain stopped, or nil
        rest_outcome = nil,
        lease = nil,
        no_buy = nil,     -- why nothing may be bought (an earlier purchase in doubt), or nil
        secrets = {},     -- the domain's passwords: kept out of what a callback raised
        no_renew = {},    -- bundle id -> why it may not be renewed (an earlier renewal in doubt)
        renewed_earlier = {}, -- bundle id -> true: an earlier run's renewal, settled as done
        outcomes = {},    -- lower-cased name -> the outcome recorded
        evented = {},     -- "renew:<id>", "forward:<lower name>" -> true once recorded
    }, Domain)
    -- Asked by the batch at the moment each request that changes the
    -- domain is handed to the transport: a lease lost meanwhile (Redis
    -- lost its keys, the holder was paused) withdraws the request unsent.
    self.guard = function()
        return self:hold()
    end
    return self
end

function Domain.__tostring(self)
    return "enom.provision.domain (" .. self.intent.domain .. ")"
end

--- Read the domain (GetPOP3); `cur` keeps mailboxes by lower-cased name.
-- Passwords are asked for only to prove ownership after a doubtful SetUp.
-- @return the domain as read, or nil and the error
function Domain.read(self, with_passwords)
    local i = self.intent
    local res, err = self.sched:call_retry("get_pop3",
        { sld = i.sld, tld = i.tld, include_passwords = with_passwords or nil })
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
-- @return true, or nil and an error (never sent: maybe_delivered false)
function Domain.hold(self)
    if self.halted then
        return nil, errors.new("stopped", self.halted, { maybe_delivered = false })
    end
    if self.lease then
        local ok, err = self.lease:check()
        if not ok then
            self:halt("the domain's lease was lost: " .. reason(err))
            self:event("lease", "lost", "requests not yet sent were withdrawn; the rest is recorded not_done")
            return nil, errors.new("stopped", self.halted, { maybe_delivered = false })
        end
    end
    return true
end

--- Write an intent to the run's journal under this domain's lease.
-- @return true, or nil and an error (then do not act on it)
function Domain.journal_open(self, entry, sync)
    local j = self.run.journal
    if not j then
        return true
    end
    return j:open(self.key, entry, self.lease, sync)
end

--- Strike an intent off the journal; a failure to do so is recorded (the
-- next run settles the intent again, which is harmless).
function Domain.journal_close(self, entry)
    local j = self.run.journal
    if not j or not entry.id then
        return true
    end
    local ok, err = j:close(self.key, entry.id, self.lease)
    if not ok then
        self:event("journal", "failed", "could not strike off an intent: " .. reason(err))
    end
    return ok
end

--- Write an intent again (a field of it changed).
function Domain.journal_update(self, entry, sync)
    local j = self.run.journal
    if not j or not entry.id then
        return true
    end
    return j:update(self.key, entry, self.lease, sync)
end

--- Keep a password of this domain out of the run's failure text.
function Domain.secret(self, pw)
    self.secrets[#self.secrets + 1] = pw
end

--- Fail the run from this domain (a callback raised `err`): the text
-- kept is free of the domain's passwords.
function Domain.fail(self, err, why)
    self.run:fail(err, why, self.secrets)
end

--- Stop this domain: what is left is recorded `outcome` (not_done).
function Domain.halt(self, why, outcome)
    if not self.halted then
        self.halted = why
        self.rest_outcome = outcome or "not_done"
    end
end

--- Record one mailbox's outcome, once per name: the first record of a
-- name stands (a mailbox made by an earlier run and settled from the
-- journal is not recorded again as one already present).
function Domain.mailbox(self, username, intended, outcome, why, attempts, extra)
    local key = lower(username)
    if self.recorded[key] then
        return
    end
    self.recorded[key] = true
    self.outcomes[key] = outcome
    self.run:record(self.intent.domain, username, intended, outcome, why, attempts, extra)
end

--- Record a domain event (a pak purchase, a renewal, a forward) with its
-- own `fields` (see enom.provision.report.event).
function Domain.event(self, action, outcome, detail, attempts, fields)
    if fields and fields.bundle_id ~= nil then
        self.evented[action .. ":" .. tostring(fields.bundle_id)] = true
    elseif fields and fields.username then
        self.evented[action .. ":" .. lower(fields.username)] = true
    end
    self.run:event(self.intent.domain, action, outcome, detail, attempts, fields)
end

--- A slot of a deleted mailbox is free again: no read needed to use it.
function Domain.freed(self, name)
    local cur = self.cur
    local m = cur.by_name[lower(name)]
    if not m then
        return
    end
    cur.by_name[lower(name)] = nil
    for _, p in ipairs(cur.paks) do
        if p.bundle_id == m.bundle_id then
            p.free = (p.free or 0) + 1
            return
        end
    end
end

-- What the domain would do, for records made before it was planned:
-- the saved plan's lists, or every wanted mailbox as one to create.
local function actions(self)
    if self.d then
        return self.d
    end
    local planned = self.intent.planned
    if planned then
        return planned
    end
    return { keep = {}, modify = {}, delete = {}, blocked = {}, invalid = {}, create = self.intent.mailboxes,
        renew = self.intent.renew_paks or {}, forwards = {}, unplanned = true }
end

--- Record everything not yet recorded as `rest_outcome` (not_done): the
-- domain stopped before reaching it.
function Domain.record_rest(self)
    local d = actions(self)
    local outcome = self.rest_outcome or "not_done"
    local why = self.halted or self.sched.stopped or "not reached"
    for _, m in ipairs(d.invalid) do
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
        self:mailbox(m.username, "create", outcome, why, self.tries[lower(m.username)] or 0)
    end
    for _, b in ipairs(d.blocked) do
        self:mailbox(b.username, "create", outcome == "busy" and "busy" or "blocked",
            outcome == "busy" and why or b.reason, 0)
    end
    for _, r in ipairs(d.renew or {}) do
        if not self.evented["renew:" .. tostring(r.bundle_id)] then
            self:event("renew", "not_done", why, 0, { bundle_id = r.bundle_id, years = r.years, expires = r.expires })
        end
    end
    if d.unplanned and self.policy.renew then
        -- Never planned: which paks were in the window is not known.
        self:event("renew", "not_done", why .. " (the paks expiring within " .. self.policy.renew.within_days
            .. " days were not looked at)", 0)
    end
    for _, f in ipairs(d.forwards or {}) do
        if not self.evented["forward:" .. lower(f.username)] then
            self:event("forward", "not_done", why, 0, { username = f.username, forward_to = f.forward_to })
        end
    end
end

-- Keeps the lease alive while the domain works, long requests included.
local function renewer(sched, self)
    local every = self.policy.lease_ttl / 3
    while not self.done do
        sched:sleep(every)
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

local function acquire(self)
    local locker = self.run.locker
    if not locker then
        return true
    end
    local p, sched = self.policy, self.sched
    local l, err = locker:acquire(self.key, {
        ttl = p.lease_ttl, wait = p.lease_wait, sleep = function(s) sched:sleep(s) end,
    })
    local busy = not l and type(err) == "table" and err.kind == "busy"
    self.run:leased(l and "granted" or busy and "busy" or "error")
    if not l then
        if busy then
            self:halt(("busy: another run holds the domain (waited %g s)"):format(p.lease_wait), "busy")
        else
            self:halt("cannot take the domain's lease: " .. reason(err))
        end
        return false
    end
    self.lease = l
    self.renew_task = sched:spawn(renewer, self)
    return true
end

-- Plan from the read, under the lease: no second read. The account's
-- price is read first (once per run) when max_spend must count money the
-- domain is about to spend and no pak_price was given.
local function plan(self)
    local run, p = self.run, self.policy
    if p.max_spend and not run.budget.price and planner.spends(self.intent, self.cur, p, run.budget.now) then
        local _, err = run:price()
        if err then
            self:event("price", "failed", "cannot read the account's price (PE_GetPOPPrice): " .. reason(err)
                .. "; max_spend lets nothing be bought or renewed")
        end
    end
    local client = run.client
    local d, given = planner.domain(self.intent, self.cur, p, run.budget,
        { password_rule = client.password_rule, uid = client.uid })
    self.d, self.given = d, given
    for _, pw in pairs(given) do
        self:secret(pw)
    end
end

-- Settle what runs that stopped left open in the journal, before this
-- run acts: their purchases (bought or not) and their mailboxes (made,
-- and whose password to hand out, or not). Returns false when the
-- journal cannot be read: nothing is done on the domain then.
local function recover(self, entries)
    for _, e in ipairs(entries) do
        if e.kind == "purchase" then
            if not buy.recover(self, e) then
                self.no_buy = "an earlier run's purchase is still in doubt"
            end
        elseif e.kind == "create" then
            create.recover(self, e)
        elseif e.kind == "renew" then
            renew.recover(self, e)
        end
    end
end

-- The paks to buy before creating: what the planned creates lack beyond
-- the free slots and those the planned deletes free (the planner's count
-- bounds it).
local function paks_to_buy(self)
    local d, by_name = self.d, self.cur.by_name
    local missing, freed = 0, 0
    for _, m in ipairs(d.create) do
        if not by_name[lower(m.username)] then missing = missing + 1 end
    end
    for _, n in ipairs(d.delete) do
        if by_name[lower(n)] then freed = freed + 1 end
    end
    return min(d.buy, paks.needed(missing, paks.free(self.cur.paks) + freed))
end

-- A saved plan's domain with nothing to do (only mailboxes to keep, or
-- invalid ones), planned less than `fresh_plan` seconds ago: the plan's
-- read stands, the domain is not read again.
local function planned_idle(self)
    local planned, at = self.intent.planned, self.intent.planned_at
    if not planned or type(at) ~= "number" or os.time() - at >= self.policy.fresh_plan then
        return false
    end
    return (planned.buy or 0) == 0 and #planned.create == 0 and #planned.modify == 0 and #planned.delete == 0
        and #planned.blocked == 0 and #(planned.renew or {}) == 0 and #(planned.renew_blocked or {}) == 0
        and #(planned.forwards or {}) == 0
end

local function body(self)
    local inv = self.run.inventory
    if inv and inventory.idle(inv, self.intent, self.policy) then
        -- Nothing wanted, nothing to delete or renew: not read.
        self.run.idle = self.run.idle + 1
        return
    end
    if planned_idle(self) then
        local d = self.intent.planned
        for _, m in ipairs(d.invalid) do
            self:mailbox(m.username, "create", "invalid", m.reason, 0)
        end
        for _, n in ipairs(d.keep) do
            self:mailbox(n, "keep", "already_present", nil, 0)
        end
        return
    end
    if not acquire(self) then
        return
    end
    local entries = {}
    if self.run.journal then
        local jerr
        entries, jerr = self.run.journal:entries(self.key)
        if not entries then
            return self:halt("cannot read the journal: " .. reason(jerr))
        end
    end
    local creating = false
    for _, e in ipairs(entries) do
        creating = creating or e.kind == "create"
    end
    -- Passwords are read only to prove whose a mailbox is.
    local cur, err = self:read(creating)
    if not cur then
        if err.kind ~= "stopped" then
            self.run:unreachable(self.intent.domain, err)
        end
        return self:halt("cannot read the domain: " .. reason(err))
    end
    recover(self, entries)
    if creating then
        for _, m in ipairs(self.cur.mailboxes) do
            m.password = nil
        end
    end
    if self.halted then
        return
    end
    plan(self)
    local d = self.d
    for _, m in ipairs(d.invalid) do
        self:mailbox(m.username, "create", "invalid", m.reason, 0)
    end
    for _, n in ipairs(d.keep) do
        self:mailbox(n, "keep", "already_present", nil, 0)
    end
    for _, b in ipairs(d.blocked) do
        self:mailbox(b.username, "create", "blocked", b.reason, 0)
    end
    -- Deletes, modifies and the purchase touch different things: they go
    -- at once. Creates wait for all three (deletes free slots, the
    -- purchase adds them).
    local steps = {}
    if #d.delete > 0 then
        steps[#steps + 1] = function() delete.all(self) end
    end
    if #d.modify > 0 then
        steps[#steps + 1] = function()
            if self:hold() then modify.all(self) end
        end
    end
    -- The money: renewals, then the purchase, in the order the planner
    -- gave them the budget.
    local renewing = #d.renew + #d.renew_blocked + #d.renew_refused > 0
    local need = #d.create > 0 and paks_to_buy(self) or 0
    if need > 0 and self.no_buy then
        self:event("paks", "failed", ("%d pak(s) not bought: %s"):format(need, self.no_buy))
        need = 0
    end
    if renewing or need > 0 then
        steps[#steps + 1] = function()
            if renewing then
                renew.all(self)
            end
            if need > 0 and not self.halted then
                buy.paks(self, need)
            end
        end
    end
    if #steps == 1 then
        steps[1]()
    elseif #steps > 1 then
        self.sched:join(steps)
    end
    if #d.create > 0 and not self.halted then
        create.all(self)
    end
    if #d.forwards > 0 then
        forwards.all(self)
    end
end

--- The job, as a task of the run's scheduler: the lease is released on
-- every way out and every mailbox is recorded. What a callback or hook
-- raised fails the run (the message stays out of the records: it may
-- quote a secret).
function Domain.execute(self)
    local ok, err = pcall(body, self)
    self:finish()
    if not ok then
        self:fail(err, "a callback or hook raised an error (see the report's error)")
    end
    self:record_rest()
end

--- Let go of the lease and stop the renewer. Safe twice.
function Domain.finish(self)
    self.done = true
    if self.renew_task then
        self.sched:wake(self.renew_task)
    end
    if self.lease and self.run.journal then
        self.run.journal:compact(self.key, self.lease)
    end
    if self.lease then
        self.lease:release()
        self.lease = nil
    end
end

return _M
