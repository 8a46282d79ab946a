--- Logging in and out.
--
-- A wrong login costs the same whether the owner exists or not (a hash is
-- checked either way, in nginx's thread pool so the worker keeps serving)
-- and says the same. Per account, the `panel_logins` dict counts failures
-- in a window that starts with the first: the 6th attempt within a minute
-- is refused before any password is looked at, and the account opens
-- again when the window ends. nginx's `limit_req` bounds the rate of
-- login posts per client address on top (nginx.conf).
local owners = require "panel.owners"
local session = require "panel.session"
local audit = require "panel.audit"
local backend = require "panel.backend"
local web = require "panel.web"

local _M = {}

local lower = string.lower

local DICT = "panel_logins"
local MAX_FAILURES = 5      -- wrong logins per account in a window
local WINDOW = 60           -- seconds, from the first failure
local THREAD_POOL = "panel_kdf"

local DUMMY -- a hash of nothing anyone knows, checked for unknown names

--- Make the stand-in hash (init_by_lua, in the master).
function _M.init()
    local kdf = require "panel.kdf"
    DUMMY = owners.hash(require("enom.core").random_bytes(24), kdf.pbkdf2)
end

-- PBKDF2 in the thread pool: seconds of CPU never stop the event loop.
local function derive(password, salt, iterations)
    -- luacheck: push ignore 143 (ngx_lua std predates run_worker_thread)
    local ok, key = ngx.run_worker_thread(THREAD_POOL, "panel.kdf", "pbkdf2", password, salt, iterations)
    -- luacheck: pop
    if not ok then
        ngx.log(ngx.ERR, "panel: the password hash failed: ", tostring(key))
        return nil
    end
    return key
end

local function form_view(extra)
    local v = { token = session.login_token() }
    for k, x in pairs(extra or {}) do
        v[k] = x
    end
    return v
end

--- GET /login
function _M.form()
    if session.current() then
        return web.redirect("/")
    end
    local notice = ngx.var.arg_ended and "Your session ended. Log in again." or nil
    return web.page(nil, 200, "login", form_view { notice = notice }, "Log in")
end

local function count(result)
    backend.registry():inc("enom_panel_logins_total", { result = result })
end

--- POST /login (its token was checked by the dispatcher)
function _M.submit(ctx)
    local name = lower((web.field(ctx.form, "owner") or ""):match("^%s*(.-)%s*$"))
    local password = web.field(ctx.form, "password") or ""
    local valid = owners.valid_name(name)
    local who = valid and name or nil
    local key = "f:" .. (valid and name or "\0")
    local dict = ngx.shared[DICT]
    if (dict:get(key) or 0) >= MAX_FAILURES then
        audit.log { who = who, action = "login", outcome = "locked" }
        count("locked")
        return web.page(nil, 429, "login", form_view {
            owner = name,
            error = "Too many failed logins for this account: wait a minute, then try again.",
        }, "Log in")
    end
    local owner = valid and backend.owner(name)
    local good = false
    if #password >= 1 and #password <= owners.MAX_PASSWORD then
        good = owners.verify(owner and owner.hash or DUMMY, password, derive)
    end
    if not (owner and good) then
        dict:incr(key, 1, 0, WINDOW)
        audit.log { who = who, action = "login", outcome = "wrong" }
        count("wrong")
        return web.page(nil, 401, "login", form_view {
            owner = name, error = "Wrong owner name or password.",
        }, "Log in")
    end
    dict:delete(key)
    local s, err = session.start(name)
    if not s then
        ngx.log(ngx.ERR, "panel: cannot keep a session: ", tostring(err))
        return web.message(nil, 503, "Try again later", "The panel cannot open a session right now.")
    end
    audit.log { who = name, action = "login", outcome = "ok" }
    count("ok")
    return web.redirect("/")
end

--- POST /logout
function _M.logout(ctx)
    session.destroy()
    audit.log { who = ctx.owner.name, action = "logout", outcome = "ok" }
    return web.redirect("/login")
end

return _M
