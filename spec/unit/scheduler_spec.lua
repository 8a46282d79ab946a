-- The scheduler over a fake transport: tasks read like straight-line
-- code, share one batch, retry with back-off, stop when asked, and keep
-- what a task raised. No socket.
local enom = require "enom"
local fake = require "fake_transport"
local scheduler = require "enom.provision.scheduler"
local policy_mod = require "enom.provision.policy"

local function client(answer)
    local mod = fake.with(answer)
    return assert(enom.new { uid = "resellid", pw = "Acct-Secret-9", endpoint = "test", transport = mod,
        response_type = "text" }), mod
end

local function balance()
    return fake.ok(fake.text { { "Command", "GETBALANCE" }, { "Balance", "10.00" }, { "AvailableBalance", "9.00" } })
end

local function policy(opts)
    local p = { backoff_base = 0, backoff_cap = 0, concurrency = 4 }
    for k, v in pairs(opts or {}) do p[k] = v end
    return assert(policy_mod.merge(p))
end

describe("scheduler", function()
    it("runs tasks to their end and counts the requests by command", function()
        local c, mod = client(balance)
        local s = scheduler.new(c, policy())
        local got = {}
        for i = 1, 5 do
            s:spawn(function(sched)
                local res = assert(sched:request("get_balance", {}))
                got[i] = res.balance
            end)
        end
        local stats = s:loop()
        assert.same({ 10, 10, 10, 10, 10 }, got)
        assert.equal(5, stats.requests.GETBALANCE)
        assert.equal(5, #mod.made[1].sent)
        assert.is_nil(stats.stopped)
    end)

    it("tries a failed read again with back-off, up to attempts", function()
        local n = 0
        local c = client(function()
            n = n + 1
            if n < 3 then
                return nil, { kind = "transport", message = "reset", maybe_delivered = false }
            end
            return balance()
        end)
        local s = scheduler.new(c, policy { attempts = 5 })
        local res
        s:spawn(function(sched) res = sched:call_retry("get_balance", {}) end)
        local stats = s:loop()
        assert.equal(10, res.balance)
        assert.equal(2, stats.retries)
    end)

    it("never tries again what eNom refused", function()
        local c = client(function()
            return fake.ok(fake.text({ { "Err1", "Domain name not found" } }, 1))
        end)
        local s = scheduler.new(c, policy { attempts = 5 })
        local err
        s:spawn(function(sched) err = select(2, sched:call_retry("get_balance", {})) end)
        local stats = s:loop()
        assert.equal("api", err.kind)
        assert.equal(0, stats.retries)
    end)

    it("opens the circuit after failures in a row and withdraws what is queued", function()
        local c, mod = client(function()
            return nil, { kind = "transport", message = "down", maybe_delivered = false }
        end)
        local s = scheduler.new(c, policy { circuit = 3, attempts = 1, concurrency = 1 })
        local errs = {}
        for i = 1, 6 do
            s:spawn(function(sched) errs[i] = select(2, sched:request("get_balance", {})) end)
        end
        local stats = s:loop()
        assert.truthy(stats.stopped:find("circuit open", 1, true))
        local stopped = 0
        for _, e in ipairs(errs) do
            if e.kind == "stopped" then stopped = stopped + 1 end
        end
        assert.equal(3, stopped, "the requests still queued never went out")
        assert.equal(3, #mod.made[1].sent)
    end)

    it("stops when policy.stop says so, with its reason", function()
        local asked = 0
        local c = client(balance)
        local s = scheduler.new(c, policy { stop = function()
            asked = asked + 1
            if asked > 1 then return "stopped by Ctrl-C" end
        end })
        local last
        s:spawn(function(sched)
            for _ = 1, 10 do
                local _, err = sched:request("get_balance", {})
                last = err
                if err then break end
            end
        end)
        local stats = s:loop()
        assert.equal("stopped by Ctrl-C", stats.stopped)
        assert.equal("stopped", last.kind)
    end)

    it("keeps what a task raised and stops the others after their request", function()
        local c = client(balance)
        local s = scheduler.new(c, policy())
        local after = 0
        s:spawn(function() error("boom", 0) end)
        s:spawn(function(sched)
            local _, err = sched:request("get_balance", {})
            if err and err.kind == "stopped" then after = after + 1 end
        end)
        local stats = s:loop()
        assert.equal("boom", stats.error)
        assert.equal(1, after)
    end)

    it("joins sub-tasks and sleeps without holding others up", function()
        local c = client(balance)
        local s = scheduler.new(c, policy())
        local order = {}
        s:spawn(function(sched)
            sched:join {
                function(x) x:sleep(0.02); order[#order + 1] = "slow" end,
                function() order[#order + 1] = "fast" end,
            }
            order[#order + 1] = "joined"
        end)
        s:loop()
        assert.same({ "fast", "slow", "joined" }, order)
    end)

    it("sends the request with the longest chain behind it first, in order within a priority", function()
        -- Every command gets a balance answer: only the order they leave in matters.
        local c, mod = client(balance)
        local s = scheduler.new(c, policy { concurrency = 1 })
        local wants = {
            { "setup_pop3_users", { sld = "a", tld = "com", bundle_id = 1, users = { { username = "ann", password = "Kp7-Long-Pw" } } } },
            { "modify_pop3", { sld = "a", tld = "com", users = { { username = "y", admin = true } } } },
            { "delete_pop3", { sld = "a", tld = "com", users = { "z" } } },
            { "purchase_pop_bundle", { sld = "b", tld = "com", quantity = 1 } },
            { "get_pop3", { sld = "c", tld = "com" } },
            { "get_pop3", { sld = "d", tld = "com" } },
            { "get_order_list", {} },
        }
        s:spawn(function(sched) assert(sched:request("get_balance", {})) end)
        for _, w in ipairs(wants) do
            s:spawn(function(sched) assert(sched:request(w[1], w[2])) end)
        end
        assert.is_nil(s:loop().error)
        local order = {}
        for i, r in ipairs(mod.made[1].sent) do
            order[i] = r.params.command .. (r.params.SLD and ("." .. r.params.SLD) or "")
        end
        -- All were queued before the first left: they leave by priority.
        assert.same({ "GetOrderList", "GetPOP3.c", "GetPOP3.d", "PurchasePOPBundle.b", "DeletePOP3.a",
            "GetBalance", "SetUpPOP3User.a", "ModifyPOP3.a" }, order)
    end)
end)
