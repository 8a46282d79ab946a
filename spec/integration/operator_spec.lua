-- The `enom` command as an operator runs it from cron and a shell, where
-- money and mailboxes are at stake: a saved plan is a request bounded by
-- the flags of the run that applies it; a created mailbox's password is
-- never lost (a missing folder, a closed or cut standard output); exit
-- statuses tell cron what happened; names from a file never reach the
-- terminal raw; a command that changes a domain takes its lease.
local H = require "helper"
local R = require "cli_runner"
local lease = require "enom.lease"

local q, read, write, json_of, lines_of, count = R.q, R.read, R.write, R.json_of, R.lines_of, R.count
local enom = R.new(H, "operator")
local _ -- a value left out
local WORK = enom.work

local function purchases()
    local c = H.counters().commands.PurchasePOPBundle
    return c and c.applied or 0
end

local function people(path, names, extra)
    local rows = { "username,display_name" .. (extra and ",domain" or "") }
    for _, n in ipairs(names) do rows[#rows + 1] = n end
    write(path, table.concat(rows, "\n") .. "\n")
end

local function boxes(n, prefix)
    local out = {}
    for i = 1, n do out[i] = ("%s%02d,Box %d"):format(prefix or "box", i, i) end
    return out
end

-- A plan saved for `domain` with `n` mailboxes to create and `--buy-paks`.
local function saved_plan(name, domain, n, extra_flags)
    local file, plan = WORK .. "/" .. name .. ".csv", WORK .. "/" .. name .. ".json"
    people(file, boxes(n))
    local args = { "plan", file, "--domain", domain, "--buy-paks", "--max-paks", "20", "--save", plan }
    for _, f in ipairs(extra_flags or {}) do args[#args + 1] = f end
    local code, _, err = enom(args)
    assert.equal(0, code, err)
    return plan
end

describe("the enom command, as operators run it", function()
    before_each(function()
        H.reset()
    end)

    describe("a saved plan is a request", function()
        it("buys no more paks than --max-paks of the applying run allows, and none without --buy-paks", function()
            local plan = saved_plan("cap", "shop21.com", 40)
            assert.equal(4, json_of(read(plan)).totals.buy)
            local code, _, err = enom { "apply", plan, "--passwords", WORK .. "/cap.pw" }
            assert.equal(1, code, err)
            assert.truthy(err:find("nothing is bought without --buy-paks", 1, true), err)
            assert.equal(0, purchases())
            local out
            code, out, err = enom { "apply", plan, "--buy-paks", "--max-paks", "1", "--passwords", WORK .. "/cap.pw" }
            assert.equal(1, code, err .. out)
            assert.equal(1, #H.domain("shop21.com").paks)
            assert.equal(10, count(H.mailboxes("shop21.com")))
            assert.truthy(out:find("blocked 30", 1, true), out)
        end)

        it("spends no more than --max-spend of the applying run, at the account's price read from eNom", function()
            local plan = saved_plan("spend", "shop24.com", 40)
            assert.equal(4, json_of(read(plan)).totals.buy)
            -- 12 at the sandbox's 5.95 a pak: two paks, 20 mailboxes.
            local code, out, err = enom { "apply", plan, "--buy-paks", "--max-spend", "12",
                "--passwords", WORK .. "/spend.pw" }
            assert.equal(1, code, err .. out)
            assert.equal(2, #H.domain("shop24.com").paks)
            assert.equal(20, count(H.mailboxes("shop24.com")))
            assert.truthy(out:find("blocked 20", 1, true), out)
            assert.equal(1, H.received("PE_GetPOPPrice"))
        end)

        it("never buys more than it says, whatever the file was edited to say", function()
            local plan = saved_plan("edited", "shop22.com", 5)
            local doc = json_of(read(plan))
            doc.domains[1].buy = 500
            write(plan, require("cjson").encode(doc))
            local code, _, err = enom { "apply", plan, "--buy-paks", "--passwords", WORK .. "/edited.pw" }
            assert.equal(0, code, err)
            assert.equal(1, #H.domain("shop22.com").paks, "bought what the domain needs, not what the file says")
        end)

        it("deletes nothing without --prune, and only what the plan names with it", function()
            local file, plan = WORK .. "/prune.csv", WORK .. "/prune.json"
            people(file, { "james,James Doe" })
            local code, out, err = enom { "plan", file, "--domain", "resellerdocs.com", "--prune", "--save", plan }
            assert.equal(0, code, err)
            assert.truthy(out:find("delete   1: support", 1, true), out)
            code, out, err = enom { "apply", plan }
            assert.equal(0, code, err .. out)
            assert.truthy(err:find("nothing is deleted without --prune", 1, true), err)
            assert.truthy(H.mailboxes("resellerdocs.com").support)
            code, _, err = enom { "apply", plan, "--prune" }
            assert.equal(0, code, err)
            assert.is_nil(H.mailboxes("resellerdocs.com").support)
        end)

        it("checks every mailbox again: a name eNom refuses, added by hand, is invalid and costs nothing", function()
            local plan = saved_plan("added", "shop23.com", 10)
            local doc = json_of(read(plan))
            table.insert(doc.domains[1].create, { username = "bad name!", admin = false })
            write(plan, require("cjson").encode(doc))
            local code, out, err = enom { "apply", plan, "--buy-paks", "--passwords", WORK .. "/added.pw" }
            assert.equal(1, code, err)
            assert.truthy(out:find("bad name!@shop23.com invalid", 1, true), out)
            assert.equal(1, #H.domain("shop23.com").paks, "the invalid mailbox bought nothing")
            assert.equal(10, count(H.mailboxes("shop23.com")))
        end)

        it("answers a malformed plan with one clear line and status 2, sending nothing", function()
            local before = H.total_received()
            for i, text in ipairs {
                '{"domains": [{"domain": "shop24.com", "buy": "lots"}]}',
                '{"domains": [{"domain": "../etc", "buy": 0}]}',
                '{"domains": [{"domain": "shop24.com", "buy": 0, "create": [{"username": 7}]}]}',
                '{"domains": "all of them"}',
            } do
                local plan = WORK .. "/bad" .. i .. ".json"
                write(plan, text)
                local code, out, err = enom { "apply", plan, "--buy-paks" }
                assert.equal(2, code, err)
                assert.equal("", out)
                assert.equal(1, #lines_of(err), err)
                assert.falsy(err:find("internal error", 1, true), err)
            end
            assert.equal(before, H.total_received())
        end)
    end)

    describe("a created mailbox's password is never lost", function()
        it("refuses a password file it cannot write before anything is sent", function()
            local file = WORK .. "/pw.csv"
            people(file, boxes(5))
            local before = H.total_received()
            local code, out, err = enom { "apply", file, "--domain", "resellerdocs.com", "--passwords",
                WORK .. "/no/such/dir/pw.txt" }
            assert.equal(2, code, err)
            assert.equal("", out)
            assert.truthy(err:find("--passwords", 1, true), err)
            assert.equal(before, H.total_received())
            code, _, err = enom { "mailboxes", "add", "resellerdocs.com", "ann", "--passwords",
                WORK .. "/no/such/dir/pw.txt" }
            assert.equal(2, code, err)
            assert.equal(before, H.total_received())
        end)

        local function spilled(err)
            local path = err:match("they are in (%S+) %(mode 0600%)")
            assert.truthy(path, err)
            local got = {}
            for _, l in ipairs(lines_of(read(path))) do
                local user, pw = l:match("^resellerdocs%.com\t([^\t]+)\t(.+)$")
                got[user] = pw
            end
            os.remove(path)
            return got
        end

        it("refuses --passwords - on a closed standard output before anything is sent", function()
            local file = WORK .. "/closed.csv"
            people(file, boxes(5))
            local before = H.total_received()
            local code, _, err = enom({ "apply", file, "--domain", "resellerdocs.com", "--passwords", "-" },
                { redirect = ">&-" })
            assert.equal(2, code, err)
            assert.truthy(err:find("standard output is closed", 1, true), err)
            assert.equal(before, H.total_received())
        end)

        it("keeps every password a full standard output refuses, and says where, exiting 1", function()
            local file = WORK .. "/full.csv"
            people(file, boxes(5))
            local code, _, err = enom({ "apply", file, "--domain", "resellerdocs.com", "--passwords", "-" },
                { redirect = "> /dev/full" })
            assert.equal(1, code, err)
            local got = spilled(err)
            local have = H.mailboxes("resellerdocs.com")
            assert.equal(5, count(got))
            for user, pw in pairs(got) do
                assert.equal(have[user].password, pw, user)
            end
        end)

        it("is not killed by a pipe that closes early (| head -1): the rest are kept", function()
            local file = WORK .. "/head.csv"
            people(file, boxes(5))
            local code, out, err = enom({ "apply", file, "--domain", "resellerdocs.com", "--passwords", "-" },
                { redirect = "| head -1 > " .. q(WORK .. "/head.out") })
            -- The status of a pipeline is head's; the command's own word is on stderr.
            assert.equal(0, code)
            assert.equal("", out)
            local first = read(WORK .. "/head.out")
            assert.truthy(first:find("^resellerdocs%.com\tbox%d+\t"), first)
            local got = spilled(err)
            local have = H.mailboxes("resellerdocs.com")
            local user, pw = first:match("^resellerdocs%.com\t([^\t]+)\t([^\n]+)")
            got[user] = pw
            assert.equal(5, count(got))
            for u, p in pairs(got) do
                assert.equal(have[u].password, p, u)
            end
        end)

        it("keeps standard output JSON lines with --json --passwords -", function()
            local file = WORK .. "/json.csv"
            people(file, boxes(3))
            local code, out, err = enom({ "--json", "apply", file, "--domain", "resellerdocs.com", "--passwords", "-" },
                { shows_secrets = true })
            assert.equal(0, code, err)
            local kinds = {}
            for _, l in ipairs(lines_of(out)) do
                local rec = json_of(l)
                kinds[rec.type] = (kinds[rec.type] or 0) + 1
            end
            assert.same({ password = 3, mailbox = 3, summary = 1 }, kinds)
        end)
    end)

    describe("exit statuses tell cron what happened", function()
        local file = "/dev/null"
        setup(function()
            file = WORK .. "/exit.csv"
            people(file, boxes(2))
        end)

        for _, case in ipairs {
            { "a wrong password", { env = { ENOM_PW = "Wrong-Pass-1" } }, "resellerdocs.com", 3 },
            { "another account's domain", {}, "otherco.com", 3 },
            { "a domain eNom does not know", {}, "nosuchdomain.com", 5 },
            { "an endpoint that does not answer", { env = { ENOM_ENDPOINT = "https://127.0.0.1:9/interface.asp" } },
                "resellerdocs.com", 4 },
        } do
            it(("%d for %s, from plan and from apply"):format(case[4], case[1]), function()
                for _, cmd in ipairs { "plan", "apply" } do
                    local code, _, err = enom({ cmd, file, "--domain", case[3], "--passwords", WORK .. "/exit.pw" },
                        case[2])
                    if cmd == "plan" then
                        code = enom({ cmd, file, "--domain", case[3] }, case[2])
                    end
                    assert.equal(case[4], code, cmd .. ": " .. tostring(err))
                end
            end)
        end

        it("4 when eNom answers HTTP 503 all along", function()
            H.faults { rules = { { kind = "status", status = 503 } } }
            local code, _, err = enom { "apply", file, "--domain", "resellerdocs.com", "--passwords", WORK .. "/e.pw" }
            H.faults {}
            assert.equal(4, code, err)
        end)
    end)

    it("prints no control character from a file: escaped in the plan, refused for a mailbox", function()
        local file = WORK .. "/ctl.csv"
        write(file, "username,display_name\nann\27[31m,Ann\nbob,Bob \27]0;title\7\nok,Fine\n")
        local code, out, err = enom { "plan", file, "--domain", "shop25.com", "--buy-paks" }
        assert.equal(0, code, err)
        assert.falsy(out:find("\27", 1, true), out)
        assert.falsy(err:find("\27", 1, true), err)
        assert.truthy(out:find("ann\\x1b[31m", 1, true), out)
        assert.truthy(out:find("invalid  bob: display_name holds a control character", 1, true), out)
        assert.truthy(out:find("create   1: ok", 1, true), out)
        code, _, err = enom { "mailboxes", "list", "bad\27[2Jdomain.com" }
        assert.equal(2, code)
        assert.falsy(err:find("\27", 1, true), err)
    end)

    it("refuses a domain name longer than DNS allows before anything is sent, naming its record", function()
        local file = WORK .. "/long.csv"
        write(file, "username,domain\nann," .. ("a"):rep(250) .. ".com\nbob,resellerdocs.com\n")
        local before = H.counters().totals.received
        for _, args in ipairs { { "plan", file }, { "apply", file } } do
            local code, _, err = enom(args)
            assert.equal(2, code, err)
            assert.truthy(err:find("record 1", 1, true) and err:find("longer than 253", 1, true), err)
        end
        assert.equal(before, H.counters().totals.received)
    end)

    -- Every command that changes a domain holds its lease: while another
    -- process holds the domain it waits, and sends nothing.
    local LEASED = {
        { "paks buy", { "paks", "buy", "shop26.com", "--yes" }, "PurchasePOPBundle" },
        { "mailboxes add", { "mailboxes", "add", "resellerdocs.com", "newbie", "--passwords", "-" }, "SetUpPOP3User" },
        { "mailboxes modify", { "mailboxes", "modify", "resellerdocs.com", "support", "--admin" }, "ModifyPOP3" },
        { "mailboxes delete", { "mailboxes", "delete", "resellerdocs.com", "support", "--yes" }, "DeletePOP3" },
        { "forwarding add", { "forwarding", "add", "resellerdocs.com", "james=james@example.org" },
            "SetPOPForwarding" },
    }
    for _, case in ipairs(LEASED) do
        local what, args, command = case[1], case[2], case[3]
        it("enom " .. what .. " takes the domain's lease: it waits while another holds the domain", function()
            H.reset()
            local domain = args[3]
            local holder = lease.new { backend = "host" }
            local l = assert(holder:acquire(lease.key(H.UID, domain), { ttl = 30 }))
            local base = WORK .. "/leased-" .. what:gsub(" ", "-")
            os.remove(base .. ".rc")
            local env = {}
            for k, v in pairs(enom.env) do env[#env + 1] = k .. "=" .. q(v) end
            local quoted = {}
            for i, v in ipairs(args) do quoted[i] = q(v) end
            os.execute(("sh -c %s > /dev/null 2>&1 &"):format(q(("cd %s && env %s lua5.4 %s %s "
                .. "> %s.out 2> %s.err; echo $? > %s.rc"):format(q(R.ROOT), table.concat(env, " "), q(R.BIN),
                table.concat(quoted, " "), base, base, base))))
            require("socket").sleep(1.5)
            local sent = H.counters().commands[command]
            assert.is_nil(sent, what .. " sent " .. command .. " while another held the domain")
            assert.is_nil(read(base .. ".rc"))
            l:release()
            assert.truthy(R.wait_for(function() return read(base .. ".rc") ~= nil end, 20), read(base .. ".err"))
            assert.equal("0\n", read(base .. ".rc"), read(base .. ".err"))
            assert.equal(1, H.counters().commands[command].received)
        end)
    end

    it("buys nothing by hand for a domain whose earlier order is in doubt, and says how to settle it", function()
        local journal = require "enom.journal"
        local j = journal.new(journal.file_store(assert(os.getenv("ENOM_JOURNAL_DIR"))))
        local key = lease.key(H.UID, "shop27.com")
        local id = assert(j:open(key, { kind = "purchase", domain = "shop27.com", qty = 2, before = {},
            sent_at = os.time() }))
        local was = purchases()
        local code, _, err = enom { "paks", "buy", "shop27.com", "--yes" }
        assert.equal(5, code, err)
        assert.equal(was, purchases())
        assert.truthy(err:find("earlier order of 2 paks for shop27.com is in doubt", 1, true), err)
        assert.truthy(err:find("enom journal settle shop27.com", 1, true), err)
        -- Once settled (here: struck off by hand), the purchase goes out.
        assert(j:close(key, id))
        code, _, err = enom { "paks", "buy", "shop27.com", "--yes" }
        assert.equal(0, code, err)
        assert.equal(was + 1, purchases())
    end)

    it("enom journal settle finds an earlier order that went through; clear strikes off what is left", function()
        local journal = require "enom.journal"
        local j = journal.new(journal.file_store(assert(os.getenv("ENOM_JOURNAL_DIR"))))
        -- A run was killed with its order of one pak in flight; eNom carried it out.
        local key = lease.key(H.UID, "shop28.com")
        assert(j:open(key, { kind = "purchase", domain = "shop28.com", qty = 1, before = {},
            sent_at = os.time() - 5 }))
        H.admin("POST", "/purchase", { domain = "shop28.com", quantity = 1 })
        local was = purchases()
        local code, out, err = enom { "journal", "settle", "shop28.com", "--wait", "2" }
        assert.equal(0, code, err)
        assert.truthy(out:find("earlier run", 1, true), out)
        assert.same({}, assert(j:entries(key)))
        assert.equal(was, purchases(), "settling buys nothing")
        -- A mailbox being created when a run stopped: its intent keeps the password.
        local key2 = lease.key(H.UID, "shop29.com")
        assert(j:open(key2, { kind = "create", domain = "shop29.com",
            users = { { username = "ann", password = "Kept-In-Journal-42", generated = true } } }))
        code, out, err = enom { "journal", "list", "shop29.com" }
        assert.equal(0, code, err)
        assert.truthy(out:find("ann", 1, true), out)
        code = enom { "journal", "clear", "shop29.com" }
        assert.are_not.equal(0, code, "clearing asks first")
        assert.equal(1, #assert(j:entries(key2)))
        code, out, err = enom { "journal", "clear", "shop29.com", "--yes" }
        assert.equal(0, code, err)
        assert.truthy(out:find("cleared 1 intent of shop29.com", 1, true), out)
        assert.same({}, assert(j:entries(key2)))
        assert.is_nil((out .. err):find("Kept-In-Journal-42", 1, true), "no password shown")
    end)

    it("printed no secret anywhere it was not asked to", function()
        R.assert_no_secret(assert, enom, { H.PW, "Mbx-Jx4-Secret1", "Mbx-Sp7-Secret2" })
    end)
end)
