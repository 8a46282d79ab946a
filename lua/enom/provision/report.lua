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

--- A failure as one line for a report: eNom's own texts when it gave
-- some, else the error's message.
-- @param err an error value, or any value
-- @return the line
function _M.reason(err)
    if type(err) == "table" and err.errors and #err.errors > 0 then
        return concat(err.errors, "; ")
    end
    return tostring(type(err) == "table" and err.message or err)
end

-- Outcomes that leave the desired state unreached.
local SHORT = { failed = true, blocked = true, not_done = true, unknown = true, invalid = true,
    conflict = true, busy = true }

-- In a report that keeps what fell short only ("short"), at most this
-- many records of each list stay in memory; every record still goes to
-- the file and the progress callback.
local KEPT_SHORT = 1000
_M.KEPT_SHORT = KEPT_SHORT

--- Events of a pak renewal (action "renew"): renewed, settled (an earlier
-- run's renewal found done or not done), blocked (the spending cap),
-- refused (not a pak of the domain), failed, unknown (in doubt: open in
-- the journal), not_done. Of a mailbox's forward (action "forward"):
-- set (forwarding now), pending (waiting for its recipient's approval),
-- already_set, removed, already_absent, failed, unknown, not_done. A
-- pending forward is not a shortfall: the run can do nothing more for it.
_M.EVENT_OUTCOMES = {
    renew = { "renewed", "settled", "blocked", "refused", "failed", "unknown", "not_done" },
    forward = { "set", "pending", "already_set", "removed", "already_absent", "failed", "unknown", "not_done" },
}

-- Events whose outcome leaves the desired state unreached.
local SHORT_EVENTS = {
    renew = { blocked = true, refused = true, failed = true, unknown = true, not_done = true },
    forward = { failed = true, unknown = true, not_done = true },
}

--- An error value as fields a record may carry (no message: it may quote
-- what a caller passed): kind, response_number, category, eNom's texts,
-- hint and TrackingKey, enough for a program to decide by.
-- @param err an error value (anything else gives nil)
-- @return the fields, or nil
function _M.error_fields(err)
    if type(err) ~= "table" then
        return nil
    end
    return { kind = err.kind, response_number = err.response_number, category = err.category,
        errors = err.errors, hint = err.hint, tracking_key = err.tracking_key }
end

--- A new report; `path` (optional) receives JSON lines as they happen;
-- `progress` (optional) is called with each record after it is kept.
-- `keep`: "all" (every record stays in `mailboxes` and `events`, the
-- default) or "short" (a streamed run: counts of everything, and only
-- the records that fell short, up to KEPT_SHORT of each list).
-- @param path optional file for the JSON lines
-- @param progress optional function(record)
-- @param keep optional "all" or "short"
-- @return the report, or nil and an error when the file cannot be opened
function _M.new(path, progress, keep)
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
        mailboxes = {}, events = {}, unreachable = {}, run_notes = {}, file = f, path = path, started = clock.now(),
        wall_started = os.time(), progress = progress, keep = keep or "all",
        counts = {},        -- mailboxes by outcome, as they are recorded
        event_counts = {},  -- events by action and outcome: { renew = { renewed = 2 } }
        total = 0,          -- mailbox records made
        short = 0,          -- of which fell short of the desired state
        unread = 0,         -- domains that could not be read
        dropped = 0,        -- records not kept in memory ("short")
    }, mt)
end

