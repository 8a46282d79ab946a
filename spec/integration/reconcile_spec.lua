-- A nightly reconciliation with the account's paks read first (policy
-- `inventory`: one GetPOPExpirations): domains with no pak and nothing
-- wanted are not read one by one, paks expiring soon and paks of domains
-- the desired state does not name are reported, and a domain that wants
-- mailboxes is still read under its lease.
local H = require "helper"
local R = require "cli_runner"
local provision = require "enom.provision"

local function date_in(days)
    local t = os.date("!*t", os.time() + days * 86400)
    return ("%d/%d/%d"):format(t.month, t.day, t.year)
end

describe("reconciliation", function()
    before_each(function()
        H.reset()
    end)
    after_each(function()
        H.faults {}
    end)

    it("reads only the domains that may have something to do, and reports what the account pays for", function()
        local st = H.state()
        -- shop01: a pak expiring in 10 days, one mailbox; shop02: a pak far
        -- off, not in the desired state; shop03..shop20: nothing.
        for _, d in ipairs(st.domains) do
            if d.name == "shop01.com" then
                d.service_select = "POP"
                d.paks = { { bundle_id = 9101, size = 10, exp_date = date_in(10), auto_renew = false, quota = 1024 } }
                d.mailboxes = { { username = "ann", password = "Kept-Pass-91x", admin = false, quota = 1024,
                    quota_used = 0, bundle_id = 9101 } }
            elseif d.name == "shop02.com" then
                d.service_select = "POP"
                d.paks = { { bundle_id = 9102, size = 10, exp_date = date_in(300), auto_renew = true, quota = 1024 } }
            end
        end
        H.reset(st)
        local desired = { { domain = "resellerdocs.com", mailboxes = { { username = "james" }, { username = "support" } } },
            { domain = "shop01.com", mailboxes = { { username = "ann" } } } }
        for i = 3, 20 do
            desired[#desired + 1] = { domain = ("shop%02d.com"):format(i), mailboxes = {} }
        end
        H.admin("DELETE", "/counters")
        local c = H.client()
        local rep = assert(provision.ensure(c, desired, { inventory = true, expiring_within = 30, lock = "process" }))
        c:close()
        assert.is_true(rep.ok, rep:format())
        assert.equal(3, rep.counts.already_present)
        -- One list of the account's paks, and a read for each domain that wants mailboxes.
        assert.equal(1, H.received("GetPOPExpirations"))
        assert.equal(2, H.received("GetPOP3"))
        local expiring = rep:events_with("paks", "expiring")
        assert.equal(1, #expiring, rep:format())
        assert.equal("shop01.com", expiring[1].domain)
        assert.equal(9101, expiring[1].bundle_id)
        local unmanaged = rep:events_with("paks", "unmanaged")
        local names = {}
        for _, e in ipairs(unmanaged) do names[#names + 1] = e.domain end
        assert.same({ "shop02.com" }, names)
        local text = rep:format()
        assert.truthy(text:find("expire within 30 days", 1, true), text)
        assert.truthy(text:find("not in the desired state", 1, true), text)
        assert.truthy(text:find("18 domain(s) hold no pak", 1, true), text)
    end)

    it("runs 1,500 idle domains, each ending at once, without nesting one in another", function()
        local want = {}
        for i = 1, 1500 do want[i] = { domain = ("idle%04d.com"):format(i) } end
        local rep = assert(provision.ensure(H.client(), want, { inventory = true, concurrency = 8 }))
        assert.is_true(rep.ok, rep.error)
        assert.equal(1, rep.sent, "one GetPOPExpirations, no domain read")
    end)

    it("reads a domain with paks when the run prunes, and every domain when the list cannot be had", function()
        local c = H.client()
        local rep = assert(provision.ensure(c, {
            { domain = "resellerdocs.com", mailboxes = {} }, { domain = "shop05.com", mailboxes = {} },
        }, { inventory = true, prune = true, lock = "process" }))
        -- resellerdocs.com holds a pak: read and pruned; shop05.com holds none: not read.
        assert.equal(2, rep.counts.deleted)
        assert.equal(1, H.received("GetPOP3"))
        H.reset()
        H.faults { rules = { { kind = "status500", command = "GetPOPExpirations" } } }
        rep = assert(provision.ensure(c, {
            { domain = "shop05.com", mailboxes = {} }, { domain = "shop06.com", mailboxes = {} },
        }, { inventory = true, lock = "process", attempts = 2, backoff_base = 0.01 }))
        c:close()
        assert.equal(2, H.received("GetPOP3"))
        assert.truthy(table.concat(rep.notes, "\n"):find("could not be read", 1, true))
    end)

    it("enom apply --reconcile: a file may list a domain with nothing wanted", function()
        local run = R.new(H, "reconcile")
        local csv = run.work .. "/all.csv"
        R.write(csv, "domain,username\nresellerdocs.com,james\nresellerdocs.com,support\nshop03.com,\nshop04.com,\n")
        local code, out, err = run { "apply", csv, "--reconcile", "--expiring-within", "4w", "--passwords",
            run.work .. "/pw.txt" }
        assert.equal(0, code, err)
        assert.truthy(out:find("2 domain(s) hold no pak and want none", 1, true), out)
        assert.equal(1, H.received("GetPOP3"))
        assert.equal(1, H.received("GetPOPExpirations"))
        local refused, _, why = run { "apply", csv, "--reconcile", "--expiring-within", "soon" }
        assert.equal(2, refused)
        assert.truthy(why:find("--expiring-within must be days", 1, true), why)
    end)
end)
