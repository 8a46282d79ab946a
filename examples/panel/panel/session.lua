--- Sessions and CSRF tokens, as OWASP's Session Management and CSRF
-- Prevention cheat sheets ask.
--
-- A session id is 32 random bytes from the OS (hex in the cookie); the
-- `panel_sessions` lua_shared_dict keeps the session under a digest of
-- the id, so what the dict holds cannot be replayed as a cookie. The
-- cookie is HttpOnly, SameSite=Strict, Path=/, and Secure with the
-- `__Host-` prefix when the panel is served over TLS (`secure_cookies`).
-- A session ends after `idle_timeout` without a request and after
-- `absolute_timeout` whatever happens; logging in always makes a new id
-- (the old one, if any, is destroyed).
--
-- Forms of a session carry its synchronizer token. The login form,
-- before any session, carries a signed double-submit token: an HMAC,
-- under a key made at startup, of a random value in a pre-login cookie.
local cjson = require "cjson.safe"
local core = require "enom.core"

local _M = {}

local type = type
local byte = string.byte
local format = string.format

local DICT = "panel_sessions"

local DEFAULTS = {
    idle_timeout = 900,         -- seconds without a request (OWASP: 15-30 min for low-risk pages)
    absolute_timeout = 28800,   -- seconds since login, whatever happens (OWASP: 4-8 hours)
    secure_cookies = true,      -- Secure and __Host-: anything but a loopback test runs behind TLS
}
_M.DEFAULTS = DEFAULTS

local CONF = {}
local KEY -- the pre-login tokens' HMAC key, made in the master, shared by the workers

local function hex(s)
    return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

local function random_hex(n)
    return hex(assert(core.random_bytes(n)))
end

--- Settle the options (merged over DEFAULTS) and make the startup key.
function _M.init(opts)
    for k, v in pairs(DEFAULTS) do
        CONF[k] = v
    end
    for k, v in pairs(opts or {}) do
        if DEFAULTS[k] == nil then
            error("panel.session: unknown option " .. tostring(k), 2)
        end
        CONF[k] = v
    end
    KEY = assert(core.random_bytes(32))
end

local function cookie_name(base)
    return CONF.secure_cookies and ("__Host-" .. base) or base
end

local function cookie(base, value, max_age)
    local parts = { cookie_name(base) .. "=" .. value, "Path=/", "HttpOnly", "SameSite=Strict" }
    if CONF.secure_cookies then
        parts[#parts + 1] = "Secure"
    end
    if max_age then
        parts[#parts + 1] = "Max-Age=" .. max_age
    end
    return table.concat(parts, "; ")
end

-- Set-Cookie headers pile up over one answer.
local function set_cookie(value)
    local h = ngx.header["Set-Cookie"]
    if type(h) == "table" then
        h[#h + 1] = value
        ngx.header["Set-Cookie"] = h
    elseif h then
        ngx.header["Set-Cookie"] = { h, value }
    else
        ngx.header["Set-Cookie"] = { value }
    end
end

-- The cookie's value when it is one this module set (64 hex digits).
local function cookie_value(base)
    local header = ngx.var.http_cookie
    if type(header) ~= "string" then
        return nil
    end
    local name = cookie_name(base)
    for pair in header:gmatch("[^;]+") do
        local k, v = pair:match("^%s*([^=%s]+)=(%x+)%s*$")
        if k == name and #v == 64 then
            return v
        end
    end
    return nil
end

local function dict_key(id)
    return "s:" .. hex(ngx.sha1_bin(id))
end

local function store(id, s)
    local ok, err = ngx.shared[DICT]:set(dict_key(id), cjson.encode(s), CONF.idle_timeout)
    if not ok then
        return nil, err
    end
    return true
end

--- Equal strings, in time that does not depend on where they differ.
function _M.same(a, b)
    if type(a) ~= "string" or type(b) ~= "string" or #a ~= #b then
        return false
    end
    local diff = 0
    for i = 1, #a do
        if byte(a, i) ~= byte(b, i) then
            diff = diff + 1
        end
    end
    return diff == 0
end

--- Start a session for `owner` (after a login): a new id, a new CSRF
-- token; the request's old session, if any, is destroyed.
-- @return the session, or nil and an error (the dict is full)
function _M.start(owner)
    _M.destroy()
    local id = random_hex(32)
    local now = ngx.time()
    local s = { owner = owner, created = now, seen = now, csrf = random_hex(32) }
    local ok, err = store(id, s)
    if not ok then
        return nil, err
    end
    set_cookie(cookie("panel", id))
    -- The pre-login cookie has done its work.
    set_cookie(cookie("panel_pre", "", 0))
    s.id = id
    return s
end

--- The request's session, refreshed, or nil and why ("none", "idle",
-- "absolute").
function _M.current()
    local id = cookie_value("panel")
    if not id then
        return nil, "none"
    end
    local dict = ngx.shared[DICT]
    local text = dict:get(dict_key(id))
    local s = text and cjson.decode(text)
    if type(s) ~= "table" then
        -- Unknown, or gone after idle_timeout (the dict's expiry).
        return nil, text and "none" or "idle"
    end
    local now = ngx.time()
    if now - s.created >= CONF.absolute_timeout then
        dict:delete(dict_key(id))
        return nil, "absolute"
    end
    if now - s.seen >= CONF.idle_timeout then
        dict:delete(dict_key(id))
        return nil, "idle"
    end
    s.seen = now
    store(id, s)
    s.id = id
    return s
end

--- Keep a change to the session (a flash message).
function _M.save(s)
    local id = s.id
    s.id = nil
    local ok, err = store(id, s)
    s.id = id
    return ok, err
end

--- End the request's session (logout): the dict entry and the cookie.
function _M.destroy()
    local id = cookie_value("panel")
    if id then
        ngx.shared[DICT]:delete(dict_key(id))
        set_cookie(cookie("panel", "", 0))
    end
end

--- The login form's token: the pre-login cookie's value signed; the
-- cookie is set when the request has none.
function _M.login_token()
    local pre = cookie_value("panel_pre")
    if not pre then
        pre = random_hex(32)
        set_cookie(cookie("panel_pre", pre))
    end
    return hex(ngx.hmac_sha1(KEY, pre))
end

--- Does the login form's token match the pre-login cookie?
function _M.login_token_ok(token)
    local pre = cookie_value("panel_pre")
    return pre ~= nil and _M.same(token, hex(ngx.hmac_sha1(KEY, pre)))
end

--- Does a session form's token match the session's?
function _M.csrf_ok(s, token)
    return s ~= nil and _M.same(token, s.csrf)
end

return _M
