--- A self-service mailbox page for domain owners, in nginx over enom:
-- see README.md next to this file.
--
-- One dispatcher runs every check before any handler: a route for the
-- method and path, for a POST the same origin (Origin, else Referer)
-- and a CSRF token, a live session, and for a domain's pages that the
-- domain is one of the owner's. Handlers are a list (`ROUTES`): a new
-- page is one handler and one template.
local owners = require "panel.owners"
local session = require "panel.session"
local audit = require "panel.audit"
local backend = require "panel.backend"
local html = require "panel.html"
local web = require "panel.web"
local login = require "panel.login"
local mailboxes = require "panel.mailboxes"
local forwards = require "panel.forwards"
local metrics = require "enom.metrics"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local match = string.match

local MAX_FIELDS = 20   -- form fields read from a POST

local DEFAULTS = {
    secure_cookies = true,     -- see panel.session
    idle_timeout = 900,
    absolute_timeout = 28800,
}

-- Options without a default.
local OPTIONAL = {
    owners_file = true,        -- required: written by owners.lua
    audit_file = true,         -- JSON lines; none: no audit log
    templates = true,          -- the templates folder (default: next to this file)
    origin = true,             -- the panel's public origin, e.g. https://mail.example.net;
                               -- default: the request's scheme and Host
    pak_price = true,          -- the reseller's price of a pak: enom_spend_total, max_spend
}

local TEMPLATES = { "layout", "login", "domains", "mailboxes", "password", "delete", "message", "forwards",
    "catchall" }

local ORIGIN

--- Read the settings, the owner accounts and the templates, and make the
-- stand-in hash: in init_by_lua, in nginx's master, so that a broken
-- file stops startup and the workers inherit it all.
function _M.init(opts)
    local o = {}
    for k, v in pairs(DEFAULTS) do
        o[k] = v
    end
    for k, v in pairs(opts or {}) do
        if DEFAULTS[k] == nil and not OPTIONAL[k] then
            error("panel: unknown option " .. tostring(k), 2)
        end
        o[k] = v
    end
    if not o.owners_file then
        error("panel: the owners_file option is required", 2)
    end
    local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
    html.load(o.templates or (here .. "/templates"), TEMPLATES)
    session.init { idle_timeout = o.idle_timeout, absolute_timeout = o.absolute_timeout,
        secure_cookies = o.secure_cookies }
    audit.init(o.audit_file)
    ORIGIN = o.origin
    backend.init {
        uid = os.getenv("ENOM_UID") or "resellid", pw = os.getenv("ENOM_PW"),
        endpoint = os.getenv("ENOM_ENDPOINT") or "test", owners_file = o.owners_file,
        pak_price = o.pak_price,
    }
    login.init()
end

-- GET /: the owner's domain, or the list of them.
local function home(ctx)
    local list = ctx.owner.domains
    if #list == 1 then
        return web.redirect("/d/" .. list[1] .. "/")
    end
    local view = { domains = {} }
    for i, d in ipairs(list) do
        view.domains[i] = { name = d, href = "/d/" .. d .. "/" }
    end
    return web.page(ctx, 200, "domains", view, "Your domains")
end

-- method, path pattern, handler; `public`: no session (the login form,
-- whose POST carries the pre-login token); `domain`: the first capture
-- is a domain the owner must own.
local ROUTES = {
    { "GET", "^/$", home },
    { "GET", "^/login$", login.form, public = true },
    { "POST", "^/login$", login.submit, public = true },
    { "POST", "^/logout$", login.logout },
    { "GET", "^/d/([^/]+)/$", mailboxes.list, domain = true },
    { "POST", "^/d/([^/]+)/create$", mailboxes.create, domain = true },
    { "POST", "^/d/([^/]+)/reset$", mailboxes.reset, domain = true },
    { "GET", "^/d/([^/]+)/delete$", mailboxes.confirm_delete, domain = true },
    { "POST", "^/d/([^/]+)/delete$", mailboxes.delete, domain = true },
    { "GET", "^/d/([^/]+)/forwards$", forwards.list, domain = true },
    { "POST", "^/d/([^/]+)/forwards/add$", forwards.add, domain = true },
    { "POST", "^/d/([^/]+)/forwards/remove$", forwards.remove, domain = true },
    { "GET", "^/d/([^/]+)/catchall$", forwards.catchall, domain = true },
    { "POST", "^/d/([^/]+)/catchall$", forwards.set_catchall, domain = true },
}

