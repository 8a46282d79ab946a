--- One rate limit for the eNom account: at most `rate` requests a second
-- (with `burst` at once), shared by every part of enom that sends, and,
-- with a shared backend, by every process and host.
--
-- eNom publishes no limit and offers no bulk calls, so an operator caps
-- the account's requests per second. The limiter is GCRA (the generic
-- cell rate algorithm, a token bucket kept as one number): the
-- theoretical arrival time `tat` of the next request; a request may go
-- when `tat` is at most (burst - 1) intervals ahead of now, and moves it
-- one interval on. Asking never waits: `take` answers 0 (go now, the
-- token is taken) or the seconds until a token is due, and the caller
-- decides how to wait (enom.batch keeps polling the requests in flight;
-- a single call sleeps, yielding inside nginx).
--
-- Backends:
--
--   process  a table in this Lua state (every client of a process, or one
--            nginx worker)
--   shdict   an nginx lua_shared_dict: every worker of one nginx
--            (`lua_shared_dict enom_ratelimit 1m;`, `dict` names it)
--   redis    one Redis for every host: one EVAL per take, atomic, on the
--            server's clock (TIME inside the script), so hosts whose
--            clocks differ still share one limit. Its connection options
--            (`redis = { host, port, db, prefix, password_env, ... }`) are
--            enom.redis's.
--
-- @usage
-- local ratelimit = require "enom.ratelimit"
-- local lim = ratelimit.new { rate = 20, backend = "redis", redis = { host = "10.0.0.5" } }
-- local wait = assert(lim:take())    -- 0: send now; else ask again in `wait` seconds
-- -- or let a client honour it in every call and batch:
-- local client = enom.new { uid = ..., pw = ..., rate_limit = { rate = 20, backend = "redis", redis = {...} } }
-- luacheck: read globals ngx
local clock = require "enom.clock"
local errors = require "enom.errors"
local names = require "enom.names"

local _M = { _VERSION = "0.1" }

local type = type
local pairs = pairs
local pcall = pcall
local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable
local max = math.max
local floor = math.floor
local ceil = math.ceil

local DEFAULTS = { burst = 1, backend = "process", dict = "enom_ratelimit", key = "default" }
_M.DEFAULTS = DEFAULTS

-- Options and their types; `redis` is checked by enom.redis.
local OPTIONS = {
    rate = "number", burst = "number", backend = "string", key = "string", dict = "string", redis = "table",
    clock = "function",
}
_M.OPTIONS = OPTIONS

local MAX_RATE = 1e6
-- A shared dict's take is a short critical section under a lock entry;
-- a taker that finds it held asks again this much later (never spins).
local LOCK_WAIT = 0.001
local LOCK_TTL = 0.1

--- The limiter's arithmetic, pure: with the theoretical arrival time
-- `tat` (nil for none), may a request go at `now`?
-- @param tat the stored theoretical arrival time (seconds), or nil
-- @param now the time of the request (seconds, same clock)
-- @param interval seconds between requests (1 / rate)
-- @param burst how many may go at once (1 or more)
-- @return 0 and the new tat when it may go; else the seconds to wait
--   and the tat unchanged
function _M.gcra(tat, now, interval, burst)
    local t = max(tat or now, now)
    local ahead = t - now
    local allowed = (burst - 1) * interval
    if ahead <= allowed + 1e-9 then
        return 0, t + interval
    end
    return ahead - allowed, tat
end
local gcra = _M.gcra

local Limiter = {}
Limiter.__index = Limiter
Limiter.__name = "enom.ratelimit"

function Limiter.__tostring(self)
    return ("enom.ratelimit (%g/s, burst %d, %s)"):format(self.rate, self.burst, self.backend)
end

-- process: one table per Lua state, keyed by the limit's key, so every
-- client of the process made with the same key shares it.
local process_tat = {}

local Process = {}
Process.__index = Process

