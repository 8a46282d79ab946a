--- Renewing POP paks, never twice; and eNom's expiry dates.
--
-- A pak renews (RenewPOPBundle: its id and a number of years) when the
-- run's policy asks for the paks expiring within a window (`renew = {
-- within_days = 30, years = 1 }`, see enom.provision.policy) or a caller
-- names it (`provision.renew_pak`). The planner (enom.provision.planner)
-- picks the paks from the domain's own read (GetPOP3), under its lease,
-- so a pak of another domain is never one of them; this module sends.
--
-- A renewal costs what a purchase does, and eNom gives it no idempotency
-- key either, so it goes through the purchases' order step
-- (enom.provision.buy's `send`, `watch`, `window_end`): the intent goes to the journal (flushed to the disk) before the request
-- leaves; the request is checked against the domain's lease when it is
-- handed to the transport; an answer that was lost is settled, never
-- repeated: the domain is read back and a pak whose expiry moved is
-- renewed. eNom's order history only ever keeps a renewal in doubt (a
-- renewal order seen there) or lets it go (none, and the expiry has not
-- moved when the settle window ends). A renewal still in doubt stays
-- open in the journal and counts against the run's max_spend; the pak is
-- not renewed again, by this run or a later one, until it is settled
-- (`enom journal settle`) or an operator clears it.
--
-- Once renewed, a pak's expiry lies a year or more ahead: outside any
-- window the policy accepts (within_days is below 365 x years), so the
-- next run, or one that waited for this one's lease, leaves it alone.
local buy = require "enom.provision.buy"
local orders = require "enom.provision.orders"
local report = require "enom.provision.report"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local match = string.match
local upper = string.upper
local sort = table.sort
local floor = math.floor

local reason = report.reason

local DAY = 86400
_M.DAY = DAY

-- ---- dates ----------------------------------------------------------------

local DAYS_IN = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function leap(y)
    return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)
end

-- Days from 1970-01-01 to a civil date (proleptic Gregorian).
local function days_from_civil(y, m, d)
    if m <= 2 then
        y = y - 1
    end
    local era = floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

local function valid_day(y, m, d)
    if m < 1 or m > 12 or d < 1 then
        return false
    end
    local last = DAYS_IN[m] + ((m == 2 and leap(y)) and 1 or 0)
    return d <= last
end

--- An eNom date as seconds since the epoch. eNom writes "11/6/2015"
-- (GetPOP3's Text) and "5/3/2010 2:14:59 AM" (its XML, GetPOPExpirations);
-- ISO 8601 dates ("2031-02-05", "2031-02-05T10:00:00") are read too. eNom
-- says nothing of a time zone (its answers carry a TimeDifference): the
-- time is taken as UTC, which a window counted in days does not notice.
-- @param s the date as eNom sent it
-- @return seconds, or nil when `s` is not such a date
function _M.parse_date(s)
    if type(s) ~= "string" then
        return nil
    end
    local y, m, d, rest
    local mm, dd, yy, r = match(s, "^%s*(%d%d?)/(%d%d?)/(%d%d%d%d)(.-)%s*$")
    if mm then
        y, m, d, rest = tonumber(yy), tonumber(mm), tonumber(dd), r
    else
        yy, mm, dd, r = match(s, "^%s*(%d%d%d%d)%-(%d%d)%-(%d%d)(.-)%s*$")
        if not yy then
            return nil
        end
        y, m, d, rest = tonumber(yy), tonumber(mm), tonumber(dd), r
    end
    if not valid_day(y, m, d) then
        return nil
    end
    local hour, minute, sec = 0, 0, 0
    if rest ~= "" then
        local h, mi, se, ampm = match(rest, "^[%sT](%d%d?):(%d%d):?(%d?%d?)%s*(%a*)$")
        if not h then
            return nil
        end
        hour, minute, sec = tonumber(h), tonumber(mi), tonumber(se) or 0
        ampm = upper(ampm)
        if ampm == "AM" or ampm == "PM" then
            if hour < 1 or hour > 12 then
                return nil
            end
            hour = hour % 12 + (ampm == "PM" and 12 or 0)
        elseif ampm ~= "" and ampm ~= "Z" then
            return nil
        end
        if hour > 23 or minute > 59 or sec > 60 then
            return nil
        end
    end
    return days_from_civil(y, m, d) * DAY + hour * 3600 + minute * 60 + sec
end
local parse_date = _M.parse_date

--- Has a pak's expiry moved on from `before` to `now` (a renewal took)?
-- Dates that cannot be read count as moved when their text changed: a
-- renewal taken for done is never paid twice.
function _M.moved(before, now)
    local a, b = parse_date(before), parse_date(now)
    if a and b then
        return b > a
    end
    return type(now) == "string" and now ~= "" and now ~= before
end

--- The paks of `list` (records with `expires`, as GetPOP3's paks and
-- GetPOPExpirations' records) that expire within `within_days` of `now`
-- (already expired ones included), soonest first.
-- @param list the paks
-- @param within_days the window, in days
-- @param now seconds since the epoch (default: now)
-- @return an array of { pak = record, expires_at = seconds, days_left =
--   whole days (negative once expired) }, and the paks whose expiry could
--   not be read (never taken for in or out of the window)
function _M.expiring(list, within_days, now)
    now = now or os.time()
    local limit = now + within_days * DAY
    local out, unreadable = {}, {}
    for _, p in ipairs(list or {}) do
        local at = parse_date(p.expires)
        if not at then
            unreadable[#unreadable + 1] = p
        elseif at <= limit then
            out[#out + 1] = { pak = p, expires_at = at, days_left = floor((at - now) / DAY) }
        end
    end
    sort(out, function(a, b)
        if a.expires_at ~= b.expires_at then
            return a.expires_at < b.expires_at
        end
        return (tonumber(a.pak.bundle_id) or 0) < (tonumber(b.pak.bundle_id) or 0)
    end)
    return out, unreadable
end

-- ---- renewing ---------------------------------------------------------------

--- The pak `id` of a domain as a GetPOP3 read shows it.
-- @param cur the read (its `paks`), or nil
-- @param id the pak's bundle id
-- @return the pak's record, or nil when the domain does not hold it
function _M.find_pak(cur, id)
    for _, p in ipairs(cur and cur.paks or {}) do
        if p.bundle_id == id then
            return p
        end
    end
    return nil
end
local pak_of = _M.find_pak

-- A pak's id for a message (one read back from the journal's JSON may
-- be a float).
local function pak_name(id)
    return type(id) == "number" and ("%d"):format(id) or tostring(id)
end

-- The fields of a renewal's report records.
local function fields(r, extra)
    local f = { bundle_id = r.bundle_id, years = r.years, expires = r.expires or r.expires_before }
    for k, v in pairs(extra or {}) do
        f[k] = v
    end
    return f
end

local function years_text(n)
    return n == 1 and "1 year" or (n .. " years")
end

-- Wait for the outcome of the renewal `e` whose answer was lost, until
-- `deadline` (the core's clock). Returns "renewed", the new expiry |
-- "gone" (the pak is no longer the domain's) | "none" (the expiry has not
-- moved and the order history shows no renewal) | "unknown".
local function settle(dom, e, deadline)
    return buy.watch(dom, deadline, function(cur)
        if cur then
            local pak = pak_of(cur, e.bundle_id)
            if not pak then
                return "gone"
            end
            if _M.moved(e.expires_before, pak.expires) then
                return "renewed", pak.expires
            end
        end
    end, function(cur, quiet)
        if cur and e.mark and quiet and orders.find(dom, e.mark, "renewal") == "none" then
            return "none"
        end
        return "unknown"
    end)
end

-- Keep a renewal in doubt: counted against max_spend, the pak blocked.
local function in_doubt(dom, e, why, attempts)
    dom.run:renew_doubt(e.years)
    dom.no_renew[e.bundle_id] = "an earlier renewal of this pak is still in doubt (`enom journal settle "
        .. dom.intent.domain .. "`)"
    dom:event("renew", "unknown", why, attempts, fields(e))
