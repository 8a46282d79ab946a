-- The planner from values alone: no client, no socket. Desired state x
-- current state x policy x budget -> actions.
local planner = require "enom.provision.planner"
local policy_mod = require "enom.provision.policy"

local function policy(opts)
    return assert(policy_mod.merge(opts))
end

-- A domain's GetPOP3 answer: mailboxes { name = admin }, paks { free }.
local function current(mailboxes, paks)
    local cur = { mailboxes = {}, paks = {} }
    for name, admin in pairs(mailboxes or {}) do
        cur.mailboxes[#cur.mailboxes + 1] = { username = name, admin = admin, bundle_id = 1 }
    end
    table.sort(cur.mailboxes, function(a, b) return a.username < b.username end)
    for i, free in ipairs(paks or {}) do
        cur.paks[i] = { bundle_id = i, free = free, purchased = 10 }
    end
    return cur
end

local function intent(mailboxes, extra)
    local t = { domain = "example.com", sld = "example", tld = "com", mailboxes = mailboxes }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
end

local function names(list)
    local out = {}
    for i, m in ipairs(list) do out[i] = type(m) == "table" and m.username or m end
    table.sort(out)
    return out
end

local function mailboxes(n, prefix)
    local out = {}
    for i = 1, n do out[i] = { username = (prefix or "user") .. i } end
    return out
end

describe("planner", function()
    describe("intents", function()
        it("checks the shape of desired and names what is wrong", function()
            local cases = {
                { nil, "non-empty array" },
                { {}, "non-empty array" },
                { { "x" }, "desired[1] must be a table" },
                { { { domain = "not a domain" } }, "desired[1]: the domain name" },
                { { { domain = "example.com" }, { domain = "EXAMPLE.com" } }, "appears twice" },
                { { { domain = "example.com", mailboxes = { { username = "" } } } }, "mailboxes[1].username is missing" },
                { { { domain = "example.com", mailboxes = { { username = "a" }, { username = "A" } } } }, "repeats" },
                { { { domain = ("a"):rep(64) .. ".com" } }, "label longer than 63" },
                { { { domain = "x\27[2J.com" } }, "control character" },
            }
            for _, c in ipairs(cases) do
                local ok, err = planner.intents(c[1])
                assert.is_nil(ok)
                assert.equal("invalid", err.kind)
                assert.truthy(err.message:find(c[2], 1, true), err.message)
            end
        end)

        it("canonicalises domains: lower case, sld and tld", function()
            local i = assert(planner.intents { { domain = "Example.CO.uk", mailboxes = {} }, { sld = "Shop", tld = "COM" } })
            assert.same({ "example.co.uk", "example", "co.uk" }, { i[1].domain, i[1].sld, i[1].tld })
            assert.equal("shop.com", i[2].domain)
        end)
    end)

    describe("one domain", function()
        it("creates what is missing, keeps what is right, changes admin flags", function()
            local d, given = planner.domain(intent {
                { username = "ann", admin = true, password = "Given-Pass1" },
                { username = "bob", admin = true },
                { username = "cat" },
                { username = "dan", admin = false },
            }, current({ bob = false, cat = true, dan = false }, { 10 }), policy(), planner.budget(policy()))
            assert.same({ "ann" }, names(d.create))
            assert.same({ "bob" }, names(d.modify))
            assert.is_true(d.modify[1].admin)
            -- admin not given: an existing mailbox's flag is left alone.
            assert.same({ "cat", "dan" }, names(d.keep))
            assert.same({ ann = "Given-Pass1" }, given)
            assert.is_nil(d.create[1].password, "a given password never goes into the actions")
            assert.equal(0, d.buy)
        end)

        it("marks a given password eNom's rule refuses invalid, naming the rule, and never plans it", function()
            local d, given = planner.domain(intent {
                { username = "ann", password = "short1" },          -- too short
                { username = "bob", password = "bob-Bob-1234" },    -- holds the user name
                { username = "cat", password = "Fine-Pass-1234" },
            }, current({}, { 10 }), policy(), planner.budget(policy()),
                { password_rule = "email_basic", uid = "resellid" })
            assert.same({ "cat" }, names(d.create))
            assert.same({ "ann", "bob" }, names(d.invalid))
            for _, m in ipairs(d.invalid) do
                assert.truthy(m.reason:find("password", 1, true), m.reason)
                assert.is_nil(m.reason:find("short1", 1, true), "the reason shows no password")
                assert.is_nil(m.reason:find("bob-Bob-1234", 1, true), "the reason shows no password")
            end
            assert.same({ cat = "Fine-Pass-1234" }, given)
            assert.equal(0, d.buy)
        end)

        it("marks names eNom cannot hold invalid: bytes that are not UTF-8, control characters", function()
            local d = planner.domain(intent {
                { username = "ann", display_name = "J\xffrg" },
                { username = "bob", display_name = "caf\xc3" },
                { username = "cat", display_name = "Bell\7" },
                { username = "dan", display_name = "Dan \xc3\xa9" },
            }, current({}, { 10 }), policy(), planner.budget(policy()))
            assert.same({ "dan" }, names(d.create))
            assert.same({ "ann", "bob", "cat" }, names(d.invalid))
            for _, m in ipairs(d.invalid) do
                assert.truthy(m.reason:find("^display_name "), m.reason)
            end
            local _, err = planner.intents { { domain = "exa\xffmple.com" } }
            assert.equal("invalid", err.kind)
        end)

        it("deletes only with prune, and only what a saved plan names", function()
            local cur = current({ keep = false, old1 = false, old2 = false }, { 7 })
            local want = { { username = "keep" } }
            local d = planner.domain(intent(want), cur, policy(), planner.budget(policy()))
            assert.same({}, d.delete)
            d = planner.domain(intent(want), cur, policy { prune = true }, planner.budget(policy()))
            assert.same({ "old1", "old2" }, d.delete)
            d = planner.domain(intent(want, { delete = { "old2" } }), cur, policy { prune = true },
                planner.budget(policy()))
            assert.same({ "old2" }, d.delete)
        end)

        it("buys only with buy_paks, within the run's caps, and blocks the rest naming the flag", function()
            local want = mailboxes(25)
            local d = planner.domain(intent(want), current({}, { 3 }), policy(), planner.budget(policy()))
            assert.equal(0, d.buy)
            assert.equal(3, #d.create)
            assert.equal(22, #d.blocked)
            assert.truthy(d.blocked[1].reason:find("--buy-paks", 1, true))
            assert.equal("user4", d.blocked[1].username, "the mailboxes asked for last are the ones that wait")
            local p = policy { buy_paks = true, max_paks_per_run = 1 }
            d = planner.domain(intent(want), current({}, { 3 }), p, planner.budget(p))
            assert.equal(1, d.buy)
            assert.equal(13, #d.create)
            assert.truthy(d.blocked[1].reason:find("--max-paks", 1, true))
            p = policy { buy_paks = true }
            d = planner.domain(intent(want), current({}, { 3 }), p, planner.budget(p))
            assert.equal(3, d.buy)
            assert.equal(25, #d.create)
        end)

        it("counts slots freed by deletes before buying", function()
            local p = policy { buy_paks = true, prune = true }
            local d = planner.domain(intent(mailboxes(3, "new")), current({ a = false, b = false }, { 1 }), p,
                planner.budget(p))
            assert.equal(0, d.buy)
            assert.equal(3, #d.create)
        end)

        it("spends one budget across domains: money and paks", function()
            local p = policy { buy_paks = true, max_paks_per_run = 5, max_spend = 20, pak_price = 5.95 }
            local budget = planner.budget(p)
            local a = planner.domain(intent(mailboxes(20)), current({}, {}), p, budget)
            local b = planner.domain(intent(mailboxes(20)), current({}, {}), p, budget)
            assert.equal(2, a.buy)
            assert.equal(1, b.buy, "3 paks at 5.95 fit in 20.00")
            assert.equal(10, #b.create)
        end)

        it("a saved plan's purchase is an upper bound", function()
            local p = policy { buy_paks = true, max_paks_per_run = 10 }
            local d = planner.domain(intent(mailboxes(30), { buy = 1 }), current({}, {}), p, planner.budget(p))
            assert.equal(1, d.buy)
            assert.equal(10, #d.create)
            assert.truthy(d.blocked[1].reason:find("saved plan", 1, true))
        end)

        it("marks mailboxes eNom would refuse invalid, never buying for them", function()
            local p = policy { buy_paks = true }
            local d = planner.domain(intent {
                { username = "bad name!" },
                { username = ("x"):rep(31) },
                { username = "ok" },
                { username = "esc", display_name = "A\27]0;pwned\7" },
                { username = "nul", display_name = "a\0b" },
            }, current({}, {}), p, planner.budget(p))
            assert.same({ "ok" }, names(d.create))
            assert.equal(1, d.buy)
            local why = {}
            for _, m in ipairs(d.invalid) do why[m.username] = m.reason end
            assert.truthy(why["bad name!"]:find("^username has characters"), why["bad name!"])
            assert.truthy(why[("x"):rep(31)]:find("longer than 30", 1, true))
            assert.truthy(why.esc:find("^display_name holds a control character"), why.esc)
            assert.truthy(why.nul:find("control character", 1, true), why.nul)
        end)

        it("asks the admin hook, and notes a refusal", function()
            local p = policy { admin = function(m) return m.username ~= "eve" end }
            local d = planner.domain(intent { { username = "eve", admin = true }, { username = "ann", admin = true } },
                current({}, { 10 }), p, planner.budget(p))
            local admin = {}
            for _, m in ipairs(d.create) do admin[m.username] = m.admin end
            assert.same({ eve = false, ann = true }, admin)
            assert.truthy(d.notes[1]:find("admin refused by policy", 1, true))
        end)
    end)

    it("turns a saved plan's domain back into an intent", function()
        local saved = {
            domain = "example.com", sld = "example", tld = "com", buy = 2,
            create = { { username = "ann", admin = true, display_name = "Ann" } },
            blocked = { { username = "bob", reason = "x" } },
            invalid = { { username = "bad!", reason = "y" } },
            modify = { { username = "cat", admin = false } },
            keep = { "dan" }, delete = { "old" },
        }
        local i = planner.intent_of_plan(saved, { ann = "Pw-Ann-1" })
        assert.equal(2, i.buy)
        assert.same({ "old" }, i.delete)
        local by = {}
        for _, m in ipairs(i.mailboxes) do by[m.username] = m end
        assert.equal("Pw-Ann-1", by.ann.password)
        assert.is_true(by.ann.admin)
        assert.is_false(by.cat.admin)
        assert.is_nil(by.dan.admin, "kept mailboxes ask no change of flag")
        assert.truthy(by.bob and by["bad!"])
    end)
end)