function Process.take(_, lim)
    local wait, tat = gcra(process_tat[lim.key], lim.now(), lim.interval, lim.burst)
    process_tat[lim.key] = tat
    return wait
end

-- shdict: the tat in a lua_shared_dict, read and written under a lock
-- entry (the dict has no compare-and-set), on the host's monotonic
-- clock, which every worker shares.
local Shdict = {}
Shdict.__index = Shdict

function Shdict.take(self, lim)
    local d = self.dict
    local key, lock = "ratelimit:" .. lim.key, "ratelimit-lock:" .. lim.key
    local ok, err = d:safe_add(lock, true, LOCK_TTL)
    if not ok then
        if err == "exists" then
            return LOCK_WAIT
        end
        return nil, errors.new("rate_limit", "lua_shared_dict " .. self.name .. ": " .. tostring(err),
            { reason = "io", backend = "shdict", maybe_delivered = false })
    end
    local now = lim.now()
    local wait, tat = gcra(d:get(key), now, lim.interval, lim.burst)
    if wait == 0 then
        ok, err = d:safe_set(key, tat, max(1, ceil(tat - now + 1)))
    end
    d:delete(lock)
    if not ok then
        return nil, errors.new("rate_limit", "lua_shared_dict " .. self.name .. ": " .. tostring(err),
            { reason = "io", backend = "shdict", maybe_delivered = false })
    end
    return wait
end

-- redis: the same arithmetic in one script, in microseconds of the
-- server's clock. KEYS[1] the tat; ARGV[1] interval, ARGV[2] burst.
-- Answers 0 (taken) or the microseconds to wait.
local TAKE = [[
local t = redis.call('time')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('get', KEYS[1])) or now
if tat < now then tat = now end
local ahead = tat - now - (burst - 1) * interval
if ahead > 0 then return ahead end
tat = tat + interval
redis.call('set', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return 0]]

local Redis = {}
Redis.__index = Redis

function Redis.take(self, lim)
    local us, err = self.conn:eval(TAKE, 1, self.key, floor(lim.interval * 1e6 + 0.5), lim.burst)
    if us == nil then
        return nil, err
    end
    return (tonumber(us) or 0) / 1e6
end

function Redis.close(self)
    self.conn:close()
end

local function fail(msg)
    error("enom.ratelimit: " .. msg, 3)
end

--- A limiter. Bad options raise, naming the option.
-- @param opts { rate = requests per second (required, > 0), burst = how
--   many may go at once (1), backend = "process" (default), "shdict" or
--   "redis", key = the limit's name (one per eNom account: a client
--   uses its login id), dict = the lua_shared_dict ("enom_ratelimit"),
--   redis = enom.redis options (host, port, db, prefix, username,
--   password_env, password_file, connect_timeout, timeout), clock = a
--   function returning seconds (process and shdict; for tests) }
-- @return the limiter
function _M.new(opts)
    if type(opts) ~= "table" then
        fail("options must be a table like { rate = 20 }")
    end
    for k, v in pairs(opts) do
        local want = OPTIONS[k]
        if not want then
            fail("unknown option '" .. tostring(k) .. "' (rate, burst, backend, key, dict, redis)")
        end
        if type(v) ~= want then
            fail(("option %s must be a %s, not a %s"):format(k, want, type(v)))
        end
    end
    local rate = opts.rate
    if rate == nil then
        fail("rate is missing: requests per second, like { rate = 20 }")
    end
    if not (rate > 0 and rate <= MAX_RATE) then
        fail(("rate must be more than 0 and at most %d requests per second"):format(MAX_RATE))
    end
    local burst = opts.burst or DEFAULTS.burst
    if burst % 1 ~= 0 or burst < 1 or burst > 100000 then
        fail("burst must be a whole number from 1 to 100000")
    end
    local backend = opts.backend or DEFAULTS.backend
    if opts.redis and backend ~= "redis" then
        fail("option redis is for backend = \"redis\"")
    end
    if opts.dict and backend ~= "shdict" then
        fail("option dict is for backend = \"shdict\"")
    end
    if opts.clock and backend == "redis" then
        fail("option clock is for the process and shdict backends (redis uses the server's clock)")
    end
    local key = opts.key or DEFAULTS.key
    if key == "" or #key > 256 then
        fail("key must be a string of 1 to 256 bytes")
    end
    local impl
    if backend == "process" then
        impl = setmetatable({}, Process)
    elseif backend == "shdict" then
        local name = opts.dict or DEFAULTS.dict
        if type(ngx) ~= "table" or not ngx.shared then
            fail("the shdict backend runs only inside nginx")
        end
        local dict = ngx.shared[name]
        if not dict then
            fail("no lua_shared_dict " .. name .. " in the nginx configuration")
        end
        impl = setmetatable({ dict = dict, name = name }, Shdict)
    elseif backend == "redis" then
        local conn = require("enom.redis").new(opts.redis or {}, "rate_limit", "enom.ratelimit", 3)
        impl = setmetatable({ conn = conn, key = conn:key("ratelimit:" .. key) }, Redis)
    else
        fail("unknown backend '" .. backend .. "' (process, shdict or redis)")
    end
    return setmetatable({
        rate = rate,
        burst = burst,
        interval = 1 / rate,
        backend = backend,
        key = key,
        now = opts.clock or clock.now,
        impl = impl,
    }, Limiter)
