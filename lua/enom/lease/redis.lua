--- Lease backend "redis": one Redis server for every host that reaches it.
--
-- The take is `SET lease-key id NX PX ttl` and, in the same script, `INCR`
-- of the fence counter (the token, one counter for every key: tokens
-- only grow). A counter that is missing (a new Redis, or one that lost
-- its data: FLUSHALL, a restart without persistence, a failover to a
-- replica behind) starts from the server's clock in microseconds, above
-- every token granted before as long as that clock does not go back.
-- Renewing, checking and
-- releasing are small scripts that act only while the key still holds
-- this holder's id, so a holder whose lease expired never extends or
-- deletes its successor's. Every call is one EVAL: one round trip, atomic
-- in Redis.
--
-- Clients: inside nginx Debian's lua-nginx-redis (`nginx.redis`, on
-- cosockets: it never blocks a worker; pooled connections); elsewhere
-- Debian's lua-redis (pure Lua over LuaSocket). lua-redis is packaged for
-- Lua 5.1 to 5.3 only but is version-neutral code: under Lua 5.4 it is
-- loaded from /usr/share/lua/5.3 when it is not on the path.
--
-- The password is never an option value: `password_env` names an
-- environment variable, `password_file` a file, read when connecting. It
-- shows in no error, nor in the locker's fields.
-- luacheck: read globals ngx
local _M = {
    OPTIONS = {
        host = "string", port = "number", db = "number", prefix = "string", username = "string",
        password_env = "string", password_file = "string", connect_timeout = "number", timeout = "number",
    },
}

local core = require "enom.core"
local errors = require "enom.errors"

local type = type
local pcall = pcall
local floor = math.floor
local tostring = tostring
local setmetatable = setmetatable

local mt = { __index = _M }

local DEFAULTS = { host = "127.0.0.1", port = 6379, db = 0, prefix = "enom:", connect_timeout = 2, timeout = 2 }

-- KEYS[1] lease key, KEYS[2] fence key; ARGV[1] id, ARGV[2] ttl in ms,
-- ARGV[3] and ARGV[4] the fence's epoch and scale (enom.h).
local ACQUIRE = [[
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('exists', KEYS[2]) == 0 then
    local t = redis.call('time')
    local us = (tonumber(t[1]) - tonumber(ARGV[3])) * 1000000 + tonumber(t[2])
    redis.call('set', KEYS[2], string.format('%.0f', us * tonumber(ARGV[4])))
  end
  return redis.call('incr', KEYS[2])
end
return 0]]
local RENEW = [[
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0]]
local CHECK = [[
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pttl', KEYS[1])
end
return -3]]
local RELEASE = [[
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0]]

local function _fail(reason, message, secret)
    return nil, errors.new("lease", message, { reason = reason, backend = "redis", maybe_delivered = false },
        secret and { secret } or nil)
end

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
    mod.commands.eval = mod.command("EVAL")
    lua_redis = mod
    return mod
end

-- A connection outside nginx: one per locker, kept while it works.
local Plain = {}
Plain.__index = Plain

function Plain.call(self, cfg, password, script, ...)
    local conn = self.conn
    if not conn then
        local redis, err = _lua_redis()
        if not redis then
            return nil, "transport", err
        end
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
    local ok, res = pcall(conn.eval, conn, script, ...)
    if not ok then
        -- Whatever broke, the next call starts on a fresh connection.
        self.conn = nil
        pcall(conn.network.socket.close, conn.network.socket)
        res = _bare(res)
        return nil, res:find("redis error", 1, true) and "server" or "transport", res
    end
    return res
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

function Cosocket.call(_, cfg, password, script, ...)
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
    res, err = red:eval(script, ...)
    if res == nil or res == false then
        red:close()
        return nil, res == false and "server" or "transport",
            (res == false and "redis error: " or "connection error: ") .. tostring(err)
    end
    red:set_keepalive(10000, 32)
    return res
end

function Cosocket.close() end

local function _in_nginx()
    return type(ngx) == "table" and type(ngx.socket) == "table" and ngx.socket.tcp ~= nil
end

function _M.new(opts)
    local cfg = {}
    for k, v in pairs(DEFAULTS) do
        cfg[k] = opts[k] == nil and v or opts[k]
    end
    cfg.username = opts.username
    if opts.password_env and opts.password_file then
        error("enom.lease: give password_env or password_file, not both", 3)
    end
    if cfg.port ~= floor(cfg.port) or cfg.port < 1 or cfg.port > 65535 then
        error("enom.lease: port must be an integer from 1 to 65535", 3)
    end
    if cfg.db ~= floor(cfg.db) or cfg.db < 0 then
        error("enom.lease: db must be a non-negative integer", 3)
    end
    if not (cfg.connect_timeout > 0 and cfg.timeout > 0) then
        error("enom.lease: connect_timeout and timeout must be more than 0", 3)
    end
    cfg.db = floor(cfg.db)
    cfg.port = floor(cfg.port)
    local conn = setmetatable({}, _in_nginx() and Cosocket or Plain)
    local pw_opts = { password_env = opts.password_env, password_file = opts.password_file }
    local self = setmetatable({ name = "redis", cfg = cfg }, mt)
    -- The password stays in this closure: it is in no field of the locker.
    self.run = function(script, nkeys, ...)
        local password, why = _read_password(pw_opts)
        if why then
            return _fail("auth", "Redis password: " .. why)
        end
        local res, kind, msg = conn:call(cfg, password, script, nkeys, ...)
        if res == nil then
            return _fail(kind, ("Redis at %s:%d: %s"):format(cfg.host, cfg.port, tostring(msg)), password)
        end
        return res
    end
    self.close = function()
        conn:close()
    end
    return self
