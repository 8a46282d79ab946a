-- The pure parts of the pak lifecycle and of per-mailbox forwards, from
-- values alone: eNom's dates, the renewal window, the planner's renewals
-- (window, named paks, another domain's pak, money), the renew policy's
-- checks, forwards in the plan, the forward states and decisions, the
-- report's renewal and forward records, and the address rule.
local renew = require "enom.provision.renew"
local forwards = require "enom.provision.forwards"
local planner = require "enom.provision.planner"
local policy_mod = require "enom.provision.policy"
local report = require "enom.provision.report"
local names = require "enom.names"

local DAY = 86400
-- 2031-02-05 00:00:00 UTC, worked out by hand: 61 years of days from
-- 1970 (15 leap years: 1972..2028) plus January's 31 and 4 days.
local FEB_5_2031 = (61 * 365 + 15 + 31 + 4) * DAY

local function policy(opts)
    return assert(policy_mod.merge(opts))
end

local function intent(mailboxes, extra)
    local t = { domain = "example.com", sld = "example", tld = "com", mailboxes = mailboxes or {} }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
end

-- A GetPOP3 answer with mailboxes (names) and paks { id, expires }.
local function current(users, paks)
    local cur = { mailboxes = {}, paks = {} }
    for i, u in ipairs(users or {}) do
        cur.mailboxes[i] = { username = u, admin = false, bundle_id = 1 }
    end
    for i, p in ipairs(paks or {}) do
        cur.paks[i] = { bundle_id = p[1], expires = p[2], free = p[3] or 10, purchased = 10 }
    end
    return cur
end

local function ids(list)
    local out = {}
    for i, r in ipairs(list) do out[i] = r.bundle_id end
    return out
end

describe("eNom's dates", function()
    it("reads the forms eNom writes, as UTC", function()
        assert.equal(FEB_5_2031, renew.parse_date("2/5/2031"))
        assert.equal(FEB_5_2031, renew.parse_date("02/05/2031"))
        assert.equal(FEB_5_2031 + 2 * 3600 + 14 * 60 + 59, renew.parse_date("2/5/2031 2:14:59 AM"))
        assert.equal(FEB_5_2031 + 14 * 3600 + 14 * 60 + 59, renew.parse_date("2/5/2031 2:14:59 PM"))
        assert.equal(FEB_5_2031, renew.parse_date("2/5/2031 12:00:00 AM"))
        assert.equal(FEB_5_2031 + 12 * 3600, renew.parse_date("2/5/2031 12:00:00 PM"))
        assert.equal(FEB_5_2031, renew.parse_date("2031-02-05"))
        assert.equal(FEB_5_2031 + 10 * 3600, renew.parse_date("2031-02-05T10:00:00"))
        assert.equal(0, renew.parse_date("1/1/1970"))
        assert.equal((365 + 365 + 31 + 28) * DAY, renew.parse_date("2/29/1972"))
    end)

    it("refuses what is not a date, rather than guess", function()
        for _, s in ipairs { "", "soon", "13/1/2031", "2/30/2031", "2/29/2031", "2/5/31", "2/5/2031 25:00:00",
            "2/5/2031 13:00:00 PM", "2/5/2031 junk", "2031-2-5" } do
            assert.is_nil(renew.parse_date(s), s)
        end
        assert.is_nil(renew.parse_date(nil))
        assert.is_nil(renew.parse_date(20310205))
    end)

    it("says a renewal took when the expiry moved on (or its text changed where it cannot be read)", function()
        assert.is_true(renew.moved("2/5/2031", "2/5/2032"))
        assert.is_true(renew.moved("2/5/2031 2:14:59 AM", "2/5/2032 2:14:59 AM"))
        assert.is_false(renew.moved("2/5/2031", "2/5/2031"))
        assert.is_false(renew.moved("2/5/2031", "2/5/2030"))
        assert.is_true(renew.moved("someday", "another day"))
        assert.is_false(renew.moved("someday", "someday"))
        assert.is_false(renew.moved("2/5/2031", nil))
    end)

    it("lists the paks in a window, expired ones too, soonest first; unreadable ones apart", function()
        local now = FEB_5_2031
        local list, odd = renew.expiring({
            { bundle_id = 1, expires = "3/1/2031" },  -- 24 days
            { bundle_id = 2, expires = "2/10/2031" }, -- 5 days
            { bundle_id = 3, expires = "1/1/2031" },  -- expired
            { bundle_id = 4, expires = "6/1/2031" },  -- outside
            { bundle_id = 5, expires = "never" },
            { bundle_id = 6 },
        }, 30, now)
        assert.same({ 3, 2, 1 }, (function()
            local out = {}
            for i, e in ipairs(list) do out[i] = e.pak.bundle_id end
            return out
        end)())
        assert.equal(-35, list[1].days_left)
        assert.equal(5, list[2].days_left)
        assert.equal(2, #odd)
    end)
end)

describe("the renew policy", function()
    it("takes within_days and years, years 1 by default", function()
        assert.same({ within_days = 30, years = 1 }, policy({ renew = { within_days = 30 } }).renew)
        assert.same({ within_days = 400, years = 2 }, policy({ renew = { within_days = 400, years = 2 } }).renew)
    end)

    it("refuses a window a renewed pak would still be in, and anything it does not know", function()
        for _, c in ipairs {
            { { within_days = 365 }, "below 365 x years" },
            { { within_days = 800, years = 2 }, "below 365 x years" },
            { { within_days = 30, years = 0 }, "years must be" },
            { { within_days = 30, years = 1.5 }, "years must be" },
            { { years = 1 }, "needs within_days" },
            { { within_days = -1 }, "needs within_days" },
            { { within_days = 30, when = "now" }, "unknown field 'when'" },
            { 30, "must be a table" },
        } do
            local p, err = policy_mod.merge { renew = c[1] }
            assert.is_nil(p)
            assert.equal("renew", err.option)
            assert.truthy(err.message:find(c[2], 1, true), err.message)
        end
    end)
end)

describe("the planner's renewals", function()
    local NOW = FEB_5_2031
    -- Full paks (no free slot), expiring in 10 and 43 days, and expired.
    local paks = { { 11, "2/15/2031", 0 }, { 12, "3/20/2031", 0 }, { 13, "1/20/2031", 0 } }

    it("renews the domain's paks in the window, soonest first, for the policy's years", function()
        local p = policy { renew = { within_days = 30, years = 2 } }
        local d = planner.domain(intent(), current({}, paks), p, planner.budget(p, NOW))
        assert.same({ 13, 11 }, ids(d.renew))
        assert.equal(2, d.renew[1].years)
        assert.equal("1/20/2031", d.renew[1].expires)
        assert.same({}, d.renew_blocked)
    end)

    it("renews a named pak whatever its expiry, once, and refuses one the domain does not hold", function()
        local p = policy { renew = { within_days = 30 } }
        local d = planner.domain(intent(nil, { renew_paks = { { bundle_id = 12, years = 3 }, { bundle_id = 11, years = 1 },
            { bundle_id = 99, years = 1 } } }), current({}, paks), p, planner.budget(p, NOW))
        assert.same({ 13, 11, 12 }, ids(d.renew))
        assert.equal(3, d.renew[3].years)
        assert.equal(1, #d.renew_refused)
        assert.equal(99, d.renew_refused[1].bundle_id)
        assert.truthy(d.renew_refused[1].reason:find("not a pak of example.com", 1, true))
        -- Without a policy, only what is named.
        d = planner.domain(intent(nil, { renew_paks = { { bundle_id = 12, years = 1 } } }), current({}, paks), policy(),
            planner.budget(policy(), NOW))
        assert.same({ 12 }, ids(d.renew))
    end)

    it("spends one budget across domains, renewals before purchases, at the budget's price", function()
        local p = policy { renew = { within_days = 30 }, buy_paks = true, max_spend = 20 }
        local budget = planner.budget(p, NOW)
        budget.price = 6
        -- 2 renewals (12) and 1 pak bought (6) fit in 20; the next domain gets nothing.
        local users = {}
        for i = 1, 25 do users[i] = { username = "u" .. i } end
        local a = planner.domain(intent(users), current({}, paks), p, budget)
        assert.same({ 13, 11 }, ids(a.renew))
        assert.equal(1, a.buy)
        assert.equal(15, #a.blocked)
        local b = planner.domain(intent(nil), current({}, { { 21, "2/6/2031" } }), p, budget)
        assert.same({}, b.renew)
        assert.equal(1, #b.renew_blocked)
        assert.truthy(b.renew_blocked[1].reason:find("spending cap", 1, true))
    end)

    it("spends nothing under max_spend while the price is unknown, and says so", function()
        local p = policy { renew = { within_days = 30 }, buy_paks = true, max_spend = 100 }
        local d = planner.domain(intent { { username = "a" } }, current({}, paks), p, planner.budget(p, NOW))
        assert.same({}, d.renew)
        assert.equal(2, #d.renew_blocked)
        assert.truthy(d.renew_blocked[1].reason:find("price", 1, true))
        assert.equal(0, d.buy)
        assert.truthy(d.blocked[1].reason:find("pak_price", 1, true))
        -- What would be spent, caps aside: the question asked before the price is read.
        assert.is_true(planner.spends(intent { { username = "a" } }, current({}, paks), p, NOW))
        assert.is_false(planner.spends(intent(), current({}, { { 1, "1/1/2040" } }), p, NOW))
        local pp = policy { buy_paks = true, max_spend = 100, pak_price = 5 }
        assert.equal(5, planner.budget(pp).price)
    end)

    it("notes a pak whose expiry cannot be read and does not renew it", function()
        local p = policy { renew = { within_days = 30 } }
        local d = planner.domain(intent(), current({}, { { 1, "whenever" } }), p, planner.budget(p, NOW))
        assert.same({}, d.renew)
        assert.truthy(d.notes[1]:find("cannot be read", 1, true), d.notes[1])
    end)
end)

describe("forwards in the plan", function()
    it("asks for the forwards of mailboxes that exist or will be made, a copy kept by default", function()
        local p = policy()
        local d = planner.domain(intent {
            { username = "ann", forward_to = "ann@example.net" },
            { username = "bob", forward_to = false },
            { username = "cat" },
            { username = "new", forward_to = "n@example.org", keep_copy = false },
        }, current({ "ann", "bob", "cat" }, { { 1, "1/1/2040", 5 } }), p, planner.budget(p))
        assert.same({
            { username = "ann", forward_to = "ann@example.net", keep_copy = true },
            { username = "bob", forward_to = false, keep_copy = true },
            { username = "new", forward_to = "n@example.org", keep_copy = false },
        }, d.forwards)
    end)

    it("leaves out the forward of a mailbox that cannot be made, with a note", function()
        local p = policy()
        local d = planner.domain(intent { { username = "ann", forward_to = "ann@example.net" } }, current({}, {}), p,
            planner.budget(p))
        assert.same({}, d.forwards)
        assert.equal(1, #d.blocked)
        assert.truthy(d.notes[1]:find("waits until the mailbox exists", 1, true))
    end)

    it("refuses a forward that is not an address, or a keep_copy that is not a flag", function()
        for _, c in ipairs {
            { { username = "a", forward_to = "nobody" }, "forward_to" },
            { { username = "a", forward_to = 42 }, "forward_to" },
            { { username = "a", forward_to = true }, "forward_to" },
            { { username = "a", forward_to = "a@b.c", keep_copy = "yes" }, "keep_copy" },
        } do
            local ok, err = planner.intents { { domain = "example.com", mailboxes = { c[1] } } }
            assert.is_nil(ok)
            assert.equal("desired[1].mailboxes[1]." .. c[2], err.field)
        end
    end)
end)

describe("a forward's state", function()
    it("reads eNom's codes, the opt-in's, and active where no status is given", function()
        assert.equal("none", forwards.state(nil))
        assert.equal("none", forwards.state { forward_to = "" })
        assert.equal("forwarding", forwards.state { forward_to = "a@b.c", status = 0 })
        assert.equal("off", forwards.state { forward_to = "a@b.c", status = 1 })
        assert.equal("off", forwards.state { forward_to = "a@b.c", status = 0, active = false })
        assert.equal("pending", forwards.state { forward_to = "a@b.c", status = 2 })
        assert.equal("expired", forwards.state { forward_to = "a@b.c", status = 3 })
        -- eNom's published GetPOPForwarding: no status, `active` only.
        assert.equal("forwarding", forwards.state { forward_to = "a@b.c", active = true })
        assert.equal("inactive", forwards.state { forward_to = "a@b.c", active = false })
    end)

    it("sends only what differs: a forward approved or waiting to the same address is left alone", function()
        local want = { forward_to = "Desk@example.net" }
        assert.same({ "keep", "already_set" }, { forwards.decide({ forward_to = "desk@example.net", status = 0 }, want) })
        assert.same({ "keep", "pending" }, { forwards.decide({ forward_to = "desk@example.net", status = 2 }, want) })
        assert.same({ "keep", "pending" }, { forwards.decide({ forward_to = "desk@example.net", active = false }, want) })
        assert.same({ "send" }, { forwards.decide({ forward_to = "desk@example.net", status = 3 }, want) })
        assert.same({ "send" }, { forwards.decide({ forward_to = "desk@example.net", status = 1 }, want) })
        assert.same({ "send" }, { forwards.decide({ forward_to = "other@example.net", status = 0 }, want) })
        assert.same({ "send" }, { forwards.decide(nil, want) })
        assert.same({ "remove" }, { forwards.decide({ forward_to = "x@example.net", status = 2 }, { forward_to = false }) })
        assert.same({ "keep", "already_absent" }, { forwards.decide(nil, { forward_to = false }) })
    end)

    it("asks SetPOPForwarding for one mailbox, the domain as EMail, a copy kept unless told", function()
        assert.same({ sld = "example", tld = "com", username = "ann", email = "example.com", enable = true,
            forward_to = "a@b.net", status_flags = 0 }, forwards.request("example", "com", "ann", { forward_to = "a@b.net" }))
        assert.equal(1, forwards.request("example", "com", "ann", { forward_to = "a@b.net", keep_copy = false }).status_flags)
        assert.same({ sld = "example", tld = "com", username = "ann", email = "example.com", enable = false,
            forward_to = "old@b.net" }, forwards.request("example", "com", "ann", { forward_to = false }, "old@b.net"))
    end)

    it("tells the outcome of a forward sent from its read-back", function()
        local want = { forward_to = "a@b.net" }
        assert.equal("pending", forwards.outcome({ forward_to = "a@b.net", status = 2 }, want, true))
        assert.equal("set", forwards.outcome({ forward_to = "a@b.net", status = 0 }, want, true))
        assert.is_nil(forwards.outcome({ forward_to = "z@b.net", status = 0 }, want, true))
        assert.is_nil(forwards.outcome(nil, want, true))
        assert.equal("pending", forwards.outcome(nil, want, false))
        assert.equal("removed", forwards.outcome(nil, { forward_to = false }, true))
        assert.is_nil(forwards.outcome({ forward_to = "a@b.net", status = 0 }, { forward_to = false }, true))
    end)
end)

describe("the report's renewals and forwards", function()
    local STATS = { requests = {}, sent = 0, retries = 0, reconciles = 0 }

    it("keeps an event's own fields and counts events by action and outcome", function()
        local r = assert(report.new())
        r:event("example.com", "renew", "renewed", "pak 1 for 1 year", 1, { bundle_id = 1, years = 1 })
        r:event("example.com", "forward", "pending", "ann -> a@b.net: waiting", 1,
            { username = "ann", forward_to = "a@b.net", outcome = "not this" })
        r:finish(STATS, { paks = 0, in_doubt = 0, renewed = 1, renewals_in_doubt = 0 })
        assert.is_true(r.ok)
        assert.equal(1, r.events[1].bundle_id)
        assert.equal("pending", r.events[2].outcome) -- a field never overrides the record's own
        assert.same({ renew = { renewed = 1 }, forward = { pending = 1 } }, r.event_counts)
        assert.equal(1, #r:events_with("forward", "pending"))
        assert.equal(2, #r:events_with("renew") + #r:events_with("forward"))
        local text = r:format()
        assert.truthy(text:find("renewed: 1 pak(s)", 1, true), text)
        assert.truthy(text:find("PENDING: 1 forward(s)", 1, true), text)
    end)

    it("is not ok when a renewal failed, was refused, blocked or is in doubt, or a forward failed", function()
        for _, c in ipairs { { "renew", "failed" }, { "renew", "refused" }, { "renew", "blocked" },
            { "renew", "unknown" }, { "forward", "failed" }, { "forward", "unknown" }, { "forward", "not_done" } } do
            local r = assert(report.new())
            r:event("example.com", c[1], c[2], "x", 1)
            r:finish(STATS, { paks = 0, in_doubt = 0, renewed = 0, renewals_in_doubt = c[2] == "unknown" and 1 or 0 })
            assert.is_false(r.ok, c[1] .. " " .. c[2])
        end
        local r = assert(report.new())
        r:event("example.com", "renew", "unknown", "x", 1)
        r:finish(STATS, { paks = 0, in_doubt = 0, renewed = 0, renewals_in_doubt = 1 })
        assert.truthy(r:format():find("IN DOUBT: 1 pak renewal", 1, true))
    end)

    it("carries an error's kind, number and texts, never its message", function()
        local f = report.error_fields { kind = "api", message = "secret-ish", response_number = 706172,
            errors = { "too many" }, tracking_key = "k" }
        assert.same({ kind = "api", response_number = 706172, errors = { "too many" }, tracking_key = "k" }, f)
        assert.is_nil(report.error_fields(nil))
    end)
end)

describe("an address a forward goes to", function()
    it("takes what eNom takes", function()
        for _, a in ipairs { "ann@example.net", "ann.lee+mail@mail.example.co.uk", "o'brien@example.org",
            "x_y-z@a-b.example" } do
            assert.is_nil(names.check_address(a), a)
        end
    end)

    it("names what is wrong, never quoting the address", function()
        for _, c in ipairs {
            { "", "missing" }, { "ann", "not an e-mail address" }, { "ann@", "not an e-mail address" },
            { "a@b@c.com", "not an e-mail address" }, { "ann@localhost", "no domain name" },
            { ".ann@example.net", "misplaced dot" }, { "an..n@example.net", "misplaced dot" },
            { "a n@example.net", "character an address may not hold" }, { "ann@exa mple.net", "label" },
            { "ann@-example.net", "label" }, { "x\27[2J@example.net", "control character" },
            { ("a"):rep(120) .. "@example.net", "longer than 130" },
        } do
            local why = names.check_address(c[1])
            assert.truthy(why and why:find(c[2], 1, true), c[1] .. ": " .. tostring(why))
        end
    end)
end)
