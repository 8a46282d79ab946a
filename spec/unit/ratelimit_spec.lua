-- The account's rate limit (enom.ratelimit): its arithmetic on an
-- injected clock, its options, and how a batch and a single call honour
-- it. No socket, no sleeping on the wall clock.
local ratelimit = require "enom.ratelimit"
local enom = require "enom"
local fake = require "fake_transport"
local policy_mod = require "enom.provision.policy"
local errors = require "enom.errors"

local function clock(t0)
    local c = { t = t0 or 1000 }
    c.now = function() return c.t end
    return c
end

local key_n = 0
local function limiter(opts)
    key_n = key_n + 1
    opts.key = opts.key or ("spec-" .. key_n) -- process limiters of one key share their state
    return ratelimit.new(opts)
end

local function balance()
    return fake.ok(fake.text { { "Command", "GETBALANCE" }, { "Balance", "10.00" }, { "AvailableBalance", "9.00" } })
end

describe("ratelimit", function()
    describe("gcra", function()
        it("lets the first request go and moves the arrival time one interval on", function()
            local wait, tat = ratelimit.gcra(nil, 10, 0.1, 1)
            assert.equal(0, wait)
            assert.near(10.1, tat, 1e-9)
        end)

        it("holds the next back until its interval has passed", function()
            local _, tat = ratelimit.gcra(nil, 10, 0.1, 1)
            local wait, same = ratelimit.gcra(tat, 10.04, 0.1, 1)
            assert.near(0.06, wait, 1e-9)
            assert.equal(tat, same)
            local w2 = ratelimit.gcra(tat, 10.1, 0.1, 1)
            assert.equal(0, w2)
        end)

        it("lets a burst go at once, then one per interval", function()
            local tat, went = nil, 0
            for _ = 1, 10 do
                local wait
                wait, tat = ratelimit.gcra(tat, 5, 0.5, 4)
                if wait == 0 then went = went + 1 end
            end
            assert.equal(4, went)
            local wait = ratelimit.gcra(tat, 5, 0.5, 4)
            assert.near(0.5, wait, 1e-9)
        end)

        it("forgets an idle past: a late request goes and starts from now", function()
            local wait, tat = ratelimit.gcra(3, 100, 0.25, 1)
            assert.equal(0, wait)
            assert.near(100.25, tat, 1e-9)
        end)
    end)

    describe("process backend on an injected clock", function()
        it("allows at most rate x seconds + burst over a window", function()
            local c = clock()
            local lim = limiter { rate = 20, burst = 3, clock = c.now }
            local went = 0
            -- Asked every millisecond for 10 seconds.
            for _ = 1, 10000 do
                if lim:take() == 0 then went = went + 1 end
                c.t = c.t + 0.001
            end
            assert.is_true(went <= 20 * 10 + 3, went)
            assert.is_true(went >= 20 * 10, went)
        end)

        it("says how long to wait, and that wait is exact", function()
            local c = clock()
            local lim = limiter { rate = 4, clock = c.now }
            assert.equal(0, lim:take())
            local wait = lim:take()
            assert.near(0.25, wait, 1e-9)
            c.t = c.t + wait
            assert.equal(0, lim:take())
        end)

        it("shares one limit between limiters of one key", function()
            local c = clock()
            local a = limiter { rate = 1, key = "shared-spec", clock = c.now }
            local b = limiter { rate = 1, key = "shared-spec", clock = c.now }
            assert.equal(0, a:take())
            assert.is_true(b:take() > 0)
        end)

        it("waits through its sleep function, never spinning", function()
            local c = clock()
            local lim = limiter { rate = 2, clock = c.now }
            local slept = {}
            local function sleep(s)
                slept[#slept + 1] = s
                c.t = c.t + s
            end
            assert(lim:wait(sleep))
            assert(lim:wait(sleep))
            assert.same({ 0.5 }, slept)
        end)
    end)

    describe("options", function()
        local function refused(opts, pattern)
            local ok, err = pcall(ratelimit.new, opts)
            assert.is_false(ok)
            assert.matches(pattern, tostring(err))
        end

        it("are checked with messages that name the option", function()
            refused({}, "rate is missing")
            refused({ rate = 0 }, "rate must be more than 0")
            refused({ rate = "20" }, "option rate must be a number")
            refused({ rate = 5, burst = 1.5 }, "burst must be a whole number")
            refused({ rate = 5, backend = "memcache" }, "unknown backend 'memcache'")
            refused({ rate = 5, speed = 1 }, "unknown option 'speed'")
            refused({ rate = 5, redis = { host = "h" } }, "option redis is for backend = \"redis\"")
            refused({ rate = 5, backend = "shdict" }, "runs only inside nginx")
            refused({ rate = 5, backend = "redis", redis = { port = 0 } }, "port must be an integer")
            refused({ rate = 5, backend = "redis", redis = { password_env = "A", password_file = "/x" } },
                "password_env or password_file, not both")
        end)

        it("come back as an invalid client option, and a policy option naming rate_limit", function()
            local c, err = enom.new { uid = "resellid", pw = "Acct-Secret-9", endpoint = "test",
                transport = fake.with(balance), rate_limit = { rate = -1 } }
            assert.is_nil(c)
            assert.equal("invalid", err.kind)
            assert.matches("rate_limit: rate must be more than 0", err.message)
            local p, perr = policy_mod.merge { rate_limit = { rate = 5, backend = "nope" } }
            assert.is_nil(p)
            assert.equal("rate_limit", perr.option)
            assert(policy_mod.merge { rate_limit = { rate = 5 } })
        end)

        it("key a client's limit by its account, so every client of the account shares it", function()
            local a = assert(enom.new { uid = "ResellID", pw = "Acct-Secret-9", endpoint = "test",
                transport = fake.with(balance), rate_limit = { rate = 5 } })
            assert.equal("resellid", a.limiter.key)
            a:close()
        end)

        it("never show a Redis password: a limiter's text and fields hold none", function()
            local lim = ratelimit.new { rate = 5, backend = "redis", redis = { password_env = "SPEC_NO_SUCH_VAR" } }
            assert.not_matches("SPEC_NO_SUCH", tostring(lim))
            local _, err = lim:take()
            assert.equal("rate_limit", err.kind)
            assert.equal("auth", err.reason)
            assert.is_true(errors.retryable(err))
        end)
    end)

    describe("in a batch", function()
        -- A limiter that answers from a script: a wait before every other token.
        local function scripted(waits)
            local n = 0
            return {
                asked = 0,
                take = function(self)
                    self.asked = self.asked + 1
                    n = n + 1
                    return waits[n] or 0
                end,
                close = function() end,
            }
        end

        it("holds a request back while no token is due, sends it when due, and counts the wait", function()
            local lim = scripted { 0, 0.02, 0, 0.02, 0 }
            local mod = fake.with(balance)
            local c = assert(enom.new { uid = "resellid", pw = "Acct-Secret-9", endpoint = "test", transport = mod,
                response_type = "text" })
            local b = c:batch { concurrency = 8, rate_limit = lim }
            for _ = 1, 3 do b:add_method("get_balance", {}) end
            local done = 0
            for _, res in b:each() do
                assert.equal(10, res.balance)
                done = done + 1
            end
            assert.equal(3, done)
            assert.equal(3, #mod.made[1].sent)
            assert.equal(5, lim.asked) -- one token per request, and one ask per refusal
            assert.is_true(b.rate_limit_wait > 0)
        end)

        it("withdraws a request whose limit cannot be asked, unsent and retryable", function()
            local lim = { take = function()
                return nil, errors.new("rate_limit", "Redis at 127.0.0.1:1: connection refused",
                    { reason = "transport", backend = "redis", maybe_delivered = false })
            end }
            local mod = fake.with(balance)
            local c = assert(enom.new { uid = "resellid", pw = "Acct-Secret-9", endpoint = "test", transport = mod,
                response_type = "text" })
            local b = c:batch { rate_limit = lim }
            b:add_method("get_balance", {})
            local _, res, err = b:next()
            assert.is_nil(res)
            assert.equal("rate_limit", err.kind)
            assert.is_false(err.maybe_delivered)
            assert.equal(0, #mod.made[1].sent)
        end)

        it("puts the run's waiting time in the scheduler's statistics and the report", function()
            local mod = fake.with(balance)
            local c = assert(enom.new { uid = "resellid", pw = "Acct-Secret-9", endpoint = "test", transport = mod,
                response_type = "text" })
            local scheduler = require "enom.provision.scheduler"
            local lim = scripted { 0, 0.01, 0, 0.01, 0 }
            local s = scheduler.new(c, assert(policy_mod.merge { rate_limit = lim, concurrency = 4 }))
            for _ = 1, 3 do
                s:spawn(function(sched) assert(sched:request("get_balance", {})) end)
            end
            local stats = s:loop()
            assert.is_true(stats.rate_limit_wait > 0)
            local report = require("enom.provision.report").new()
            report:finish(stats, { paks = 0, in_doubt = 0 })
            assert.is_true(report:summary().rate_limit_wait > 0)
        end)
    end)
end)
