-- The lifecycle commands of `enom`, run as a user runs them (bin/enom in a
-- subprocess) against the sandbox: price, paks expiring|renew|autorenew,
-- forwarding add|remove|get, catchall get|set. Each typed against eNom's
-- answers as the sandbox gives them, --json parsed back, exit statuses,
-- confirmation, the domain's pak checked before anything is sent, a
-- renewal killed in flight and run again (settled, never sent twice),
-- eNom's texts escaped on a terminal, and no secret in any output.
local H = require "helper"

local R = require "cli_runner"

local ROOT, BIN, q, read, json_of = R.ROOT, R.BIN, R.q, R.read, R.json_of
local in_days, year_later, expiry, wait_for = H.in_days, H.year_later, H.expiry, H.wait_for
local enom = R.new(H, "lifecycle-cli")
local WORK = enom.work
local OUTPUT = enom.outputs

-- The environment words of the runner's account, for a command started
-- by hand in the background.
local function env_words()
    local parts = {}
    for k, v in pairs(enom.env) do parts[#parts + 1] = k .. "=" .. q(v) end
    return table.concat(parts, " ")
end

-- resellerdocs.com's pak 5134 expiring in 10 days, emptydomain.com with
-- paks in 40 and 400 days, and `extra` applied to the state.
local function lifecycle_state(extra)
    H.reset()
    H.edit(function(d)
        if d.name == "resellerdocs.com" then
            d.paks[1].exp_date = in_days(10)
        elseif d.name == "emptydomain.com" then
            d.paks = { { bundle_id = 7501, size = 10, exp_date = in_days(40), auto_renew = true },
                { bundle_id = 7502, size = 10, exp_date = in_days(400), auto_renew = false } }
        end
        if extra then extra(d) end
    end)
end

describe("enom, the pak lifecycle", function()
    before_each(function()
        lifecycle_state()
    end)
    after_each(function()
        H.faults {}
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
    end)

    it("price: the account's own, as text and JSON", function()
        local code, out = enom { "price" }
        assert.equal(0, code)
        assert.truthy(out:find("^5%.95 per POP pak"), out)
        code, out = enom { "price", "--json" }
        assert.equal(0, code)
        assert.equal(5.95, json_of(out).price)
        local other
        code, other = enom({ "price", "--json" }, { env = { ENOM_UID = "otherco", ENOM_PW = "0therco-Pass" } })
        assert.equal(0, code)
        assert.equal(6.45, json_of(other).price)
    end)

    it("paks expiring: the account's paks in the window, soonest first, expired ones too", function()
        local code, out, err = enom { "paks", "expiring" }
        assert.equal(0, code, err)
        assert.truthy(out:find("^DOMAIN%s+BUNDLE_ID%s+EXPIRES%s+DAYS_LEFT"), out)
        assert.truthy(out:find("resellerdocs.com  5134", 1, true), out)
        assert.falsy(out:find("7501", 1, true), out)
        code, out = enom { "paks", "expiring", "--within", "60d", "--json" }
        assert.equal(0, code)
        local doc = json_of(out)
        assert.equal(60, doc.within_days)
        assert.equal(2, #doc.paks)
        assert.equal(5134, doc.paks[1].bundle_id)
        assert.equal(7501, doc.paks[2].bundle_id)
        assert.equal("emptydomain.com", doc.paks[2].domain)
        assert.truthy(doc.paks[1].days_left >= 9 and doc.paks[1].days_left <= 10, doc.paks[1].days_left)
        code, out = enom { "paks", "expiring", "--within", "9w", "--json" }
        assert.equal(0, code)
        assert.equal(2, #json_of(out).paks)
        code, out, err = enom { "paks", "expiring", "--within", "soon" }
        assert.equal("", out)
        assert.equal(2, code)
        assert.truthy(err:find("--within", 1, true), err)
        assert.equal(0, H.received("RenewPOPBundle"))
    end)

    it("paks renew: asks first with the price, renews once under the lease, shows the new expiry", function()
        local was = expiry("resellerdocs.com", 5134)
        local code, _, err = enom({ "paks", "renew", "resellerdocs.com", "5134" }, { stdin = "n\n" })
        assert.equal(2, code)
        assert.truthy(err:find("Renew pak 5134 of resellerdocs.com (expires " .. was .. ") for 1 year?", 1, true), err)
        assert.truthy(err:find("5.95 at 5.95 a year", 1, true), err)
        assert.equal(0, H.received("RenewPOPBundle"))
        local out
        code, out, err = enom({ "paks", "renew", "resellerdocs.com", "5134", "--years", "2" }, { stdin = "y\n" })
        assert.equal(0, code, err)
        local now = expiry("resellerdocs.com", 5134)
        assert.equal(year_later(year_later(was)), now)
        assert.truthy(out:find("renewed pak 5134 of resellerdocs.com for 2 years: expires " .. now .. " (was " .. was
            .. ")", 1, true), out)
        assert.equal(1, H.received("RenewPOPBundle"))
        code, out = enom { "paks", "renew", "resellerdocs.com", "5134", "--yes", "--json" }
        assert.equal(0, code)
        local doc = json_of(out)
        assert.equal("renewed", doc.outcome)
        assert.equal(now, doc.expires_before)
        assert.equal(year_later(now), doc.expires)
        assert.truthy(doc.order_id)
        code, _, err = enom { "paks", "renew", "resellerdocs.com", "5134", "--years", "11", "--yes" }
        assert.equal(2, code)
        assert.truthy(err:find("--years", 1, true), err)
    end)

    it("paks renew and autorenew refuse a pak of another domain before anything is sent", function()
        local code, _, err = enom { "paks", "renew", "emptydomain.com", "5134", "--yes" }
        assert.equal(2, code)
        assert.truthy(err:find("pak 5134 is not a pak of emptydomain.com: nothing sent", 1, true), err)
        code, _, err = enom { "paks", "autorenew", "emptydomain.com", "5134", "off" }
        assert.equal(2, code)
        assert.truthy(err:find("not a pak of emptydomain.com", 1, true), err)
        assert.equal(0, H.received("RenewPOPBundle"))
        assert.equal(0, H.received("SetPakRenew"))
        local _, p = expiry("resellerdocs.com", 5134)
        assert.is_true(p.auto_renew)
    end)

    it("paks renew settles an answer that was lost from the expiry read back, sending nothing twice", function()
        local was = expiry("resellerdocs.com", 5134)
        H.faults { rules = { { kind = "close_after", command = "RenewPOPBundle", times = 1 } } }
        local code, out, err = enom { "paks", "renew", "resellerdocs.com", "5134", "--yes", "--wait", "10" }
        assert.equal(0, code, err)
        assert.truthy(out:find("answer was lost", 1, true), out)
        assert.equal(1, H.received("RenewPOPBundle"))
        assert.equal(year_later(was), expiry("resellerdocs.com", 5134))
    end)

    it("paks renew killed while eNom carries it out: run again at once, it stays in doubt (exit 1); "
        .. "run again later, it is found renewed and not sent again", function()
        local was = expiry("resellerdocs.com", 5134)
        H.admin("POST", "/settings", { purchase_delay_ms = 3000 })
        local base = WORK .. "/killed"
        os.remove(base .. ".pid")
        local cmd = ("cd %s && env -u LD_PRELOAD %s lua5.4 %s paks renew resellerdocs.com 5134 --yes > %s.out 2> %s.err "
            .. "< /dev/null & echo $! > %s.pid"):format(q(ROOT), env_words(), q(BIN), q(base), q(base), q(base))
        assert(os.execute("sh -c " .. q(cmd)))
        assert.is_true(wait_for(function() return H.received("RenewPOPBundle") > 0 end, 20), read(base .. ".err"))
        assert(os.execute("kill -KILL " .. read(base .. ".pid"):match("%d+")))
        -- At once, with a short wait: eNom is still at it.
        local code, _, err = enom { "paks", "renew", "resellerdocs.com", "5134", "--yes", "--wait", "0.3" }
        assert.equal(1, code, err)
        assert.truthy(err:find("still in doubt", 1, true), err)
        assert.equal(1, H.received("RenewPOPBundle"))
        local _, list = enom { "journal", "list", "resellerdocs.com" }
        assert.truthy(list:find("renew pak 5134 for 1 year(s)", 1, true), list)
        assert.is_true(wait_for(function() return expiry("resellerdocs.com", 5134) ~= was end, 10))
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
        local out
        code, out, err = enom { "paks", "renew", "resellerdocs.com", "5134", "--yes" }
        assert.equal(0, code, err)
        assert.truthy(out:find("by an earlier run", 1, true), out)
        assert.equal(1, H.received("RenewPOPBundle"))
        assert.equal(year_later(was), expiry("resellerdocs.com", 5134))
        _, list = enom { "journal", "list", "resellerdocs.com" }
        assert.truthy(list:find("no open intents", 1, true), list)
    end)

    it("plan and apply renew with --renew-within and set forwards from a forward_to column", function()
        local csv = WORK .. "/boxes.csv"
        local f = assert(io.open(csv, "w"))
        f:write("username,admin,forward_to,keep_copy\njames,yes,,\nsupport,no,desk@example.net,no\n")
        f:close()
        local was = expiry("resellerdocs.com", 5134)
        local code, out, err = enom { "plan", csv, "--domain", "resellerdocs.com", "--renew-within", "30d" }
        assert.equal(0, code, err)
        assert.truthy(out:find("renew    pak 5134 (expires " .. was .. ") for 1 year", 1, true), out)
        assert.truthy(out:find("forward  support -> desk@example.net (forward only)", 1, true), out)
        assert.equal(0, H.received("RenewPOPBundle"))
        code, out, err = enom { "apply", csv, "--domain", "resellerdocs.com", "--renew-within", "4w",
            "--passwords", WORK .. "/pw.txt" }
        assert.equal(0, code, err .. out)
        assert.truthy(out:find("renew renewed", 1, true), out)
        assert.truthy(out:find("PENDING: 1 forward", 1, true), out)
        assert.equal(year_later(was), expiry("resellerdocs.com", 5134))
        assert.equal("1", H.mailboxes("resellerdocs.com").support.forward_flags)
        -- Again: nothing in the window, the forward waits: nothing sent.
        code = enom { "apply", csv, "--domain", "resellerdocs.com", "--renew-within", "4w", "--passwords",
            WORK .. "/pw.txt" }
        assert.equal(0, code)
        assert.equal(1, H.received("RenewPOPBundle"))
        assert.equal(1, H.received("SetPOPForwarding"))
        code, out, err = enom { "plan", csv, "--domain", "resellerdocs.com", "--renew-within", "400d" }
        assert.equal(2, code)
        assert.equal("", out)
        assert.truthy(err:find("below 365 x years", 1, true), err)
    end)

    it("paks autorenew switches one pak, and says when it already was", function()
        local code, out, err = enom { "paks", "autorenew", "resellerdocs.com", "5134", "off" }
        assert.equal(0, code, err)
        assert.truthy(out:find("pak 5134 of resellerdocs.com %(expires [%d/]+%): auto%-renew off\n$"), out)
        local _, p = expiry("resellerdocs.com", 5134)
        assert.is_false(p.auto_renew)
        code, out = enom { "paks", "autorenew", "resellerdocs.com", "5134", "off" }
        assert.equal(0, code)
        assert.truthy(out:find("(it was already)", 1, true), out)
        code, out = enom { "paks", "autorenew", "emptydomain.com", "7502", "on", "--json" }
        assert.equal(0, code)
        local doc = json_of(out)
        assert.is_true(doc.auto_renew)
        assert.is_false(doc.was)
        _, p = expiry("emptydomain.com", 7502)
        assert.is_true(p.auto_renew)
        assert.is_true(expiry("emptydomain.com", 7501) ~= nil)
        code = enom { "paks", "autorenew", "resellerdocs.com", "5134", "maybe" }
        assert.equal(2, code)
    end)
end)

describe("enom, forwards and the catch-all", function()
    before_each(function()
        H.reset()
    end)

    it("forwarding add sets one mailbox's forward, shows it pending, leaves the others; again, it sends nothing",
        function()
        local before = H.domain("resellerdocs.com").forwarding
        local code, out, err = enom { "forwarding", "add", "resellerdocs.com", "support=desk@example.net" }
        assert.equal(0, code, err)
        assert.truthy(out:find("support%s+desk@example%.net%s+pending%s+pending"), out)
        assert.truthy(err:find("waiting for the recipient's approval", 1, true), err)
        local m = H.mailboxes("resellerdocs.com")
        assert.equal("desk@example.net", m.support.forward_to)
        assert.equal("0", m.support.forward_flags)
        assert.equal("james.doe@example.net", m.james.forward_to)
        assert.same(before, H.domain("resellerdocs.com").forwarding)
        assert.equal(1, H.received("SetPOPForwarding"))
        assert.equal(0, H.received("Forwarding"))
        code, out = enom { "forwarding", "add", "resellerdocs.com", "support=desk@example.net", "--json" }
        assert.equal(0, code)
        local doc = json_of(out)
        assert.equal("pending", doc.mailboxes[1].outcome)
        assert.equal(1, H.received("SetPOPForwarding"))
        -- Approved, then forwarding: left alone too.
        H.admin("POST", "/forwards/approve", { domain = "resellerdocs.com", address = "support", mailbox = true })
        code, out = enom { "forwarding", "add", "resellerdocs.com", "support=desk@example.net", "--forward-only" }
        assert.equal(0, code)
        assert.truthy(out:find("forwarding%s+already_set"), out)
        assert.equal(1, H.received("SetPOPForwarding"))
    end)

    it("forwarding add refuses a bad address and a name that is no mailbox, sending nothing for them", function()
        local code, _, err = enom { "forwarding", "add", "resellerdocs.com", "support=not-an-address" }
        assert.equal(2, code)
        assert.truthy(err:find("the address 'not-an-address'", 1, true), err)
        code, _, err = enom { "forwarding", "add", "resellerdocs.com", "ghost=a@example.org" }
        assert.equal(2, code)
        assert.truthy(err:find("ghost is not a mailbox of resellerdocs.com", 1, true), err)
        assert.truthy(err:find("enom forwarding set", 1, true), err)
        assert.equal(0, H.received("SetPOPForwarding"))
    end)

    it("forwarding get shows the state of a domain's aliases and of mailboxes' own forwards", function()
        assert(H.client():set_forwarding { sld = "resellerdocs", tld = "com", forwards = {
            { address = "info", forward_to = "james@resellerdocs.com" },
            { address = "help", forward_to = "desk@example.net" } } })
        local code, out = enom { "forwarding", "get", "resellerdocs.com", "--json" }
        assert.equal(0, code)
        local st = {}
        for _, f in ipairs(json_of(out).forwards) do st[f.alias] = f.state end
        assert.same({ info = "forwarding", help = "pending" }, st)
        code, out = enom { "forwarding", "get", "resellerdocs.com" }
        assert.equal(0, code)
        assert.truthy(out:find("help%s+desk@example%.net%s+pending"), out)
        enom { "forwarding", "add", "resellerdocs.com", "support=desk@example.net" }
        code, out = enom { "forwarding", "get", "resellerdocs.com", "support", "james" }
        assert.equal(0, code)
        assert.truthy(out:find("support%s+desk@example%.net%s+pending"), out)
        assert.truthy(out:find("james%s+james%.doe@example%.net%s+forwarding"), out)
    end)

    it("forwarding remove asks, removes only the forward named, and refuses one that points elsewhere", function()
        enom { "forwarding", "add", "resellerdocs.com", "support=desk@example.net" }
        local code, _, err = enom({ "forwarding", "remove", "resellerdocs.com", "support" }, { stdin = "no\n" })
        assert.equal(2, code)
        assert.truthy(err:find("Remove the forward of support on resellerdocs.com?", 1, true), err)
        code, _, err = enom { "forwarding", "remove", "resellerdocs.com", "support=other@example.net", "--yes" }
        assert.equal(2, code)
        assert.truthy(err:find("support forwards to desk@example.net, not other@example.net", 1, true), err)
        assert.equal("desk@example.net", H.mailboxes("resellerdocs.com").support.forward_to)
        local out
        code, out = enom { "forwarding", "remove", "resellerdocs.com", "support=desk@example.net", "--yes" }
        assert.equal(0, code)
        assert.truthy(out:find("support.-none%s+removed"), out)
        assert.equal("", H.mailboxes("resellerdocs.com").support.forward_to)
        assert.equal("james.doe@example.net", H.mailboxes("resellerdocs.com").james.forward_to)
        code, out = enom { "forwarding", "remove", "resellerdocs.com", "support", "--yes" }
        assert.equal(0, code)
        assert.truthy(out:find("already_absent", 1, true), out)
        assert.equal(2, H.received("SetPOPForwarding"))
    end)

    it("catchall get and set, with the address checked before sending", function()
        local code, out = enom { "catchall", "get", "resellerdocs.com" }
        assert.equal(0, code)
        assert.truthy(out:find("goes to james@resellerdocs.com", 1, true), out)
        code, out = enom { "catchall", "set", "resellerdocs.com", "office@example.org" }
        assert.equal(0, code)
        assert.truthy(out:find("now goes to office@example.org (was james@resellerdocs.com)", 1, true), out)
        assert.equal("office@example.org", H.domain("resellerdocs.com").catch_all)
        code, out = enom { "catchall", "get", "resellerdocs.com", "--json" }
        assert.equal(0, code)
        assert.equal("office@example.org", json_of(out).catch_all)
        local err
        code, out, err = enom { "catchall", "set", "resellerdocs.com", "office" }
        assert.equal("", out)
        assert.equal(2, code)
        assert.truthy(err:find("not an e-mail address", 1, true), err)
        assert.equal(1, H.received("SetCatchAll"))
        code = enom { "catchall", "get", "emptydomain.com" }
        assert.equal(0, code)
    end)

    it("escapes eNom's texts for the terminal", function()
        H.edit(function(d)
            if d.name == "resellerdocs.com" then
                d.catch_all = "evil\27]0;pwned\7@example.com"
                d.mailboxes[2].forward_to = "x\27[2J@example.net"
                d.mailboxes[2].forward_flags = "0"
            end
        end)
        -- (XML cannot carry these characters at all: Text can.)
        local text = { env = { ENOM_RESPONSE_TYPE = "text" } }
        local code, out = enom({ "catchall", "get", "resellerdocs.com" }, text)
        assert.equal(0, code)
        assert.falsy(out:find("\27", 1, true))
        assert.truthy(out:find("evil\\x1b]0;pwned\\x07@example.com", 1, true), out)
        code, out = enom({ "forwarding", "get", "resellerdocs.com", "support" }, text)
        assert.equal(0, code)
        assert.falsy(out:find("\27", 1, true))
        assert.truthy(out:find("x\\x1b[2J@example.net", 1, true), out)
    end)

    it("gives each new command a help with an example", function()
        for _, words in ipairs { { "price" }, { "paks", "expiring" }, { "paks", "renew" }, { "paks", "autorenew" },
            { "forwarding", "add" }, { "forwarding", "remove" }, { "catchall", "get" }, { "catchall", "set" } } do
            local args = {}
            for i, w in ipairs(words) do args[i] = w end
            args[#args + 1] = "--help"
            local code, out = enom(args)
            assert.equal(0, code, table.concat(words, " "))
            assert.truthy(out:find("Example:\n   enom " .. table.concat(words, " "), 1, true), out)
        end
    end)

    it("never prints the account's password", function()
        R.assert_no_secret(assert, enom, { H.PW })
        assert.truthy(#OUTPUT > 20)
    end)
end)
