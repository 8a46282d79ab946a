-- Lease checks inside nginx (spec/nginx/lease.conf.in, two workers).
--
-- start(): in each worker, a timer that waits for the other worker, then
-- races it, ITERATIONS times per variant, on a counter in a shared dict:
-- read it, sleep, write it plus one, each time under a lease of the
-- variant's backend ("none": no lease, which must lose updates).
-- races(): waits for both workers and reports; checks(): single-worker
-- checks of the shdict and Redis backends. Both answer "ok - ..." /
-- "not ok - ..." lines.
-- luacheck: read globals ngx
local lease = require "enom.lease"

local _M = {}

local ITERATIONS = 15
local WORKERS = 2
local KEY = "race.example.com"

local function redis_addr()
    local addr = os.getenv("ENOM_TEST_REDIS")
    if addr then
        local host, port = addr:match("^(.+):(%d+)$")
        return host, tonumber(port)
    end
end

local function variants()
    local list = {
        { name = "none" },
        { name = "shdict", opts = { backend = "shdict" } },
        { name = "default", opts = { backend = "default", dir = os.getenv("LEASE_DIR") } },
    }
    local host, port = redis_addr()
    if host then
        list[#list + 1] = { name = "redis", opts = { backend = "redis", host = host, port = port, prefix = "nginx:" } }
    end
    return list
end

-- Every worker arrives before any goes on.
local function barrier(t, name)
    t:incr("arrived:" .. name, 1, 0)
    for _ = 1, 2000 do
        if (t:get("arrived:" .. name) or 0) >= WORKERS then
            return true
        end
        ngx.sleep(0.005)
    end
    error("the other worker never came to " .. name)
end

local function race(t, v)
    local wid = ngx.worker.id()
    local locker = v.opts and lease.new(v.opts)
    barrier(t, v.name)
    for _ = 1, ITERATIONS do
        local l
        if locker then
            local err
            l, err = locker:acquire(KEY, { ttl = 10, wait = 30 })
            if not l then
                error("acquire: " .. tostring(err))
            end
        end
        local n = t:get("count:" .. v.name) or 0
        ngx.sleep(0.003)
        if l then
            assert(l:check())
            local last = t:get("token:" .. v.name) or 0
            if l.token <= last then
                t:incr("bad_token:" .. v.name, 1, 0)
            end
            t:set("token:" .. v.name, l.token)
        end
        t:set("count:" .. v.name, n + 1)
        if l then
            l:release()
        end
    end
    t:set(("pid:%s:%d"):format(v.name, wid), ngx.worker.pid())
end

local function contend(premature)
    if premature then
        return
    end
    local t = ngx.shared.lease_test
    for _, v in ipairs(variants()) do
        local ok, err = pcall(race, t, v)
        if not ok then
            t:set(("error:%s:%d"):format(v.name, ngx.worker.id()), tostring(err))
        end
        t:incr("done:" .. v.name, 1, 0)
    end
end

function _M.start()
    assert(ngx.timer.at(0, contend))
end

local function tap(ok, name, detail)
    ngx.say((ok and "ok - " or "not ok - ") .. name)
    if not ok and detail then
        ngx.say("# " .. tostring(detail):gsub("\n", "\n# "))
    end
    ngx.flush(true)
end

local function check(name, fn)
    local ok, err = pcall(fn)
    tap(ok, name, err)
end

function _M.races()
    local t = ngx.shared.lease_test
    local want = WORKERS * ITERATIONS
    if not redis_addr() then
        tap(false, "nginx lease races: ENOM_TEST_REDIS is set (run through spec/run)")
    end
    for _, v in ipairs(variants()) do
        local waited = 0
        while (t:get("done:" .. v.name) or 0) < WORKERS and waited < 90 do
            ngx.sleep(0.05)
            waited = waited + 0.05
        end
        local errs, pids = {}, {}
        for wid = 0, WORKERS - 1 do
            local e = t:get(("error:%s:%d"):format(v.name, wid))
            if e then
                errs[#errs + 1] = "worker " .. wid .. ": " .. e
            end
            pids[#pids + 1] = tostring(t:get(("pid:%s:%d"):format(v.name, wid)))
        end
        local n = t:get("count:" .. v.name) or 0
        local distinct = pids[1] ~= "nil" and pids[2] ~= "nil" and pids[1] ~= pids[2]
        if v.name == "none" then
            tap(#errs == 0 and distinct and n < want,
                ("nginx: 2 workers racing without a lease lose updates (%d of %d kept; pids %s)"):format(n, want,
                    table.concat(pids, ", ")), table.concat(errs, "\n"))
        else
            local bad = t:get("bad_token:" .. v.name) or 0
            tap(#errs == 0 and distinct and n == want and bad == 0,
                ("nginx: 2 workers racing under the %s lease keep every update (%d of %d; pids %s; tokens grew)")
                    :format(v.name, n, want, table.concat(pids, ", ")),
                table.concat(errs, "\n") .. (bad > 0 and ("\n" .. bad .. " tokens did not grow") or ""))
        end
    end
end

function _M.checks()
    check("nginx: shdict lease is busy after the bounded wait, waiting with ngx.sleep", function()
        local locker = lease.new { backend = "shdict" }
        local l = assert(locker:acquire("busy.example.com", { ttl = 10 }))
        -- The lease's own clock: ngx.now() is in whole milliseconds and
        -- may read a wait of 0.2 s as 0.199.
        local now = require("enom.clock").now
        local t0 = now()
        local l2, err = locker:acquire("busy.example.com", { wait = 0.2 })
        assert(l2 == nil and err.kind == "busy", "not busy")
        assert(now() - t0 >= 0.2, "gave up early")
        l:release()
        assert(locker:acquire("busy.example.com")):release()
    end)
    check("nginx: shdict renew keeps it; expiry lets another take it; the old holder is lost and harms nothing", function()
        local locker = lease.new { backend = "shdict" }
        local old = assert(locker:acquire("exp.example.com", { ttl = 0.6 }))
        ngx.sleep(0.3)
        assert(old:renew())
        ngx.sleep(0.4)
        assert(locker:acquire("exp.example.com") == nil, "taken while renewed")
        ngx.sleep(0.7)
        local new = assert(locker:acquire("exp.example.com", { ttl = 30 }))
        assert(new.token > old.token, "token did not grow")
        for _, m in ipairs { "check", "renew" } do
            local ok, err = old[m](old)
            assert(ok == nil and err.kind == "lost", m .. " of the old lease did not say lost")
        end
        assert(old:release() == true)
        assert(ngx.shared.enom_lease:get("lease:exp.example.com") == new.grant.id, "the new holder's entry is gone")
        assert(new:check())
        new:release()
        assert(new:release() == true, "second release")
        assert(ngx.shared.enom_lease:get("lease:exp.example.com") == nil, "release left the entry")
    end)
    check("nginx: a full shdict is an error, never a grant: live leases stay, tokens never go back", function()
        local dict = ngx.shared.lease_full
        dict:flush_all()
        dict:flush_expired()
        local locker = lease.new { backend = "shdict", dict = "lease_full" }
        local held, last, full_err = {}, 0, nil
        for i = 1, 100000 do
            local l, err = locker:acquire(("d%06d.example.com"):format(i), { ttl = 60 })
            if not l then
                full_err = err
                break
            end
            assert(l.token > last, "tokens went back")
            last = l.token
            held[#held + 1] = l
        end
        assert(full_err, "the dict never filled")
        assert(full_err.kind == "lease" and full_err.message:find("is full", 1, true), tostring(full_err))
        assert(#held > 100, "only " .. #held .. " leases fit")
        -- Every lease granted before is still its holder's: none was pushed out.
        for _, l in ipairs(held) do
            assert(l:check())
        end
        local again = locker:acquire(held[1].key, { ttl = 60 })
        assert(again == nil, "a live lease was granted again")
        for _, l in ipairs(held) do
            l:release()
        end
        -- The dict emptied (an nginx restart): the next token is still larger.
        dict:flush_all()
        dict:flush_expired()
        local l = assert(locker:acquire("after.example.com", { ttl = 5 }))
        assert(l.token > last, ("token %s after %s"):format(l.token, last))
        l:release()
    end)
    check("nginx: the shdict backend needs its lua_shared_dict", function()
        assert(not pcall(lease.new, { backend = "shdict", dict = "no_such_dict" }), "a missing dict was accepted")
    end)
    check("nginx: redis lease through lua-nginx-redis (cosockets): take, busy, check, release; down is an error", function()
        local host, port = redis_addr()
        assert(host, "ENOM_TEST_REDIS is not set")
        local locker = lease.new { backend = "redis", host = host, port = port, prefix = "nginx:" }
        local l = assert(locker:acquire("one.example.com", { ttl = 5 }))
        local l2, err = locker:acquire("one.example.com")
        assert(l2 == nil and err.kind == "busy", "second take not busy: " .. tostring(err))
        assert(l:check())
        assert(l:renew())
        assert(l:release() == true)
        l2 = assert(locker:acquire("one.example.com"))
        assert(l2.token == l.token + 1, "tokens " .. l.token .. ", " .. l2.token)
        l2:release()
        local down = lease.new { backend = "redis", host = "127.0.0.1", port = 1, connect_timeout = 1 }
        l, err = down:acquire("one.example.com")
        assert(l == nil and err.kind == "lease" and err.reason == "transport", "down: " .. tostring(err))
    end)
    -- The account's rate limit inside nginx: asking never waits; a
    -- refusal says how long until the next token.
    local function limited(lim, n)
        local went, waits = 0, 0
        local t0 = require("enom.clock").now()
        while went < n do
            local w, err = lim:take()
            assert(w, tostring(err))
            if w == 0 then
                went = went + 1
            else
                waits = waits + 1
                ngx.sleep(w)
            end
        end
        return require("enom.clock").now() - t0, waits
    end
    check("nginx: rate limit in a lua_shared_dict: 11 tokens at 50/s take at least 0.2 s, waiting with ngx.sleep", function()
        local lim = require("enom.ratelimit").new { rate = 50, backend = "shdict", dict = "lease_test",
            key = "nginx-rl-" .. ngx.worker.pid() }
        local took, waits = limited(lim, 11)
        assert(took >= 0.2 - 0.005, ("took %.3f s"):format(took))
        assert(waits >= 10, "refused only " .. waits .. " times")
    end)
    check("nginx: rate limit on Redis through cosockets, on the server's clock; down is an error", function()
        local host, port = redis_addr()
        assert(host, "ENOM_TEST_REDIS is not set")
        local ratelimit = require "enom.ratelimit"
        local lim = ratelimit.new { rate = 50, backend = "redis", key = "nginx-rl-" .. ngx.worker.pid(),
            redis = { host = host, port = port, prefix = "nginx:" } }
        local took = limited(lim, 11)
        assert(took >= 0.2 - 0.005, ("took %.3f s"):format(took))
        local down = ratelimit.new { rate = 5, backend = "redis", redis = { host = "127.0.0.1", port = 1,
            connect_timeout = 1 } }
        local w, err = down:take()
        assert(w == nil and err.kind == "rate_limit" and err.reason == "transport", "down: " .. tostring(err))
    end)
end

return _M
