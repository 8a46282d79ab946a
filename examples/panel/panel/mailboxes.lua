--- A domain's mailboxes: the list, create, password reset, delete.
--
-- Every handler gets a request the dispatcher has checked: a live
-- session, the owner's own domain (`ctx.domain`), and for a POST the
-- same origin and the session's CSRF token.
--
-- The list comes from GetPOP3 without passwords (the typed method leaves
-- them out unless asked), and only named fields reach the page. Creating
-- goes through provision.ensure, under the domain's lease, with the
-- owner's spending policy; a password is shown once, in the answer to
-- the POST that set it, and kept nowhere.
local provision = require "enom.provision"
local names = require "enom.names"
local passwords = require "panel.passwords"
local backend = require "panel.backend"
local audit = require "panel.audit"
local web = require "panel.web"

local _M = {}

local ipairs = ipairs
local tostring = tostring
local lower = string.lower
local sort = table.sort

local RUN_BUDGET = 120   -- seconds one create may spend on eNom
local LEASE = "shdict"   -- enom.lease backend: every worker of this nginx

-- A mailbox name as eNom's rule has it (enom.names).
local function valid_username(u)
    return u ~= nil and names.check_username(u) == nil
end

local function unavailable(ctx, err)
    return web.unavailable(ctx, err, "mailbox service")
end

local function plural(n, one, many)
    return n .. " " .. (n == 1 and one or many)
end

