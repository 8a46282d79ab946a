--- Creating mailboxes into free pak slots, never twice, and handing out
-- only passwords that are the mailboxes' own.
--
-- A user is sent again only when a read-back shows it does not exist.
-- After an ambiguous SetUpPOP3User a user found on read-back counts as
-- created by this run only if its password (read back with GetPOP3)
-- is the one this run sent; otherwise it is a `conflict`: it exists,
-- made elsewhere, and no password is handed out for it.
--
-- Generated passwords are handed to `on_password` once the mailbox is
-- known to exist. If on_password raises, the run stops after what is in
-- flight; the password (and those of mailboxes created after it) is
-- written to `password_file` when one is given, and the report says so.
--
-- Before each SetUpPOP3User the users and their passwords are written
-- to the journal, and struck off once each password is handed out (or
-- the user is settled otherwise). A run killed in between leaves them
-- there: the next run reads the domain back, and a mailbox whose
-- password is the journal's is this library's own, its password handed
-- out then; a password that can be handed out nowhere stays in the
-- journal, never lost.
local core = require "enom.core"
local password = require "enom.password"
local report = require "enom.provision.report"

local _M = {}

local ipairs = ipairs
local tostring = tostring
local pcall = pcall
local lower = string.lower
local min = math.min

local reason = report.reason
local append_private = core.append_private

-- Hand the password of a mailbox this run created to the caller.
-- Returns the extra fields for its report record.
local function hand_out(dom, m, pw, generated)
    local p = dom.policy
    if not generated or not p.on_password then
        return nil
    end
    local why
    if not dom.run.failure then
        local ok, err = pcall(p.on_password, dom.intent.domain, m.username, pw)
        if ok then
            return nil
        end
        dom:fail(err, "on_password raised an error (see the report's error)")
        why = "on_password raised an error"
    else
        why = "on_password was not called: the run stopped after an error"
    end
    local extra = { password = "not_handed_out", password_reason = why }
    if p.password_file then
        local ok, werr = pcall(append_private, p.password_file,
            dom.intent.domain .. "\t" .. m.username .. "\t" .. pw .. "\n")
        if ok and werr ~= nil and werr ~= false then
            extra.password = "written_to_file"
        else
            extra.password_reason = why .. "; writing the password file failed: " .. tostring(werr)
        end
    end
    return extra
end

-- The password for `m`: given in the input, else generated once.
local function password_of(dom, st, key)
    local pw = st.pw[key]
    if not pw then
        pw = dom.given[key]
        if pw then
            st.given[key] = true
        else
            -- The client's rule (the one its requests are checked against).
            pw = password.generate(dom.run.client.password_rule,
                { username = key, sld = dom.intent.sld, tld = dom.intent.tld, uid = dom.run.client.uid })
            -- Kept to scrub what a callback raises before it reaches the report.
            dom:secret(pw)
        end
        st.pw[key] = pw
    end
    return pw
end

-- Work out the users of one failed SetUp from a read-back. Returns
-- false when the domain cannot be read: the outcome is then unknown.
local function reconcile(dom, st, chunk, err)
    local sched, p = dom.sched, dom.policy
    sched:reconciled()
    st.read_back = true
    local now, rerr = dom:read(true)
    if not now then
        for _, m in ipairs(chunk) do
            st.final[lower(m.username)] = { "unknown", "could not read back after " .. reason(err)
                .. " (" .. reason(rerr) .. ")" }
        end
        dom:halt("the domain could not be read back after a doubtful SetUpPOP3User", "unknown")
        return false
    end
    local retry = sched.retry(err)
    for _, m in ipairs(chunk) do
        local key = lower(m.username)
        local found = now.by_name[key]
        if found then
            if found.password == st.pw[key] then
                st.created[key] = true
            else
                st.final[key] = { "conflict", "exists with a password this run did not set: made elsewhere" }
            end
        elseif not retry or st.tries[key] >= p.attempts then
            st.final[key] = { "failed", reason(err), err.tracking_key }
        end
    end
    -- Passwords read back are dropped with `now` once the names are known.
    for _, mb in ipairs(now.mailboxes) do
        mb.password = nil
    end
    if retry then
        sched:back_off(st.round)
    end
    return true
