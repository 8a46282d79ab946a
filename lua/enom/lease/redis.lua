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
-- The connection (lua-redis outside nginx, lua-nginx-redis inside, the
-- password only from password_env or password_file) is enom.redis's,
-- shared with the rate limit and the job queue.
local redis = require "enom.redis"

local _M = { OPTIONS = redis.OPTIONS }

local core = require "enom.core"
local errors = require "enom.errors"

local type = type
local floor = math.floor
local tostring = tostring
local setmetatable = setmetatable

local mt = { __index = _M }

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

function _M.new(opts)
    local conn = redis.new(opts, "lease", "enom.lease", 3)
    local self = setmetatable({ name = "redis", cfg = conn.cfg, conn = conn }, mt)
    self.run = function(script, nkeys, ...)
        return conn:eval(script, nkeys, ...)
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
