--- A mailbox's forward, one mailbox at a time (SetPOPForwarding), and
-- what eNom's answers say of a forward's state.
--
-- SetPOPForwarding adds, changes or deletes the forward of ONE mailbox;
-- every other forward of the domain stays as it is (eNom's Forwarding
-- command, by contrast, replaces the domain's whole set). Desired state
-- gives a mailbox `forward_to` (see enom.provision.planner); this module
-- reads the mailbox's forward (GetPOPForwarding), sends only what
-- differs, and reads it back.
--
-- Since 2025-09-18 a new forward works only once its recipient approves
-- it (eNom support article 201000120770): a forward sent is `pending`
-- until then, and an unanswered request expires after 24 hours. So a
-- forward already approved, or already waiting, to the same address is
-- left alone (sending it again could ask the recipient again); an expired
-- one, one switched off, or one to another address is sent. Pending is an
-- outcome of its own: the run has done what it can, the recipient has not.
--
-- How eNom's API shows a pending forward is not published. The states
-- read here: GetForwarding's numeric `status` (eNom's 0 forwarding, 1 off)
-- and the sandbox's 2 (pending) and 3 (expired), the same `status` on
-- GetPOPForwarding, and without a status (eNom's published GetPOPForwarding)
-- `active`: 1 forwarding, else `inactive` (pending, or switched off:
-- eNom's answer does not tell them apart).
local report = require "enom.provision.report"

local _M = {}

local type = type
local pairs = pairs
local lower = string.lower
local min = math.min

local reason = report.reason

--- The states a forward can be in, as `state` names them.
_M.STATES = { "none", "forwarding", "off", "pending", "expired", "inactive" }

-- eNom's response number for a user name that is no mailbox of the
-- domain (xxx286: a POP mailbox's user name; see enom.responses).
local NOT_A_MAILBOX = 316286

--- Is `err` eNom's answer that the user name is no mailbox of the domain
-- (GetPOPForwarding, SetPOPForwarding)? A forward of an address without
-- a mailbox belongs to the domain's set (eNom's Forwarding command).
function _M.not_a_mailbox(err)
    return type(err) == "table" and err.response_number == NOT_A_MAILBOX
end

-- eNom's status codes (0, 1) and the opt-in's (2, 3; see above).
local BY_STATUS = { [0] = "forwarding", [1] = "off", [2] = "pending", [3] = "expired" }

--- The state of a forward as GetPOPForwarding or GetForwarding reads it.
-- @param rec a record of `forwards` (forward_to, status, active), or nil
-- @return "none" (no forward), "forwarding", "off" (kept but switched
--   off), "pending" (waiting for its recipient), "expired" (the recipient
--   never approved), "inactive" (not forwarding; eNom's answer says no more)
function _M.state(rec)
    if type(rec) ~= "table" or type(rec.forward_to) ~= "string" or rec.forward_to == "" then
        return "none"
    end
    local by = BY_STATUS[rec.status]
    if by == "forwarding" and rec.active == false then
        return "off"
    end
    if by then
        return by
    end
    if rec.active == true then
        return "forwarding"
    end
    return "inactive"
end

--- What to do so that a mailbox's forward is `want`.
-- @param rec the mailbox's forward as read (see `state`), or nil
-- @param want { forward_to = address | false }
-- @return "send" (add or change it), "remove", or "keep" and the outcome
--   of leaving it ("already_set", "pending", "already_absent")
function _M.decide(rec, want)
    local st = _M.state(rec)
    if want.forward_to == false then
        if st == "none" then
            return "keep", "already_absent"
        end
        return "remove"
    end
    if st ~= "none" and lower(rec.forward_to) == lower(want.forward_to) then
        if st == "forwarding" then
            return "keep", "already_set"
        elseif st == "pending" or st == "inactive" then
            return "keep", "pending"
        end
    end
    return "send"
end

--- SetPOPForwarding's arguments for `want` on mailbox `username` of a
-- domain (sld, tld); `current` (the address it forwards to now) is sent
-- with a removal, as eNom's page marks ForwardTo required.
function _M.request(sld, tld, username, want, current)
    if want.forward_to == false then
        return { sld = sld, tld = tld, username = username, email = sld .. "." .. tld, enable = false,
            forward_to = current ~= "" and current or nil }
    end
    return { sld = sld, tld = tld, username = username, email = sld .. "." .. tld, enable = true,
        forward_to = want.forward_to, status_flags = want.keep_copy == false and 1 or 0 }
end

--- The outcome of a forward sent, from what was read back afterwards.
-- @param rec the record read back (nil: no forward, or not read)
-- @param want as for `decide`
-- @param read whether it was read back at all
-- @return "set", "pending", "removed", or nil when the read-back does not
--   show `want`
function _M.outcome(rec, want, read)
    local st = _M.state(rec)
    if want.forward_to == false then
        return st == "none" and "removed" or nil
    end
    if not read then
        -- Sent and answered, but not read back: since the opt-in, a new
        -- forward waits for its recipient.
        return "pending"
    end
    if st == "none" or lower(rec.forward_to) ~= lower(want.forward_to) then
        return nil
    end
    if st == "forwarding" then
        return "set"
    end
    return "pending"
end

-- The words of a report record.
local function detail(f, text)
    local to = f.forward_to == false and "no forward" or f.forward_to
    return ("%s -> %s: %s"):format(f.username, to, text)
end

local TEXT = {
    set = "forwarding",
    pending = "waiting for the recipient's approval",
    already_set = "already forwarding, left alone",
    removed = "removed",
    already_absent = "no forward to remove",
}

local function record(dom, f, outcome, attempts, why, extra)
    local fields = { username = f.username, forward_to = f.forward_to, keep_copy = f.forward_to ~= false
        and f.keep_copy or nil }
    for k, v in pairs(extra or {}) do
        fields[k] = v
    end
    dom:event("forward", outcome, detail(f, why or TEXT[outcome] or outcome), attempts, fields)
end

-- Read the mailbox's forward: the record (nil: none), or false and the error.
local function read(dom, f)
    local d = dom.d
    local res, err = dom.sched:call_retry("get_pop_forwarding", { sld = d.sld, tld = d.tld, username = f.username })
    if not res then
        return false, err
    end
    return res.forwards and res.forwards[1] or nil
end

-- One mailbox's forward: read, decide, send, read back.
local function one(dom, f)
    local sched, d, p = dom.sched, dom.d, dom.policy
    local key = lower(f.username)
    local made = dom.outcomes[key]
    if not dom.cur.by_name[key] and made ~= "created" and made ~= "already_present" then
        return record(dom, f, "not_done", 0, "the mailbox does not exist" .. (made and (" (" .. made .. ")") or ""))
    end
    if not dom:hold() then
        return record(dom, f, "not_done", 0, dom.halted)
    end
    local rec, rerr = read(dom, f)
    if rec == false then
        if rerr.kind == "stopped" then
            return record(dom, f, "not_done", 0, reason(rerr))
        end
        return record(dom, f, "failed", 0, "cannot read the forward: " .. reason(rerr),
            { error = report.error_fields(rerr) })
    end
    local action, outcome = _M.decide(rec, f)
    if action == "keep" then
        return record(dom, f, outcome, 0, nil, { state = _M.state(rec) })
    end
    local attempt = 0
    while true do
        attempt = attempt + 1
        if not dom:hold() then
            return record(dom, f, "not_done", attempt - 1, dom.halted)
        end
        local res, err = sched:request("set_pop_forwarding",
            _M.request(d.sld, d.tld, f.username, f, rec and rec.forward_to or ""), dom.guard)
        if not res and (err.kind == "stopped" or err.kind == "api" or err.kind == "invalid") then
            if err.kind == "stopped" then
                return record(dom, f, "not_done", attempt - 1, reason(err))
            end
            return record(dom, f, "failed", attempt, reason(err), { error = report.error_fields(err) })
        end
        -- Answered, or maybe carried out: the read-back says which.
        if not res then
            sched:reconciled()
        end
        local now = read(dom, f)
        local got = _M.outcome(now or nil, f, now ~= false)
        if res then
            -- eNom said done; a read-back that does not show it yet is
            -- eNom's own delay (a removal), or the opt-in (a forward).
            got = got or (f.forward_to == false and "removed" or "pending")
            return record(dom, f, got, attempt, nil, { state = now ~= false and _M.state(now) or nil })
        elseif got then
            return record(dom, f, got, attempt, nil, { state = _M.state(now) })
        elseif now == false or not sched.retry(err) or attempt >= p.attempts then
            return record(dom, f, now == false and "unknown" or "failed", attempt, reason(err),
                { error = report.error_fields(err) })
        end
        sched:back_off(attempt)
    end
end

--- Set the planned forwards of `dom` (an enom.provision.domain job), a
-- few mailboxes at a time.
function _M.all(dom)
    local list = dom.d.forwards
    local step = dom.policy.per_request
    for i = 1, #list, step do
        local fns = {}
        for j = i, min(#list, i + step - 1) do
            fns[#fns + 1] = function() one(dom, list[j]) end
        end
        dom.sched:join(fns)
    end
end

return _M
