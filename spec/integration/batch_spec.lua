-- Many requests at once: call_many and batches over one client.
local H = require "helper"

describe("call_many", function()
    before_each(function()
        H.reset()
    end)

    it("returns results in request order, one error slot per failure", function()
        local c = H.client()
        local reqs = {}
        for i = 1, 12 do
            local sld = ("shop%02d"):format(i)
            if i % 4 == 0 then
                sld = "nosuchdomain" .. i
            end
            reqs[i] = { method = "get_pop3", args = { sld = sld, tld = "com" } }
        end
        reqs[13] = { command = "GetBalance", params = {} }
        reqs[14] = { method = "setup_pop3_users", args = { sld = "shop01", tld = "com", bundle_id = 1, users = {} } }
        local seen = 0
        local res, errs = c:call_many(reqs, {
            concurrency = 4,
            progress = function(done, total) seen = done; assert.equal(14, total) end,
        })
        assert.equal(14, res.n)
        assert.equal(14, seen)
        for i = 1, 12 do
            if i % 4 == 0 then
                assert.is_nil(res[i])
                assert.equal("api", errs[i].kind)
            else
                assert.is_nil(errs[i])
                assert.same({}, res[i].mailboxes)
            end
        end
        assert.equal("GETBALANCE", res[13].command)
        assert.equal("invalid", errs[14].kind)
    end)

    it("really runs requests concurrently (arrival times at the sandbox)", function()
        H.faults { rules = { { kind = "delay", ms = 400 } } }
        local c = H.client()
        local reqs = {}
        for i = 1, 8 do
            reqs[i] = { command = "GetBalance", params = {} }
        end
        local res, errs = c:call_many(reqs, { concurrency = 8 })
        for i = 1, 8 do
            assert.is_nil(errs[i])
            assert.truthy(res[i])
        end
        local log = H.admin("GET", "/requests")
        assert.equal(8, #log)
        local first, last = math.huge, -math.huge
        for _, r in ipairs(log) do
            first = math.min(first, r.time)
            last = math.max(last, r.time)
        end
        -- Sequential requests would arrive at least 400 ms apart each.
        assert.truthy(last - first < 0.4, ("arrivals spread over %.3f s"):format(last - first))
    end)

    it("hands completions out one by one, in completion order", function()
        local c = H.client()
        local b = c:batch { concurrency = 3 }
        b:add("GetBalance", {}, { method = "GET" })
        b:add_method("get_pop3", { sld = "resellerdocs", tld = "com" })
        b:add_method("get_pop3", { sld = "resellerdocs", tld = "com", response_type = "text" })
        local got = {}
        for i, res, err in b:each() do
            assert.is_nil(err)
            got[i] = res
        end
        assert.equal("GETBALANCE", got[1].command)
        assert.same(got[2].mailboxes, got[3].mailboxes)
        assert.equal(0, b:remaining())
    end)

    it("keeps secrets out of per-slot errors", function()
        H.faults { rules = { { kind = "status500" } } }
        local c = H.client()
        local _, errs = c:call_many({
            { method = "setup_pop3_users", args = { sld = "resellerdocs", tld = "com", bundle_id = 5134,
                users = { { username = "x1", password = "Slot-Secret-1" } } } },
        })
        assert.equal("http", errs[1].kind)
        assert.falsy(H.contains(errs[1], "Slot-Secret-1"))
        assert.falsy(H.contains(errs[1], H.PW))
    end)
end)

describe("batch:cancel", function()
    before_each(function()
        H.reset()
    end)

    it("withdraws the requests not yet sent, which never reach eNom; those in flight finish", function()
        local c = H.client()
        local b = c:batch { concurrency = 1 }
        for i = 1, 5 do
            b:add_method("get_pop3", { sld = ("shop%02d"):format(i), tld = "com" })
        end
        local before = H.received("GetPOP3")
        local i, res, err = b:next()
        assert.equal(1, i)
        assert.is_nil(err)
        assert.truthy(res.mailboxes)
        -- Nothing goes out between a completion and its handing out:
        -- 2 to 5 are all still queued.
        assert.equal(4, b:cancel("stopped by the caller"))
        local seen = {}
        for j, r, e in b:each() do
            seen[j] = { r, e }
        end
        for j = 2, 5 do
            assert.is_nil(seen[j][1])
            assert.equal("stopped", seen[j][2].kind)
            assert.is_false(seen[j][2].maybe_delivered)
            assert.equal("stopped by the caller", seen[j][2].message)
        end
        assert.equal(1, H.received("GetPOP3") - before)
        assert.equal(0, b:remaining())
        assert.equal(0, b:cancel())
    end)
end)