-- Keep `rec` in `list` unless the report keeps only what fell short and
-- `rec` did not, or that list is full.
local function keep(self, list, rec, fell_short)
    if self.keep == "all" or (fell_short and #list < KEPT_SHORT) then
        list[#list + 1] = rec
    else
        self.dropped = self.dropped + 1
    end
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
-- raises loses nothing. What it raised is returned (once), for the run
-- to stop on.
local function tell(self, rec)
    if not self.progress or self.callback_error ~= nil then
        return true
    end
    local ok, err = pcall(self.progress, rec)
    if not ok then
        self.callback_error = err
        return nil, err
    end
    return true
end

--- One mailbox's outcome. `extra` may add password = "not_handed_out" or
-- "written_to_file" when on_password failed, and tracking_key: eNom's
-- TrackingKey of the answer that decided it (quote it to eNom's support).
-- @return true, or nil and what the progress callback raised
-- @param self the report
-- @param domain the domain, like example.com
-- @param username the mailbox's user name
-- @param intended what was to be done: create, keep, modify, delete
-- @param outcome what happened (see OUTCOMES)
-- @param reason why, for an outcome short of the intended one (or nil)
-- @param attempts how many requests it took
-- @param extra optional { password, tracking_key }
function _M.mailbox(self, domain, username, intended, outcome, reason, attempts, extra)
    local rec = { type = "mailbox", domain = domain, username = username, intended = intended,
        outcome = outcome, reason = reason, attempts = attempts, password = extra and extra.password,
        tracking_key = extra and extra.tracking_key }
    local fell_short = SHORT[outcome] or rec.password == "not_handed_out"
    self.counts[outcome] = (self.counts[outcome] or 0) + 1
    self.total = self.total + 1
    if fell_short then
        self.short = self.short + 1
    end
    keep(self, self.mailboxes, rec, fell_short)
    write(self, rec)
    return tell(self, rec)
end

--- A domain-level event (a pak purchase, a renewal, a forward).
-- `fields` (optional) adds the event's own values: tracking_key (eNom's
-- TrackingKey of the answer that decided it); bundle_id, years, expires,
-- new_expires, order_id of a renewal; username, forward_to of a forward;
-- `error` (see `error_fields`) of a failure.
-- @return true, or nil and what the progress callback raised
-- @param self the report
-- @param domain the domain, like example.com
-- @param action what it was about: paks, renew, forward, read, lease, journal
-- @param outcome what happened: bought, failed, unknown, ...
-- @param detail a line saying more (or nil)
-- @param attempts how many requests it took (or nil)
-- @param fields the event's own values (or nil)
function _M.event(self, domain, action, outcome, detail, attempts, fields)
    local rec = { type = "event", domain = domain, action = action, outcome = outcome,
        detail = detail, attempts = attempts }
    for k, v in pairs(fields or {}) do
        if rec[k] == nil then
            rec[k] = v
        end
    end
    local by = self.event_counts[action]
    if not by then
        by = {}
        self.event_counts[action] = by
    end
    by[outcome] = (by[outcome] or 0) + 1
    local short_event = SHORT_EVENTS[action] and SHORT_EVENTS[action][outcome]
    if short_event then
        self.short = self.short + 1
    end
    keep(self, self.events, rec, short_event or (not SHORT_EVENTS[action] and outcome ~= "bought"
        and outcome ~= "settled"))
    write(self, rec)
    return tell(self, rec)
end

--- A note for the whole run (a reason every domain shares), kept once.
-- @param self the report
-- @param text the note
function _M.note(self, text)
    for _, n in ipairs(self.run_notes) do
        if n == text then
            return
        end
    end
    self.run_notes[#self.run_notes + 1] = text
end

--- A domain that could not be read: an event record, and the error
-- value kept in `unreachable` (in Lua only) for a caller that decides by
-- its kind (the command line's exit status).
-- @return true, or nil and what the progress callback raised
-- @param self the report
-- @param domain the domain, like example.com
-- @param err the error of the read
function _M.could_not_read(self, domain, err)
    self.unread = self.unread + 1
    if self.keep == "all" or #self.unreachable < KEPT_SHORT then
        self.unreachable[#self.unreachable + 1] = { domain = domain, error = err }
    end
    return _M.event(self, domain, "read", "failed", _M.reason(err), nil,
        type(err) == "table" and { tracking_key = err.tracking_key } or nil)
end

--- Close the report with the scheduler's statistics (requests by
-- command, sent, retries, reconciles, rate_limit_wait; the run adds
-- leases = { backend, granted, busy, error } and pak_price), `spend` (paks bought, paks in
-- doubt), why the run stopped and what failed it (both already free of
-- secrets): totals, time taken, the summary line of the file.
-- @param self the report
-- @param stats the scheduler's statistics
-- @param spend { paks, in_doubt }
-- @param stopped why the run stopped, or nil
-- @param failure what failed the run, as text, or nil
function _M.finish(self, stats, spend, stopped, failure)
    local short = self.short
    self.requests = stats.requests
    self.sent = stats.sent
    self.retries = stats.retries
    self.reconciles = stats.reconciles
    self.peak = stats.peak
    self.notes = {}
    for _, n in ipairs(stats.notes or {}) do
        self.notes[#self.notes + 1] = n
    end
    for _, n in ipairs(self.run_notes) do
        self.notes[#self.notes + 1] = n
    end
    self.paks_bought = spend and spend.paks or 0
    self.paks_in_doubt = spend and spend.in_doubt or 0
    self.paks_renewed = spend and spend.renewed or 0
    -- Money spent on paks bought and pak-years renewed, when the price
    -- per pak and year is known (policy pak_price, or eNom's
    -- PE_GetPOPPrice when the run read it).
    local years = self.paks_bought + (spend and spend.renewed_years or 0)
    self.spend = stats.pak_price and years * stats.pak_price or nil
    self.leases = stats.leases
    self.rate_limit_wait = stats.rate_limit_wait
    self.renewals_in_doubt = spend and spend.renewals_in_doubt or 0
    self.stopped = stopped
    self.error = failure
    self.seconds = clock.now() - self.started
    -- ok: the desired state was reached; a mailbox blocked for want of a
    -- slot is a shortfall too, even though nothing failed.
    self.ok = not self.stopped and short == 0 and self.paks_in_doubt == 0 and self.renewals_in_doubt == 0
        and not self.write_error and self.unread == 0 and not failure
    write(self, _M.summary(self))
    if self.file then
        self.file:close()
        self.file = nil
    end
end

--- The summary record of a finished report (the file's last line):
-- counts by outcome, requests, retries, read-backs, paks bought and in
-- doubt, money spent (when the pak's price was known), leases, time
-- waited for the rate limit, why it stopped, what failed it, notes,
-- seconds, ok.
-- @param self the report, finished
-- @return { type = "summary", ... }
function _M.summary(self)
    return {
        type = "summary", counts = self.counts, requests = self.requests, sent = self.sent,
        retries = self.retries, reconciles = self.reconciles, paks_bought = self.paks_bought,
        paks_in_doubt = self.paks_in_doubt, paks_renewed = self.paks_renewed,
        renewals_in_doubt = self.renewals_in_doubt, events = self.event_counts, spend = self.spend,
        leases = self.leases, rate_limit_wait = self.rate_limit_wait, stopped = self.stopped, error = self.error,
        notes = self.notes, seconds = self.seconds, ok = self.ok,
    }
end

--- Mailboxes with a given outcome (of the records kept: a report that
-- keeps what fell short only has no "created" ones).
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

--- Events with a given action and outcome (outcome nil: any), such as
-- `report:events_with("forward", "pending")` (of the events kept: see `new`).
-- @param self the report
-- @param action renew, forward, paks, read, ...
-- @param outcome an outcome of that action, or nil for any
-- @return an array of event records
function _M.events_with(self, action, outcome)
    local out = {}
    for _, e in ipairs(self.events) do
        if e.action == action and (outcome == nil or e.outcome == outcome) then
            out[#out + 1] = e
        end
    end
    return out
end

--- The report as readable text. `shown` (optional) escapes text that
-- came from outside (names from a file, eNom's texts) for a terminal.
-- @param self the report
-- @param shown optional: a function that makes outside text safe to print
-- @return the text
function _M.format(self, shown)
    shown = shown or tostring
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
    if self.keep ~= "all" then
        -- Per domain only from the file: what is kept is what fell short.
        order = {}
    end
    for _, d in ipairs(order) do
        local parts = {}
        for _, o in ipairs(_M.OUTCOMES) do
            if by_domain[d][o] then
                parts[#parts + 1] = o .. " " .. by_domain[d][o]
            end
        end
        lines[#lines + 1] = shown(d) .. ": " .. concat(parts, ", ")
    end
    -- eNom's TrackingKey, for its support, where an answer carried one.
    local function tracked(r)
        return r.tracking_key and (" [eNom TrackingKey " .. shown(r.tracking_key) .. "]") or ""
    end
    for _, m in ipairs(self.mailboxes) do
        if m.reason and m.outcome ~= "already_present" then
            lines[#lines + 1] = ("  %s@%s %s: %s%s"):format(shown(m.username), shown(m.domain), m.outcome,
                shown(m.reason), tracked(m))
        end
    end
    for _, e in ipairs(self.events) do
        lines[#lines + 1] = ("  %s: %s %s%s%s"):format(shown(e.domain), e.action, e.outcome,
            e.detail and (" (" .. shown(e.detail) .. ")") or "", tracked(e))
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
    if self.rate_limit_wait then
        lines[#lines + 1] = ("rate limit: requests held back %.1f s in all"):format(self.rate_limit_wait)
    end
    for _, n in ipairs(self.notes or {}) do
        lines[#lines + 1] = "NOTE: " .. n
    end
    if (self.paks_renewed or 0) > 0 then
        lines[#lines + 1] = ("renewed: %d pak(s)"):format(self.paks_renewed)
    end
    local pending = self.event_counts and self.event_counts.forward and self.event_counts.forward.pending or 0
    if pending > 0 then
        lines[#lines + 1] = ("PENDING: %d forward(s) wait for their recipients' approval (eNom asks them by e-mail; "
            .. "a request expires after 24 hours)"):format(pending)
    end
    if (self.renewals_in_doubt or 0) > 0 then
        lines[#lines + 1] = ("IN DOUBT: %d pak renewal(s) could not be confirmed: check before renewing again")
            :format(self.renewals_in_doubt)
    end
    if (self.paks_in_doubt or 0) > 0 then
        lines[#lines + 1] = ("IN DOUBT: %d pak(s) whose purchase could not be confirmed: check before buying again")
            :format(self.paks_in_doubt)
    end
    if self.stopped then
        lines[#lines + 1] = "STOPPED: " .. shown(self.stopped)
    end
    if self.error then
        lines[#lines + 1] = "ERROR: " .. shown(self.error)
    end
    if self.dropped > 0 then
        lines[#lines + 1] = ("%d record(s) are not kept in memory%s"):format(self.dropped,
            self.path and ("; every record is in " .. shown(self.path)) or "")
    end
    if self.write_error then
        lines[#lines + 1] = "REPORT FILE: " .. self.write_error
    end
    return concat(lines, "\n")
end

mt.__tostring = function(self)
    return "enom.report (" .. self.total .. " mailboxes" .. (self.stopped and ", stopped" or "") .. ")"
end

return _M