end

-- Renew the pak `r` ({ bundle_id, expires, years }) once, with retries of
-- what surely did not reach eNom.
local function one(dom, r, mark)
    local sched, run, d, p = dom.sched, dom.run, dom.d, dom.policy
    local o = { method = "renew_pop_bundle", args = { sld = d.sld, tld = d.tld, pak_id = r.bundle_id,
        years = r.years, timeout = p.purchase_timeout }, guard = dom.guard, what = "a renewal", settle = settle,
        doubt = function(sign) run:renew_doubt(sign * r.years) end }
    local attempt = 0
    while true do
        attempt = attempt + 1
        -- The pak must still be this domain's, as last read under its lease.
        local pak = pak_of(dom.cur, r.bundle_id)
        if not pak then
            return dom:event("renew", "refused", ("pak %s is not a pak of %s: not renewed")
                :format(pak_name(r.bundle_id), d.domain), attempt - 1, fields(r))
        end
        if not dom:hold() then
            return dom:event("renew", "not_done", dom.halted, attempt - 1, fields(r))
        end
        if run:funds() then
            -- (Orders already handed to the transport when eNom said so
            -- still go, and are refused the same way: they cost nothing.)
            return dom:event("renew", "blocked", "not sent: the account's balance does not cover an order ("
                .. run:funds() .. ")", attempt - 1, fields(r))
        end
        o.entry = { kind = "renew", domain = d.domain, bundle_id = r.bundle_id, years = r.years,
            expires_before = pak.expires, mark = mark, sent_at = os.time() }
        local how, got, state, expires = buy.send(dom, o)
        if how == "journal" then
            return dom:event("renew", "failed", "not renewed: " .. reason(got), attempt, fields(r))
        elseif how == "done" then
            run:renewed(r.years)
            dom.renewed = true
            return dom:event("renew", "renewed", ("pak %s for %s"):format(pak_name(r.bundle_id),
                years_text(r.years)), attempt, fields(r, { order_id = got.order_id }))
        end
        local err = got
        local retry = sched.retry(err) and attempt < p.attempts
        if how == "refused" then
            -- Surely not renewed: refused before sending, or eNom said no.
            if err.kind == "stopped" then
                return dom:event("renew", "not_done", reason(err), attempt - 1, fields(r))
            end
        elseif state == "renewed" then
            run:renewed(r.years)
            return dom:event("renew", "renewed", ("pak %s for %s (the answer was lost: the expiry read back "
                .. "moved)"):format(pak_name(r.bundle_id), years_text(r.years)), attempt,
                fields(r, { new_expires = expires }))
        elseif state == "gone" then
            return dom:event("renew", "failed", ("pak %s is gone from %s: %s"):format(pak_name(r.bundle_id),
                d.domain, reason(err)), attempt, fields(r))
        elseif state == "unknown" then
            return in_doubt(dom, o.entry, ("pak %s: %s; not confirmed within %g s, not renewed again (open in "
                .. "the journal: `enom journal list`)"):format(pak_name(r.bundle_id), reason(err), p.settle),
                attempt)
        end
        if not retry then
            return dom:event("renew", "failed", reason(err), attempt, fields(r, { error = report.error_fields(err) }))
        end
        sched:back_off(attempt)
    end