end

-- The journal of intents (enom.journal) in Redis: a hash per key (entry
-- id -> JSON), and a set of the keys that have one. Writes made for a
-- lease happen only while the lease key still holds the holder's id.
-- KEYS[1] journal hash, KEYS[2] set of keys, KEYS[3] lease key (or "");
-- ARGV[1] holder id (or ""), ARGV[2] entry id, ARGV[3] entry, ARGV[4] the key.
local J_PUT = [[
if KEYS[3] ~= '' and redis.call('get', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('hset', KEYS[1], ARGV[2], ARGV[3])
redis.call('sadd', KEYS[2], ARGV[4])
return 1]]
local J_DEL = [[
if KEYS[3] ~= '' and redis.call('get', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('hdel', KEYS[1], ARGV[2])
if redis.call('hlen', KEYS[1]) == 0 then redis.call('srem', KEYS[2], ARGV[4]) end
return 1]]
local J_LIST = "return redis.call('hvals', KEYS[1])"
local J_KEYS = "return redis.call('smembers', KEYS[1])"

local Store = {}
Store.__index = Store

local function _fenced(self, script, key, id, value, lease)
    local p = self.backend.cfg.prefix
    local lkey, holder = "", ""
    if lease then
        lkey, holder = lease.grant.lkey, lease.grant.id
    end
    local n, err = self.backend.run(script, 3, p .. "journal:" .. key, p .. "journals", lkey, holder, id, value or "", key)
    if n == nil then
        return nil, err
    end
    if tonumber(n) ~= 1 then
        return nil, errors.new("lost", "the lease on " .. key .. " is lost: the journal was not written",
            { key = key, backend = "redis", maybe_delivered = false })
    end
    return true
end

function Store.put(self, key, entry, lease)
    return _fenced(self, J_PUT, key, entry.id, require("enom.json").encode(entry), lease)
end

function Store.del(self, key, id, lease)
    return _fenced(self, J_DEL, key, id, nil, lease)
end

function Store.list(self, key)
    local vals, err = self.backend.run(J_LIST, 1, self.backend.cfg.prefix .. "journal:" .. key)
    if vals == nil then
        return nil, err
    end
    local json, out = require "enom.json", {}
    for _, v in ipairs(vals) do
        local e = json.decode(v)
        if type(e) == "table" then
            out[#out + 1] = e
        end
    end
    return out
end

function Store.keys(self)
    local keys, err = self.backend.run(J_KEYS, 1, self.backend.cfg.prefix .. "journals")
    if keys == nil then
        return nil, err
    end
    table.sort(keys)
    return keys
end

--- The journal store of this backend: the same Redis.
function _M.journal_store(self)
    return setmetatable({ name = "redis", backend = self }, Store)
end

local function _ms(seconds)
    return tostring(floor(seconds * 1000 + 0.5))
end

function _M.keys(self, key)
    local p = self.cfg.prefix
    return p .. "lease:" .. key, p .. "fence"
end

function _M.try(self, key, ttl, id)
    local lkey, fkey = self:keys(key)
    local n, err = self.run(ACQUIRE, 2, lkey, fkey, id, _ms(ttl), core.FENCE_EPOCH, core.FENCE_SCALE)
    if n == nil then
        -- The take may have happened before the answer was lost: undo it,
        -- if it did, so the key does not stay held until its ttl.
        self.run(RELEASE, 1, lkey, id)
        return nil, err
    end
    n = tonumber(n)
    if not n or n == 0 then
        return false
    end
    return { lkey = lkey, id = id, token = n }
end

function _M.renew(self, g, ttl)
    local n, err = self.run(RENEW, 1, g.lkey, g.id, _ms(ttl))
    if n == nil then
        return nil, err
    end
    return tonumber(n) == 1
end

-- The key must still be this holder's, with more than margin left in
-- Redis too.
function _M.check(self, g, margin)
    local n, err = self.run(CHECK, 1, g.lkey, g.id)
    if n == nil then
        return nil, err
    end
    n = tonumber(n) or -3
    return n == -1 or n > (margin or 0) * 1000
end

function _M.release(self, g)
    local n, err = self.run(RELEASE, 1, g.lkey, g.id)
    if n == nil then
        return nil, err
    end
    return true
end

return _M
