--- A domain's forwards, one mailbox at a time, and its catch-all.
--
-- The forwards page lists each mailbox's own forward with its state as
-- eNom shows it (GetPOPForwarding, read the way enom.provision.forwards
-- reads it: forwarding, waiting for the recipient's approval, expired,
-- off); a form adds or changes one mailbox's forward, a button removes
-- it. Each is one SetPOPForwarding, which leaves every other forward of
-- the domain as it is. Since 2025-09-18 eNom asks the recipient of a new
-- forward to approve it, so a forward added shows as waiting until then;
-- one already approved or waiting to the same address is not sent again
-- (that could ask the recipient again).
--
-- The catch-all page shows and sets the address that gets mail sent to a
-- name without a mailbox (GetCatchAll, SetCatchAll).
--
-- Every handler gets a request the dispatcher has checked: a live
-- session, the owner's own domain, and for a POST the same origin and the
-- session's CSRF token. Addresses and names are checked by enom.names
-- before anything is sent.
local fwd = require "enom.provision.forwards"
local names = require "enom.names"
local backend = require "panel.backend"
local audit = require "panel.audit"
local web = require "panel.web"

local _M = {}

local type = type
local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local sort = table.sort

-- What a state means to the domain's owner.
local STATE_TEXT = {
    forwarding = "Forwarding",
    pending = "Waiting for the recipient's approval",
    inactive = "Not forwarding (waiting for approval, or switched off)",
    expired = "Not approved in time: add it again to ask again",
    off = "Switched off",
}

local function unavailable(ctx, err)
    return web.unavailable(ctx, err, "mail service")
end

-- The mailbox's forward as read: the record (nil: none), or false and the error.
local function read(c, ctx, username)
    local res, err = c:get_pop_forwarding { sld = ctx.sld, tld = ctx.tld, username = username }
    if not res then
        return false, err
    end
    return res.forwards and res.forwards[1] or nil
end