end

-- Send one SetUpPOP3User for `chunk` into `pak` and sort out its users.
-- The chunk's intent goes to the journal first (`st.entry[chunk]`).
local function send(dom, st, pak, chunk)
    local sched, d, p = dom.sched, dom.d, dom.policy
    local users, kept = {}, {}
    for i, m in ipairs(chunk) do
        local key = lower(m.username)
        local pw = password_of(dom, st, key)
        users[i] = { username = m.username, password = pw, admin = m.admin, display_name = m.display_name }
        kept[i] = { username = m.username, password = pw, generated = not st.given[key] }
        st.tries[key] = (st.tries[key] or 0) + 1
    end
    local entry = { kind = "create", domain = d.domain, bundle_id = pak.bundle_id, users = kept }
    local ok, jerr = dom:journal_open(entry, p.journal_sync == "all")
    if not ok then
        for _, m in ipairs(chunk) do
            st.final[lower(m.username)] = { "not_done", "not sent: " .. reason(jerr) }
        end
        dom:halt("cannot write the journal: " .. reason(jerr))
        return true
    end
    st.entry[chunk] = entry
    local res, err = sched:request("setup_pop3_users", {
        sld = d.sld, tld = d.tld, bundle_id = pak.bundle_id, users = users,
    }, dom.guard)
    if res then
        for _, m in ipairs(chunk) do st.created[lower(m.username)] = true end
        pak.free = pak.free - #chunk
    elseif err.kind == "stopped" then
        dom:journal_close(entry)
        return false
    elseif err.kind == "invalid" then
        for _, m in ipairs(chunk) do st.final[lower(m.username)] = { "failed", reason(err), err.tracking_key } end
    elseif err.maybe_delivered == false then
        -- Surely never sent: the same request may go again as it is.
        for _, m in ipairs(chunk) do
            local key = lower(m.username)
            if st.tries[key] >= p.attempts or not sched.retry(err) then
                st.final[key] = { "failed", reason(err), err.tracking_key }
            end
        end
        sched:back_off(st.round)
    else
        return reconcile(dom, st, chunk, err)
    end
    return true
end