local function route_for(method, path)
    local other = false
    for _, r in ipairs(ROUTES) do
        local capture = match(path, r[2])
        if capture then
            if r[1] == method then
                return r, capture
            end
            other = true
        end
    end
    return nil, other
end

-- Is the POST from a page of this panel? The Origin header, which every
-- current browser sends with a form's POST; without it the Referer; with
-- neither, no (OWASP: block when the source cannot be verified).
local function same_origin()
    local expected = ORIGIN
    if not expected then
        local host = ngx.var.http_host
        if type(host) ~= "string" then
            return false
        end
        expected = ngx.var.scheme .. "://" .. host
    end
    local origin = ngx.var.http_origin
    if origin then
        return origin == expected
    end
    local referer = ngx.var.http_referer
    if referer then
        return referer == expected or referer:sub(1, #expected + 1) == expected .. "/"
    end
    return false
end

local function read_form()
    ngx.req.read_body()
    if ngx.req.get_body_file() then
        return nil
    end
    return ngx.req.get_post_args(MAX_FIELDS) or {}
end

local function refuse(ctx, what, who, text)
    audit.log { who = who, action = what, outcome = "refused" }
    return web.message(ctx, 403, "Refused", text)
end

--- Every page of the panel (content_by_lua).
function _M.handle()
    web.headers()
    local method, path = ngx.req.get_method(), ngx.var.uri
    local r, capture = route_for(method, path)
    if not r then
        if capture then
            ngx.header["Allow"] = method == "GET" and "POST" or "GET"
            return web.message(nil, 405, "Not here", "This page does not take that request.")
        end
        return web.message(nil, 404, "Not found", "There is no such page.")
    end
    local ctx = {}
    if method == "POST" then
        if not same_origin() then
            return refuse(nil, "origin_refused", nil,
                "The form did not come from this panel's own pages, so nothing was done.")
        end
        ctx.form = read_form()
        if not ctx.form then
            return web.message(nil, 413, "Too large", "The form sent too much.")
        end
    end
    if r.public then
        if method == "POST" and not session.login_token_ok(web.field(ctx.form, "csrf")) then
            return refuse(nil, "csrf_refused", nil,
                "The login form had expired or was not this panel's. Open the login page again.")
        end
        return r[3](ctx)
    end
    local s = session.current()
    local owner = s and backend.owner(s.owner)
    if not owner then
        if s then
            session.destroy()
        end
        if method == "GET" then
            return web.redirect("/login")
        end
        return web.redirect("/login?ended=1")
    end
    ctx.session, ctx.owner = s, owner
    if method == "POST" and not session.csrf_ok(s, web.field(ctx.form, "csrf")) then
        return refuse(ctx, "csrf_refused", owner.name,
            "The form carried no valid security token (it may be from an old page), so nothing was done.")
    end
    if r.domain then
        local d = owners.owns(owner, ngx.unescape_uri(capture))
        if not d then
            audit.log { who = owner.name, action = "denied", domain = capture, outcome = "refused" }
            return web.message(ctx, 404, "Not found", "That domain is not one of yours.", "/")
        end
        ctx.domain = d
        ctx.sld, ctx.tld = owners.split_domain(d)
    end
    return r[3](ctx)
end

--- GET /metrics: every worker's counts, from the shared dict.
function _M.metrics()
    ngx.header["Content-Type"] = metrics.CONTENT_TYPE
    ngx.header["Cache-Control"] = "no-store"
    ngx.print(backend.registry():expose())
end

return _M
