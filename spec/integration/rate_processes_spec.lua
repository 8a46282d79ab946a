-- One rate limit for the account across separate OS processes on one
-- Redis: three processes send at once as fast as their batches go, and
-- the sandbox, which notes when each request arrives, sees no more than
-- the limit (+5%) over the run. The same three without the limit go far
-- above it, so the limit is what held them. A figure of the sandbox's
-- clock, not a timed assertion of the client's.
local H = require "helper"
local R = require "cli_runner"
local clock = require "enom.clock"

local ROOT = os.getenv("PWD")
local WORK = assert(os.getenv("ENOM_TEST_WORK"), "run through spec/run") .. "/ratelimit"
assert(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set: run through spec/run")

local CPATH = ROOT .. "/build/5.4/?.so;" .. package.cpath
local LPATH = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. ROOT .. "/spec/support/?.lua;" .. package.path

local PROCESSES, EACH, RATE = 3, 40, 20

local q, read = R.q, R.read

-- Start PROCESSES workers, let them go at once, wait for their results.
local function run(name, rate, key)
    os.execute("mkdir -p " .. q(WORK))
    local start = WORK .. "/" .. name .. ".start"
    os.remove(start)
    local outs, pids = {}, {}
    for i = 1, PROCESSES do
        local out = ("%s/%s-%d"):format(WORK, name, i)
        os.remove(out)
        outs[i] = out
        local cmd = ("cd %s && env -u LD_PRELOAD LUA_PATH=%s LUA_CPATH=%s lua5.4 spec/support/rate_worker.lua "
            .. "%d %s %s %s %s > %s.log 2>&1 & echo $!"):format(q(ROOT), q(LPATH), q(CPATH), EACH, q(out), q(start),
                rate and tostring(rate) or "", key or "", q(out))
        local p = io.popen(cmd)
        pids[i] = p:read("l")
        p:close()
    end
    -- Every process has made its client before the start.
    clock.sleep(0.5)
    H.admin("DELETE", "/counters")
    assert(io.open(start, "w")):close()
    local done = H.wait_for(function()
        for _, out in ipairs(outs) do
            if not read(out) then return false end
        end
        return true
    end, 120)
    if not done then
        for _, pid in ipairs(pids) do os.execute("kill -KILL " .. pid .. " 2>/dev/null") end
    end
    assert.is_true(done, "the workers did not finish: " .. tostring(read(outs[1] .. ".log")))
    local arrivals = H.admin("GET", "/arrivals")
    local sent, waited = 0, 0
    for _, out in ipairs(outs) do
        local n, w = read(out):match("^ok (%d+) ([%d.]+)")
        sent, waited = sent + tonumber(n), waited + tonumber(w)
    end
    return arrivals, sent, waited
end

describe("the account's rate limit across processes", function()
    before_each(function() H.reset() end)

    it("holds 3 processes on one Redis to the limit, counted at the sandbox", function()
        local key = ("spec-%d-%d"):format(os.time(), math.random(1e6))
        local arrivals, sent, waited = run("limited", RATE, key)
        assert.equal(PROCESSES * EACH, sent)
        assert.equal(PROCESSES * EACH, arrivals.total)
        local span = arrivals.last - arrivals.first
        -- n requests at RATE a second (burst 1) need at least (n - 1) / RATE s.
        local rate = (arrivals.total - 1) / span
        assert.is_true(rate <= RATE * 1.05, ("%.1f requests/s at the sandbox, limit %d"):format(rate, RATE))
        for sec, n in pairs(arrivals.per_second) do
            -- A second may hold one more than the rate (both of its ends).
            assert.is_true(n <= RATE + 1, ("%d requests in second %s"):format(n, sec))
        end
        assert.is_true(waited > 0, "the processes were held back")
    end)

    it("without the limit, the same processes go far above it", function()
        local arrivals, sent = run("free")
        assert.equal(PROCESSES * EACH, sent)
        local span = math.max(arrivals.last - arrivals.first, 0.001)
        local rate = (arrivals.total - 1) / span
        assert.is_true(rate > RATE * 3, ("only %.1f requests/s without a limit"):format(rate))
    end)
end)
