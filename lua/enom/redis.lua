--- One Redis connection for the parts of enom that share a Redis: the
-- lease backend (enom.lease.redis), the account's rate limit
-- (enom.ratelimit) and the job queue (enom.queue).
--
-- Clients: inside nginx Debian's lua-nginx-redis (`nginx.redis`, on
-- cosockets: it never blocks a worker; pooled connections); elsewhere
-- Debian's lua-redis (pure Lua over LuaSocket). lua-redis is packaged for
-- Lua 5.1 to 5.3 only but is version-neutral code: under Lua 5.4 it is
-- loaded from /usr/share/lua/5.3 when it is not on the path.
--
-- The password is never an option value: `password_env` names an
-- environment variable, `password_file` a file, read when connecting. It
-- shows in no error, nor in any field of the connection.
-- luacheck: read globals ngx
local errors = require "enom.errors"

local _M = {
    --- The options every user of a Redis takes, with their types.
    OPTIONS = {
        host = "string", port = "number", db = "number", prefix = "string", username = "string",
        password_env = "string", password_file = "string", connect_timeout = "number", timeout = "number",
    },
}

local type = type
local pcall = pcall
local floor = math.floor
local tostring = tostring
local upper = string.upper
local setmetatable = setmetatable

local DEFAULTS = { host = "127.0.0.1", port = 6379, db = 0, prefix = "enom:", connect_timeout = 2, timeout = 2 }
_M.DEFAULTS = DEFAULTS

local Conn = {}
Conn.__index = Conn
Conn.__name = "enom.redis"

-- "file.lua:12: could not connect..." -> "could not connect..."
local function _bare(msg)
    return (tostring(msg):gsub("^[^\n]-%.lua:%d+: ", ""))
end

local function _read_password(opts)
    if opts.password_env then
        local pw = os.getenv(opts.password_env)
        if not pw or pw == "" then
            return nil, "environment variable " .. opts.password_env .. " is not set"
        end
        return pw
    elseif opts.password_file then
        local f, err = io.open(opts.password_file, "rb")
        if not f then
            return nil, "cannot read the password file: " .. tostring(err)
        end
        local pw = f:read("a") or ""
        f:close()
        pw = pw:gsub("\r?\n$", "")
        if pw == "" then
            return nil, "the password file " .. opts.password_file .. " is empty"
        end
        return pw
    end
end

local lua_redis
local function _lua_redis()
    if lua_redis then
        return lua_redis
    end
    local ok, mod = pcall(require, "redis")
    if not ok or type(mod) ~= "table" or not mod.connect then
        local path = package.searchpath("redis", "/usr/share/lua/5.3/?.lua;/usr/share/lua/5.2/?.lua")
        if not path then
            return nil, "no Redis client: install Debian's lua-redis"
        end
        local chunk, err = loadfile(path)
        if not chunk then
            return nil, "cannot load lua-redis: " .. tostring(err)
        end
        mod = chunk()
    end
    lua_redis = mod
    return mod
end

-- lua-redis sends any command through a function made once per name.
local plain_commands = {}
local function _plain_command(redis, name)
    local f = plain_commands[name]
    if not f then
        f = redis.command(name)
        plain_commands[name] = f
    end
    return f
end

-- A connection outside nginx: one per user, kept while it works.
local Plain = {}
Plain.__index = Plain

function Plain.call(self, cfg, password, name, ...)
    local redis, err = _lua_redis()
    if not redis then
        return nil, "transport", err
    end
    local conn = self.conn
    if not conn then
        local ok, c = pcall(redis.connect, { host = cfg.host, port = cfg.port, timeout = cfg.connect_timeout })
        if not ok then
            return nil, "transport", _bare(c)
        end
        c.network.socket:settimeout(cfg.timeout)
        local ok2, why = pcall(function()
            if password then
                if cfg.username then
                    c:auth(cfg.username, password)
                else
                    c:auth(password)
                end
            end
            if cfg.db ~= 0 then
                c:select(cfg.db)
            end
        end)
        if not ok2 then
            pcall(c.network.socket.close, c.network.socket)
            why = _bare(why)
            return nil, why:find("redis error", 1, true) and "auth" or "transport", why
        end
        conn = c
        self.conn = c
    end
    local ok, res = pcall(_plain_command(redis, name), conn, ...)
    if ok then
        return res
    else
        res = _bare(res)
        local server = res:find("redis error", 1, true) ~= nil
        if not server then
            -- A broken connection: the next call starts on a fresh one.
            self.conn = nil
            pcall(conn.network.socket.close, conn.network.socket)
        end
        return nil, server and "server" or "transport", res
    end
end

function Plain.close(self)
    if self.conn then
        pcall(self.conn.network.socket.close, self.conn.network.socket)
        self.conn = nil
    end
end

-- Inside nginx: a pooled cosocket per call (a cosocket cannot outlive
-- its request), through lua-nginx-redis.
local Cosocket = {}
Cosocket.__index = Cosocket

