-- The job queue's pure parts: what a job carries, and how a worker's
-- flags bound a job's. No Redis here (spec/integration/queue_spec runs
-- workers on one).
local queue = require "enom.queue"
local json = require "enom.json"

describe("queue", function()
    it("puts a domain's mailboxes and the enqueuer's flags in a job, a password only when given", function()
        local text = queue.job_of({ domain = "example.com", mailboxes = {
            { username = "ann", display_name = "Ann Lee", admin = true },
            { username = "bob", password = "Given-Pass-77" },
        } }, { buy_paks = true, max_paks_per_run = 3, prune = false, on_password = print })
        local job = json.decode(text)
        assert.equal("example.com", job.domain)
        assert.equal("ann", job.mailboxes[1].username)
        assert.is_nil(job.mailboxes[1].password)
        assert.equal("Given-Pass-77", job.mailboxes[2].password)
        assert.same({ buy_paks = true, max_paks_per_run = 3, prune = false }, job.options)
    end)

    it("lets a job buy or prune only when its worker allows it, and never more paks than either says", function()
        local job = { options = { buy_paks = true, prune = true, max_paks_per_run = 50 } }
        local p = queue.policy(job, { buy_paks = false, prune = false, max_paks_per_run = 10, concurrency = 4 })
        assert.is_false(p.buy_paks)
        assert.is_false(p.prune)
        assert.equal(10, p.max_paks_per_run)
        assert.equal(4, p.concurrency)
        p = queue.policy(job, { buy_paks = true, prune = true, max_paks_per_run = 100 })
        assert.is_true(p.buy_paks)
        assert.is_true(p.prune)
        assert.equal(50, p.max_paks_per_run)
        p = queue.policy({ options = {} }, { buy_paks = true, max_paks_per_run = 10 })
        assert.is_false(p.buy_paks)
    end)

    it("checks its options with messages that name them", function()
        for _, case in ipairs {
            { { name = "a b" }, "name must be" },
            { { claim_idle = 0 }, "claim_idle must be" },
            { { block = 100 }, "block must be" },
            { { colour = 1 }, "unknown option 'colour'" },
            { { redis = { port = 70000 } }, "port must be an integer" },
        } do
            local ok, err = pcall(queue.new, case[1])
            assert.is_false(ok)
            assert.matches(case[2], tostring(err), 1, true)
        end
        local q = queue.new { name = "nightly", redis = { password_env = "SPEC_NO_SUCH_VAR" } }
        assert.equal("enom.queue (nightly on 127.0.0.1:6379)", tostring(q))
        local st, err = q:status()
        assert.is_nil(st)
        assert.equal("queue", err.kind)
        assert.equal("auth", err.reason)
    end)
end)
