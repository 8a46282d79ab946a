-- Streamed runs against the sandbox: desired state one domain at a time
-- (a Lua function, a CSV or JSON lines file grouped by domain) through
-- provision.ensure, read only as domains finish; the report keeps counts
-- and what fell short, the report file every record; a wrong entry stops
-- the stream there and loses nothing before it.
local H = require "helper"
local R = require "cli_runner"
local cjson = require "cjson"
local provision = require "enom.provision"
local input = require "enom.provision.input"

local WORK = (os.getenv("ENOM_TEST_WORK") or "/tmp") .. "/stream"

local function write(path, text)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
end

local function lines(path)
    local out = {}
    for l in io.lines(path) do
        out[#out + 1] = cjson.decode(l)
    end
    return out
end

-- A state with `n` empty domains named s01.com, s02.com, ...
local function seed(n)
    H.reset()
    local st = H.state()
    for i = 1, n do
        st.domains[#st.domains + 1] = { name = ("s%02d.com"):format(i), owner = H.UID, service_select = "POP" }
    end
    H.reset(st)
end

local function policy(extra)
    local p = { buy_paks = true, max_paks_per_run = 100, lock = "process", journal = false, backoff_base = 0.01,
        on_password = function() end }
    for k, v in pairs(extra or {}) do
        p[k] = v
    end
    return p
end

describe("streamed runs", function()
    setup(function()
        os.execute("rm -rf " .. WORK .. " && mkdir -p " .. WORK)
    end)
    teardown(function()
        os.execute("rm -rf " .. WORK)
    end)

    it("take a CSV file one domain at a time; the report counts all, the file holds every record", function()
        seed(4)
        local csv = WORK .. "/mailboxes.csv"
        local rows = { "domain,username,display_name,admin" }
        for d = 1, 4 do
            for u = 1, 12 do
                rows[#rows + 1] = ("s%02d.com,user%02d,\"User %02d, staff\",%s"):format(d, u, u, u == 1 and "yes" or "")
            end
        end
        write(csv, table.concat(rows, "\n") .. "\n")
        local given = {}
        local report_file = WORK .. "/run.jsonl"
        os.remove(report_file)
        local c = H.client()
        local rep = assert(provision.ensure(c, input.desired(assert(input.csv_records(csv))), policy {
            report_file = report_file,
            on_password = function(domain, user, pw)
                assert.is_nil(given[domain .. "/" .. user], "one password per mailbox")
                given[domain .. "/" .. user] = pw
            end,
        }))
        c:close()
        assert.is_true(rep.ok, rep:format())
        assert.equal(48, rep.counts.created)
        -- Nothing fell short: nothing kept but the counts.
        assert.equal(0, #rep.mailboxes)
        assert.equal("short", rep.keep)
        local recs = lines(report_file)
        local created = 0
        for _, r in ipairs(recs) do
            if r.type == "mailbox" and r.outcome == "created" then created = created + 1 end
        end
        assert.equal(48, created)
        assert.equal("summary", recs[#recs].type)
        -- Each password handed out is the mailbox's own; admins as the file says.
        for d = 1, 4 do
            local m = H.mailboxes(("s%02d.com"):format(d))
            for u = 1, 12 do
                local name = ("user%02d"):format(u)
                assert.equal(given[("s%02d.com/"):format(d) .. name], m[name].password)
                assert.equal(u == 1, m[name].admin == true, name)
                assert.equal(("User %02d, staff"):format(u), m[name].display_name)
            end
        end
        -- Run again: nothing to do, nothing bought.
        c = H.client()
        rep = assert(provision.ensure(c, input.desired(assert(input.csv_records(csv))), policy()))
        c:close()
        assert.is_true(rep.ok, rep:format())
        assert.equal(48, rep.counts.already_present)
        assert.equal(0, rep.paks_bought)
    end)

    it("keep what fell short in memory, and the text report says where the rest is", function()
        seed(2)
        local c = H.client()
        local d = 0
        local rep = assert(provision.ensure(c, function()
            d = d + 1
            if d > 2 then return nil end
            return { domain = ("s%02d.com"):format(d), mailboxes = { { username = "ann" }, { username = "bad name" } } }
        end, policy { report_file = WORK .. "/short.jsonl" }))
        c:close()
        assert.is_false(rep.ok)
        assert.equal(2, rep.counts.created)
        assert.equal(2, rep.counts.invalid)
        assert.equal(2, #rep.mailboxes)
        for _, m in ipairs(rep.mailboxes) do
            assert.equal("invalid", m.outcome)
        end
        local text = rep:format()
        assert.truthy(text:find("every record is in " .. WORK .. "/short.jsonl", 1, true), text)
    end)

    it("stop at an entry that is wrong: the domains before it are done, nothing after it is read", function()
        seed(4)
        local c = H.client()
        local asked = 0
        local entries = {
            { domain = "s01.com", mailboxes = { { username = "ann" } } },
            { domain = "s02.com", mailboxes = { { username = "bob" } } },
            { domain = "s01.com", mailboxes = { { username = "cy" } } },   -- again
            { domain = "s03.com", mailboxes = { { username = "di" } } },
        }
        local rep = assert(provision.ensure(c, function()
            asked = asked + 1
            return entries[asked]
        end, policy { concurrency = 1 }))
        c:close()
        assert.is_false(rep.ok)
        assert.truthy(tostring(rep.error):find("desired[3]: domain s01.com appears twice", 1, true), rep.error)
        assert.truthy(H.mailboxes("s01.com").ann)
        assert.truthy(H.mailboxes("s02.com").bob)
        assert.is_nil(H.mailboxes("s01.com").cy)
        assert.is_nil(H.mailboxes("s03.com").di)
        assert.equal(3, asked)
    end)

    it("stop on a file whose domain comes back after another, naming the record", function()
        seed(2)
        local csv = WORK .. "/unsorted.csv"
        write(csv, "domain,username\ns01.com,ann\ns02.com,bob\ns01.com,cy\n")
        local c = H.client()
        local rep = assert(provision.ensure(c, input.desired(assert(input.csv_records(csv))), policy()))
        c:close()
        assert.is_false(rep.ok)
        assert.truthy(tostring(rep.error):find("record 3: s01.com comes again after other domains", 1, true),
            rep.error)
        assert.truthy(H.mailboxes("s01.com").ann)
        assert.is_nil(H.mailboxes("s01.com").cy)
    end)

    it("stop with the error of an iterator that raises, and let go of every lease", function()
        seed(2)
        local c = H.client()
        local lease = require "enom.lease"
        local locker = lease.new { backend = "process" }
        local n = 0
        local rep = assert(provision.ensure(c, function()
            n = n + 1
            if n == 2 then error("the feed broke") end
            if n > 2 then return nil end
            return { domain = "s01.com", mailboxes = { { username = "ann" } } }
        end, policy { lock = locker }))
        assert.is_false(rep.ok)
        assert.truthy(tostring(rep.error):find("the feed broke", 1, true), rep.error)
        assert.truthy(H.mailboxes("s01.com").ann)
        local l = assert(locker:acquire(lease.key(c.uid, "s01.com"), { ttl = 5, wait = 0 }))
        l:release()
        c:close()
    end)

    it("read JSON lines files, and say which line is not JSON", function()
        seed(2)
        local path = WORK .. "/m.jsonl"
        write(path, '{"domain":"s01.com","username":"ann"}\n\n{"domain":"s02.com","username":"bob","admin":true}\n')
        local c = H.client()
        local rep = assert(provision.ensure(c, input.desired(assert(input.jsonl_records(path))), policy()))
        assert.is_true(rep.ok, rep:format())
        assert.is_true(H.mailboxes("s02.com").bob.admin)
        write(path, '{"domain":"s01.com","username":"ann"}\n{"domain": nope}\n')
        rep = assert(provision.ensure(c, input.desired(assert(input.jsonl_records(path))), policy()))
        c:close()
        assert.is_false(rep.ok)
        assert.truthy(tostring(rep.error):find("JSON line 2", 1, true), rep.error)
    end)

    describe("enom apply FILE", function()
        local run = R.new(H, "stream-cli")

        it("streams a file sorted by domain, checked whole before the first request", function()
            seed(3)
            local csv = run.work .. "/m.csv"
            R.write(csv, "domain,username\ns01.com,ann\ns01.com,bob\ns02.com,cy\ns03.com,di\n")
            local code, out, err = run { "apply", csv, "--buy-paks", "--passwords", run.work .. "/pw.txt" }
            assert.equal(0, code, err)
            assert.truthy(out:find("created 4", 1, true), out)
            assert.is_nil(err:find("read whole", 1, true), err)
            assert.truthy(H.mailboxes("s03.com").di)
            -- A record that is wrong, late in the file: nothing is sent.
            R.write(csv, "domain,username,display_name\ns01.com,eve,\ns02.com,fay,\ns03.com,gil,\ns03.com,,Hal Ray\n")
            local before = H.total_received()
            local refused, _, why = run { "apply", csv, "--buy-paks", "--passwords", run.work .. "/pw.txt" }
            assert.equal(2, refused)
            assert.truthy(why:find("record 2 of s03.com has no username", 1, true), why)
            assert.equal(before, H.total_received())
            -- A name eNom would refuse is the mailbox's own failure: the rest is done.
            R.write(csv, "domain,username\ns01.com,eve\ns03.com,bad name\n")
            code, out = run { "apply", csv, "--buy-paks", "--passwords", run.work .. "/pw.txt" }
            assert.equal(1, code)
            assert.truthy(out:find("invalid 1", 1, true), out)
            assert.truthy(H.mailboxes("s01.com").eve)
            R.assert_no_secret(assert, run, { H.PW })
        end)

        it("reads a file whose domains are not together whole, and says so", function()
            seed(2)
            local csv = run.work .. "/u.csv"
            R.write(csv, "domain,username\ns01.com,ann\ns02.com,bob\ns01.com,cy\n")
            local code, out, err = run { "apply", csv, "--buy-paks", "--passwords", run.work .. "/pw.txt" }
            assert.equal(0, code, err)
            assert.truthy(err:find("read whole (sort it by domain to stream it)", 1, true), err)
            assert.truthy(out:find("created 3", 1, true), out)
            assert.truthy(H.mailboxes("s01.com").cy)
        end)
    end)
end)