-- Record the users of a chunk that are settled; return those to retry.
-- The chunk's journal entry keeps only the passwords that could be
-- handed out nowhere (and goes when there are none).
local function settle(dom, st, chunk)
    local again, undelivered = {}, {}
    for _, m in ipairs(chunk) do
        local key = lower(m.username)
        if st.created[key] then
            local extra = hand_out(dom, m, st.pw[key], not st.given[key])
            if extra and extra.password == "not_handed_out" then
                undelivered[#undelivered + 1] = { username = m.username, password = st.pw[key], generated = true,
                    created = true }
                extra.password_reason = extra.password_reason .. "; the password is kept in the journal"
            end
            dom:mailbox(m.username, "create", "created", extra and extra.password_reason, st.tries[key], extra)
            -- Handed out (or kept in the journal): this run needs it no more.
            st.pw[key] = nil
        elseif st.final[key] then
            local f = st.final[key]
            dom:mailbox(m.username, "create", f[1], f[2], st.tries[key], f[3] and { tracking_key = f[3] })
        else
            again[#again + 1] = m
        end
    end
    local entry = st.entry[chunk]
    if entry then
        st.entry[chunk] = nil
        if #undelivered == 0 then
            dom:journal_close(entry)
        else
            entry.users = undelivered
            dom:journal_update(entry, true)
        end
    end
    return again
end

--- Settle an open `create` entry `e` of the journal, left by a run that
-- stopped: a mailbox that exists with the journal's password is this
-- library's own (its password is handed out now); one with another
-- password was made elsewhere; one that does not exist was never made
-- (the plan makes it again, with a new password). `dom.cur` was read
-- with passwords.
function _M.recover(dom, e)
    local undelivered = {}
    for _, u in ipairs(e.users or {}) do
        local found = dom.cur.by_name[lower(u.username)]
        if found and found.password == u.password then
            local extra = hand_out(dom, { username = u.username }, u.password, u.generated)
            if extra and extra.password == "not_handed_out" then
                undelivered[#undelivered + 1] = u
                extra.password_reason = extra.password_reason .. "; the password is kept in the journal"
            end
            dom:mailbox(u.username, "create", "created", "made by an earlier run that stopped before it could say so"
                .. (extra and ("; " .. extra.password_reason) or ""), 0, extra)
        elseif found then
            dom:event("journal", "conflict", u.username .. " exists with a password the earlier run did not set")
        end
    end
    if #undelivered == 0 then
        dom:journal_close(e)
    else
        e.users = undelivered
        dom:journal_update(e, true)
    end
end

-- Fill the free paks with chunks of users, `again` first: one wave of
-- SetUps, one per pak, that may all be in flight at once. Paks only fill
-- up, so the full ones at the front are passed over for good: each pak
-- is looked at a bounded number of times.
local function wave(dom, st, again, queue)
    local list = dom.cur.paks
    if st.cur ~= dom.cur then
        st.cur, st.cursor = dom.cur, 1
    end
    while st.cursor <= #list and (list[st.cursor].free or 0) <= 0 do
        st.cursor = st.cursor + 1
    end
    local chunks = {}
    local i = st.cursor
    while (#again > 0 or queue.head <= #queue) and i <= #list do
        local pak = list[i]
        i = i + 1
        if (pak.free or 0) > 0 then
            local chunk = {}
            local room = min(pak.free, dom.policy.per_request)
            while #chunk < room and #again > 0 do
                chunk[#chunk + 1] = table.remove(again)
            end
            while #chunk < room and queue.head <= #queue do
                chunk[#chunk + 1] = queue[queue.head]
                queue.head = queue.head + 1
            end
            chunks[#chunks + 1] = { pak = pak, users = chunk }
        end
    end
    return chunks
end

-- One chunk, start to end: send, settle, collect what is to be retried.
local function one(dom, st, c, again)
    if dom:hold() and send(dom, st, c.pak, c.users) then
        for _, m in ipairs(settle(dom, st, c.users)) do again[#again + 1] = m end
    else
        for _, m in ipairs(c.users) do again[#again + 1] = m end
        st.stop = true
    end
end

--- Create the planned mailboxes of `dom` (an enom.provision.domain job).
-- The SetUps of different paks go at once (each names its own BundleID).
function _M.all(dom)
    local d = dom.d
    local st = { pw = {}, given = {}, tries = dom.tries, created = {}, final = {}, round = 0, entry = {} }
    local queue = { head = 1 }
    for _, m in ipairs(d.create) do
        if dom.cur.by_name[lower(m.username)] then
            dom:mailbox(m.username, "create", "already_present", nil, 0)
        else
            queue[#queue + 1] = m
        end
    end
    local again = {}
    while (#again > 0 or queue.head <= #queue) and not dom.sched.stopped and not st.stop and not dom.halted do
        st.round = st.round + 1
        local chunks = wave(dom, st, again, queue)
        if #chunks == 0 then
            break
        elseif #chunks == 1 then
            one(dom, st, chunks[1], again)
        else
            local fns = {}
            for i, c in ipairs(chunks) do
                fns[i] = function() one(dom, st, c, again) end
            end
            dom.sched:join(fns)
            -- A read-back taken while other chunks were in flight may
            -- show their paks' slots before they filled them: the next
            -- wave plans from a read taken after all of them ended.
            if st.read_back and not dom.halted and not dom.sched.stopped then
                dom:read()
            end
        end
        st.read_back = false
    end
    local why = dom.halted or dom.sched.stopped
    local rest = dom.rest_outcome or (why and "not_done" or "blocked")
    for _, m in ipairs(again) do
        dom:mailbox(m.username, "create", rest, why or "no free slot in any pak", st.tries[lower(m.username)] or 0)
    end
    for i = queue.head, #queue do
        local m = queue[i]
        dom:mailbox(m.username, "create", rest, why or "no free slot in any pak", 0)
    end
end

return _M
