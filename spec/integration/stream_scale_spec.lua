-- A streamed run's memory does not grow with the job: 5,000 and then
-- 50,000 mailboxes (50 and 500 domains of 100) through provision.ensure
-- from a function, against the sandbox; the live Lua heap's peak (after a
-- full collection, every 1,000 records) of the larger run is within a
-- third of the smaller's. (Garbage not yet collected is left out: when
-- the collector runs is not what is measured.)
-- Not a speed test: both runs take what they take. Runs once, under Lua
-- 5.4 (spec/run keeps it from the memory checkers: 11,000 requests).
local H = require "helper"
local provision = require "enom.provision"

local PER = 100

-- Seed `n` empty domains and run ensure over them as a stream; returns
-- the report and the heap's peak above where it started, in KB.
local function streamed(n)
    H.reset()
    local st = H.state()
    st.accounts[1].balance = 1e7
    for i = 1, n do
        st.domains[#st.domains + 1] = { name = ("big%04d.com"):format(i), owner = H.UID, service_select = "POP" }
    end
    H.reset(st)
    local c = H.client { http = true }
    local d, handed = 0, 0
    local function next_domain()
        d = d + 1
        if d > n then
            return nil
        end
        local boxes = {}
        for i = 1, PER do
            boxes[i] = { username = ("staff.%03d"):format(i), display_name = ("Staff %03d"):format(i), admin = i == 1 }
        end
        return { domain = ("big%04d.com"):format(d), mailboxes = boxes }
    end
    collectgarbage("collect")
    local base, peak, records = collectgarbage("count"), 0, 0
    local rep = assert(provision.ensure(c, next_domain, {
        buy_paks = true, max_paks_per_run = n * PER // 10, concurrency = 8, budget = 3600, lock = "process",
        journal = false,
        on_password = function() handed = handed + 1 end,
        progress = function()
            records = records + 1
            if records % 1000 == 0 then
                collectgarbage("collect")
                local k = collectgarbage("count")
                if k > peak then peak = k end
            end
        end,
    }))
    c:close()
    return rep, peak - base, handed
end

describe("a streamed run", function()
    it("holds the domains under way, not the job: 50,000 mailboxes peak like 5,000", function()
        local small, small_peak, small_handed = streamed(50)
        assert.is_true(small.ok, small:format())
        assert.equal(50 * PER, small.counts.created)
        assert.equal(50 * PER, small_handed)
        local large, large_peak, large_handed = streamed(500)
        assert.is_true(large.ok, large:format())
        assert.equal(500 * PER, large.counts.created)
        assert.equal(500 * PER, large_handed)
        assert.equal(500 * PER // 10, large.paks_bought)
        local st = H.state()
        local made = 0
        for _, dom in ipairs(st.domains) do
            if dom.name:find("^big") then made = made + #(dom.mailboxes or {}) end
        end
        assert.equal(500 * PER, made)
        -- Ten times the job, the same memory.
        assert.truthy(large_peak <= small_peak * 1.34,
            ("peak live heap %.0f KB for 50,000 mailboxes, %.0f KB for 5,000"):format(large_peak, small_peak))
        -- And what is kept is counts, not records.
        assert.equal(0, #large.mailboxes)
    end)
end)