-- The list page's view: mailboxes and free slots, never a password.
local function list_view(ctx, res, extra)
    local rows = {}
    for _, m in ipairs(res.mailboxes or {}) do
        local used, quota = m.quota_used or 0, m.quota
        rows[#rows + 1] = {
            username = m.username, address = m.username .. "@" .. ctx.domain,
            admin = m.admin == true, quota = quota, quota_used = used,
            percent = (quota and quota > 0) and math.floor(used * 100 / quota + 0.5) or nil,
            delete_href = web.base(ctx) .. "delete?mailbox=" .. ngx.escape_uri(m.username),
        }
    end
    sort(rows, function(a, b) return lower(a.username) < lower(b.username) end)
    local free, paks = 0, 0
    for _, p in ipairs(res.paks or {}) do
        free = free + (p.free or 0)
        paks = paks + 1
    end
    local o = ctx.owner
    return web.with({
        domain = ctx.domain, base = web.base(ctx), csrf = ctx.session.csrf,
        mailboxes = rows, count = plural(#rows, "mailbox", "mailboxes"), free = free,
        free_text = plural(free, "free slot", "free slots"), paks = plural(paks, "pak", "paks"),
        can_buy = o.buy_paks and o.max_paks_per_run > 0, max_paks = o.max_paks_per_run,
        username_max = names.USERNAME_MAX, password_help = passwords.help(backend.conf()),
    }, extra)
end

-- Read the domain and show its page (status, with `extra` in the view).
local function show(ctx, status, extra)
    local res, err = backend.call("get_pop3", { sld = ctx.sld, tld = ctx.tld })
    if not res then
        return unavailable(ctx, err)
    end
    return web.page(ctx, status, "mailboxes", list_view(ctx, res, extra), ctx.domain)
end

--- GET /d/<domain>/
function _M.list(ctx)
    return show(ctx, 200)
end

-- The outcome a provisioning report gave the one mailbox, and the paks.
local function outcome_of(rep, username)
    for _, m in ipairs(rep.mailboxes) do
        if m.intended == "create" and lower(m.username) == lower(username) then
            return m
        end
    end
    return nil
end

--- POST /d/<domain>/create: username, display_name, password (empty:
-- generated).
function _M.create(ctx)
    local f = ctx.form
    local username = web.trimmed(f, "username") or ""
    local display = web.trimmed(f, "display_name")
    local typed = web.field(f, "password")
    if typed == "" then
        typed = nil
    end
    local keep = { form_username = username, form_display = display }
    local m = { username = username, display_name = display ~= "" and display or nil }
    local bad = username == "" and "Give the mailbox a name." or provision.check_mailbox(m, ctx.sld, ctx.tld)
    if not bad and typed then
        bad = passwords.check(backend.conf(), typed, username, ctx.sld, ctx.tld)
    end
    if bad then
        keep.error = bad
        return show(ctx, 422, keep)
    end
    m.password = typed
    local c, cerr = backend.client()
    if not c then
        return unavailable(ctx, cerr)
    end
    local o = ctx.owner
    local generated
    local rep, err = provision.ensure(c, { { domain = ctx.domain, mailboxes = { m } } }, {
        buy_paks = o.buy_paks, max_paks_per_run = o.max_paks_per_run,
        max_spend = o.max_spend, pak_price = backend.conf().pak_price,
        update_admin = false, lock = LEASE, budget = RUN_BUDGET,
        on_password = function(_, _, pw) generated = pw end,
        progress = backend.record,
    })
    c:close()
    local address = username .. "@" .. ctx.domain
    if not rep then
        audit.log { who = o.name, action = "create", domain = ctx.domain, mailbox = username,
            outcome = "error", reason = err and err.message }
        return unavailable(ctx, err)
    end
    backend.record { type = "summary", ok = rep.ok }
    for _, e in ipairs(rep.events) do
        audit.log { who = o.name, action = "buy_paks", domain = ctx.domain, outcome = e.outcome, reason = e.detail }
    end
    local r = outcome_of(rep, username) or { outcome = "not_done", reason = rep.stopped }
    audit.log { who = o.name, action = "create", domain = ctx.domain, mailbox = username,
        outcome = r.outcome, reason = r.reason }
    if r.outcome == "created" then
        return web.page(ctx, 200, "password", {
            address = address, password = generated, typed = generated == nil, created = true,
            bought = rep.paks_bought > 0 and rep.paks_bought or nil, back = web.base(ctx),
        }, address)
    end
    local why
    if r.outcome == "already_present" then
        why = address .. " exists already."
    elseif r.outcome == "blocked" then
        why = o.buy_paks and ("There is no free mailbox slot and your account may not buy more paks now "
            .. "(its limit per action or its spending cap is reached). Delete a mailbox or ask your provider.")
            or "There is no free mailbox slot, and buying more is not enabled for your account. "
            .. "Delete a mailbox or ask your provider."
    elseif r.outcome == "invalid" then
        why = r.reason
    elseif r.outcome == "busy" then
        why = "Another change to this domain is under way: try again in a moment."
    else
        why = "The mailbox could not be created (" .. tostring(r.reason or r.outcome) .. ")."
    end
    keep.error = why
    return show(ctx, 409, keep)
end

--- POST /d/<domain>/reset: username, password (empty: generated).
function _M.reset(ctx)
    local username = web.trimmed(ctx.form, "username")
    local typed = web.field(ctx.form, "password")
    if typed == "" then
        typed = nil
    end
    if not valid_username(username) then
        return show(ctx, 422, { error = "No such mailbox." })
    end
    if typed then
        local bad = passwords.check(backend.conf(), typed, username, ctx.sld, ctx.tld)
        if bad then
            return show(ctx, 422, { error = bad, reset_user = username })
        end
    end
    local password = typed or passwords.generate(backend.conf(), username, ctx.sld, ctx.tld)
    local c, cerr = backend.client()
    if not c then
        return unavailable(ctx, cerr)
    end
    local res, err = c:modify_pop3 { sld = ctx.sld, tld = ctx.tld, users = { { username = username, password = password } } }
    c:close()
    local address = username .. "@" .. ctx.domain
    local tracking = audit.tracking_key(res, err)
    audit.log { who = ctx.owner.name, action = "reset", domain = ctx.domain, mailbox = username,
        outcome = res and "modified" or "failed", reason = err and err.message, tracking_key = tracking }
    backend.record { type = "mailbox", intended = "modify", outcome = res and "modified" or "failed" }
    if not res then
        if err.kind ~= "api" then
            return unavailable(ctx, err)
        end
        return show(ctx, 409, { error = "The password of " .. address .. " was not changed: " .. err.message })
    end
    return web.page(ctx, 200, "password", {
        address = address, password = typed == nil and password or nil, typed = typed ~= nil, back = web.base(ctx),
    }, address)
end

--- GET /d/<domain>/delete?mailbox=name: the confirmation form.
function _M.confirm_delete(ctx)
    local username = ngx.var.arg_mailbox and ngx.unescape_uri(ngx.var.arg_mailbox)
    if not valid_username(username) then
        return web.message(ctx, 404, "No such mailbox", "There is no such mailbox to delete.", web.base(ctx))
    end
    return web.page(ctx, 200, "delete", {
        mailbox = username, address = username .. "@" .. ctx.domain, base = web.base(ctx), csrf = ctx.session.csrf,
    }, "Delete " .. username)
end

--- POST /d/<domain>/delete: mailbox, confirm (the name typed again).
function _M.delete(ctx)
    local username = web.trimmed(ctx.form, "mailbox")
    local confirm = web.trimmed(ctx.form, "confirm") or ""
    if not valid_username(username) then
        return web.message(ctx, 404, "No such mailbox", "There is no such mailbox to delete.", web.base(ctx))
    end
    local address = username .. "@" .. ctx.domain
    if lower(confirm) ~= lower(username) then
        return web.page(ctx, 422, "delete", {
            mailbox = username, address = address, base = web.base(ctx), csrf = ctx.session.csrf,
            error = "Type the mailbox's name, " .. username .. ", to confirm. Nothing was deleted.",
        }, "Delete " .. username)
    end
    local c, cerr = backend.client()
    if not c then
        return unavailable(ctx, cerr)
    end
    local res, err = c:delete_pop3 { sld = ctx.sld, tld = ctx.tld, users = { username } }
    c:close()
    local tracking = audit.tracking_key(res, err)
    audit.log { who = ctx.owner.name, action = "delete", domain = ctx.domain, mailbox = username,
        outcome = res and "deleted" or "failed", reason = err and err.message, tracking_key = tracking }
    backend.record { type = "mailbox", intended = "delete", outcome = res and "deleted" or "failed" }
    if not res then
        if err.kind ~= "api" then
            return unavailable(ctx, err)
        end
        return show(ctx, 409, { error = address .. " was not deleted: " .. err.message })
    end
    return web.done(ctx, address .. " was deleted.", web.base(ctx))
end

return _M