end

--- The limiter of a client or policy option: a limiter as it is, or its options
-- (a table) made into one whose key is the account's login id unless it
-- names its own.
-- @param v a limiter or the options of `new`
-- @param uid the account's login id
-- @return the limiter, or nil and the message (a bad option)
function _M.of(v, uid)
    if _M.is(v) then
        return v
    end
    if type(v) ~= "table" then
        return nil, "rate_limit must be a table like { rate = 20 } or a limiter"
    end
    local opts = {}
    for k, x in pairs(v) do
        opts[k] = x
    end
    if opts.key == nil and uid then
        opts.key = names.account(uid)
    end
    local ok, lim = pcall(_M.new, opts)
    if not ok then
        return nil, (tostring(lim):gsub("^[^\n]-%.lua:%d+: ", ""):gsub("^enom%.ratelimit: ", ""))
    end
    return lim
end

--- Is `v` a limiter: one of `new`, or a table of the caller's with a
-- `take` method that answers as `Limiter.take` does?
-- @param v any value
function _M.is(v)
    return getmetatable(v) == Limiter or (type(v) == "table" and type(v.take) == "function")
end

--- Take a token if one is due. Never waits.
-- @param self the limiter
-- @return 0 when the request may go now (the token is taken), else the
--   seconds until one is due (ask again then); or nil and an error of
--   kind "rate_limit" (the backend failed; `reason`: transport, server,
--   auth, io): the request should not go
function Limiter.take(self)
    return self.impl:take(self)
end

--- Take a token, sleeping until one is due (`ngx.sleep` inside nginx:
-- the worker goes on serving). For single calls; a batch keeps its
-- requests in flight moving instead (enom.batch).
-- @param self the limiter
-- @param sleep how to wait (optional, enom.clock.sleep)
-- @return the seconds waited, or nil and the error of `take`
function Limiter.wait(self, sleep)
    sleep = sleep or clock.sleep
    local waited = 0
    while true do
        local w, err = self.impl:take(self)
        if w == nil then
            return nil, err
        end
        if w <= 0 then
            return waited
        end
        local t0 = clock.now()
        sleep(w)
        waited = waited + (clock.now() - t0)
    end
end

--- Drop what the backend keeps open (a Redis connection outside nginx).
-- @param self the limiter
function Limiter.close(self)
    if self.impl.close then
        self.impl:close()
    end
end

return _M
