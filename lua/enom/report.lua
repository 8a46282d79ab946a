--- The record of a provisioning run: per mailbox what was intended and
-- what happened, the requests made, retries, time taken. As a Lua table
-- and, when a file is given, as JSON lines. It never holds a password.
local json = require "enom.json"
local clock = require "enom.clock"

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M, __name = "enom.report" }

local pairs = pairs
local ipairs = ipairs
local concat = table.concat
local sort = table.sort

--- Outcomes: created, already_present, modified, deleted, already_absent,
-- failed, blocked (no slot), not_done (run stopped), unknown (could not
-- confirm: checked by hand before any retry).
_M.OUTCOMES = { "created", "already_present", "modified", "deleted", "already_absent",
    "failed", "blocked", "not_done", "unknown" }

function _M.new(path)
    local f
    if path then
        f = assert(io.open(path, "a"))
        f:setvbuf("line")
    end
    return setmetatable({
        mailboxes = {}, events = {}, file = f, path = path, started = clock.now(),
        wall_started = os.time(),
    }, mt)
end

local function write(self, rec)
    if self.file then
        self.file:write(json.encode(rec), "\n")
    end
end

--- One mailbox's outcome.
function _M.mailbox(self, domain, username, intended, outcome, reason, attempts)
    local rec = { type = "mailbox", domain = domain, username = username, intended = intended,
        outcome = outcome, reason = reason, attempts = attempts }
    self.mailboxes[#self.mailboxes + 1] = rec
    write(self, rec)
end

--- A domain-level event (a pak purchase).
function _M.event(self, domain, action, outcome, detail, attempts)
    local rec = { type = "event", domain = domain, action = action, outcome = outcome,
        detail = detail, attempts = attempts }
    self.events[#self.events + 1] = rec
    write(self, rec)
end

--- Close the run: totals, requests by command, time taken.
function _M.finish(self, run)
    local counts = {}
    for _, m in ipairs(self.mailboxes) do
        counts[m.outcome] = (counts[m.outcome] or 0) + 1
    end
    self.counts = counts
    self.requests = run.stats.requests
    self.sent = run.stats.sent
    self.retries = run.stats.retries
    self.reconciles = run.stats.reconciles
    self.paks_bought = run.stats.paks_bought
    self.stopped = run.stopped
    self.seconds = clock.now() - self.started
    -- ok: the desired state was reached; a mailbox blocked for want of a
    -- slot is a shortfall too, even though nothing failed.
    self.ok = not run.stopped and (counts.failed or 0) == 0 and (counts.unknown or 0) == 0
        and (counts.not_done or 0) == 0 and (counts.blocked or 0) == 0
    write(self, {
        type = "summary", counts = counts, requests = self.requests, sent = self.sent,
        retries = self.retries, reconciles = self.reconciles, paks_bought = self.paks_bought,
        stopped = self.stopped, seconds = self.seconds, ok = self.ok,
    })
    if self.file then
        self.file:close()
        self.file = nil
    end
end

--- Mailboxes with a given outcome.
function _M.with(self, outcome)
    local out = {}
    for _, m in ipairs(self.mailboxes) do
        if m.outcome == outcome then
            out[#out + 1] = m
        end
    end
    return out
end

--- The report as readable text.
function _M.format(self)
    local lines = {}
    local by_domain, order = {}, {}
    for _, m in ipairs(self.mailboxes) do
        if not by_domain[m.domain] then
            by_domain[m.domain] = {}
            order[#order + 1] = m.domain
        end
        local t = by_domain[m.domain]
        t[m.outcome] = (t[m.outcome] or 0) + 1
    end
    for _, d in ipairs(order) do
        local parts = {}
        for _, o in ipairs(_M.OUTCOMES) do
            if by_domain[d][o] then
                parts[#parts + 1] = o .. " " .. by_domain[d][o]
            end
        end
        lines[#lines + 1] = d .. ": " .. concat(parts, ", ")
    end
    for _, m in ipairs(self.mailboxes) do
        if m.reason and m.outcome ~= "already_present" then
            lines[#lines + 1] = ("  %s@%s %s: %s"):format(m.username, m.domain, m.outcome, m.reason)
        end
    end
    for _, e in ipairs(self.events) do
        lines[#lines + 1] = ("  %s: %s %s%s"):format(e.domain, e.action, e.outcome, e.detail and (" (" .. e.detail .. ")") or "")
    end
    local parts = {}
    for _, o in ipairs(_M.OUTCOMES) do
        if self.counts and self.counts[o] then
            parts[#parts + 1] = o .. " " .. self.counts[o]
        end
    end
    local reqs = {}
    for k, v in pairs(self.requests or {}) do
        reqs[#reqs + 1] = k .. "=" .. v
    end
    sort(reqs)
    lines[#lines + 1] = "total: " .. concat(parts, ", ")
    lines[#lines + 1] = ("requests: %d (%s), retries %d, read-backs %d, paks bought %d, %.1f s")
        :format(self.sent or 0, concat(reqs, " "), self.retries or 0, self.reconciles or 0,
            self.paks_bought or 0, self.seconds or 0)
    if self.stopped then
        lines[#lines + 1] = "STOPPED: " .. self.stopped
    end
    return concat(lines, "\n")
end

mt.__tostring = function(self)
    return "enom.report (" .. #self.mailboxes .. " mailboxes" .. (self.stopped and ", stopped" or "") .. ")"
end

return _M
