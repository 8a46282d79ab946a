-- Provisioning options: defaults, checks that name the option, older names.
local policy = require "enom.provision.policy"

describe("policy", function()
    it("merges over the defaults", function()
        local p = assert(policy.merge { buy_paks = true })
        assert.is_true(p.buy_paks)
        assert.equal(policy.DEFAULTS.max_paks_per_run, p.max_paks_per_run)
        assert.is_false(p.prune)
    end)

    it("names the option at fault", function()
        for _, c in ipairs {
            { { bogus = 1 }, "bogus", "unknown policy option" },
            { { per_request = 11 }, "per_request", "from 1 to 10" },
            { { batch_size = 0 }, "batch_size", "from 1 to 10" },
            { { concurrency = 1.5 }, "concurrency", "integer" },
            { { buy_paks = "yes" }, "buy_paks", "boolean" },
            { { on_password = 1 }, "on_password", "function" },
            { { lock = 5 }, "lock", "lease backend" },
            { { backoff_base = 2, backoff_cap = 1 }, "backoff_cap", "below backoff_base" },
        } do
            local p, err = policy.merge(c[1])
            assert.is_nil(p)
            assert.equal("invalid", err.kind)
            assert.equal(c[2], err.option)
            assert.truthy(err.message:find(c[3], 1, true), err.message)
        end
    end)

    it("takes batch_size as the older name of per_request", function()
        assert.equal(3, assert(policy.merge { batch_size = 3 }).per_request)
    end)
end)
