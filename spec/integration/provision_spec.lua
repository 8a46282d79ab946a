-- Plan and apply against the sandbox: fresh, half-provisioned, nothing
-- to do, pak shortage with and without buying, prune, faults.
local H = require "helper"
local provision = require "enom.provision"

local function people(n, prefix)
    local list = {}
    for i = 1, n do
        list[i] = { username = (prefix or "user") .. i, display_name = "User " .. i }
    end
    return list
end

local function names(domain)
    local out = {}
    for name in pairs(H.mailboxes(domain)) do
        out[#out + 1] = name
    end
    table.sort(out)
    return out
end

describe("provision", function()
    before_each(function()
        H.reset()
    end)

    it("provisions a fresh domain, buying only the paks needed", function()
        local c = H.client()
        local generated = {}
        local plan = assert(provision.plan(c, { { domain = "shop01.com", mailboxes = people(23) } }, { buy_paks = true }))
        local t = plan:totals()
        assert.equal(3, t.buy)
        assert.equal(23, t.create)
        assert.truthy(plan:format():find("buy      3 pak"))
        local rep = provision.apply(c, plan, {
            on_password = function(domain, user, pw) generated[#generated + 1] = { domain, user, pw } end,
        })
        assert.is_true(rep.ok, rep:format())
        assert.equal(23, rep.counts.created)
        assert.equal(23, #generated)
        assert.equal(23, #names("shop01.com"))
        assert.equal(3, #H.domain("shop01.com").paks)
        -- Each generated password was handed back once and is the real one.
        local m = H.mailboxes("shop01.com")
        for _, g in ipairs(generated) do
            assert.equal(g[3], m[g[2]].password)
        end
        assert.falsy(H.contains(rep, generated[1][3]))
    end)

    it("does nothing when everything is already right", function()
        local c = H.client()
        local want = { { domain = "resellerdocs.com", mailboxes = { { username = "james", admin = true }, { username = "support" } } } }
        local before = H.total_received()
        local plan = assert(provision.plan(c, want))
        assert.equal(0, plan:totals().create)
        assert.equal(2, plan:totals().keep)
        local rep = provision.apply(c, plan)
        assert.equal(2, rep.counts.already_present)
        assert.is_true(rep.ok)
        -- Planning read the domain; applying a fresh plan with nothing to
        -- do trusts that read: nothing else was sent.
        assert.equal(before + 1, H.total_received())
        assert.equal(H.received("GetPOP3"), H.total_received())
        -- A plan fresh_plan seconds old or older is read again (0: always).
        rep = provision.apply(c, plan, { fresh_plan = 0 })
        assert.equal(2, rep.counts.already_present)
        assert.equal(before + 2, H.total_received())
        plan.made_at = os.time() - 10
        rep = provision.apply(c, plan, { fresh_plan = 5 })
        assert.equal(2, rep.counts.already_present)
        assert.equal(before + 3, H.total_received())
        assert.equal(H.received("GetPOP3"), H.total_received())
    end)

    it("completes a half-provisioned domain and keeps what is there", function()
        local c = H.client()
        local want = people(5, "half")
        local p1 = assert(provision.plan(c, { { domain = "resellerdocs.com", mailboxes = { want[1], want[2] } } }))
        provision.apply(c, p1)
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com", mailboxes = want } }))
        assert.equal(3, plan:totals().create)
        assert.equal(2, plan:totals().keep)
        local rep = provision.apply(c, plan)
        assert.is_true(rep.ok, rep:format())
        assert.equal(3, rep.counts.created)
        assert.equal(7, #names("resellerdocs.com"))
    end)

    it("blocks what does not fit when buying is not allowed", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com", mailboxes = people(12) } }))
        local t = plan:totals()
        assert.equal(0, t.buy)
        assert.equal(8, t.create)
        assert.equal(4, t.blocked)
        assert.truthy(plan:format():find("buy_paks"))
        local rep = provision.apply(c, plan)
        assert.equal(8, rep.counts.created)
        assert.equal(4, rep.counts.blocked)
        assert.equal(0, #H.domain("emptydomain.com").paks)
        assert.equal(1, #H.domain("resellerdocs.com").paks)
    end)

    it("refuses a misspelt policy option instead of ignoring it", function()
        local c = H.client()
        local want = { { domain = "shop01.com", mailboxes = people(1) } }
        local plan, err = provision.plan(c, want, { buy_pak = true })
        assert.is_nil(plan)
        assert.equal("invalid", err.kind)
        assert.equal("buy_pak", err.option)
        assert.truthy(tostring(err):find("unknown policy option 'buy_pak'", 1, true))
        plan = assert(provision.plan(c, want))
        local rep
        rep, err = provision.apply(c, plan, { prnue = true })
        assert.is_nil(rep)
        assert.equal("prnue", err.option)
    end)

    it("refuses a policy value out of its range, naming the option", function()
        local c = H.client()
        local want = { { domain = "shop01.com", mailboxes = people(1) } }
        local cases = {
            { attempts = 0 }, { attempts = 1.5 }, { attempts = "3" }, { backoff_base = 0 / 0 },
            { backoff_cap = math.huge }, { backoff_base = -1 }, { concurrency = 0 }, { batch_size = 11 },
            { settle = -1 }, { purchase_timeout = 0 }, { buy_paks = "yes" }, { on_password = "print" },
            { max_spend = 0 / 0 }, { lock = 42 }, { lease_ttl = 0 },
        }
        for _, opt in ipairs(cases) do
            local name = next(opt)
            local plan, err = provision.plan(c, want, opt)
            assert.is_nil(plan, name)
            assert.equal("invalid", err.kind)
            assert.equal(name, err.option)
            assert.truthy(tostring(err):find("'" .. name .. "'", 1, true), tostring(err))
        end
        assert.truthy(provision.plan(c, want, { attempts = 1, backoff_base = 0, settle = 0 }))
        local _, err = provision.plan(c, want, { backoff_base = 2, backoff_cap = 1 })
        assert.equal("backoff_cap", err.option)
    end)

    it("returns error values for bad input, naming the entry", function()
        local c = H.client()
        local cases = {
            { {}, "desired" },
            { { { domain = "nodot" } }, "desired[1]" },
            { { { domain = "a.com" }, { domain = "A.com" } }, "desired[2]" },
            { { { domain = "a.com", mailboxes = { { username = "" } } } }, "desired[1].mailboxes[1]" },
            { { { domain = "a.com", mailboxes = { { username = "x" }, { username = "X" } } } }, "desired[1].mailboxes[2]" },
        }
        for _, case in ipairs(cases) do
            local plan, err = provision.plan(c, case[1])
            assert.is_nil(plan)
            assert.equal("invalid", err.kind)
            assert.equal(case[2], err.field)
        end
        local plan, err = provision.plan(c, { { domain = "shop01.com", mailboxes = { { username = "boss", admin = true } } } },
            { admin = function() error("hook broke") end })
        assert.is_nil(plan)
        assert.equal("callback", err.kind)
    end)

    it("reports a plan that cannot be saved", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "shop01.com", mailboxes = people(1) } }))
        local ok, err = plan:save("/nonexistent-dir/plan.json")
        assert.is_nil(ok)
        assert.equal("io", err.kind)
        ok, err = plan:save("/dev/full")
        assert.is_nil(ok)
        assert.equal("io", err.kind)
    end)

    it("never buys more than the run's cap", function()
        local c = H.client()
        local plan = assert(provision.plan(c, {
            { domain = "shop01.com", mailboxes = people(15) },
            { domain = "shop02.com", mailboxes = people(15) },
        }, { buy_paks = true, max_paks_per_run = 3 }))
        assert.equal(3, plan:totals().buy)
        local rep = provision.apply(c, plan)
        assert.equal(3, rep.paks_bought)
        assert.equal(3, #H.domain("shop01.com").paks + #H.domain("shop02.com").paks)
    end)

    it("prunes only with the prune policy", function()
        local c = H.client()
        local want = { { domain = "resellerdocs.com", mailboxes = { { username = "james" } } } }
        local plan = assert(provision.plan(c, want))
        assert.equal(0, plan:totals().delete)
        plan = assert(provision.plan(c, want, { prune = true }))
        assert.equal(1, plan:totals().delete)
        local rep = provision.apply(c, plan)
        assert.equal(1, rep.counts.deleted)
        assert.same({ "james" }, names("resellerdocs.com"))
    end)

    it("sets the admin flag of existing mailboxes through ModifyPOP3", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "james", admin = false }, { username = "support", admin = true } } } }))
        assert.equal(2, plan:totals().modify)
        local rep = provision.apply(c, plan)
        assert.equal(2, rep.counts.modified)
        local m = H.mailboxes("resellerdocs.com")
        assert.is_false(m.james.admin)
        assert.is_true(m.support.admin)
    end)

    it("creates once when the connection closes after the command took effect", function()
        local c = H.client()
        H.faults { rules = { { kind = "close_after", command = "SetUpPOP3User", times = 1 },
            { kind = "close_after", command = "PurchasePOPBundle", times = 1 } } }
        local plan = assert(provision.plan(c, { { domain = "shop03.com", mailboxes = people(12) } }, { buy_paks = true }))
        local rep = provision.apply(c, plan, { backoff_base = 0.01 })
        assert.is_true(rep.ok, rep:format())
        assert.equal(12, #names("shop03.com"))
        assert.equal(2, #H.domain("shop03.com").paks)
        assert.truthy(rep.reconciles >= 2)
    end)

    it("writes a JSON-lines report without secrets", function()
        local c = H.client()
        local path = os.tmpname()
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "pat", password = "Given-Secret-99" } } } }))
        assert.falsy(H.contains(plan, "Given-Secret-99"))
        local saved = os.tmpname()
        assert(plan:save(saved))
        local rep = provision.apply(c, plan, { report_file = path })
        assert.equal(1, rep.counts.created)
        assert.equal("Given-Secret-99", H.mailboxes("resellerdocs.com").pat.password)
        for _, file in ipairs { path, saved } do
            local f = assert(io.open(file))
            local text = f:read("a")
            f:close()
            os.remove(file)
            assert.falsy(text:find("Given-Secret-99", 1, true))
            assert.falsy(text:find(H.PW, 1, true))
            if file == path then
                local lines = 0
                for line in text:gmatch("[^\n]+") do
                    lines = lines + 1
                    assert.truthy(H.json.decode(line))
                end
                assert.equal(2, lines)
            end
        end
    end)

    it("applies a saved plan, with given passwords supplied again", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "given", password = "Handed-Again-77" }, { username = "fresh1" } } } }))
        local path = os.tmpname()
        assert(plan:save(path))
        local loaded = assert(provision.load_plan(path, nil, { ["resellerdocs.com/given"] = "Handed-Again-77" }))
        os.remove(path)
        assert.same(plan:totals(), loaded:totals())
        local generated = {}
        local rep = provision.apply(c, loaded, { on_password = function(_, u, pw) generated[u] = pw end })
        assert.is_true(rep.ok, rep:format())
        local m = H.mailboxes("resellerdocs.com")
        assert.equal("Handed-Again-77", m.given.password)
        assert.equal(generated.fresh1, m.fresh1.password)
        assert.is_nil(generated.given)
    end)

    it("stops with a clear report when the circuit opens", function()
        H.faults { rules = { { kind = "status503" } } }
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "shop04.com", mailboxes = people(3) } },
            { circuit = 3, attempts = 5, backoff_base = 0.01 }))
        assert.equal(1, #plan.errors)
        H.faults {}
        plan = assert(provision.plan(c, { { domain = "shop04.com", mailboxes = people(3) } }, { buy_paks = true }))
        H.faults { rules = { { kind = "status503" } } }
        local rep = provision.apply(c, plan, { circuit = 3, backoff_base = 0.01 })
        assert.truthy(rep.stopped and rep.stopped:find("circuit"))
        assert.is_false(rep.ok)
        assert.truthy(rep:format():find("STOPPED"))
    end)
end)
