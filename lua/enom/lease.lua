--- Leases: one holder of a key (a domain) at a time, wherever it runs.
--
-- A lease is granted for a time (`ttl`), kept by renewing it, and
-- released by its holder only. Backends:
--
--   process  a table in this Lua state: coroutines of one runner and
--            several runners in one process (or one nginx worker)
--   host     flock(2) on a lock file per key: every process of this host;
--            the kernel drops it when its holder dies
--   shdict   an nginx lua_shared_dict: every worker of one nginx
--   redis    a Redis server: every host that reaches it
--   default  process + host, both taken in that order: the strongest
--            there is without any configuration
--
-- Every grant carries a fencing token (`lease.token`) that grows with
-- each grant of the key, and `lease:check()` says whether the holder may
-- still act: the lease is still its own and has time left.
--
-- Errors (enom error values, lua/enom/errors.lua), by `kind`:
--   busy   another holder kept the key all through `wait`
--   lost   the lease expired or another holder took it; final
--   lease  the backend failed; `reason` is "transport" (Redis does not
--          answer), "server", "auth", "dir" (no usable lock directory)
--          or "io". A lease error is never a grant.
--
-- @usage
-- local lease = require "enom.lease"
-- local locker = lease.new { backend = "default" }
-- local l, err = locker:acquire("example.com", { ttl = 60, wait = 10 })
-- if not l then return nil, err end          -- err.kind == "busy": held elsewhere
-- assert(l:check())                          -- before each action
-- l:renew()                                   -- well before ttl runs out
-- l:release()
local _M = {}

local core = require "enom.core"
local errors = require "enom.errors"
local clock = require "enom.clock"
local names = require "enom.names"
local journal = require "enom.journal"

local type = type
local pairs = pairs
local error = error
local min = math.min
local max = math.max
local floor = math.floor
local random = math.random
local setmetatable = setmetatable
local tostring = tostring
local tonumber = tonumber
local format = string.format

local Locker = {}
Locker.__index = Locker
Locker.__name = "enom.locker"

local Lease = {}
Lease.__index = Lease
Lease.__name = "enom.lease"

local BACKENDS = {
    process = "enom.lease.process",
    host = "enom.lease.host",
    shdict = "enom.lease.shdict",
    redis = "enom.lease.redis",
}

-- Options every backend takes, with their types.
local COMMON = { backend = "string", ttl = "number", wait = "number", margin = "number", sleep = "function" }

local DEFAULTS = { ttl = 30, wait = 0 }

local POLL_FIRST = 0.01 -- seconds between the first tries of a busy key
local POLL_MAX = 0.1
local MAX_KEY = 512

--- The lease key of a domain of an eNom account. eNom's login ids are
-- not case sensitive and domain names are not either, so "ResellID" and
-- "resellid" acting on "Example.com" take one lease.
-- @param uid the account's login id
-- @param domain the domain, like example.com
-- @return the key, "enom:<account>:<domain>"
function _M.key(uid, domain)
    return "enom:" .. names.account(uid) .. ":" .. names.canonical_domain(domain)
end

local function _backend_module(name)
    return require(BACKENDS[name])
end

-- "default" is process + host, taken in that order and let go in reverse.
local Both = {}
Both.__index = Both

function Both.new(opts)
    return setmetatable({
        name = "default",
        first = _backend_module("process").new(opts),
        second = _backend_module("host").new(opts),
    }, Both)
end

function Both.try(self, key, ttl, id)
    local a, err = self.first:try(key, ttl, id)
    if not a then
        return a, err
    end
    local b
    b, err = self.second:try(key, ttl, id)
    if not b then
        self.first:release(a)
        return b, err
    end
    -- The host's counter lives in the lock file: it grows across processes.
    return { token = b.token, a = a, b = b }
end

function Both.renew(self, g, ttl, margin)
    local ok, err = self.first:renew(g.a, ttl, margin)
    if not ok then
        return ok, err
    end
    return self.second:renew(g.b, ttl, margin)
end

function Both.check(self, g, margin)
    local ok, err = self.first:check(g.a, margin)
    if not ok then
        return ok, err
    end
    return self.second:check(g.b, margin)
end

