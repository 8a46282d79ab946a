-- Leases (enom.lease): one holder per key, in one process, across the
-- processes of a host (flock) and across hosts (Redis), proven with
-- separate OS processes racing on a counter file. The shdict backend is
-- checked inside nginx (spec/nginx/lease).
local lease = require "enom.lease"
local core = require "enom.core"

local ROOT = os.getenv("PWD")
local LUA = jit and "luajit" or "lua5.4"
local TRIALS = 4        -- multi-process races per backend (host, redis)
local CONTROL_TRIALS = 3 -- the same race without a lease
local DEFAULT_TRIALS = 2
local PROCS = 4
local ITERATIONS = 8

-- Tools run without the sanitizer runtime this suite may preload (it
-- would report their leaks); workers get it back through worker_env.
local PRELOAD = os.getenv("LD_PRELOAD")

local function sh(cmd)
    local p = assert(io.popen("unset LD_PRELOAD; " .. cmd .. " 2>&1; echo \"rc=$?\""))
    local out = p:read("a")
    p:close()
    local rc = tonumber(out:match("rc=(%d+)%s*$"))
    return rc, out:gsub("rc=%d+%s*$", "")
end

local function q(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function tmpdir()
    local rc, out = sh("mktemp -d /tmp/enom-lease.XXXXXX")
    assert(rc == 0, out)
    return (out:gsub("%s+$", ""))
end

-- The environment a worker process needs: this run's module paths (the
-- core under test: 5.4, LuaJIT or the sanitizer build).
local function worker_env(extra)
    local path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. package.path
    local env = ("LUA_PATH=%s LUA_CPATH=%s"):format(q(path), q(package.cpath))
    if PRELOAD then
        env = env .. " LD_PRELOAD=" .. q(PRELOAD)
    end
    for k, v in pairs(extra or {}) do
        env = env .. " " .. k .. "=" .. q(v)
    end
    return env
end

local function read_file(path)
    local f = io.open(path, "r")
    if not f then
        return nil
    end
    local text = f:read("a")
    f:close()
    return text
end

local function wait_for(path, seconds)
    local t0 = core.now()
    while core.now() - t0 < seconds do
        local text = read_file(path)
        if text then
            return text
        end
        core.sleep(0.02)
    end
    error("timed out waiting for " .. path)
end

-- PROCS processes, ITERATIONS increments each, started together; returns
-- the final count and every worker's exit status.
local function race(backend, env, key)
    local dir = tmpdir()
    local file = dir .. "/counter"
    local start_at = core.now() + 0.4
    local cmds = {}
    for i = 1, PROCS do
        cmds[i] = ("(%s %s %s count %s %s %s %d %.3f > %s/w%d.out 2>&1; echo $? > %s/w%d.rc) &"):format(
            worker_env(env), LUA, q(ROOT .. "/spec/support/lease_worker.lua"), backend, q(key), q(file), ITERATIONS,
            start_at, dir, i, dir, i)
    end
    local rc, out = sh(table.concat(cmds, "\n") .. "\nwait")
    assert(rc == 0, out)
    local statuses = {}
    for i = 1, PROCS do
        statuses[i] = tonumber(read_file(("%s/w%d.rc"):format(dir, i)))
        if statuses[i] ~= 0 then
            statuses.out = (statuses.out or "") .. (read_file(("%s/w%d.out"):format(dir, i)) or "")
        end
    end
    local n = tonumber((read_file(file) or ""):match("^(%d+)")) or 0
    sh("rm -rf " .. q(dir))
    return n, statuses
end

local function assert_exact(backend, env, trials)
    for trial = 1, trials or TRIALS do
        local n, st = race(backend, env, "race.example.com")
        for i = 1, PROCS do
            assert.equal(0, st[i], ("%s trial %d: worker %d failed: %s"):format(backend, trial, i, st.out or ""))
        end
        assert.equal(PROCS * ITERATIONS, n, ("%s trial %d: %d of %d increments"):format(backend, trial, n, PROCS * ITERATIONS))
    end
end

