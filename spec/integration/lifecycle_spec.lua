-- The pak lifecycle and per-mailbox forwards in provisioning, against the
-- sandbox: a renew policy renews exactly the paks in its window, once; a
-- renewal whose answer is lost is settled from the expiry read back, never
-- sent again; one still in doubt stays in the journal, blocks the pak and
-- counts against max_spend until the next run settles it; max_spend counts
-- at the account's price, read once and only when money is about to be
-- decided; a pak of another domain is refused before anything is sent; a
-- forward is set one mailbox at a time, leaves every other forward as it
-- is, is reported pending until its recipient approves, and an approved or
-- pending one is not sent again.
local H = require "helper"
local provision = require "enom.provision"
local forwards = require "enom.provision.forwards"
local journal = require "enom.journal"
local lease = require "enom.lease"

local in_days, year_later, expiry = H.in_days, H.year_later, H.expiry

local function pak(id, days)
    return { bundle_id = id, size = 10, exp_date = in_days(days), auto_renew = false, quota = 1024 }
end

-- The sandbox's state with these paks: { ["domain"] = { pak, ... } }.
local function with_paks(list)
    H.reset()
    return H.edit(function(d)
        if list[d.name] then
            local keep = {}
            for _, p in ipairs(d.paks or {}) do
                keep[p.bundle_id] = p
            end
            d.paks = {}
            for _, p in ipairs(list[d.name]) do
                local old = keep[p.bundle_id]
                d.paks[#d.paks + 1] = old and { bundle_id = p.bundle_id, size = old.size, exp_date = p.exp_date,
                    auto_renew = old.auto_renew, quota = old.quota } or p
            end
        end
    end)
end

local function balance()
    for _, a in ipairs(H.state().accounts) do
        if a.uid == H.UID then return a.balance end
    end
end

local function open_intents(domain)
    local j = journal.new(journal.file_store(os.getenv("ENOM_JOURNAL_DIR")))
    return assert(j:entries(lease.key(H.UID, domain)))
end

local function by_bundle(events)
    local out = {}
    for _, e in ipairs(events) do
        if e.bundle_id then out[e.bundle_id] = e end
    end
    return out
end

