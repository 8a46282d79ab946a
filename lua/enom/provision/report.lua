--- The record of a provisioning run: per mailbox what was intended and
-- what happened, the requests made, retries, time taken. As a Lua table
-- and, when a file is given, as JSON lines. It never holds a password.
local json = require "enom.json"
local clock = require "enom.clock"

local _M = {}
local mt = { __index = _M, __name = "enom.provision.report" }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local sort = table.sort

--- Outcomes: created, already_present, modified, deleted, already_absent,
-- failed, blocked (no slot), not_done (run stopped), unknown (could not
-- confirm: checked by hand before any retry), invalid (refused at plan
-- time, with the reason), conflict (exists, made elsewhere: no password
-- handed out), busy (another run held the domain's lease).
_M.OUTCOMES = { "created", "already_present", "modified", "deleted", "already_absent",
    "failed", "blocked", "not_done", "unknown", "invalid", "conflict", "busy" }

-- `s` with every secret of the run replaced.
local function scrub(s, secrets)
    if type(s) ~= "string" or not secrets then
        return s
    end
    for _, secret in ipairs(secrets) do
        local i, j = s:find(secret, 1, true)
        while i do
            s = s:sub(1, i - 1) .. "***" .. s:sub(j + 1)
            i, j = s:find(secret, i + 3, true)
        end
    end
    return s
end

-- Outcomes that leave the desired state unreached.
local SHORT = { failed = true, blocked = true, not_done = true, unknown = true, invalid = true,
    conflict = true, busy = true }

--- A new report; `path` (optional) receives JSON lines as they happen;
-- `progress` (optional) is called with each record after it is kept.
-- @param path optional file for the JSON lines
-- @param progress optional function(record)
-- @return the report, or nil and an error when the file cannot be opened
function _M.new(path, progress)
    local f
    if path then
        local err
        f, err = io.open(path, "a")
        if not f then
            return nil, err
        end
        f:setvbuf("line")
    end
    return setmetatable({
        mailboxes = {}, events = {}, file = f, path = path, started = clock.now(),
        wall_started = os.time(), progress = progress,
    }, mt)
end

local function write(self, rec)
    if self.file then
        local ok, err = self.file:write(json.encode(rec), "\n")
        if not ok then
            self.write_error = self.write_error or tostring(err)
        end
    end
end

-- The record is kept and written first, so a progress callback that
-- raises loses nothing; its error stops the run (see on_error).
local function tell(self, rec)
    if not self.progress or self.callback_error then
        return
    end
    local ok, err = pcall(self.progress, rec)
    if not ok then
        self.callback_error = err
        if self.on_error then
            self.on_error(err)
        end
    end
end

--- One mailbox's outcome. `extra` may add password = "not_handed_out" or
-- "written_to_file" when on_password failed.
-- @param self the report
-- @param domain the domain, as "example.com"
-- @param username the mailbox's user name
-- @param intended what the plan meant to do: create, modify, delete, keep
-- @param outcome what happened: created, failed, unknown, ...
-- @param reason why, for an outcome other than success (eNom's text or ours)
-- @param attempts how many times the request went out
-- @param extra optional: { password = ... } as said above
function _M.mailbox(self, domain, username, intended, outcome, reason, attempts, extra)
    local rec = { type = "mailbox", domain = domain, username = username, intended = intended,
        outcome = outcome, reason = reason, attempts = attempts, password = extra and extra.password }
    self.mailboxes[#self.mailboxes + 1] = rec
    write(self, rec)
    tell(self, rec)
end

--- A domain-level event (a pak purchase).
-- @param self the report
-- @param domain the domain, as "example.com"
-- @param action what it is about, such as "paks"
-- @param outcome what happened, such as "bought" or "failed"
-- @param detail a short text: how many paks, or why it failed
-- @param attempts how many times the request went out
function _M.event(self, domain, action, outcome, detail, attempts)
    local rec = { type = "event", domain = domain, action = action, outcome = outcome,
        detail = detail, attempts = attempts }
    self.events[#self.events + 1] = rec
    write(self, rec)
    tell(self, rec)
end

--- Close the run with the runner's statistics (requests by command,
-- sent, retries, reconciles, stopped, failure) and `spend` (paks bought,
-- paks in doubt): totals, time taken, the summary line of the file.
-- @param self the report
-- @param stats the runner's statistics
-- @param spend optional: { paks = bought, in_doubt = paks whose purchase is unknown }
function _M.finish(self, stats, spend)
    local counts = {}
    local short = 0
    for _, m in ipairs(self.mailboxes) do
        counts[m.outcome] = (counts[m.outcome] or 0) + 1
        if SHORT[m.outcome] or m.password == "not_handed_out" then
            short = short + 1
        end
    end
    self.counts = counts
    self.requests = stats.requests
    self.sent = stats.sent
    self.retries = stats.retries
    self.reconciles = stats.reconciles
    self.peak = stats.peak
    self.notes = stats.notes or {}
    self.paks_bought = spend and spend.paks or 0
    self.paks_in_doubt = spend and spend.in_doubt or 0
    -- What a callback raised may quote a password: none reaches the report.
    self.stopped = scrub(stats.stopped, self.secrets)
    if stats.failure ~= nil then
        self.error = scrub(tostring(stats.failure), self.secrets)
    end
    self.secrets = nil
    self.seconds = clock.now() - self.started
    -- ok: the desired state was reached; a mailbox blocked for want of a
    -- slot is a shortfall too, even though nothing failed.
    self.ok = not self.stopped and short == 0 and self.paks_in_doubt == 0 and not self.write_error
    write(self, {
        type = "summary", counts = counts, requests = self.requests, sent = self.sent,
        retries = self.retries, reconciles = self.reconciles, paks_bought = self.paks_bought,
        paks_in_doubt = self.paks_in_doubt, stopped = self.stopped, error = self.error, notes = self.notes,
        seconds = self.seconds, ok = self.ok,
    })
    if self.file then
        self.file:close()
        self.file = nil
    end
end

--- Mailboxes with a given outcome.
-- @param self the report
-- @param outcome an outcome, such as "failed"
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
-- @param self the report
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
    for _, n in ipairs(self.notes or {}) do
        lines[#lines + 1] = "NOTE: " .. n
    end
    if (self.paks_in_doubt or 0) > 0 then
        lines[#lines + 1] = ("IN DOUBT: %d pak(s) whose purchase could not be confirmed: check before buying again")
            :format(self.paks_in_doubt)
    end
    if self.stopped then
        lines[#lines + 1] = "STOPPED: " .. self.stopped
    end
    if self.write_error then
        lines[#lines + 1] = "REPORT FILE: " .. self.write_error
    end
    return concat(lines, "\n")
end

mt.__tostring = function(self)
    return "enom.report (" .. #self.mailboxes .. " mailboxes" .. (self.stopped and ", stopped" or "") .. ")"
end

return _M