-- A holder in another process: its pid, once it holds the lease.
local function spawn_holder(backend, env, key, ttl)
    local dir = tmpdir()
    local ready = dir .. "/ready"
    local rc, out = sh(("%s %s %s hold %s %s %s %s > %s/out 2>&1 & echo $!"):format(worker_env(env), LUA,
        q(ROOT .. "/spec/support/lease_worker.lua"), backend, q(key), q(ready), tostring(ttl), dir))
    assert(rc == 0, out)
    local pid = assert(tonumber(out:match("(%d+)")), out)
    local ok, err = pcall(wait_for, ready, 10)
    assert(ok, tostring(err) .. ": " .. (read_file(dir .. "/out") or ""))
    return pid, tonumber(read_file(ready):match("%d+")), dir
end

local function gone(pid)
    local stat = read_file("/proc/" .. pid .. "/stat")
    return not stat or stat:match("%) (%a)") == "Z"
end

local function kill9(pid)
    os.execute("kill -KILL " .. pid)
    local t0 = core.now()
    while not gone(pid) and core.now() - t0 < 10 do
        core.sleep(0.01)
    end
    assert(gone(pid), "process " .. pid .. " did not die")
end

-- Every string reachable from v, for secret checks.
local function strings(v, out, seen)
    out, seen = out or {}, seen or {}
    if type(v) == "string" then
        out[#out + 1] = v
    elseif type(v) == "table" and v ~= _G and not seen[v] then
        seen[v] = true
        for k, x in pairs(v) do
            strings(k, out, seen)
            strings(x, out, seen)
        end
        local mt = getmetatable(v)
        if mt and mt.__tostring then
            out[#out + 1] = tostring(v)
        end
    elseif type(v) == "function" then
        local i = 1
        while debug.getupvalue(v, i) do
            local _, up = debug.getupvalue(v, i)
            -- The closure that holds the connection may see the password
            -- only through the options it was given: names, not values.
            if type(up) == "table" then
                strings(up, out, seen)
            end
            i = i + 1
        end
    end
    return out
end

local function no_secret(v, secret)
    for _, s in ipairs(strings(v)) do
        assert.is_nil(s:find(secret, 1, true), "the secret shows in: " .. s:gsub(secret, "***"))
    end
end

-- A scheduler for coroutines with a cooperative sleep, like a runner's.
local function run_coroutines(fns)
    local cos = {}
    for i, fn in ipairs(fns) do
        cos[i] = coroutine.create(fn)
    end
    local live = #cos
    while live > 0 do
        live = 0
        for _, co in ipairs(cos) do
            if coroutine.status(co) ~= "dead" then
                local ok, err = coroutine.resume(co)
                assert(ok, err)
                live = live + 1
            end
        end
    end
end

local function yield_sleep(s)
    local t0 = core.now()
    repeat
        coroutine.yield()
    until core.now() - t0 >= s
end

describe("lease options", function()
    it("raise on an unknown backend, an unknown option, a wrong type, a bad ttl or key", function()
        assert.has_error(function() lease.new { backend = "zookeeper" } end)
        assert.has_error(function() lease.new { backend = "process", dir = "/tmp" } end)
        assert.has_error(function() lease.new { backend = "host", bogus = 1 } end)
        assert.has_error(function() lease.new { backend = "host", ttl = "30" } end)
        assert.has_error(function() lease.new { backend = "process", ttl = 0 } end)
        assert.has_error(function() lease.new { backend = "redis", port = 70000 } end)
        assert.has_error(function() lease.new { backend = "redis", password_env = "A", password_file = "/x" } end)
        local l = lease.new { backend = "process" }
        assert.has_error(function() l:acquire("") end)
        assert.has_error(function() l:acquire(42) end)
        assert.has_error(function() l:acquire(("x"):rep(513)) end)
        assert.has_error(function() l:acquire("a", { wait = -1 }) end)
        assert.has_error(function() l:acquire("a", { backend = "host" }) end)
        assert.has_error(function() l:acquire("a", { ttl = 1, margin = 1 }) end)
        assert.matches("enom.locker %(process%)", tostring(l))
    end)
end)

describe("process backend", function()
    it("excludes coroutines of one runner: a read-yield-write counter stays exact, and loses updates without it", function()
        local function trial(use_lease)
            local locker = lease.new { backend = "process" }
            local counter, tokens = 0, {}
            local fns = {}
            for i = 1, 5 do
                fns[i] = function()
                    for _ = 1, 6 do
                        local l
                        if use_lease then
                            l = assert(locker:acquire("co.example.com", { ttl = 30, wait = 30, sleep = yield_sleep }))
                            tokens[#tokens + 1] = l.token
                        end
                        local v = counter
                        coroutine.yield()
                        coroutine.yield()
                        counter = v + 1
                        if l then
                            assert(l:check())
                            l:release()
                        end
                        coroutine.yield()
                    end
                end
            end
            run_coroutines(fns)
            return counter, tokens
        end
        local n, tokens = trial(true)
        assert.equal(30, n)
        for i = 2, #tokens do
            assert.is_true(tokens[i] > tokens[i - 1], "tokens do not grow")
        end
        n = trial(false)
        assert.is_true(n < 30, "the race did not lose updates without a lease: " .. n)
    end)

    it("is shared by every locker of the Lua state (several runners in one process)", function()
        local a = lease.new { backend = "process" }
        local b = lease.new { backend = "process" }
        local l = assert(a:acquire("shared.example.com"))
        local l2, err = b:acquire("shared.example.com")
        assert.is_nil(l2)
        assert.equal("busy", err.kind)
        l:release()
        l2 = assert(b:acquire("shared.example.com"))
        assert.is_true(l2.token > l.token)
        l2:release()
    end)

    it("renew keeps it; expiry lets another take it; the old holder is then lost and harms nothing", function()
        local locker = lease.new { backend = "process" }
        local old = assert(locker:acquire("exp.example.com", { ttl = 0.4 }))
        core.sleep(0.25)
        assert(old:renew())
        core.sleep(0.25)
        assert.is_nil((locker:acquire("exp.example.com")), "taken while renewed")
        assert(old:check())
        core.sleep(0.5)
        local new = assert(locker:acquire("exp.example.com", { ttl = 30 }))
        assert.is_true(new.token > old.token)
        for _, m in ipairs { "check", "renew" } do
            local ok, err = old[m](old)
            assert.is_nil(ok)
            assert.equal("lost", err.kind)
        end
        assert.is_true(old:release())
        assert(new:check())
        assert.is_nil((locker:acquire("exp.example.com")), "the old holder's release freed the new lease")
        new:release()
    end)
end)

describe("host backend (flock)", function()
    local dir
    before_each(function()
        dir = tmpdir() .. "/locks"
    end)
    after_each(function()
        sh("rm -rf " .. q(dir:match("^(.*)/locks$")))
    end)

    it("creates its directory 0700 and one lock file per key, named safely", function()
        local locker = lease.new { backend = "host", dir = dir }
        local keys = { "example.com", "../../etc/passwd", "a/b", ".", "..", "x\0y", ("ü"):rep(200) }
        local held = {}
        for i, k in ipairs(keys) do
            held[i] = assert(locker:acquire(k))
        end
        local rc, out = sh("stat -c %a " .. q(dir))
        assert.equal(0, rc)
        assert.equal("700", out:match("%d+"))
        rc, out = sh("cd " .. q(dir) .. " && ls -A | sort")
        assert.equal(0, rc, out)
        local names = {}
        for name in out:gmatch("[^\n]+") do
            names[#names + 1] = name
            assert.truthy(name:match("^lease%-[%w%.%-_%%~]+$"), name)
            assert.is_true(#name <= 255)
        end
        assert.equal(#keys, #names)
        assert.equal("lease-..%2F..%2Fetc%2Fpasswd", core.lock_name("../../etc/passwd"))
        for _, l in ipairs(held) do
            l:release()
        end
        -- Nothing was made outside the directory.
        rc, out = sh("ls -A " .. q(dir .. "/.."))
        assert.equal(0, rc, out)
        assert.equal("locks", out:match("^%s*(.-)%s*$"))
    end)

    it("refuses a directory owned by another user, writable by others, or a symlink", function()
        local base = dir:match("^(.*)/locks$")
        local cases = {
            { "chmod 0777", "writable by group or others" },
        }
        if core.geteuid() == 0 then
            cases[#cases + 1] = { "chown nobody", "owned by another user" }
        end
        for _, c in ipairs(cases) do
            sh(("rm -rf %s && mkdir -m 700 %s && %s %s"):format(q(dir), q(dir), c[1], q(dir)))
            local l, err = lease.new({ backend = "host", dir = dir }):acquire("k")
            assert.is_nil(l)
            assert.equal("lease", err.kind)
            assert.equal("dir", err.reason)
            assert.truthy(err.message:find(c[2], 1, true), err.message)
        end
        sh(("rm -rf %s && mkdir -m 700 %s/real && ln -s %s/real %s"):format(q(dir), q(base), q(base), q(dir)))
        local l, err = lease.new({ backend = "host", dir = dir }):acquire("k")
        assert.is_nil(l)
        assert.equal("dir", err.reason)
    end)

    it("defaults to /run/lock/enom-<euid>, then /tmp/enom-<euid>, whatever the environment says", function()
        local dirs = require("enom.lease.host").default_dirs()
        assert.same({ "/run/lock/enom-" .. core.geteuid(), "/tmp/enom-" .. core.geteuid() }, dirs)
        -- A cron job (no XDG_RUNTIME_DIR) and a login shell (with one) must
        -- meet in the same directory, or they would not exclude each other.
        local probe = q("print(assert(require('enom.lease.host').new{}:dir()))")
        local xdg = dir:match("^(.*)/locks$")
        local rc1, with = sh(("%s %s -e %s"):format(worker_env { XDG_RUNTIME_DIR = xdg }, LUA, probe))
        local rc2, without = sh(("%s env -u XDG_RUNTIME_DIR %s -e %s"):format(worker_env {}, LUA, probe))
        assert.equal(0, rc1, with)
        assert.equal(0, rc2, without)
        assert.equal(with, without)
        local resolved = with:gsub("%s+$", "")
        assert.truthy(resolved == dirs[1] or resolved == dirs[2], resolved)
        local rc, out = sh(("stat -c '%%a %%u' %s"):format(q(resolved)))
        assert.equal(0, rc, out)
        assert.equal("700 " .. core.geteuid(), (out:gsub("%s+$", "")))
    end)

    it("is busy after the bounded wait, waiting through the given sleep", function()
        local locker = lease.new { backend = "host", dir = dir }
        local l = assert(locker:acquire("busy.example.com"))
        local slept = 0
        local t0 = core.now()
        local l2, err = locker:acquire("busy.example.com", { wait = 0.3, sleep = function(s)
            slept = slept + s
            core.sleep(s)
        end })
        local took = core.now() - t0
        assert.is_nil(l2)
        assert.equal("busy", err.kind)
        assert.equal("busy.example.com", err.key)
        assert.is_true(took >= 0.3, "gave up before the wait: " .. took)
        assert.is_true(slept > 0 and slept <= 0.3 + 1e-9, "slept " .. slept)
        l:release()
        assert(locker:acquire("busy.example.com", { wait = 0 })):release()
    end)

    it("N processes racing on a counter file stay exact (and the same race without a lease loses updates)", function()
        local env = { LEASE_DIR = dir }
        local lost = 0
        for _ = 1, CONTROL_TRIALS do
            local n = race("none", env, "race.example.com")
            if n < PROCS * ITERATIONS then
                lost = lost + 1
            end
        end
        assert.equal(CONTROL_TRIALS, lost, "the race without a lease kept every update: it proves nothing")
        assert_exact("host", env)
        assert_exact("default", env, DEFAULT_TRIALS)
    end)

    it("a SIGKILLed holder's lock is free at once", function()
        local pid, token, hdir = spawn_holder("host", { LEASE_DIR = dir }, "kill.example.com", 30)
        local locker = lease.new { backend = "host", dir = dir }
        local l, err = locker:acquire("kill.example.com")
        assert.is_nil(l)
        assert.equal("busy", err.kind)
        kill9(pid)
        l = assert(locker:acquire("kill.example.com", { wait = 0 }))
        assert.is_true(l.token > token, "the token did not grow across processes")
        l:release()
        sh("rm -rf " .. q(hdir))
    end)

    it("a holder that does not renew within its ttl is lost, and keeps the lock until it releases it", function()
        local locker = lease.new { backend = "host", dir = dir }
        local l = assert(locker:acquire("late.example.com", { ttl = 0.3 }))
        core.sleep(0.4)
        for _, m in ipairs { "check", "renew", "check" } do
            local ok, err = l[m](l)
            assert.is_nil(ok)
            assert.equal("lost", err.kind)
        end
        assert.is_nil((locker:acquire("late.example.com")), "the flock went before the release")
        l:release()
        assert(locker:acquire("late.example.com")):release()
    end)

    it("release is idempotent; a released lease is lost; the lock userdata survives __gc twice", function()
        local locker = lease.new { backend = "host", dir = dir }
        local l = assert(locker:acquire("gc.example.com"))
        assert.matches("enom.lease gc.example.com %(host, token %d+%)", tostring(l))
        assert.is_true(l:release())
        assert.is_true(l:release())
        local ok, err = l:check()
        assert.is_nil(ok)
        assert.equal("lost", err.kind)
        ok, err = l:renew()
        assert.is_nil(ok)
        assert.equal("lost", err.kind)

        local lk = assert(core.lock_open(dir, "gc2"))
        assert.matches("^enom%.lock %(0?x?%x+%)$", tostring(lk))
        assert.is_true(lk:try())
        local mt = getmetatable(lk)
        assert.equal("enom.lock", mt.__name)
        mt.__gc(lk)
        mt.__gc(lk)
        mt.__close(lk)
        assert.is_false(lk:held())
        assert.has_error(function() lk:try() end)
        assert.has_error(function() core.lock_open(dir, "") end)
        -- Dropping a lock without closing it frees it at collection.
        lk:close()
        local function drop()
            local dropped = assert(core.lock_open(dir, "gc3"))
            assert(dropped:try())
        end
        drop()
        collectgarbage()
        collectgarbage()
        lk = assert(core.lock_open(dir, "gc3"))
        assert.is_true(lk:try())
        lk:close()
    end)
end)

describe("default backend (process + host)", function()
    it("never gives a token back when its lock file is gone (a reboot empties /run/lock)", function()
        local dir = os.tmpname()
        os.remove(dir)
        local l = assert(lease.new({ backend = "host", dir = dir }):acquire("gone.example.com"))
        l:release()
        sh("rm -rf " .. q(dir))
        -- The next process after the reboot: a new locker.
        local l2 = assert(lease.new({ backend = "host", dir = dir }):acquire("gone.example.com"))
        assert.is_true(l2.token > l.token, ("%s after %s"):format(l2.token, l.token))
        l2:release()
        sh("rm -rf " .. q(dir))
    end)

    it("excludes coroutines, then processes; its token comes from the lock file", function()
        local dir = tmpdir()
        local locker = lease.new { dir = dir }
        local l = assert(locker:acquire("both.example.com"))
        assert.equal("default", l.backend)
        local l2, err = locker:acquire("both.example.com")
        assert.is_nil(l2)
        assert.equal("busy", err.kind)
        -- Another process sees it held through the lock file.
        local rc, out = sh(("%s %s -e %s"):format(worker_env(), LUA, q(
            "local l, e = require('enom.lease').new{ dir = " .. ("%q"):format(dir)
            .. " }:acquire('both.example.com'); io.write(e and e.kind or 'got')")))
        assert.equal(0, rc, out)
        assert.equal("busy", out)
        assert(l:renew())
        assert(l:check())
        l:release()
        l2 = assert(locker:acquire("both.example.com"))
        assert.is_true(l2.token > l.token)
        l2:release()
        sh("rm -rf " .. q(dir))
    end)
end)

describe("redis backend", function()
    local host, port, own, secret_dir
    local SECRET = "R3dis-Pw-" .. tostring(core.now()):gsub("%D", "")

    local function redis_cli(...)
        local args = { "redis-cli", "-h", host, "-p", tostring(port) }
        for _, a in ipairs { ... } do
            args[#args + 1] = q(a)
        end
        local rc, out = sh(table.concat(args, " "))
        assert.equal(0, rc, out)
        return (out:gsub("%s+$", ""))
    end

    local function locker(extra)
        local opts = { backend = "redis", host = host, port = port, prefix = "spec:" }
        for k, v in pairs(extra or {}) do
            opts[k] = v
        end
        return lease.new(opts)
    end

    setup(function()
        local addr = os.getenv("ENOM_TEST_REDIS")
        if not addr then
            own = tmpdir()
            local rc, out = sh(("%s/spec/support/redis start %s"):format(q(ROOT), q(own .. "/redis")))
            assert(rc == 0, out)
            addr = read_file(own .. "/redis/env"):match("ENOM_TEST_REDIS=(%S+)")
        end
        host, port = addr:match("^(.+):(%d+)$")
        port = tonumber(port)
        secret_dir = tmpdir()
        local f = assert(io.open(secret_dir .. "/pw", "w"))
        f:write(SECRET, "\n")
        f:close()
        redis_cli("ACL", "SETUSER", "enomspec", "on", ">" .. SECRET, "~*", "+@all")
    end)

    teardown(function()
        if host then
            pcall(redis_cli, "ACL", "DELUSER", "enomspec")
        end
        if own then
            sh(("%s/spec/support/redis stop %s; rm -rf %s"):format(q(ROOT), q(own .. "/redis"), q(own)))
        end
        if secret_dir then
            sh("rm -rf " .. q(secret_dir))
        end
    end)

    it("never gives a token back: after FLUSHALL the next grant's token is still larger", function()
        local lk = locker()
        local l = assert(lk:acquire("flush.example.com", { ttl = 5 }))
        l:release()
        assert.equal("OK", redis_cli("FLUSHALL"))
        local l2 = assert(lk:acquire("flush.example.com", { ttl = 5 }))
        assert.is_true(l2.token > l.token, ("%s after %s"):format(l2.token, l.token))
        l2:release()
        lk:close()
    end)

    it("takes with SET NX PX: the key holds the holder's id with a ttl; tokens come from one INCR", function()
        local l = assert(locker():acquire("set.example.com", { ttl = 5 }))
        local id = redis_cli("GET", "spec:lease:set.example.com")
        assert.equal(l.grant.id, id)
        local pttl = tonumber(redis_cli("PTTL", "spec:lease:set.example.com"))
        assert.is_true(pttl > 0 and pttl <= 5000, tostring(pttl))
        assert.equal(l.token, tonumber(redis_cli("GET", "spec:fence")))
        l:release()
        assert.equal("0", redis_cli("EXISTS", "spec:lease:set.example.com"))
        -- A closed locker connects again when it is used.
        local lk = locker()
        lk:close()
        local l2 = assert(lk:acquire("set.example.com"))
        assert.equal(l.token + 1, l2.token)
        l2:release()
    end)

    it("is busy after the bounded wait", function()
        local l = assert(locker():acquire("busy.example.com"))
        local t0 = core.now()
        local l2, err = locker():acquire("busy.example.com", { wait = 0.3 })
        assert.is_nil(l2)
        assert.equal("busy", err.kind)
        assert.is_true(core.now() - t0 >= 0.3)
        l:release()
    end)

    it("renew keeps it; expiry lets another take it; the old holder is lost and leaves the new key alone", function()
        local a, b = locker(), locker()
        local old = assert(a:acquire("exp.example.com", { ttl = 0.8 }))
        core.sleep(0.5)
        assert(old:renew())
        core.sleep(0.5)
        assert.is_nil((b:acquire("exp.example.com")), "taken while renewed")
        assert(old:check())
        core.sleep(1)
        local new = assert(b:acquire("exp.example.com", { ttl = 30 }))
        assert.is_true(new.token > old.token)
        for _, m in ipairs { "check", "renew" } do
            local ok, err = old[m](old)
            assert.is_nil(ok)
            assert.equal("lost", err.kind)
        end
        assert.is_true(old:release())
        assert.equal(new.grant.id, redis_cli("GET", "spec:lease:exp.example.com"))
        assert(new:check())
        new:release()
    end)

    it("check asks Redis too: a key taken over behind the holder's back is lost", function()
        local l = assert(locker():acquire("fence.example.com", { ttl = 30 }))
        redis_cli("SET", "spec:lease:fence.example.com", "someone-else")
        local ok, err = l:check()
        assert.is_nil(ok)
        assert.equal("lost", err.kind)
        l:release()
        assert.equal("someone-else", redis_cli("GET", "spec:lease:fence.example.com"))
        redis_cli("DEL", "spec:lease:fence.example.com")
    end)

    it("N processes racing on a counter file stay exact", function()
        assert_exact("redis", { ENOM_TEST_REDIS = host .. ":" .. port })
    end)

    it("a SIGKILLed holder's lease is free at its ttl, not before", function()
        local pid, token, hdir = spawn_holder("redis", { ENOM_TEST_REDIS = host .. ":" .. port }, "kill.example.com", 1.5)
        kill9(pid)
        -- The worker uses the default prefix.
        local same = locker { prefix = "enom:" }
        local l, err = same:acquire("kill.example.com")
        assert.is_nil(l)
        assert.equal("busy", err.kind)
        l = assert(same:acquire("kill.example.com", { wait = 5 }))
        assert.is_true(l.token > token)
        l:release()
        sh("rm -rf " .. q(hdir))
    end)

    it("uses db and prefix", function()
        local l = assert(locker({ db = 2, prefix = "other:" }):acquire("db.example.com"))
        assert.equal("0", redis_cli("EXISTS", "other:lease:db.example.com"))
        assert.equal(l.grant.id, redis_cli("-n", "2", "GET", "other:lease:db.example.com"))
        l:release()
    end)

    it("a Redis that is down is an error of kind lease, never a grant", function()
        local closed = tmpdir()
        local rc, out = sh(("%s/spec/support/redis start %s"):format(q(ROOT), q(closed .. "/r")))
        assert.equal(0, rc, out)
        local addr = read_file(closed .. "/r/env"):match("ENOM_TEST_REDIS=(%S+)")
        local p = tonumber(addr:match(":(%d+)$"))
        local lk = lease.new { backend = "redis", port = p, connect_timeout = 1, timeout = 1 }
        local l = assert(lk:acquire("down.example.com", { ttl = 30 }))
        sh(("%s/spec/support/redis stop %s"):format(q(ROOT), q(closed .. "/r")))
        local ok, err = l:renew()
        assert.is_nil(ok)
        assert.equal("lease", err.kind)
        assert.equal("transport", err.reason)
        ok, err = l:check()
        assert.is_nil(ok)
        assert.equal("lease", err.kind)
        local released, rerr = l:release()
        assert.is_true(released)
        assert.equal("lease", rerr.kind)
        local l2
        l2, err = lk:acquire("down.example.com")
        assert.is_nil(l2)
        assert.equal("lease", err.kind)
        assert.equal("transport", err.reason)
        assert.truthy(tostring(err):find("127.0.0.1:" .. p, 1, true), tostring(err))
        sh("rm -rf " .. q(closed))
    end)

    it("authenticates with a password from a file or the environment; no error or field shows it", function()
        local good = locker { username = "enomspec", password_file = secret_dir .. "/pw" }
        local l = assert(good:acquire("auth.example.com"))
        no_secret(good, SECRET)
        no_secret(l, SECRET)
        l:release()
        -- From the environment, in a process that has it.
        local rc, out = sh(("%s %s -e %s"):format(worker_env { ENOM_SPEC_REDIS_PW = SECRET }, LUA, q(
            ("local l = assert(require('enom.lease').new{ backend = 'redis', host = %q, port = %d, username = 'enomspec',"
            .. " password_env = 'ENOM_SPEC_REDIS_PW' }:acquire('env.example.com')); io.write('token ', l.token); l:release()")
            :format(host, port))))
        assert.equal(0, rc, out)
        assert.truthy(out:find("^token %d+"), out)
        -- A wrong password: refused, and nowhere in the error.
        local f = assert(io.open(secret_dir .. "/wrong", "w"))
        f:write("Wrong-" .. SECRET)
        f:close()
        local bad = locker { username = "enomspec", password_file = secret_dir .. "/wrong" }
        local l2, err = bad:acquire("auth.example.com")
        assert.is_nil(l2)
        assert.equal("lease", err.kind)
        assert.equal("auth", err.reason)
        no_secret(err, SECRET)
        no_secret(bad, SECRET)
        -- The environment variable missing: a clear error naming it.
        l2, err = locker({ password_env = "ENOM_SPEC_NO_SUCH_VAR" }):acquire("auth.example.com")
        assert.is_nil(l2)
        assert.equal("auth", err.reason)
        assert.truthy(err.message:find("ENOM_SPEC_NO_SUCH_VAR", 1, true))
    end)
end)