describe("the pak lifecycle in provisioning", function()
    before_each(function()
        H.reset()
    end)
    after_each(function()
        H.faults {}
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
    end)

    it("renews exactly the paks expiring within the window, once, and leaves other domains' paks alone", function()
        with_paks {
            ["resellerdocs.com"] = { pak(5134, 10) },
            ["emptydomain.com"] = { pak(7101, 20), pak(7102, 200), pak(7103, -3) },
            ["shop01.com"] = { pak(7104, 5) },
        }
        local before = {}
        for _, k in ipairs { { "resellerdocs.com", 5134 }, { "emptydomain.com", 7101 }, { "emptydomain.com", 7102 },
            { "emptydomain.com", 7103 }, { "shop01.com", 7104 } } do
            before[k[2]] = expiry(k[1], k[2])
        end
        local c = H.client()
        local want = {
            { domain = "resellerdocs.com", mailboxes = { { username = "james" }, { username = "support" } } },
            { domain = "emptydomain.com" },
        }
        local rep = assert(provision.ensure(c, want, { renew = { within_days = 30 } }))
        assert.is_true(rep.ok, rep:format())
        local ev = by_bundle(rep:events_with("renew"))
        -- In the window: 5134 (10 days), 7101 (20), 7103 (expired 3 days ago).
        assert.equal(3, H.received("RenewPOPBundle"))
        assert.equal(3, rep.paks_renewed)
        for _, id in ipairs { 5134, 7101, 7103 } do
            assert.equal("renewed", ev[id].outcome, id)
            assert.equal(1, ev[id].years)
        end
        assert.is_nil(ev[7102])
        assert.equal(year_later(before[5134]), expiry("resellerdocs.com", 5134))
        assert.equal(year_later(before[7101]), expiry("emptydomain.com", 7101))
        assert.equal(year_later(before[7103]), expiry("emptydomain.com", 7103))
        assert.equal(before[7102], expiry("emptydomain.com", 7102))
        -- shop01.com was not asked for: its pak in the window stays.
        assert.equal(before[7104], expiry("shop01.com", 7104))
        assert.near(1000 - 3 * 5.95, balance(), 1e-6)
        assert.truthy(rep:format():find("renewed: 3 pak(s)", 1, true), rep:format())
        -- No price given nor read: no money figure, rather than a wrong one.
        assert.is_nil(rep:summary().spend)
        -- The next run finds nothing in the window: nothing is renewed twice.
        local again = assert(provision.ensure(c, want, { renew = { within_days = 30 } }))
        assert.is_true(again.ok, again:format())
        assert.equal(0, #again:events_with("renew"))
        assert.equal(3, H.received("RenewPOPBundle"))
        assert.same({}, open_intents("emptydomain.com"))
    end)

    for _, format in ipairs { "xml", "text", "html" } do
        it("settles a renewal whose answer is lost from the expiry read back, never sending it again (" .. format
            .. ")", function()
            with_paks { ["resellerdocs.com"] = { pak(5134, 7) } }
            local was = expiry("resellerdocs.com", 5134)
            H.faults { rules = { { kind = "close_after", command = "RenewPOPBundle", times = 1 } } }
            local c = H.client { response_type = format }
            local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = {} } }, {
                renew = { within_days = 30 }, settle = 5, settle_interval = 0.2, backoff_base = 0.01, pak_price = 5.95,
            }))
            assert.is_true(rep.ok, rep:format())
            assert.equal(1, H.received("RenewPOPBundle"))
            assert.equal(year_later(was), expiry("resellerdocs.com", 5134))
            local e = rep:events_with("renew", "renewed")[1]
            assert.equal(5134, e.bundle_id)
            assert.truthy(e.detail:find("answer was lost", 1, true), e.detail)
            assert.equal(year_later(was), e.new_expires)
            assert.truthy(rep.reconciles >= 1)
            assert.equal(1, rep.paks_renewed)
            assert.same({}, open_intents("resellerdocs.com"))
            assert.near(1000 - 5.95, balance(), 1e-6)
            -- The renewal the run settled is money it spent (one pak-year).
            assert.near(5.95, rep:summary().spend, 1e-6)
        end)
    end

    it("keeps a renewal still in doubt open in the journal, counted against max_spend; the next run settles it "
        .. "and renews nothing more", function()
        with_paks { ["resellerdocs.com"] = { pak(5134, 7) }, ["emptydomain.com"] = { pak(7201, 9) } }
        local was = expiry("resellerdocs.com", 5134)
        local other = expiry("emptydomain.com", 7201)
        -- eNom takes 2.5 s; the client gives up after 0.5 s and waits 0.3 s
        -- for the expiry to move.
        H.admin("POST", "/settings", { purchase_delay_ms = 2500 })
        local c = H.client { timeout = 0.5 }
        local want = { { domain = "resellerdocs.com" }, { domain = "emptydomain.com" } }
        local opts = { renew = { within_days = 30 }, max_spend = 5.95, settle = 0.3, settle_interval = 0.1,
            purchase_timeout = 0.5, backoff_base = 0.01, concurrency = 1 }
        local rep = assert(provision.ensure(c, want, opts))
        assert.is_false(rep.ok)
        -- One renewal went out and is in doubt; the cap (one pak-year at
        -- the account's 5.95, read from eNom) leaves none for the other.
        assert.equal(1, H.received("RenewPOPBundle"))
        assert.equal(1, H.received("PE_GetPOPPrice"))
        assert.equal(1, rep.renewals_in_doubt)
        assert.equal(1, #rep:events_with("renew", "unknown"))
        assert.equal(1, #rep:events_with("renew", "blocked"))
        assert.truthy(rep:format():find("IN DOUBT: 1 pak renewal", 1, true), rep:format())
        local doubted = rep:events_with("renew", "unknown")[1]
        local domain = doubted.domain
        local open = open_intents(domain)
        assert.equal(1, #open)
        assert.equal("renew", open[1].kind)
        assert.equal(doubted.bundle_id, open[1].bundle_id)
        -- eNom finishes; the next run settles the renewal and does not send it again.
        assert.is_true(H.wait_for(function()
            return expiry("resellerdocs.com", 5134) ~= was or expiry("emptydomain.com", 7201) ~= other
        end, 10))
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
        local again = assert(provision.ensure(H.client(), { { domain = domain } }, {
            renew = { within_days = 30 }, settle = 5, settle_interval = 0.1 }))
        assert.is_true(again.ok, again:format())
        assert.equal(1, H.received("RenewPOPBundle"))
        local e = again:events_with("renew")[1]
        assert.equal("renewed", e.outcome)
        assert.truthy(e.detail:find("earlier run", 1, true), e.detail)
        assert.equal(1, #again:events_with("renew"))
        assert.same({}, open_intents(domain))
    end)

    describe("max_spend at the account's price", function()
        local function boxes(n)
            local out = {}
            for i = 1, n do out[i] = { username = "user" .. i } end
            return out
        end

        it("reads PE_GetPOPPrice once, when a purchase is about to be decided, and buys what it allows", function()
            local c = H.client()
            local rep = assert(provision.ensure(c, {
                { domain = "shop10.com", mailboxes = boxes(25) },
                { domain = "shop11.com", mailboxes = boxes(5) },
            }, { buy_paks = true, max_spend = 12 }))
            -- 12 at 5.95 a pak: 2 paks in all, to whichever domain is
            -- planned first (the domains run at once).
            assert.equal(1, H.received("PE_GetPOPPrice"))
            assert.equal(2, rep.paks_bought)
            local a, b = #H.domain("shop10.com").paks, #H.domain("shop11.com").paks
            assert.equal(2, a + b)
            assert.is_true(b <= 1)
            assert.equal(math.min(25, 10 * a) + math.min(5, 10 * b), rep.counts.created)
            assert.equal(30, rep.counts.created + rep.counts.blocked)
            assert.near(1000 - 2 * 5.95, balance(), 1e-6)
            -- The money spent is counted at eNom's price, read by the run.
            assert.near(2 * 5.95, rep:summary().spend, 1e-6)
        end)

        it("does not read it when nothing would be bought or renewed, nor when pak_price is given", function()
            local c = H.client()
            local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = { { username = "ann" } } } },
                { buy_paks = true, max_spend = 12, renew = { within_days = 30 } }))
            assert.is_true(rep.ok, rep:format())
            assert.equal(0, H.received("PE_GetPOPPrice"))
            rep = assert(provision.ensure(c, { { domain = "shop12.com", mailboxes = boxes(25) } },
                { buy_paks = true, max_spend = 12, pak_price = 4 }))
            assert.equal(0, H.received("PE_GetPOPPrice"))
            assert.equal(3, rep.paks_bought)
        end)

        it("counts the same cap when planning, reading the price once for the plan", function()
            local c = H.client()
            local plan = assert(provision.plan(c, {
                { domain = "shop13.com", mailboxes = boxes(25) },
                { domain = "shop14.com", mailboxes = boxes(25) },
            }, { buy_paks = true, max_spend = 18 }))
            assert.equal(3, plan:totals().buy)
            assert.equal(1, H.received("PE_GetPOPPrice"))
            assert.truthy(plan:format():find("spending cap", 1, true), plan:format())
        end)

        it("buys and renews nothing under max_spend when the price cannot be read, and says why", function()
            with_paks { ["emptydomain.com"] = { pak(7301, 3) } }
            H.faults { rules = { { kind = "status503", command = "PE_GetPOPPrice" } } }
            local c = H.client()
            local rep = assert(provision.ensure(c, {
                { domain = "shop15.com", mailboxes = boxes(3) },
                { domain = "emptydomain.com" },
            }, { buy_paks = true, max_spend = 100, renew = { within_days = 30 }, backoff_base = 0.01,
                backoff_cap = 0.02 }))
            assert.is_false(rep.ok)
            assert.equal(0, H.received("PurchasePOPBundle"))
            assert.equal(0, H.received("RenewPOPBundle"))
            assert.equal(3, rep.counts.blocked)
            assert.truthy(rep:with("blocked")[1].reason:find("price", 1, true), rep:with("blocked")[1].reason)
            assert.equal("blocked", rep:events_with("renew")[1].outcome)
            assert.truthy(#rep:events_with("price", "failed") >= 1)
        end)
    end)

    it("sends no renewal or purchase of the run once eNom said the balance does not cover an order", function()
        local st = with_paks { ["emptydomain.com"] = { pak(7601, 3), pak(7602, 4), pak(7603, 5), pak(7604, 6) } }
        for _, a in ipairs(st.accounts) do
            if a.uid == H.UID then a.balance = 7 end
        end
        H.reset(st)
        local boxes = {}
        for i = 1, 45 do boxes[i] = { username = "user" .. i } end
        local c = H.client()
        local rep = assert(provision.ensure(c, { { domain = "emptydomain.com", mailboxes = boxes } },
            { renew = { within_days = 30 }, buy_paks = true }))
        assert.is_false(rep.ok)
        -- The first renewal is paid; the second is refused; nothing more goes.
        assert.equal(2, H.received("RenewPOPBundle"))
        assert.equal(0, H.received("PurchasePOPBundle"))
        local out = {}
        for _, e in ipairs(rep:events_with("renew")) do out[e.bundle_id] = e.outcome end
        assert.same({ [7601] = "renewed", [7602] = "failed", [7603] = "blocked", [7604] = "blocked" }, out)
        assert.equal("balance", rep:events_with("renew", "failed")[1].error.category)
        local bought = rep:events_with("paks", "failed")[1]
        assert.truthy(bought.detail:find("balance", 1, true), bought.detail)
        assert.equal(40, rep.counts.created)
        assert.equal(5, rep.counts.blocked)
    end)

    it("refuses to renew a pak of another domain before anything is sent", function()
        local c = H.client()
        local rep = assert(provision.renew_pak(c, "emptydomain.com", 5134, 1))
        assert.is_false(rep.ok)
        local e = rep:events_with("renew")[1]
        assert.equal("refused", e.outcome)
        assert.equal(5134, e.bundle_id)
        assert.truthy(e.detail:find("not a pak of emptydomain.com", 1, true), e.detail)
        assert.equal(0, H.received("RenewPOPBundle"))
        assert.equal(1000, balance())
        assert.equal("2/5/2031", expiry("resellerdocs.com", 5134))
        -- The pak's own domain renews it.
        rep = assert(provision.renew_pak(c, "resellerdocs.com", 5134, 2))
        assert.is_true(rep.ok, rep:format())
        assert.equal("2/5/2033", expiry("resellerdocs.com", 5134))
        local bad = { provision.renew_pak(c, "resellerdocs.com", 5134, 11) }
        assert.is_nil(bad[1])
        assert.equal("invalid", bad[2].kind)
    end)
end)

describe("forwards in desired state", function()
    before_each(function()
        H.reset()
    end)

    local function ensure(c, mailboxes, opts)
        return assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = mailboxes } }, opts))
    end

    it("sets one mailbox's forward with SetPOPForwarding, leaving every other forward of the domain as it is; "
        .. "pending shows in the report", function()
        local before = H.domain("resellerdocs.com")
        local file = os.tmpname()
        local c = H.client()
        local rep = ensure(c, { { username = "james" }, { username = "support", forward_to = "desk@example.net" } },
            { report_file = file })
        assert.is_true(rep.ok, rep:format())
        assert.equal(1, H.received("SetPOPForwarding"))
        assert.equal(0, H.received("Forwarding"))
        local after = H.domain("resellerdocs.com")
        assert.same(before.forwarding, after.forwarding)
        local m = H.mailboxes("resellerdocs.com")
        assert.equal("james.doe@example.net", m.james.forward_to)
        assert.equal("approved", m.james.forward_state)
        assert.equal("desk@example.net", m.support.forward_to)
        assert.equal("pending", m.support.forward_state)
        assert.equal("0", m.support.forward_flags) -- a copy kept
        local p = rep:events_with("forward", "pending")
        assert.equal(1, #p)
        assert.equal("support", p[1].username)
        assert.equal("desk@example.net", p[1].forward_to)
        assert.truthy(rep:format():find("PENDING: 1 forward", 1, true), rep:format())
        -- The report file has it as a record of its own.
        local found
        for line in io.lines(file) do
            local rec = H.json.decode(line)
            if rec.type == "event" and rec.action == "forward" then found = rec end
        end
        os.remove(file)
        assert.equal("pending", found.outcome)
        assert.equal("support", found.username)
        -- GetPOPForwarding shows it pending too.
        local pf = assert(c:get_pop_forwarding { sld = "resellerdocs", tld = "com", username = "support" })
        assert.equal("pending", forwards.state(pf.forwards[1]))
    end)

    it("leaves an approved or pending forward alone and sends an expired, changed or removed one", function()
        local c = H.client()
        local function run(to, copy)
            return ensure(c, { { username = "support", forward_to = to, keep_copy = copy } })
        end
        local function outcome(rep)
            return rep:events_with("forward")[1].outcome
        end
        assert.equal("pending", outcome(run("desk@example.net")))
        assert.equal(1, H.received("SetPOPForwarding"))
        assert.equal("pending", outcome(run("DESK@example.net")))
        assert.equal(1, H.received("SetPOPForwarding"))
        H.admin("POST", "/forwards/approve", { domain = "resellerdocs.com", address = "support", mailbox = true })
        assert.equal("already_set", outcome(run("desk@example.net")))
        assert.equal(1, H.received("SetPOPForwarding"))
        assert.equal("approved", H.mailboxes("resellerdocs.com").support.forward_state)
        -- Another address asks its recipient.
        assert.equal("pending", outcome(run("desk2@example.net", false)))
        assert.equal(2, H.received("SetPOPForwarding"))
        assert.equal("1", H.mailboxes("resellerdocs.com").support.forward_flags) -- the forward only
        -- Unanswered for 24 hours: asked again.
        H.admin("POST", "/forwards/expire", { domain = "resellerdocs.com", address = "support", mailbox = true })
        assert.equal("pending", outcome(run("desk2@example.net", false)))
        assert.equal(3, H.received("SetPOPForwarding"))
        assert.equal("removed", outcome(run(false)))
        assert.equal(4, H.received("SetPOPForwarding"))
        assert.equal("", H.mailboxes("resellerdocs.com").support.forward_to)
        assert.equal("already_absent", outcome(run(false)))
        assert.equal(4, H.received("SetPOPForwarding"))
        -- james's forward and the domain's set never moved.
        assert.equal("james.doe@example.net", H.mailboxes("resellerdocs.com").james.forward_to)
        assert.equal(2, #H.domain("resellerdocs.com").forwarding)
    end)

    it("sets a new mailbox's forward once it exists, none for a mailbox that cannot be made", function()
        local c = H.client()
        local rep = assert(provision.ensure(c, {
            { domain = "resellerdocs.com", mailboxes = { { username = "newbie", forward_to = "nb@example.org" } } },
            { domain = "shop16.com", mailboxes = { { username = "ann", forward_to = "ann@example.org" } } },
        }))
        assert.equal("created", rep:with("created")[1].outcome)
        assert.equal("blocked", rep:with("blocked")[1].outcome)
        local f = rep:events_with("forward")
        assert.equal(1, #f)
        assert.equal("newbie", f[1].username)
        assert.equal("pending", f[1].outcome)
        assert.equal(1, H.received("SetPOPForwarding"))
        assert.equal("nb@example.org", H.mailboxes("resellerdocs.com").newbie.forward_to)
        local bad = { provision.ensure(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "x", forward_to = "not an address" } } } }) }
        assert.is_nil(bad[1])
        assert.equal("invalid", bad[2].kind)
        assert.equal("desired[1].mailboxes[1].forward_to", bad[2].field)
    end)

    it("records a forward refused by eNom as failed with eNom's words, and the run as short", function()
        -- 20 requests already wait for one recipient: eNom refuses the 21st.
        H.edit(function(d)
            if d.name == "shop17.com" then
                d.paks = { { bundle_id = 7401, size = 30, exp_date = "1/1/2031" } }
                d.mailboxes = {}
                for i = 1, 20 do
                    d.mailboxes[i] = { username = "m" .. i, password = "Pw-Aaaaaa" .. i, bundle_id = 7401,
                        forward_to = "busy@example.net", forward_state = "pending", forward_flags = "0",
                        forward_requested_at = os.time() }
                end
            end
        end)
        local c = H.client()
        local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "support", forward_to = "busy@example.net" } } } }))
        assert.is_false(rep.ok)
        local e = rep:events_with("forward")[1]
        assert.equal("failed", e.outcome)
        assert.equal(706172, e.error.response_number)
        assert.truthy(e.detail:find("approval", 1, true), e.detail)
    end)

    it("carries forwards in a saved plan, checked again when it is loaded", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "support", forward_to = "desk@example.net", keep_copy = false } } } }))
        assert.truthy(plan:format():find("forward  support -> desk@example.net (forward only)", 1, true),
            plan:format())
        local path = os.tmpname()
        assert(plan:save(path))
        local loaded = assert(provision.load_plan(path))
        local rep = assert(provision.apply(c, loaded))
        assert.equal("pending", rep:events_with("forward")[1].outcome)
        assert.equal("1", H.mailboxes("resellerdocs.com").support.forward_flags)
        -- An edited plan with a bad address is refused whole.
        local doc = H.json.decode(io.open(path):read("a"))
        doc.domains[1].forwards[1].forward_to = "nobody"
        local f = io.open(path, "w")
        f:write(H.json.encode(doc))
        f:close()
        local bad, err = provision.load_plan(path)
        os.remove(path)
        assert.is_nil(bad)
        assert.truthy(err.message:find("forwards[1].forward_to", 1, true), err.message)
    end)

    it("shows a domain alias waiting for approval in get_forwarding", function()
        local c = H.client()
        assert(c:set_forwarding { sld = "resellerdocs", tld = "com", forwards = {
            { address = "info", forward_to = "james@resellerdocs.com" },
            { address = "help", forward_to = "desk@example.net" } } })
        local res = assert(c:get_forwarding { sld = "resellerdocs", tld = "com" })
        local st = {}
        for _, f in ipairs(res.forwards) do st[f.alias] = forwards.state(f) end
        assert.same({ info = "forwarding", help = "pending" }, st)
    end)
end)
