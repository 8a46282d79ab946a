-- A separate OS process for spec/lease_spec.lua (and the multi-process
-- provisioning specs): contends for a lease, or holds one until killed.
--
--   LUA count BACKEND KEY FILE ITERATIONS START_AT
--       ITERATIONS times: take the lease (BACKEND "none": no lease), read
--       the counter in FILE, sleep, write it plus one with the lease's
--       token. Starts at START_AT on the monotonic clock (a barrier).
--       Exits 3 when a token did not grow.
--   LUA hold BACKEND KEY READY_FILE TTL
--       take the lease, write its token to READY_FILE, sleep until killed.
--
-- LEASE_DIR is the host lock directory; ENOM_TEST_REDIS is host:port.
local core = require "enom.core"
local lease = require "enom.lease"

local mode, backend, key = arg[1], arg[2], arg[3]

local function locker()
    local opts = { backend = backend, dir = (backend == "host" or backend == "default") and os.getenv("LEASE_DIR") or nil }
    if backend == "redis" then
        local host, port = assert(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set"):match("^(.+):(%d+)$")
        opts.host, opts.port = host, tonumber(port)
    end
    return lease.new(opts)
end

local function read_counter(path)
    local f = io.open(path, "r")
    if not f then
        return 0, 0
    end
    local text = f:read("a")
    f:close()
    local n, token = text:match("^(%d+) (%d+)")
    return tonumber(n) or 0, tonumber(token) or 0
end

local function write_counter(path, n, token)
    local f = assert(io.open(path, "w"))
    f:write(("%d %d\n"):format(n, token))
    f:close()
end

if mode == "count" then
    local file, iterations, start_at = arg[4], tonumber(arg[5]), tonumber(arg[6])
    local l = backend ~= "none" and locker() or nil
    while core.now() < start_at do
        core.sleep(0.001)
    end
    for _ = 1, iterations do
        local held
        if l then
            held = assert(l:acquire(key, { ttl = 10, wait = 60 }))
        end
        local n, last = read_counter(file)
        core.sleep(0.002)
        local token = held and held.token or 0
        if held then
            assert(held:check())
            if token <= last then
                io.stderr:write(("token %d after %d\n"):format(token, last))
                os.exit(3)
            end
        end
        write_counter(file, n + 1, token)
        if held then
            held:release()
        end
    end
elseif mode == "hold" then
    local ready, ttl = arg[4], tonumber(arg[5])
    local held = assert(locker():acquire(key, { ttl = ttl, wait = 10 }))
    local f = assert(io.open(ready .. ".tmp", "w"))
    f:write(tostring(held.token), "\n")
    f:close()
    assert(os.rename(ready .. ".tmp", ready))
    core.sleep(600)
else
    error("usage: lease_worker.lua count|hold ...")
end