-- Show the forwards page (status, with `extra` in the view).
local function show(ctx, status, extra)
    local c, cerr = backend.client()
    if not c then
        return unavailable(ctx, cerr)
    end
    local pop, err = c:get_pop3 { sld = ctx.sld, tld = ctx.tld }
    if not pop then
        c:close()
        return unavailable(ctx, err)
    end
    local rows, options = {}, {}
    for _, m in ipairs(pop.mailboxes or {}) do
        local rec, rerr = read(c, ctx, m.username)
        if rec == false then
            c:close()
            return unavailable(ctx, rerr)
        end
        local state = fwd.state(rec)
        local row = { username = m.username, address = m.username .. "@" .. ctx.domain, state = state,
            none = state == "none", pending = state == "pending" or state == "inactive" }
        if state ~= "none" then
            row.forward_to = rec.forward_to
            row.state_text = STATE_TEXT[state] or state
        end
        rows[#rows + 1] = row
        options[#options + 1] = { username = m.username,
            selected = extra and extra.form_mailbox and lower(extra.form_mailbox) == lower(m.username) }
    end
    c:close()
    sort(rows, function(a, b) return lower(a.username) < lower(b.username) end)
    sort(options, function(a, b) return lower(a.username) < lower(b.username) end)
    local view = web.with({ domain = ctx.domain, base = web.base(ctx), csrf = ctx.session.csrf, mailboxes = rows,
        options = options, has_mailboxes = #rows > 0, keep_checked = true }, extra)
    return web.page(ctx, status, "forwards", view, "Forwards of " .. ctx.domain)
end

--- GET /d/<domain>/forwards
function _M.list(ctx)
    return show(ctx, 200)
end

local function done(ctx, text)
    return web.done(ctx, text, web.base(ctx) .. "forwards")
end

local function record(outcome)
    backend.record { type = "event", action = "forward", outcome = outcome }
end

-- The forward `want` ({ username, forward_to | false, keep_copy }) sent
-- when it differs from what eNom has. Returns the outcome and the record
-- read back, or nil and the error.
local function apply(c, ctx, want)
    local rec, err = read(c, ctx, want.username)
    if rec == false then
        return nil, err
    end
    local action, outcome = fwd.decide(rec, want)
    if action == "keep" then
        return outcome, rec
    end
    local res
    res, err = c:set_pop_forwarding(fwd.request(ctx.sld, ctx.tld, want.username, want, rec and rec.forward_to or ""))
    if not res then
        return nil, err
    end
    local now = read(c, ctx, want.username)
    outcome = fwd.outcome(now or nil, want, now ~= false) or (want.forward_to == false and "removed" or "pending")
    return outcome, now or nil, res.tracking_key
end

-- What an outcome means to the owner.
local function said(outcome, address, to)
    if outcome == "pending" then
        return ("Mail to %s will also go to %s once %s approves it: eNom has e-mailed them a request, which "
            .. "expires after 24 hours."):format(address, to, to)
    elseif outcome == "set" then
        return ("Mail to %s now also goes to %s."):format(address, to)
    elseif outcome == "already_set" then
        return ("%s already forwards to %s."):format(address, to)
    elseif outcome == "removed" then
        return ("%s no longer forwards."):format(address)
    elseif outcome == "already_absent" then
        return ("%s has no forward."):format(address)
    end
    return address .. ": " .. tostring(outcome)
end

-- Why eNom refused, in the owner's words where eNom's need help.
local function refusal(err, username)
    if fwd.not_a_mailbox(err) then
        return "There is no mailbox " .. username .. " on this domain."
    end
    return "eNom refused: " .. tostring(type(err) == "table" and err.message or err)
end

-- Send the forward `want` and answer: the next page says what became of
-- it, or the form (`form`, with the error) is shown again. `action` names
-- it in the audit log.
local function change(ctx, want, action, form)
    local c, cerr = backend.client()
    if not c then
        return unavailable(ctx, cerr)
    end
    local outcome, rec, tracking = apply(c, ctx, want)
    c:close()
    local to = want.forward_to or nil
    audit.log { who = ctx.owner.name, action = action, domain = ctx.domain, mailbox = want.username,
        outcome = outcome or "failed", reason = not outcome and tostring(rec and rec.message or rec) or to,
        tracking_key = tracking }
    record(outcome or "failed")
    if not outcome then
        if type(rec) == "table" and rec.kind ~= "api" then
            return unavailable(ctx, rec)
        end
        form.error = refusal(rec, want.username)
        return show(ctx, 409, form)
    end
    return done(ctx, said(outcome, want.username .. "@" .. ctx.domain, to))
end

--- POST /d/<domain>/forwards/add: mailbox, forward_to, keep_copy.
function _M.add(ctx)
    local f = ctx.form
    local username = web.trimmed(f, "mailbox") or ""
    local to = web.trimmed(f, "forward_to") or ""
    local keep = web.field(f, "keep_copy") == "1"
    local form = { form_mailbox = username, form_forward_to = to, keep_checked = keep }
    local bad = names.check_username(username)
    if bad then
        form.error = "Choose one of the domain's mailboxes."
        return show(ctx, 422, form)
    end
    bad = names.check_address(to)
    if bad then
        form.error = "The address to forward to " .. bad .. "."
        return show(ctx, 422, form)
    end
    return change(ctx, { username = username, forward_to = to, keep_copy = keep }, "forward_add", form)
end

--- POST /d/<domain>/forwards/remove: mailbox.
function _M.remove(ctx)
    local username = web.trimmed(ctx.form, "mailbox") or ""
    if names.check_username(username) then
        return show(ctx, 422, { error = "There is no such mailbox." })
    end
    return change(ctx, { username = username, forward_to = false }, "forward_remove", {})
end

-- Show the catch-all page.
local function show_catchall(ctx, status, extra)
    local res, err = backend.call("get_catch_all", { sld = ctx.sld, tld = ctx.tld })
    if not res then
        return unavailable(ctx, err)
    end
    local view = web.with({ domain = ctx.domain, base = web.base(ctx), csrf = ctx.session.csrf,
        catch_all = res.catch_all ~= "" and res.catch_all or nil, max = names.ADDRESS_MAX }, extra)
    return web.page(ctx, status, "catchall", view, "Catch-all of " .. ctx.domain)
end

--- GET /d/<domain>/catchall
function _M.catchall(ctx)
    return show_catchall(ctx, 200)
end

--- POST /d/<domain>/catchall: forward_to.
function _M.set_catchall(ctx)
    local to = web.trimmed(ctx.form, "forward_to") or ""
    local bad = names.check_address(to)
    if bad then
        return show_catchall(ctx, 422, { error = "The address " .. bad .. ".", form_forward_to = to })
    end
    local c, cerr = backend.client()
    if not c then
        return unavailable(ctx, cerr)
    end
    local res, err = c:set_catch_all { sld = ctx.sld, tld = ctx.tld, forward_to = to }
    c:close()
    local tracking = audit.tracking_key(res, err)
    audit.log { who = ctx.owner.name, action = "catchall", domain = ctx.domain, outcome = res and "set" or "failed",
        reason = res and to or (err and err.message), tracking_key = tracking }
    if not res then
        if err.kind ~= "api" then
            return unavailable(ctx, err)
        end
        return show_catchall(ctx, 409, { error = "eNom refused: " .. err.message, form_forward_to = to })
    end
    return web.done(ctx, "Mail to any other name at " .. ctx.domain .. " now goes to " .. to .. ".",
        web.base(ctx) .. "catchall")
end

return _M
