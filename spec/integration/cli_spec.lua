-- The `enom` command, run as a user runs it (bin/enom in a subprocess)
-- against the sandbox: every subcommand, --json parsed back, exit codes,
-- the config file's mode, secrets, Ctrl-C during apply, and the progress
-- line on a real terminal (tmux).
local H = require "helper"
local cjson = require "cjson"

local R = require "cli_runner"

local ROOT, BIN = R.ROOT, R.BIN
local q, read, write, json_of, lines_of, count, wait_for = R.q, R.read, R.write, R.json_of, R.lines_of, R.count,
    R.wait_for
local enom = R.new(H, "cli")
local WORK = enom.work
local BASE_ENV = enom.env
local ALL_OUTPUT = enom.outputs

-- Every password seen in the sandbox, for the secrets check at the end.
local SECRETS = { H.PW, "0therco-Pass", "Mbx-Jx4-Secret1", "Mbx-Sp7-Secret2" }

local function mailboxes(domain)
    local m = H.mailboxes(domain)
    for _, mb in pairs(m) do
        SECRETS[#SECRETS + 1] = mb.password
    end
    return m
end

describe("enom command", function()
    before_each(function()
        H.reset()
    end)

    describe("help and usage", function()
        it("--version and --help on every subcommand, each with an example", function()
            local code, out = enom { "--version" }
            assert.equal(0, code)
            assert.truthy(out:find("^enom %d+%.%d+%.%d+"), out)
            local cmds = {
                {}, { "mailboxes" }, { "mailboxes", "list" }, { "mailboxes", "add" }, { "mailboxes", "modify" },
                { "mailboxes", "delete" }, { "paks" }, { "paks", "list" }, { "paks", "buy" }, { "paks", "delete" },
                { "forwarding" }, { "forwarding", "get" }, { "forwarding", "set" }, { "balance" }, { "call" },
                { "plan" }, { "apply" }, { "sandbox" }, { "sandbox", "start" }, { "sandbox", "stop" },
                { "sandbox", "status" },
            }
            for _, c in ipairs(cmds) do
                local args = { table.unpack(c) }
                args[#args + 1] = "--help"
                local hc, hout = enom(args)
                assert.equal(0, hc, table.concat(c, " "))
                assert.truthy(hout:find("Usage: enom"), hout)
                assert.truthy(hout:find("Example:\n   enom " .. (c[1] or "")), table.concat(c, " ") .. ":\n" .. hout)
            end
        end)

        it("bad input: one clear line, exit 2, never a traceback", function()
            local bad = {
                { { "mailboxes", "list" }, "missing argument 'domain'" },
                { { "mailboxes", "list", "not a domain" }, "not a domain name" },
                { { "mailboxes", "list", "-x.com" }, "" },
                { { "frobnicate" }, "unknown command" },
                { { "plan", WORK .. "/missing.csv", "--domain", "emptydomain.com" }, "No such file" },
                { { "mailboxes", "add", "emptydomain.com", "bad name!", "--passwords", "-" }, "user name" },
                { { "mailboxes", "add", "emptydomain.com", "ann" }, "--passwords" },
                { { "call", "SetUpPOP3User", "Password1=x" }, "secret" },
                { { "paks", "buy", "emptydomain.com", "--quantity", "99", "--yes" }, "quantity" },
            }
            for _, b in ipairs(bad) do
                local code, out, err = enom(b[1])
                assert.equal(2, code, table.concat(b[1], " ") .. ": " .. err)
                assert.equal("", out)
                assert.equal(1, #lines_of(err), err)
                assert.truthy(err:find("^enom: "), err)
                assert.truthy(err:find(b[2], 1, true), err)
                assert.falsy(err:find("traceback", 1, true), err)
            end
            -- An unreadable CSV line names the line.
            write(WORK .. "/bad.csv", 'first,last\nann,lee\n"bob,smith\n')
            local code, _, err = enom { "plan", WORK .. "/bad.csv", "--domain", "emptydomain.com" }
            assert.equal(2, code)
            assert.truthy(err:find("CSV line 3", 1, true), err)
        end)
    end)

    describe("credentials", function()
        it("come from the environment, or a config file only its owner can read", function()
            local cfg = WORK .. "/config"
            write(cfg, ("uid = %s\npw = %s\nendpoint = %s\nca = %s\n\n[other]\nuid = otherco\npw = 0therco-Pass\n")
                :format(H.UID, H.PW, H.HTTPS_URL, H.CA), "600")
            local env = { ENOM_UID = false, ENOM_PW = false, ENOM_ENDPOINT = false, ENOM_CA = false }
            local code, out = enom({ "--config", cfg, "balance", "--json" }, { env = env })
            assert.equal(0, code, out)
            assert.equal(1000, json_of(out).balance)
            -- --profile picks another account.
            code, out = enom({ "--config", cfg, "--profile", "other", "--endpoint", H.HTTPS_URL, "--ca", H.CA,
                "balance", "--json" }, { env = env })
            assert.equal(0, code, out)
            assert.equal(250, json_of(out).balance)
            -- The default place: $XDG_CONFIG_HOME/enom/config.
            os.execute("mkdir -p " .. q(WORK .. "/xdg/enom") .. " && cp -p " .. q(cfg) .. " " .. q(WORK .. "/xdg/enom/config"))
            env.XDG_CONFIG_HOME = WORK .. "/xdg"
            code, out = enom({ "balance" }, { env = env })
            assert.equal(0, code, out)
            -- Mode 0644: refused, and nothing is sent.
            assert(os.execute("chmod 644 " .. q(cfg)))
            local before = H.total_received()
            local err
            code, out, err = enom({ "--config", cfg, "balance" }, { env = env })
            assert.equal(2, code)
            assert.equal("", out)
            assert.truthy(err:find("mode 644", 1, true), err)
            assert.truthy(err:find("chmod 600", 1, true), err)
            assert.equal(before, H.total_received())
            -- No account at all: exit 3 with what to do.
            env.XDG_CONFIG_HOME = WORK .. "/nothing"
            local _
            code, _, err = enom({ "balance" }, { env = env })
            assert.equal(3, code)
            assert.truthy(err:find("ENOM_UID", 1, true), err)
        end)

        it("exit 3 for a wrong password and for eNom's IP allow list, with its hint", function()
            local code, _, err = enom({ "balance" }, { env = { ENOM_PW = "Wrong-Pass-123" } })
            assert.equal(3, code, err)
            assert.truthy(err:find("Bad User name or Password", 1, true), err)
            assert.falsy(err:find("Wrong-Pass-123", 1, true))
            local st = H.state()
            for _, a in ipairs(st.accounts) do
                if a.uid == H.UID then a.allowed_ips = { "203.0.113.7" } end
            end
            H.reset(st)
            local _
            code, _, err = enom { "mailboxes", "list", "resellerdocs.com" }
            assert.equal(3, code, err)
            assert.truthy(err:find("not permitted from this IP", 1, true), err)
            assert.truthy(err:find("allow list", 1, true), err)
        end)

        it("reads are tried again; exit 4 when eNom cannot be reached, 5 when it refuses", function()
            H.faults { rules = { { kind = "close_before", command = "GetPOP3", times = 2 } } }
            local code, out, err = enom { "mailboxes", "list", "resellerdocs.com" }
            assert.equal(0, code, err)
            assert.truthy(out:find("james"), out)
            assert.equal(3, H.received("GetPOP3"))
            local _
            code, _, err = enom({ "balance" }, { env = { ENOM_ENDPOINT = "https://127.0.0.1:1/interface.asp" } })
            assert.equal(4, code, err)
            local _
            code, _, err = enom { "paks", "delete", "resellerdocs.com", "5134", "--yes" }
            assert.equal(5, code, err)
            assert.truthy(err:find("holds mailboxes", 1, true) or err:find("api error", 1, true), err)
        end)
    end)

    describe("subcommands", function()
        it("mailboxes list: a table, --json with the Lua API's fields, passwords only when asked", function()
            local code, out, err = enom { "mailboxes", "list", "resellerdocs.com" }
            assert.equal(0, code, err)
            assert.truthy(out:find("^USERNAME%s+ADMIN"), out)
            assert.truthy(out:find("\njames%s+yes"), out)
            assert.falsy(out:find("Mbx-Jx4-Secret1", 1, true))
            code, out = enom { "mailboxes", "list", "resellerdocs.com", "--json" }
            assert.equal(0, code)
            local doc = json_of(out)
            assert.equal(2, #doc.mailboxes)
            assert.equal("james", doc.mailboxes[1].username)
            assert.equal(true, doc.mailboxes[1].admin)
            assert.equal(5134, doc.paks[1].bundle_id)
            assert.is_nil(doc.mailboxes[1].password)
            code, out = enom({ "mailboxes", "list", "resellerdocs.com", "--json", "--show-passwords" },
                { shows_secrets = true })
            assert.equal(0, code)
            assert.equal("Mbx-Jx4-Secret1", json_of(out).mailboxes[1].password)
        end)

        it("mailboxes add: generated passwords into a 0600 file, or from stdin", function()
            local pw = WORK .. "/add-pw.txt"
            os.remove(pw)
            local code, out, err = enom { "mailboxes", "add", "resellerdocs.com", "ann", "bob", "--passwords", pw }
            assert.equal(0, code, err)
            assert.truthy(out:find("created 2 mailbox"), out)
            assert.equal("600", io.popen("stat -c %a " .. q(pw)):read("l"))
            local m = mailboxes("resellerdocs.com")
            local file = read(pw)
            assert.truthy(file:find("resellerdocs.com\tann\t" .. m.ann.password .. "\n", 1, true), file)
            assert.truthy(file:find("resellerdocs.com\tbob\t" .. m.bob.password .. "\n", 1, true), file)
            assert.falsy(out:find(m.ann.password, 1, true))
            -- From stdin, as the admin of the domain.
            code, out, err = enom({ "mailboxes", "add", "resellerdocs.com", "carol", "--password-stdin", "--admin",
                "--json" }, { stdin = "Lark-Secret-77@\n" })
            assert.equal(0, code, err)
            assert.equal(1, json_of(out).accounts_created)
            m = mailboxes("resellerdocs.com")
            assert.equal("Lark-Secret-77@", m.carol.password)
            assert.equal(true, m.carol.admin)
            -- '-' prints them: asked for explicitly.
            code, out = enom({ "mailboxes", "add", "resellerdocs.com", "dave", "--passwords", "-" }, { shows_secrets = true })
            assert.equal(0, code)
            m = mailboxes("resellerdocs.com")
            assert.equal("resellerdocs.com\tdave\t" .. m.dave.password .. "\n", out)
            -- The pak is full now (2 + 4 of 10 used... then 4 more do not fit 4 free): exit 5, nothing sent.
            local _
            code, _, err = enom { "mailboxes", "add", "resellerdocs.com", "e1", "e2", "e3", "e4", "e5", "--passwords", pw }
            assert.equal(5, code, err)
            assert.truthy(err:find("paks buy", 1, true), err)
        end)

        it("mailboxes modify and delete (with and without confirmation)", function()
            local code, out, err = enom { "mailboxes", "modify", "resellerdocs.com", "support", "--admin" }
            assert.equal(0, code, err)
            assert.truthy(out:find("modified 1"), out)
            assert.equal(true, mailboxes("resellerdocs.com").support.admin)
            local _
            code, _, err = enom({ "mailboxes", "modify", "resellerdocs.com", "support", "--password-stdin" },
                { stdin = "New-Helpdesk-Pass9\n" })
            assert.equal(0, code, err)
            assert.equal("New-Helpdesk-Pass9", mailboxes("resellerdocs.com").support.password)
            -- Declined: nothing deleted.
            local _
            code, _, err = enom({ "mailboxes", "delete", "resellerdocs.com", "support" }, { stdin = "n\n" })
            assert.equal(2, code)
            assert.truthy(err:find("not confirmed", 1, true), err)
            assert.truthy(mailboxes("resellerdocs.com").support)
            code = enom({ "mailboxes", "delete", "resellerdocs.com", "support" }, { stdin = "y\n" })
            assert.equal(0, code)
            assert.is_nil(mailboxes("resellerdocs.com").support)
            code, out = enom { "mailboxes", "delete", "resellerdocs.com", "james", "--yes", "--json" }
            assert.equal(0, code)
            assert.equal(1, json_of(out).accounts_deleted)
            assert.equal(0, count(mailboxes("resellerdocs.com")))
        end)

        it("paks list, buy and delete", function()
            local code, out = enom { "paks", "list", "emptydomain.com" }
            assert.equal(0, code)
            assert.truthy(out:find("has no paks"), out)
            -- An empty list is a JSON list, as a full one is.
            for _, args in ipairs { { "paks", "list", "emptydomain.com" }, { "mailboxes", "list", "emptydomain.com" },
                { "journal", "list" } } do
                args[#args + 1] = "--json"
                code, out = enom(args)
                assert.equal(0, code, out)
                assert.truthy(out:find('":[]', 1, true) and not out:find('":{}', 1, true), out)
            end
            code, out = enom { "paks", "buy", "emptydomain.com", "--quantity", "2", "--yes", "--json" }
            assert.equal(0, code, out)
            local doc = json_of(out)
            assert.equal(2, #doc.bundle_ids)
            assert.equal(2, #H.domain("emptydomain.com").paks)
            code, out = enom { "paks", "list", "emptydomain.com", "--json" }
            assert.equal(0, code)
            assert.equal(2, #json_of(out).paks)
            assert.equal(10, json_of(out).paks[1].free)
            code = enom { "paks", "delete", "emptydomain.com", tostring(doc.bundle_ids[1]), "--yes" }
            assert.equal(0, code)
            assert.equal(1, #H.domain("emptydomain.com").paks)
            code = enom { "paks", "delete", "emptydomain.com", "--all", "--yes" }
            assert.equal(0, code)
            assert.equal(0, #(H.domain("emptydomain.com").paks or {}))
        end)

        it("forwarding get and set", function()
            local code, out = enom { "forwarding", "get", "resellerdocs.com", "--json" }
            assert.equal(0, code)
            local doc = json_of(out)
            assert.equal(2, #doc.forwards)
            assert.equal("info", doc.forwards[1].alias)
            code, out = enom { "forwarding", "get", "resellerdocs.com" }
            assert.equal(0, code)
            assert.truthy(out:find("^ALIAS%s+FORWARD_TO"), out)
            -- Leaving "sales" out deletes it: asked first.
            code = enom({ "forwarding", "set", "resellerdocs.com", "info=ann@example.net" }, { stdin = "no\n" })
            assert.equal(2, code)
            assert.equal(2, #H.domain("resellerdocs.com").forwarding)
            code, out = enom { "forwarding", "set", "resellerdocs.com", "info=ann@example.net", "help=desk@example.org", "--yes" }
            assert.equal(0, code, out)
            assert.truthy(out:find("deleted sales"), out)
            local fw = {}
            for _, f in ipairs(H.domain("resellerdocs.com").forwarding) do fw[f.alias] = f.forward_to end
            assert.same({ info = "ann@example.net", help = "desk@example.org" }, fw)
        end)

        it("balance and call", function()
            local code, out = enom { "balance" }
            assert.equal(0, code)
            assert.truthy(out:find("balance:%s+1000"), out)
            code, out = enom { "call", "GetBalance", "--json" }
            assert.equal(0, code)
            local doc = json_of(out)
            assert.equal("GETBALANCE", doc.command)
            assert.equal("1,000.00", doc.fields.Balance)
            -- A parsed answer's password fields are dropped unless asked for.
            code, out = enom { "call", "GetPOP3", "SLD=resellerdocs", "TLD=com", "--json" }
            assert.equal(0, code, out)
            assert.falsy(out:find("Mbx-Jx4-Secret1", 1, true))
            assert.truthy(out:find("james", 1, true))
            code, out = enom { "call", "GetPOP3", "SLD=resellerdocs", "TLD=com", "--response-type", "text" }
            assert.equal(0, code, out)
            assert.falsy(out:find("Mbx-Jx4-Secret1", 1, true))
            -- eNom's refusal: exit 5.
            local err
            local _
            code, _, err = enom { "call", "GetPOP3", "SLD=nosuchdomain", "TLD=com" }
            assert.equal(5, code, err)
        end)

        it("sandbox start, status, stop (a second sandbox of its own)", function()
            local dir = WORK .. "/sb"
            local code, out, err = enom({ "sandbox", "start", "--dir", dir }, { env = { XDG_RUNTIME_DIR = WORK } })
            assert.equal(0, code, err)
            local ok, res = pcall(function()
                assert.truthy(out:find("sandbox running", 1, true), out)
                assert.equal("600", io.popen("stat -c %a " .. q(dir .. "/config")):read("l"))
                local c2, o2 = enom({ "--config", dir .. "/config", "balance", "--json" },
                    { env = { ENOM_UID = false, ENOM_PW = false, ENOM_ENDPOINT = false, ENOM_CA = false } })
                assert.equal(0, c2, o2)
                local c3, o3 = enom { "sandbox", "status", "--dir", dir, "--json" }
                assert.equal(0, c3)
                assert.equal(true, json_of(o3).running)
            end)
            local c4 = enom { "sandbox", "stop", "--dir", dir }
            assert(ok, res)
            assert.equal(0, c4)
            local c5, o5 = enom { "sandbox", "status", "--dir", dir, "--json" }
            assert.equal(1, c5)
            assert.equal(false, json_of(o5).running)
        end)
    end)

    describe("plan and apply", function()
        it("plan prints and saves; apply carries it out; a second apply changes nothing", function()
            local plan = WORK .. "/plan.json"
            local code, out, err = enom { "plan", "examples/people.csv", "--domain", "emptydomain.com", "--buy-paks",
                "--save", plan }
            assert.equal(0, code, err)
            assert.truthy(out:find("buy      4 pak"), out)
            assert.equal(0, H.received("PurchasePOPBundle"))
            code, out = enom { "plan", "examples/people.csv", "--domain", "emptydomain.com", "--buy-paks", "--json" }
            assert.equal(0, code)
            local doc = json_of(out)
            assert.equal(36, doc.totals.create)
            assert.equal(4, doc.totals.buy)
            -- Without a place for the passwords, apply refuses before anything.
            local _
            code, _, err = enom { "apply", plan }
            assert.equal(2, code)
            assert.truthy(err:find("--passwords", 1, true), err)
            local pw, report = WORK .. "/apply-pw.txt", WORK .. "/run.jsonl"
            os.remove(pw)
            os.remove(report)
            -- A saved plan is a request: this run's flags bound it, and
            -- without --buy-paks nothing is bought.
            code, out, err = enom { "apply", plan, "--passwords", pw }
            assert.equal(1, code, err)
            assert.truthy(err:find("nothing is bought without --buy-paks", 1, true), err)
            assert.truthy(out:find("blocked 36", 1, true), out)
            assert.equal(0, H.received("PurchasePOPBundle"))
            code, out, err = enom { "apply", plan, "--buy-paks", "--passwords", pw, "--report", report }
            assert.equal(0, code, err)
            assert.truthy(out:find("created 36"), out)
            -- stderr is not a terminal here: no progress line.
            assert.falsy(err:find("done,", 1, true), err)
            local m = mailboxes("emptydomain.com")
            assert.equal(36, count(m))
            local given = {}
            for _, l in ipairs(lines_of(read(pw))) do
                local user, p = l:match("^emptydomain%.com\t([^\t]+)\t(.+)$")
                assert.truthy(user, l)
                assert.is_nil(given[user], "password handed out twice for " .. user)
                given[user] = p
                assert.equal(m[user].password, p)
            end
            assert.equal(36, count(given))
            local recs = {}
            for _, l in ipairs(lines_of(read(report))) do recs[#recs + 1] = json_of(l) end
            assert.equal("summary", recs[#recs].type)
            assert.equal(true, recs[#recs].ok)
            -- Again, as JSON lines: nothing to do.
            code, out = enom { "apply", plan, "--passwords", pw, "--json" }
            assert.equal(0, code, out)
            local ls = lines_of(out)
            assert.equal(37, #ls)
            for i = 1, 36 do
                assert.equal("already_present", json_of(ls[i]).outcome)
            end
            assert.equal("summary", json_of(ls[37]).type)
            assert.equal(4, #H.domain("emptydomain.com").paks)
        end)

        it("a partial failure exits 1; --dry-run changes nothing", function()
            local before = H.total_received()
            local code, out = enom { "apply", "examples/people.csv", "--domain", "emptydomain.com", "--dry-run" }
            assert.equal(0, code)
            assert.truthy(out:find("blocked", 1, true), out)
            assert.equal(before + 1, H.total_received())
            assert.equal(1, H.received("GetPOP3"))
            -- Room for 10 of 36 (one pak), no buying: 26 are left out.
            enom { "paks", "buy", "emptydomain.com", "--yes" }
            local pw = WORK .. "/partial-pw.txt"
            local err
            code, out, err = enom { "apply", "examples/people.csv", "--domain", "emptydomain.com", "--passwords", pw }
            assert.equal(1, code, err)
            assert.truthy(out:find("created 10"), out)
            assert.truthy(out:find("blocked 26"), out)
            assert.equal(10, count(mailboxes("emptydomain.com")))
        end)

        it("mailboxes files with a domain column, and JSON input", function()
            write(WORK .. "/mb.json", cjson.encode {
                { domain = "shop01.com", username = "ann", display_name = "Ann" },
                { domain = "shop02.com", username = "bob", admin = true },
            })
            local code, out, err = enom { "apply", WORK .. "/mb.json", "--buy-paks", "--passwords", WORK .. "/mb-pw.txt" }
            assert.equal(0, code, err)
            assert.truthy(mailboxes("shop01.com").ann)
            assert.equal(true, mailboxes("shop02.com").bob.admin)
            assert.truthy(out:find("total: created 2"), out)
        end)

        it("Ctrl-C stops after the requests in flight, keeps the record; a second apply finishes", function()
            local pw, report = WORK .. "/int-pw.txt", WORK .. "/int.jsonl"
            os.remove(pw)
            os.remove(report)
            -- A slow eNom: every creation takes 0.4 s.
            H.faults { rules = { { kind = "delay", command = "SetUpPOP3User", ms = 400 } } }
            local env = {}
            for k, v in pairs(BASE_ENV) do env[#env + 1] = k .. "=" .. q(v) end
            local cmd = ("cd %s && env %s %s apply examples/people.csv --domain emptydomain.com --buy-paks "
                .. "--concurrency 1 --passwords %s --report %s > %s 2> %s < /dev/null & echo $! > %s; wait $!; echo $? > %s")
                :format(q(ROOT), table.concat(env, " "), q(BIN), q(pw), q(report), q(WORK .. "/int.out"),
                    q(WORK .. "/int.err"), q(WORK .. "/int.pid"), q(WORK .. "/int.rc"))
            os.remove(WORK .. "/int.rc")
            os.remove(WORK .. "/int.pid")
            local bg = io.popen("sh -c " .. q(cmd) .. " &")
            bg:close()
            -- Once the first creations are recorded, Ctrl-C.
            assert.truthy(wait_for(function()
                local t = read(report)
                return t and select(2, t:gsub('"outcome":"created"', "")) >= 10
            end, 30), "no creation recorded")
            local pid = read(WORK .. "/int.pid"):match("%d+")
            os.execute("kill -INT " .. pid)
            assert.truthy(wait_for(function() return read(WORK .. "/int.rc") ~= nil end, 30), "apply did not stop")
            local rc = tonumber(read(WORK .. "/int.rc"))
            local err = read(WORK .. "/int.err")
            ALL_OUTPUT[#ALL_OUTPUT + 1] = { args = "apply (Ctrl-C)", out = read(WORK .. "/int.out"), err = err }
            assert.equal(130, rc, err)
            assert.truthy(err:find("Ctrl-C", 1, true), err)
            H.faults {}
            local m = mailboxes("emptydomain.com")
            local made = count(m)
            assert.is_true(made >= 10 and made < 36, "created " .. made)
            -- The record is whole: every mailbox that exists was reported, the summary was written.
            local recs, created = {}, {}
            for _, l in ipairs(lines_of(read(report))) do
                local r = json_of(l)
                recs[#recs + 1] = r
                if r.outcome == "created" then created[r.username] = true end
            end
            assert.equal("summary", recs[#recs].type)
            assert.equal(false, recs[#recs].ok)
            for name in pairs(m) do
                assert.truthy(created[name], name .. " exists but the report does not say it was created")
            end
            -- Every password handed out so far is the mailbox's.
            for _, l in ipairs(lines_of(read(pw))) do
                local user, p = l:match("^emptydomain%.com\t([^\t]+)\t(.+)$")
                if m[user] then assert.equal(m[user].password, p) end
            end
            -- The second apply does the rest, nothing twice.
            local code, out, err2 = enom { "apply", "examples/people.csv", "--domain", "emptydomain.com", "--buy-paks",
                "--passwords", pw }
            assert.equal(0, code, err2)
            assert.truthy(out:find("already_present " .. made, 1, true), out)
            m = mailboxes("emptydomain.com")
            assert.equal(36, count(m))
            assert.equal(4, #H.domain("emptydomain.com").paks)
            local last = {}
            for _, l in ipairs(lines_of(read(pw))) do
                local user, p = l:match("^emptydomain%.com\t([^\t]+)\t(.+)$")
                last[user] = p
            end
            for user, mb in pairs(m) do
                assert.equal(mb.password, last[user], user)
            end
        end)

        it("Ctrl-C elsewhere: exit 130, one line, no traceback", function()
            H.faults { rules = { { kind = "delay", command = "GetPOP3", ms = 1500 } } }
            local env = {}
            for k, v in pairs(BASE_ENV) do env[#env + 1] = k .. "=" .. q(v) end
            local cmd = ("cd %s && env %s %s mailboxes list resellerdocs.com > %s 2> %s < /dev/null & "
                .. "echo $! > %s; wait $!; echo $? > %s"):format(q(ROOT), table.concat(env, " "), q(BIN),
                q(WORK .. "/sig.out"), q(WORK .. "/sig.err"), q(WORK .. "/sig.pid"), q(WORK .. "/sig.rc"))
            os.remove(WORK .. "/sig.rc")
            os.remove(WORK .. "/sig.pid")
            local bg = io.popen("sh -c " .. q(cmd) .. " &")
            bg:close()
            assert.truthy(wait_for(function() return H.received("GetPOP3") > 0 end, 10))
            os.execute("kill -INT " .. read(WORK .. "/sig.pid"):match("%d+"))
            assert.truthy(wait_for(function() return read(WORK .. "/sig.rc") ~= nil end, 10))
            H.faults {}
            local err = read(WORK .. "/sig.err")
            assert.equal(130, tonumber(read(WORK .. "/sig.rc")), err)
            assert.equal("enom: interrupted\n", err)
        end)

        it("shows a progress line on a terminal (tmux), done/total, failures, rate, ETA", function()
            local sock = "enom-cli-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))
            local script = WORK .. "/tty.sh"
            local env = {}
            for k, v in pairs(BASE_ENV) do env[#env + 1] = k .. "=" .. q(v) end
            H.faults { rules = { { kind = "delay", command = "SetUpPOP3User", ms = 150 } } }
            write(script, ("cd %s && env %s %s apply examples/people.csv --domain emptydomain.com --buy-paks "
                .. "--concurrency 1 --passwords %s --report %s > %s; echo rc=$? > %s; sleep 30\n")
                :format(q(ROOT), table.concat(env, " "), q(BIN), q(WORK .. "/tty-pw.txt"), q(WORK .. "/tty.jsonl"),
                    q(WORK .. "/tty.out"), q(WORK .. "/tty.rc")))
            os.remove(WORK .. "/tty.jsonl")
            os.remove(WORK .. "/tty.rc")
            assert(os.execute(("tmux -L %s -f /dev/null new-session -d -x 120 -y 10 'sh %s'"):format(sock, q(script))))
            local ok, res = pcall(function()
                local seen = {}
                local function pane()
                    local p = io.popen(("tmux -L %s capture-pane -p"):format(sock))
                    local t = p:read("a")
                    p:close()
                    local line = t:match("(apply %d+/36 mailboxes[^\n]*)")
                    if line then seen[#seen + 1] = line end
                    return t
                end
                assert.truthy(wait_for(function()
                    pane()
                    return read(WORK .. "/tty.rc") ~= nil
                end, 60), "apply did not finish")
                local final = pane()
                assert.truthy(read(WORK .. "/tty.rc"):find("rc=0"), read(WORK .. "/tty.rc"))
                assert.truthy(final:find("apply 36/36 mailboxes, 4 paks bought, 0 failed, [%d.]+/s, ETA 0s"), final)
                -- It moved: some line in between showed a part done and an ETA.
                local between = false
                for _, l in ipairs(seen) do
                    local done = tonumber(l:match("apply (%d+)/36"))
                    if done and done > 0 and done < 36 and l:find("ETA %d") then between = true end
                end
                assert.truthy(between, table.concat(seen, "\n"))
                -- The report went to stdout (a file), the progress line only to the terminal.
                local out = read(WORK .. "/tty.out")
                assert.truthy(out:find("created 36"), out)
                assert.falsy(out:find("done,", 1, true), out)
            end)
            os.execute(("tmux -L %s kill-server 2>/dev/null"):format(sock))
            H.faults {}
            assert(ok, res)
        end)
    end)

    it("printed no secret anywhere it was not asked to", function()
        assert.truthy(#ALL_OUTPUT > 30)
        assert.truthy(#SECRETS > 20)
        R.assert_no_secret(assert, enom, SECRETS)
    end)
end)
