-- enom.core.client's submit/poll concurrency, its lifetime (close, __gc
-- with transfers in flight) and its argument checks, against the sandbox.
-- Concurrency is proved by the sandbox's /test/gate, where requests in
-- flight together meet; no case compares timings.
local core = require "enom.core"
local T = require "transport_core"

local BASE, HTTPS_BASE, now = T.BASE, T.HTTPS_BASE, T.now
local https_client, gate_key, ok_result = T.https_client, T.gate_key, T.ok_result

describe("core.client", function()
    describe("submit and poll", function()
        it("runs 8 requests concurrently and returns every id once", function()
            local c = https_client { max_connections = 8 }
            -- The sandbox answers "together" only when all 8 are in at once.
            local gate = HTTPS_BASE .. "/test/gate?n=8&ms=20000&key=" .. gate_key()
            local ids = {}
            for i = 1, 8 do
                local id = c:submit { url = gate .. "&i=" .. i }
                assert.is_number(id)
                assert.is_nil(ids[id])
                ids[id] = true
            end
            assert.are.equal(8, c:pending())
            local seen, n = {}, 0
            while c:pending() > 0 do
                for _, d in ipairs(c:poll(5)) do
                    assert.is_true(ids[d.id], "unknown id " .. tostring(d.id))
                    assert.is_nil(seen[d.id], "id returned twice")
                    assert.is_nil(d.err)
                    assert.are.equal(200, d.res.status)
                    assert.are.equal("together\n", d.res.body)
                    seen[d.id] = true
                    n = n + 1
                end
            end
            assert.are.equal(8, n)
            c:close()
        end)

        it("gives monotonic ids", function()
            local c = https_client()
            local a = c:submit { url = HTTPS_BASE .. "/test/static" }
            local b = c:submit { url = HTTPS_BASE .. "/test/static" }
            assert.is_true(b > a)
            while c:pending() > 0 do
                c:poll(5)
            end
            assert.is_true(c:submit { url = HTTPS_BASE .. "/test/static" } > b)
            c:close()
        end)

        it("queues completions that finish during request() for the next poll", function()
            local c = https_client()
            local a = c:submit { url = HTTPS_BASE .. "/test/static" }
            local b = c:submit { url = BASE .. "/test/static" } -- refused: https only
            local res = ok_result(c:request { url = HTTPS_BASE .. "/test/slow?ms=400" })
            assert.are.equal(200, res.status)
            assert.are.equal(2, c:pending())
            local done = c:poll(0)
            assert.are.equal(2, #done)
            local by = {}
            for _, d in ipairs(done) do
                by[d.id] = d
            end
            assert.are.equal(200, by[a].res.status)
            assert.are.equal("transport", by[b].err.kind)
            assert.is_false(by[b].err.maybe_delivered)
            assert.are.equal(0, c:pending())
            c:close()
        end)

        it("returns an empty array when the timeout passes or nothing is pending", function()
            local c = https_client()
            -- Nothing pending: it returns without waiting out its 60 s.
            local t0 = now()
            assert.are.same({}, c:poll(60))
            assert.is_true(now() - t0 < 60)
            -- An answer 10 s away: empty after the timeout, and not before it.
            c:submit { url = HTTPS_BASE .. "/test/slow?ms=10000" }
            t0 = now()
            assert.are.same({}, c:poll(0.2))
            local took = now() - t0
            assert.is_true(took >= 0.15, "returned after " .. took .. " s")
            assert.are.equal(1, c:pending())
            c:close()
        end)

        it("caps concurrent connections at max_connections", function()
            local c = https_client { max_connections = 1 }
            -- Two of these in flight at once would meet and answer "together".
            local gate = HTTPS_BASE .. "/test/gate?n=2&ms=300&key=" .. gate_key()
            for _ = 1, 3 do
                c:submit { url = gate }
            end
            local n = 0
            while c:pending() > 0 do
                for _, d in ipairs(c:poll(5)) do
                    assert.is_nil(d.err)
                    assert.are.equal(504, d.res.status)
                    assert.are.equal("alone\n", d.res.body)
                    n = n + 1
                end
            end
            assert.are.equal(3, n)
            c:close()
        end)
    end)

    describe("lifetime", function()
        it("closes with transfers in flight; later calls raise", function()
            local c = https_client()
            for _ = 1, 4 do
                c:submit { url = HTTPS_BASE .. "/test/slow?ms=2000" }
            end
            c:poll(0.05)
            c:close()
            c:close()
            assert.has_error(function() c:request { url = HTTPS_BASE .. "/test/static" } end, "client is closed")
            assert.has_error(function() c:submit { url = HTTPS_BASE .. "/test/static" } end, "client is closed")
            assert.has_error(function() c:poll(0) end, "client is closed")
            assert.has_error(function() c:pending() end, "client is closed")
            c = nil -- luacheck: ignore 311
            collectgarbage()
            collectgarbage()
        end)

        it("frees a dropped client with transfers in flight", function()
            local dropped = setmetatable({}, { __mode = "k" })
            for _ = 1, 3 do
                local c = https_client()
                c:submit { url = HTTPS_BASE .. "/test/slow?ms=2000" }
                c:submit { url = HTTPS_BASE .. "/test/echo", body = "a=1" }
                c:poll(0.05)
                dropped[c] = true
            end
            collectgarbage()
            collectgarbage()
            -- Nothing (a registry reference, a transfer) kept them alive.
            assert.is_nil(next(dropped))
            -- And the world goes on: a new client works.
            local c = https_client()
            assert.are.equal(200, ok_result(c:request { url = HTTPS_BASE .. "/test/static" }).status)
            c:close()
        end)

        it("survives __gc run twice, with transfers in flight, and close afterwards", function()
            local c = https_client()
            c:submit { url = HTTPS_BASE .. "/test/slow?ms=2000" }
            c:poll(0.05)
            local mt = getmetatable(c)
            mt.__gc(c)
            mt.__gc(c)
            c:close()
            assert.has_error(function() c:pending() end, "client is closed")
            assert.matches("^enom%.core%.client %(0x%x+%)$", tostring(c))
        end)

        it("has __close, __name and a plain __tostring", function()
            local c = https_client()
            local mt = getmetatable(c)
            assert.are.equal("enom.core.client", mt.__name)
            assert.matches("^enom%.core%.client %(0x%x+%)$", tostring(c))
            mt.__close(c, nil)
            assert.has_error(function() c:pending() end, "client is closed")
            assert.matches("^enom%.core%.client %(0x%x+%)$", tostring(c))
        end)
    end)

    describe("arguments", function()
        it("takes no options at all", function()
            for _, c in ipairs { core.client(), core.client({}) } do
                assert.matches("^enom%.core%.client %(0x%x+%)$", tostring(c))
                assert.are.equal(0, c:pending())
                c:close()
            end
        end)

        it("raises on unknown options and wrong types, naming the option", function()
            local bad = {
                { { bogus = 1 }, "bogus" },
                { { [1] = true }, "names must be strings" },
                { { allow_http = "yes" }, "allow_http" },
                { { cainfo = 5 }, "cainfo" },
                { { timeout = "60" }, "timeout" },
                { { timeout = 0 }, "timeout" },
                { { timeout = -1 }, "timeout" },
                { { connect_timeout = 0 }, "connect_timeout" },
                { { max_response = 0 }, "max_response" },
                { { max_response = 1.5 }, "max_response" },
                { { user_agent = false }, "user_agent" },
                { { max_connections = 0 }, "max_connections" },
                { { max_connections = 100000 }, "max_connections" },
            }
            for _, case in ipairs(bad) do
                local ok, msg = pcall(core.client, case[1])
                assert.is_false(ok)
                assert.matches(case[2], msg, 1, true)
            end
            assert.has_error(function() core.client("https") end)
        end)

        it("raises on bad request tables", function()
            local c = https_client()
            assert.has_error(function() c:request() end)
            assert.has_error(function() c:request { body = "a=1" } end)
            assert.has_error(function() c:request { url = 5 } end)
            assert.has_error(function() c:request { url = HTTPS_BASE, body = {} } end)
            local ok, msg = pcall(c.submit, c, { url = HTTPS_BASE, method = "PUT" })
            assert.is_false(ok)
            assert.matches("method", msg, 1, true)
            assert.has_error(function() c:poll(-1) end)
            assert.has_error(function() c:poll("soon") end)
            assert.are.equal(0, c:pending())
            c:close()
        end)
    end)
end)