end

--- Settle an open renewal `e` of the journal, left by a run that stopped,
-- before the domain is planned (a renewed pak then lies outside the
-- window and is left alone).
-- @return true when settled, false while it stays in doubt
function _M.recover(dom, e)
    e.bundle_id = tonumber(e.bundle_id) and floor(tonumber(e.bundle_id)) or e.bundle_id
    e.years = tonumber(e.years) and floor(tonumber(e.years)) or 1
    local state, expires = settle(dom, e, buy.window_end(dom, e))
    if state == "renewed" then
        dom:journal_close(e)
        -- Done once: asked again (the same command run again after a lost
        -- answer), it is not renewed a second time.
        dom.renewed_earlier[e.bundle_id] = true
        dom:event("renew", "renewed", ("pak %s for %s (by an earlier run that stopped before it knew)")
            :format(pak_name(e.bundle_id), years_text(e.years or 1)), 0, fields(e, { new_expires = expires }))
        return true
    elseif state == "gone" or state == "none" then
        dom:journal_close(e)
        dom:event("renew", "settled", ("an earlier run's renewal of pak %s %s"):format(pak_name(e.bundle_id),
            state == "gone" and "is moot: the pak is gone" or "did not go through"), 0, fields(e))
        return true
    end
    in_doubt(dom, e, ("an earlier run's renewal of pak %s is still in doubt: the pak is not renewed until it is "
        .. "settled (`enom journal settle %s`)"):format(pak_name(e.bundle_id), dom.intent.domain), 0)
    return false
end

--- Renew the planned paks of `dom` (an enom.provision.domain job) and
-- record those the plan could not renew.
function _M.all(dom)
    local d = dom.d
    for _, r in ipairs(d.renew_refused) do
        dom:event("renew", "refused", r.reason, 0, fields(r))
    end
    for _, r in ipairs(d.renew_blocked) do
        dom:event("renew", "blocked", r.reason, 0, fields(r))
    end
    local mark
    for _, r in ipairs(d.renew) do
        -- A pak settled from the journal as renewed, or still in doubt,
        -- has its record already and is not renewed (again) now.
        local settled = dom.renewed_earlier[r.bundle_id] or dom.no_renew[r.bundle_id]
        if not settled then
            if dom.halted or dom.sched.stopped then
                dom:event("renew", "not_done", dom.halted or dom.sched.stopped, 0, fields(r))
            elseif not dom.run:may_renew(r.years) then
                dom:event("renew", "blocked", "the run's spending cap is reached (policy max_spend, --max-spend)", 0,
                    fields(r))
            else
                mark = mark or orders.mark(dom)
                one(dom, r, mark)
            end
        end
    end
    if dom.renewed then
        -- The new expiry dates, for what comes next and for the caller.
        dom:read()
    end
end

return _M