function Both.release(self, g, safe_until)
    local ok, err = self.second:release(g.b, safe_until)
    local ok2, err2 = self.first:release(g.a, safe_until)
    if not ok then
        return ok, err
    end
    return ok2, err2
end

local function _check_options(opts, allowed)
    for k, v in pairs(opts) do
        local want = COMMON[k] or allowed[k]
        if not want then
            error("enom.lease: unknown option " .. tostring(k), 3)
        end
        if type(v) ~= want then
            error(format("enom.lease: option %s must be a %s, not a %s", k, want, type(v)), 3)
        end
    end
end

local function _check_times(t, where)
    if t.ttl ~= nil and not (t.ttl > 0 and t.ttl <= 86400) then
        error("enom.lease: " .. where .. "ttl must be between 0 and 86400 seconds", 3)
    end
    if t.wait ~= nil and not (t.wait >= 0 and t.wait <= 86400) then
        error("enom.lease: " .. where .. "wait must be between 0 and 86400 seconds", 3)
    end
    if t.margin ~= nil and not (t.margin >= 0 and t.margin < 86400) then
        error("enom.lease: " .. where .. "margin must be 0 or more", 3)
    end
end

--- A locker: hands out leases on keys through one backend.
-- Bad options raise; problems of the world (a lock directory that may not
-- be used, a Redis that does not answer) come back from `acquire`.
-- @param opts `backend` ("default", "process", "host", "shdict", "redis"),
--   `ttl` (30 s) and `wait` (0 s) as defaults for `acquire`, `margin`
--   (the part of the ttl `check` keeps in reserve; min(1 s, ttl / 10)),
--   `sleep` (how to wait between tries), and the backend's own:
--   host/default `dir`; shdict `dict` ("enom_lease"); redis `host`,
--   `port`, `db`, `prefix`, `username`, `password_env`, `password_file`,
--   `connect_timeout`, `timeout`.
function _M.new(opts)
    opts = opts or {}
    if type(opts) ~= "table" then
        error("enom.lease: options must be a table", 2)
    end
    local name = opts.backend or "default"
    local mod
    if name == "default" then
        mod = Both
    elseif BACKENDS[name] then
        mod = _backend_module(name)
    else
        error("enom.lease: unknown backend " .. tostring(name), 2)
    end
    local allowed = {}
    if name == "default" then
        allowed.dir = "string"
    else
        for k, v in pairs(mod.OPTIONS) do
            allowed[k] = v
        end
    end
    _check_options(opts, allowed)
    _check_times(opts, "")
    return setmetatable({
        backend = name,
        impl = mod.new(opts),
        ttl = opts.ttl or DEFAULTS.ttl,
        wait = opts.wait or DEFAULTS.wait,
        margin = opts.margin,
        sleep = opts.sleep,
    }, Locker)
end

function Locker.__tostring(self)
    return "enom.locker (" .. self.backend .. ")"
end

local HEX = "0123456789abcdef"
local function _new_id()
    local bytes = assert(core.random_bytes(16))
    return (bytes:gsub(".", function(c)
        local b = c:byte()
        local hi, lo = floor(b / 16) + 1, b % 16 + 1
        return HEX:sub(hi, hi) .. HEX:sub(lo, lo)
    end))
end

local function _margin(self, opts, ttl)
    local m = opts.margin or self.margin or min(1, ttl / 10)
    if m >= ttl then
        error("enom.lease: margin must be less than ttl", 3)
    end
    return m
end

