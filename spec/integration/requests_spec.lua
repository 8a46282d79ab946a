-- The fewest requests a job needs, counted per command: one read per
-- domain when planning and applying in one run, no read after a
-- purchase, SetUps of different paks at once, orders split at eNom's 10
-- paks, a capped concurrency said out loud. A run that may buy reads
-- eNom's order history once (GetOrderList), beside its first read, so
-- that no purchase waits for it.
local H = require "helper"
local provision = require "enom.provision"

local function people(n, prefix)
    local list = {}
    for i = 1, n do
        list[i] = { username = (prefix or "user") .. i }
    end
    return list
end

-- Requests the sandbox received, by command, without the zeros.
local function received()
    local out = {}
    for name, c in pairs(H.counters().commands) do
        if (c.received or 0) > 0 then out[name] = c.received end
    end
    return out
end

local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

describe("requests", function()
    before_each(function()
        H.reset()
    end)

    it("ensure reads a domain once, buys once, reads nothing after the purchase", function()
        local c = H.client()
        local handed = {}
        local rep = assert(provision.ensure(c, { { domain = "shop12.com", mailboxes = people(23) } },
            { buy_paks = true, on_password = function(_, u, pw) handed[u] = pw end }))
        assert.is_true(rep.ok, rep:format())
        assert.same({ GetPOP3 = 1, GetOrderList = 1, PurchasePOPBundle = 1, SetUpPOP3User = 3 }, received())
        assert.same({ GETPOP3 = 1, GETORDERLIST = 1, PURCHASEPOPBUNDLE = 1, SETUPPOP3USER = 3 }, rep.requests)
        assert.equal(23, rep.counts.created)
        local m = H.mailboxes("shop12.com")
        for u, pw in pairs(handed) do assert.equal(m[u].password, pw) end
        assert.equal(23, count(handed))
        -- A second run with nothing to do: one read (and the history's
        -- mark, as the run may buy).
        H.admin("DELETE", "/counters")
        rep = assert(provision.ensure(c, { { domain = "shop12.com", mailboxes = people(23) } }, { buy_paks = true }))
        assert.is_true(rep.ok, rep:format())
        assert.equal(23, rep.counts.already_present)
        assert.same({ GetPOP3 = 1, GetOrderList = 1 }, received())
        -- Without buy_paks, the read alone.
        H.admin("DELETE", "/counters")
        rep = assert(provision.ensure(c, { { domain = "shop12.com", mailboxes = people(23) } }))
        assert.is_true(rep.ok, rep:format())
        assert.same({ GetPOP3 = 1 }, received())
    end)

    it("plan then apply reads twice, and not after the purchase", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "shop13.com", mailboxes = people(12) } }, { buy_paks = true }))
        local rep = assert(provision.apply(c, plan))
        assert.is_true(rep.ok, rep:format())
        assert.same({ GetPOP3 = 2, GetOrderList = 1, PurchasePOPBundle = 1, SetUpPOP3User = 2 }, received())
    end)

    it("splits the order of a domain that needs more than 10 paks", function()
        local c = H.client()
        local rep = assert(provision.ensure(c, { { domain = "shop14.com", mailboxes = people(150) } },
            { buy_paks = true, max_paks_per_run = 15 }))
        assert.is_true(rep.ok, rep:format())
        assert.equal(150, rep.counts.created)
        assert.equal(15, #H.domain("shop14.com").paks)
        assert.equal(15, rep.paks_bought)
        assert.same({ GetPOP3 = 1, GetOrderList = 1, PurchasePOPBundle = 2, SetUpPOP3User = 15 }, received())
        assert.equal(150, count(H.mailboxes("shop14.com")))
    end)

    it("sends the SetUps of different paks of one domain at once", function()
        local c = H.client()
        local rep = assert(provision.ensure(c, { { domain = "shop15.com", mailboxes = people(30) } },
            { buy_paks = true, concurrency = 8 }))
        assert.is_true(rep.ok, rep:format())
        assert.equal(3, H.received("SetUpPOP3User"))
        assert.equal(3, rep.peak)
    end)

    it("uses the slots a prune frees without reading again", function()
        local c = H.client()
        local want = { { username = "james", admin = true } }
        for i = 1, 9 do want[#want + 1] = { username = "new" .. i } end
        local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = want } },
            { prune = true, buy_paks = true }))
        assert.is_true(rep.ok, rep:format())
        assert.equal(1, rep.counts.deleted)
        assert.equal(9, rep.counts.created)
        assert.same({ GetPOP3 = 1, GetOrderList = 1, DeletePOP3 = 1, SetUpPOP3User = 1 }, received())
        assert.equal(1, #H.domain("resellerdocs.com").paks)
    end)

    it("says when the client's max_connections caps the concurrency", function()
        local c = H.client { max_connections = 2 }
        local rep = assert(provision.ensure(c, { { domain = "shop16.com", mailboxes = people(2) } },
            { buy_paks = true, concurrency = 8 }))
        assert.truthy(rep.notes[1] and rep.notes[1]:find("max_connections (2)", 1, true), rep:format())
        assert.truthy(rep:format():find("NOTE: concurrency 8", 1, true))
        local quiet = assert(provision.ensure(H.client { max_connections = 8 },
            { { domain = "shop16.com", mailboxes = people(2) } }, { concurrency = 8 }))
        assert.equal(0, #quiet.notes)
    end)

    it("keeps an invalid name out of ensure as out of plan", function()
        local c = H.client()
        local boxes = people(3)
        boxes[2] = { username = "no spaces please" }
        local rep = assert(provision.ensure(c, { { domain = "shop17.com", mailboxes = boxes } }, { buy_paks = true }))
        assert.equal(1, rep.counts.invalid)
        assert.equal(2, rep.counts.created)
        assert.equal(3, #rep.mailboxes)
    end)
end)