-- ngx.null (a nil bulk or array) as nil, at the top and one level down
-- (the shapes enom's commands answer).
local function _denull(v)
    if v == ngx.null then
        return nil
    end
    if type(v) == "table" then
        for k, x in pairs(v) do
            if x == ngx.null then
                v[k] = nil
            end
        end
    end
    return v
end

function Cosocket.call(_, cfg, password, name, ...)
    local redis = require "nginx.redis"
    local red = redis:new()
    red:set_timeout(floor(cfg.connect_timeout * 1000))
    -- Connections authenticated otherwise, or on another db, live in
    -- other pools.
    local pool = cfg.host .. ":" .. cfg.port .. ":" .. cfg.db .. ":" .. (cfg.username or "")
    local ok, err = red:connect(cfg.host, cfg.port, { pool = pool })
    if not ok then
        return nil, "transport", "could not connect to " .. cfg.host .. ":" .. cfg.port .. " [" .. tostring(err) .. "]"
    end
    red:set_timeout(floor(cfg.timeout * 1000))
    if red:get_reused_times() == 0 then
        local res
        if password then
            if cfg.username then
                res, err = red:auth(cfg.username, password)
            else
                res, err = red:auth(password)
            end
            if not res then
                red:close()
                return nil, res == false and "auth" or "transport", "redis error: " .. tostring(err)
            end
        end
        if cfg.db ~= 0 then
            res, err = red:select(cfg.db)
            if not res then
                red:close()
                return nil, res == false and "server" or "transport", "redis error: " .. tostring(err)
            end
        end
    end
    local res
    res, err = red[name:lower()](red, ...)
    if res == ngx.null then
        red:set_keepalive(10000, 32)
        return nil
    end
    if res == nil or res == false then
        red:close()
        return nil, res == false and "server" or "transport",
            (res == false and "redis error: " or "connection error: ") .. tostring(err)
    end
    red:set_keepalive(10000, 32)
    return _denull(res)
end

function Cosocket.close() end

local function _in_nginx()
    return type(ngx) == "table" and type(ngx.socket) == "table" and ngx.socket.tcp ~= nil
end

--- A connection to the Redis of `opts` (host, port, db, prefix,
-- username, password_env, password_file, connect_timeout, timeout; the
-- defaults in `DEFAULTS`). Bad options raise, naming `who`; nothing is
-- sent until the first call.
-- @param opts the options (other keys are the caller's and ignored)
-- @param kind the error kind of the caller's failures ("lease", "rate_limit", "queue")
-- @param who the caller's name in messages ("enom.lease")
-- @param level the level of the caller's caller, for `error` (optional)
function _M.new(opts, kind, who, level)
    level = (level or 2) + 1
    local cfg = {}
    for k, v in pairs(DEFAULTS) do
        cfg[k] = opts[k] == nil and v or opts[k]
    end
    for k, want in pairs(_M.OPTIONS) do
        if opts[k] ~= nil and type(opts[k]) ~= want then
            error(("%s: option %s must be a %s, not a %s"):format(who, k, want, type(opts[k])), level)
        end
    end
    cfg.username = opts.username
    if opts.password_env and opts.password_file then
        error(who .. ": give password_env or password_file, not both", level)
    end
    if cfg.port ~= floor(cfg.port) or cfg.port < 1 or cfg.port > 65535 then
        error(who .. ": port must be an integer from 1 to 65535", level)
    end
    if cfg.db ~= floor(cfg.db) or cfg.db < 0 then
        error(who .. ": db must be a non-negative integer", level)
    end
    if not (cfg.connect_timeout > 0 and cfg.timeout > 0) then
        error(who .. ": connect_timeout and timeout must be more than 0", level)
    end
    cfg.db = floor(cfg.db)
    cfg.port = floor(cfg.port)
    local conn = setmetatable({}, _in_nginx() and Cosocket or Plain)
    local pw_opts = { password_env = opts.password_env, password_file = opts.password_file }
    local self = setmetatable({ cfg = cfg, kind = kind }, Conn)
    -- The password stays in this closure: it is in no field.
    self.send = function(name, ...)
        local password, why = _read_password(pw_opts)
        if why then
            return nil, errors.new(kind, "Redis password: " .. why,
                { reason = "auth", backend = "redis", maybe_delivered = false })
        end
        local res, reason, msg = conn:call(cfg, password, name, ...)
        if res == nil and reason == nil then
            -- Redis's nil (a read that found nothing): not a failure.
            return false
        end
        if res == nil then
            return nil, errors.new(kind, ("Redis at %s:%d: %s"):format(cfg.host, cfg.port, tostring(msg)),
                { reason = reason, backend = "redis", maybe_delivered = false }, password and { password } or nil)
        end
        return res
    end
    self.drop = function()
        conn:close()
    end
    return self
end

function Conn.__tostring(self)
    return ("enom.redis (%s:%d)"):format(self.cfg.host, self.cfg.port)
end

--- Send one command (its name and arguments, strings or numbers).
-- @param self the connection
-- @param name the command's name, like "XADD"
-- @return Redis's answer (false for its nil; an error reply is a failure), or nil and an
--   error of the connection's kind: `reason` is "transport" (Redis does
--   not answer), "server" (Redis refused) or "auth"
function Conn.call(self, name, ...)
    return self.send(upper(name), ...)
end

--- Run a script: `EVAL script nkeys keys... args...`, one round trip,
-- atomic in Redis.
-- @param self the connection
-- @param script the Lua source
-- @param nkeys how many of the arguments are keys
-- @return as `call`
function Conn.eval(self, script, nkeys, ...)
    return self.send("EVAL", script, nkeys, ...)
end

--- A key of this connection's prefix ("enom:" unless `prefix` said).
-- @param self the connection
-- @param name the key's name after the prefix
function Conn.key(self, name)
    return self.cfg.prefix .. name
end

--- Close the connection outside nginx (the next call opens another);
-- inside nginx connections go back to their pool after each call.
-- @param self the connection
function Conn.close(self)
    self.drop()
end

return _M
