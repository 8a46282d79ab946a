--- The panel's answers: the security headers every page carries, pages
-- rendered into the layout, redirects and refusals.
local html = require "panel.html"

local _M = {}

-- No inline script or style anywhere: the CSP allows files of this
-- origin only, forms that post here only, and no framing.
local CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    .. "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

--- Headers for every answer of the panel.
function _M.headers()
    local h = ngx.header
    h["Content-Security-Policy"] = CSP
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    -- Pages may show a password once: nothing keeps them.
    h["Cache-Control"] = "no-store"
end

--- The path of a domain's pages (its mailboxes' list).
function _M.home(domain)
    return "/d/" .. domain .. "/"
end

--- The path of the pages of the request's domain.
function _M.base(ctx)
    return _M.home(ctx.domain)
end

-- The layout's navigation: the owner's domains, the current one marked.
local function nav(ctx)
    local list = {}
    for i, d in ipairs(ctx.owner.domains) do
        list[i] = { name = d, href = _M.home(d), current = d == ctx.domain }
    end
    return list
end

-- Keep a change to the session.
local function save(s)
    require("panel.session").save(s)
end

--- Render `template` with `view` into the layout and send it.
-- @param ctx the request (owner, session, domain), or nil before a login
function _M.page(ctx, status, template, view, title)
    local layout = { title = title, content = html.render(template, view) }
    if ctx and ctx.owner then
        layout.owner = ctx.owner.name
        layout.domains = nav(ctx)
        layout.csrf = ctx.session.csrf
        local s = ctx.session
        if s.flash then
            layout.flash = s.flash
            s.flash = nil
            save(s)
        end
    end
    ngx.status = status
    ngx.header["Content-Type"] = "text/html; charset=utf-8"
    ngx.print(html.render("layout", layout))
    return ngx.exit(status)
end

--- A message page: refusals, errors, outcomes that need no form.
function _M.message(ctx, status, title, text, back)
    return _M.page(ctx, status, "message", { title = title, text = text, back = back }, title)
end

--- The page for a domain's request that eNom did not answer; `service`
-- is what the owner calls the part that failed ("mail service").
function _M.unavailable(ctx, err, service)
    return _M.message(ctx, 503, "eNom cannot be reached",
        "The " .. service .. " did not answer (" .. tostring(err) .. "). Try again in a few minutes.",
        _M.base(ctx))
end

--- See Other: after a POST, the next page is a GET.
function _M.redirect(location)
    return ngx.redirect(location, ngx.HTTP_SEE_OTHER)
end

--- After a POST that changed something: go to `location`, whose page
-- says `text` once.
function _M.done(ctx, text, location)
    ctx.session.flash = text
    save(ctx.session)
    return _M.redirect(location)
end

--- `view` with the fields of `extra` (a page's form values, its error)
-- laid over it.
function _M.with(view, extra)
    for k, v in pairs(extra or {}) do
        view[k] = v
    end
    return view
end

--- A form field as one string (a repeated field is refused as absent).
function _M.field(form, name)
    local v = form and form[name]
    if type(v) ~= "string" then
        return nil
    end
    return v
end

--- A form field without the white space around it, or nil.
function _M.trimmed(form, name)
    local v = _M.field(form, name)
    return v and v:match("^%s*(.-)%s*$") or nil
end

return _M
