--- Lease backend "host": flock(2) on a lock file per key, from the C core.
-- Every process of this host that uses the same directory excludes the
-- others; the kernel drops a lock when its holder exits or is killed, so
-- no stale lock outlives a process. A flock does not expire: it is held
-- until the lease is released or its process ends. The ttl still counts,
-- on the local clock, as for every backend: a holder that does not renew
-- in time is told "lost" by check and renew (and keeps the lock until it
-- releases it), so a holder acts the same whatever the backend. The file
-- keeps the key's grant counter (the token).
--
-- The directory (`dir`, else the first usable of /run/lock/enom-<euid>,
-- /tmp/enom-<euid>) is created 0700 and refused when another user owns
-- it or others may write it. It depends on nothing in the environment,
-- so a cron job and an interactive run of the same user meet in the same
-- directory; processes of different users exclude each other only
-- through a `dir` they share (or the redis backend).
local _M = { OPTIONS = { dir = "string" } }

local core = require "enom.core"
local errors = require "enom.errors"

local setmetatable = setmetatable

local mt = { __index = _M }

local function _fail(reason, message)
    return nil, errors.new("lease", message, { reason = reason, backend = "host", maybe_delivered = false })
end

--- The directories tried, in order, when no `dir` is given.
function _M.default_dirs()
    local euid = core.geteuid()
    return { "/run/lock/enom-" .. euid, "/tmp/enom-" .. euid }
end

function _M.new(opts)
    return setmetatable({ name = "host", want_dir = opts.dir }, mt)
end

-- The directory is settled on first use, so lease.new never fails for
-- what the file system holds.
function _M.dir(self)
    if self.resolved then
        return self.resolved
    end
    local tried = self.want_dir and { self.want_dir } or _M.default_dirs()
    local why = {}
    for i = 1, #tried do
        local ok, err = core.lock_dir(tried[i])
        if ok then
            self.resolved = tried[i]
            return tried[i]
        end
        why[#why + 1] = err
    end
    return _fail("dir", "no usable lock directory: " .. table.concat(why, "; "))
end

function _M.try(self, key)
    local dir, err = self:dir()
    if not dir then
        return nil, err
    end
    local lock
    lock, err = core.lock_open(dir, key)
    if not lock then
        return _fail("dir", err)
    end
    local got
    got, err = lock:try()
    if not got then
        lock:close()
        if got == false then
            return false
        end
        return _fail("io", err)
    end
    local token
    token, err = lock:fence()
    if not token then
        lock:close()
        return _fail("io", err)
    end
    return { lock = lock, token = token }
end

function _M.renew(_, g)
    return g.lock:held()
end

function _M.check(_, g)
    return g.lock:held()
end

function _M.release(_, g)
    g.lock:close()
    return true
end

return _M