--- Take the lease on `key`, trying until `wait` seconds have passed.
-- @param self the locker
-- @param key a non-empty string (a domain name)
-- @param opts `ttl`, `wait`, `margin`, `sleep` for this call
-- @return a lease, or `nil, err`: `err.kind == "busy"` when another holds
--   it all through `wait`; `"lease"` when the backend failed (`reason`:
--   "transport", "server", "auth", "dir", "io")
function Locker.acquire(self, key, opts)
    if type(key) ~= "string" or #key == 0 or #key > MAX_KEY then
        error("enom.lease: key must be a string of 1 to " .. MAX_KEY .. " bytes", 2)
    end
    opts = opts or {}
    _check_options(opts, {})
    if opts.backend then
        error("enom.lease: backend is an option of lease.new", 2)
    end
    _check_times(opts, "")
    local ttl = opts.ttl or self.ttl
    local wait = opts.wait or self.wait
    local margin = _margin(self, opts, ttl)
    local sleep = opts.sleep or self.sleep or clock.sleep
    local now = clock.now
    local id = _new_id()
    local t0 = now()
    local pause = POLL_FIRST
    while true do
        local asked = now()
        local grant, err = self.impl:try(key, ttl, id)
        if grant then
            return setmetatable({
                key = key,
                token = grant.token,
                backend = self.backend,
                ttl = ttl,
                margin = margin,
                -- Counted from before the request: never later than the
                -- backend's own expiry.
                deadline = asked + ttl,
                locker = self,
                grant = grant,
                released = false,
            }, Lease)
        elseif grant == nil then
            return nil, err
        end
        local waited = now() - t0
        if waited >= wait then
            return nil, errors.new("busy", format("the lease on %s is held elsewhere (%s backend, waited %.1f s)",
                key, self.backend, waited), { key = key, backend = self.backend, maybe_delivered = false })
        end
        -- Full jitter, so waiters do not try in step.
        sleep(min(pause * (0.5 + random() / 2), wait - waited))
        pause = min(pause * 2, POLL_MAX)
    end
end

--- Where the journal of intents (enom.journal) lives with this backend:
-- the same Redis for the redis backend; else files of mode 0600 in a
-- private folder of this host (`dir`, or journal.default_dirs()).
-- @param self the locker
-- @param dir the folder for a file store (optional)
-- @return a store for enom.journal.new
function Locker.journal_store(self, dir)
    if self.impl.journal_store then
        return self.impl:journal_store()
    end
    return journal.file_store(dir)
end

--- Drop what the backend keeps open (the Redis connection outside
-- nginx); leases already granted stay valid. The locker can be used again.
-- @param self the locker
function Locker.close(self)
    if self.impl.close then
        self.impl.close()
    end
end

local function _lost(self, why)
    self.lost = true
    return nil, errors.new("lost", format("the lease on %s is lost: %s", self.key, why),
        { key = self.key, backend = self.backend, token = self.token, maybe_delivered = false })
end

function Lease.__tostring(self)
    return format("enom.lease %s (%s, token %.0f)", self.key, self.backend, tonumber(self.token) or 0)
end

--- Extend the lease by its ttl from now.
-- @param self the lease
-- @return true, or `nil, err` (`err.kind == "lost"` when it expired or
--   another holds it; `"lease"` when the backend failed: the lease may
--   still be held, try again or stop)
function Lease.renew(self)
    if self.released then
        return _lost(self, "it was released")
    end
    local now = clock.now
    local asked = now()
    -- Lost is final, and a lease past its deadline may be another's by
    -- now: whatever the backend, a late renewal does not bring it back.
    if self.lost then
        return _lost(self, "it was lost before")
    end
    if asked >= self.deadline then
        return _lost(self, "its time ran out before the renewal")
    end
    local ok, err = self.locker.impl:renew(self.grant, self.ttl, self.margin)
    if ok then
        self.deadline = max(self.deadline, asked + self.ttl)
        return true
    elseif ok == false then
        return _lost(self, "it expired or another holder took it")
    end
    return nil, err
end

--- May the holder still act? True while the lease is its own and has
-- more than `margin` seconds left by the local clock.
-- @param self the lease
-- @return true, or `nil, err` as for `renew`
function Lease.check(self)
    if self.released then
        return _lost(self, "it was released")
    end
    if self.lost then
        return _lost(self, "it was lost before")
    end
    if clock.now() >= self.deadline - self.margin then
        return _lost(self, "its time ran out")
    end
    local ok, err = self.locker.impl:check(self.grant, self.margin)
    if ok then
        return true
    elseif ok == false then
        return _lost(self, "another holder took it")
    end
    return nil, err
end

--- Let the lease go, if it is still this holder's. Safe to call twice.
-- @param self the lease
-- @return true (and, when the backend could not be reached, the error:
--   the lease then ends at its ttl)
function Lease.release(self)
    if self.released then
        return true
    end
    self.released = true
    local ok, err = self.locker.impl:release(self.grant, self.deadline - self.margin)
    if not ok then
        return true, err
    end
    return true
end

Lease.__close = Lease.release

_M.BACKENDS = BACKENDS
return _M
