-- eNom's refusals decide what a provisioning run does, each class in a
-- run of its own against the sandbox's faults in eNom's shapes:
-- maintenance is waited out (and opens the circuit when it lasts), an
-- insufficient balance stops every purchase of the run with one clear
-- line, the IP allow list keeps its hint, and eNom's TrackingKey reaches
-- the error and the report.
local H = require "helper"
local provision = require "enom.provision"

local function people(n, prefix)
    local out = {}
    for i = 1, n do out[i] = { username = ("%s%02d"):format(prefix or "user", i) } end
    return out
end

local function events_of(rep, action)
    local out = {}
    for _, e in ipairs(rep.events) do
        if e.action == action then out[#out + 1] = e end
    end
    return out
end

local FAST = { backoff_base = 0.01, backoff_cap = 0.05 }
local function policy(extra)
    local p = {}
    for k, v in pairs(FAST) do p[k] = v end
    for k, v in pairs(extra or {}) do p[k] = v end
    return p
end

describe("eNom's refusals in a provisioning run", function()
    before_each(function()
        H.reset()
    end)
    after_each(function()
        H.faults {}
    end)

    it("waits out a maintenance window: the read is tried again and the run ends exact", function()
        H.faults { rules = { { kind = "maintenance", command = "GetPOP3", times = 2 } } }
        local c = H.client()
        local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = people(3) } },
            policy()))
        assert.is_true(rep.ok, rep:format())
        assert.equal(2, rep.retries)
        assert.equal(3, rep.counts.created)
        assert.equal(2, H.counters().commands.GetPOP3.faults.maintenance)
        c:close()
    end)

    it("opens the circuit when eNom stays down, with the reason", function()
        H.faults { rules = { { kind = "maintenance" } } }
        local c = H.client()
        local desired = {}
        for i = 1, 4 do desired[i] = { domain = ("shop%02d.com"):format(i), mailboxes = people(2) } end
        local rep = assert(provision.ensure(c, desired, policy { attempts = 3, circuit = 4, concurrency = 1 }))
        assert.is_false(rep.ok)
        assert.truthy(tostring(rep.stopped):find("circuit open", 1, true), tostring(rep.stopped))
        -- Nothing was bought or made, and nothing more was tried than the circuit allows.
        assert.equal(0, H.counters().commands.PurchasePOPBundle and H.counters().commands.PurchasePOPBundle.received or 0)
        assert.truthy(H.received("GetPOP3") <= 4, H.received("GetPOP3"))
        c:close()
    end)

    it("stops every purchase of the run when the balance is short, other domains included, and says so once", function()
        local st = H.state()
        st.accounts[1].balance = 6.00 -- one pak at 5.95, not two
        H.reset(st)
        -- The first order is slow: the other domains' orders are queued
        -- behind it when it is refused, and are withdrawn unsent.
        H.faults { rules = { { kind = "delay", command = "PurchasePOPBundle", ms = 400, times = 1 } } }
        local c = H.client()
        local desired = {}
        for i = 1, 3 do desired[i] = { domain = ("shop%02d.com"):format(10 + i), mailboxes = people(12) } end
        local rep = assert(provision.ensure(c, desired, policy { buy_paks = true, concurrency = 1 }))
        assert.is_false(rep.ok)
        local purchases = H.counters().commands.PurchasePOPBundle
        -- The first order (2 paks) is refused; no domain orders after it.
        assert.equal(1, purchases.received)
        assert.equal(0, purchases.applied or 0)
        local notes = table.concat(rep.notes, "\n")
        assert.truthy(notes:find("no more paks are bought or renewed in this run", 1, true), notes)
        assert.truthy(notes:find("balance", 1, true), notes)
        local failed = events_of(rep, "paks")
        assert.equal(3, #failed, rep:format())
        assert.truthy(failed[1].tracking_key, "the refusal's TrackingKey is in the report")
        for _, e in ipairs(failed) do
            assert.equal("failed", e.outcome)
        end
        assert.truthy(rep:format():find("add funds", 1, true), rep:format())
        c:close()
    end)

    it("keeps the IP allow list's hint, naming the address, and never retries it", function()
        H.faults { rules = { { kind = "ip_refused" } } }
        local c = H.client()
        local res, err = c:get_pop3 { sld = "resellerdocs", tld = "com" }
        assert.is_nil(res)
        assert.equal("api", err.kind)
        assert.equal("ip_not_permitted", err.category)
        assert.truthy(err.errors[1]:find("127.0.0.1", 1, true), err.errors[1])
        assert.truthy(err.hint:find("allow list", 1, true))
        local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = people(1) } },
            policy()))
        assert.equal(0, rep.retries)
        assert.equal("ip_not_permitted", rep.unreachable[1].error.category)
        c:close()
    end)

    it("puts eNom's TrackingKey into errors, their text, and the report's records", function()
        local c = H.client()
        local res, err = c:get_pop3 { sld = "nosuchdomain", tld = "com" }
        assert.is_nil(res)
        assert.truthy(err.tracking_key)
        assert.truthy(tostring(err):find(err.tracking_key, 1, true))
        -- A mailbox eNom refuses (the pak is full) carries the key of the refusal.
        local st = H.state()
        st.accounts[1].balance = 0
        H.reset(st)
        local rep = assert(provision.ensure(c, { { domain = "shop20.com", mailboxes = people(1) } },
            policy { buy_paks = true }))
        local ev = events_of(rep, "paks")[1]
        assert.truthy(ev and ev.tracking_key, rep:format())
        -- ... and the text report shows it, for eNom's support.
        assert.truthy(rep:format():find("[eNom TrackingKey " .. ev.tracking_key .. "]", 1, true), rep:format())
        c:close()
    end)
end)
