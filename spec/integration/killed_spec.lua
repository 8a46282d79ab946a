-- Runs that stop at the worst moment, as separate OS processes, and the
-- run after them: never a pak bought twice, never a mailbox made twice,
-- every created mailbox's password handed out once and right.
--
-- * `enom apply FILE --buy-paks` ended by SIGTERM (cron's `timeout`),
--   SIGHUP (a dropped SSH session) or SIGKILL while its PurchasePOPBundle
--   is in flight at eNom (which takes its time), then the same command
--   again in a new process: exactly the pak needed, in XML, Text and HTML.
-- * A Redis lease holder paused (SIGSTOP) past its ttl during its
--   purchase; another process takes the domain over and settles the
--   purchase from the journal instead of buying again; the first wakes up
--   (SIGCONT) and sends nothing more.
-- * Redis losing its keys (FLUSHALL) while a holder has requests queued:
--   the holder sends none of them once another has taken over.
local H = require "helper"
local cjson = require "cjson"
local clock = require "enom.clock"

local ROOT = os.getenv("PWD")
local BIN = ROOT .. "/bin/enom"
local WORK = assert(os.getenv("ENOM_TEST_WORK"), "run through spec/run") .. "/killed"

local function q(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function sh(cmd)
    return os.execute(cmd)
end

local function read(path)
    local f = io.open(path, "r")
    if not f then
        return nil
    end
    local s = f:read("a")
    f:close()
    return s
end

local function wait_for(fn, seconds)
    local deadline = clock.now() + seconds
    while clock.now() < deadline do
        if fn() then
            return true
        end
        clock.sleep(0.05)
    end
    return fn()
end

local function lines_of(s)
    local out = {}
    for l in (s or ""):gmatch("[^\n]+") do out[#out + 1] = l end
    return out
end

-- The enom command in the background, its pid, status and output in
-- files named after `name`.
local function start_cli(name, args, env)
    local vars = {
        "ENOM_UID=" .. q(H.UID), "ENOM_PW=" .. q(H.PW), "ENOM_ENDPOINT=" .. q(H.HTTPS_URL), "ENOM_CA=" .. q(H.CA),
        "XDG_CONFIG_HOME=" .. q(WORK .. "/noconfig"),
    }
    for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. q(v) end
    local words = {}
    for i, a in ipairs(args) do words[i] = q(a) end
    local base = WORK .. "/" .. name
    os.remove(base .. ".rc")
    local cmd = ("cd %s && env -u LD_PRELOAD %s lua5.4 %s %s > %s.out 2> %s.err < /dev/null & echo $! > %s.pid; "
        .. "wait $!; echo $? > %s.rc"):format(q(ROOT), table.concat(vars, " "), q(BIN), table.concat(words, " "),
        q(base), q(base), q(base), q(base))
    assert(sh("sh -c " .. q(cmd) .. " > /dev/null 2>&1 &"))
    assert(wait_for(function() return read(base .. ".pid") ~= nil end, 10))
    return base
end

local function pid_of(base)
    return assert(read(base .. ".pid"), "no pid file"):match("%d+")
end

local function rc_of(base, seconds)
    assert(wait_for(function() return read(base .. ".rc") ~= nil end, seconds or 60), base .. " did not end: "
        .. tostring(read(base .. ".err")))
    return tonumber(read(base .. ".rc"))
end

-- A worker (spec/support/money_worker.lua) in the background.
local function start_worker(name, domain, n, env)
    local vars = { "LUA_PATH=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. ROOT
        .. "/spec/support/?.lua;" .. package.path), "LUA_CPATH=" .. q(package.cpath) }
    for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. q(v) end
    local base = WORK .. "/" .. name
    local cmd = ("cd %s && env -u LD_PRELOAD %s lua5.4 spec/support/money_worker.lua %s %d %s > %s.log 2>&1 & "
        .. "echo $! > %s.pid; wait $!; echo $? > %s.rc"):format(q(ROOT), table.concat(vars, " "), q(domain), n,
        q(base), q(base), q(base), q(base))
    assert(sh("sh -c " .. q(cmd) .. " > /dev/null 2>&1 &"))
    assert(wait_for(function() return read(base .. ".pid") ~= nil end, 10))
    return base
end

-- The passwords a file holds: user -> password, none twice.
local function passwords_in(path)
    local out = {}
    for _, l in ipairs(lines_of(read(path))) do
        local user, pw = l:match("^[^\t]+\t([^\t]+)\t(.+)$")
        assert.truthy(user, l)
        assert.is_nil(out[user], "a password handed out twice for " .. tostring(user))
        out[user] = pw
    end
    return out
end

local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

local function applied_purchases()
    local c = H.counters().commands.PurchasePOPBundle
    return c and c.applied or 0
end

describe("a run stopped at the worst moment", function()
    setup(function()
        sh("rm -rf " .. q(WORK) .. " && mkdir -p " .. q(WORK .. "/noconfig"))
    end)
    after_each(function()
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
        H.faults {}
    end)

    local function people(path, n)
        local rows = { "username,display_name" }
        for i = 1, n do rows[#rows + 1] = ("box%02d,Box %d"):format(i, i) end
        local f = assert(io.open(path, "w"))
        f:write(table.concat(rows, "\n"), "\n")
        f:close()
    end

    local CASES = {
        { "TERM", "xml", "shop41.com" }, { "HUP", "xml", "shop42.com" }, { "KILL", "xml", "shop43.com" },
        { "KILL", "text", "shop44.com" }, { "KILL", "html", "shop45.com" },
        { "TERM", "text", "shop50.com" }, { "TERM", "html", "shop51.com" },
        { "HUP", "text", "shop52.com" }, { "HUP", "html", "shop53.com" },
    }
    for _, case in ipairs(CASES) do
        local sig, format, domain = case[1], case[2], case[3]
        it(("by SIG%s during its purchase (%s): the rerun buys nothing more"):format(sig, format), function()
            H.reset()
            local name = sig:lower() .. "-" .. format
            local file, pw = WORK .. "/" .. name .. ".csv", WORK .. "/" .. name .. ".pw"
            people(file, 5)
            -- eNom takes its time to carry out a purchase.
            H.admin("POST", "/settings", { purchase_delay_ms = 1500 })
            local args = { "apply", file, "--domain", domain, "--buy-paks", "--passwords", pw,
                "--report", WORK .. "/" .. name .. ".jsonl" }
            local env = { ENOM_RESPONSE_TYPE = format }
            local first = start_cli(name .. "-1", args, env)
            assert.truthy(wait_for(function() return H.received("PurchasePOPBundle") > 0 end, 20),
                read(first .. ".err"))
            assert(sh("kill -" .. sig .. " " .. pid_of(first)))
            local rc = rc_of(first)
            if sig == "KILL" then
                assert.equal(137, rc)
            else
                -- Stopped after the request in flight: its answer is in.
                assert.equal(130, rc, read(first .. ".err"))
                assert.truthy(read(first .. ".err"):find("stopped by SIG" .. sig, 1, true), read(first .. ".err"))
                assert.equal(1, applied_purchases())
            end
            -- The operator runs the same command again at once, as the
            -- command advises; the killed run's purchase may still be
            -- under way at eNom.
            local second = start_cli(name .. "-2", args, env)
            assert.equal(0, rc_of(second, 90), read(second .. ".err") .. read(second .. ".out"))
            H.admin("POST", "/settings", { purchase_delay_ms = 0 })
            assert.equal(1, applied_purchases(), "a pak bought twice")
            assert.equal(1, #H.domain(domain).paks)
            local have = H.mailboxes(domain)
            assert.equal(5, count(have))
            local given = passwords_in(pw)
            assert.equal(5, count(given))
            for user, p in pairs(given) do
                assert.equal(have[user].password, p, user)
            end
            -- The journal is left with nothing open.
            local rc3 = rc_of(start_cli(name .. "-list", { "journal", "list", domain }))
            assert.equal(0, rc3)
            assert.truthy(read(WORK .. "/" .. name .. "-list.out"):find("no open intents", 1, true))
        end)
    end

    it("by SIGSTOP past its Redis lease during its purchase: the next holder settles it, the first sends no more", function()
        H.reset()
        local domain = "shop46.com"
        H.admin("POST", "/settings", { purchase_delay_ms = 1500 })
        local env = { ENOM_TEST_LOCK = "redis", ENOM_TEST_TTL = "2", ENOM_TEST_SETTLE = "20", ENOM_TEST_ENSURE = "1",
            ENOM_TEST_UID = "ResellID" }
        local a = start_worker("paused-a", domain, 12, env)
        assert.truthy(wait_for(function() return H.received("PurchasePOPBundle") > 0 end, 20), read(a .. ".log"))
        assert(sh("kill -STOP " .. pid_of(a)))
        -- Its lease (ttl 2 s) runs out while it sleeps; another process,
        -- with the login id in another case, takes the domain.
        clock.sleep(2.5)
        env.ENOM_TEST_UID = "resellid"
        local b = start_worker("paused-b", domain, 12, env)
        assert.equal(0, rc_of(b, 60), read(b .. ".log"))
        local setups_before = H.received("SetUpPOP3User")
        assert(sh("kill -CONT " .. pid_of(a)))
        rc_of(a, 60)
        local rb = cjson.decode(read(b .. ".json"))
        local ra = cjson.decode(read(a .. ".json"))
        assert.equal(1, applied_purchases(), "a pak bought twice")
        assert.equal(0, rb.paks_bought, "the paused holder's purchase is not this run's")
        local settled = false
        for _, e in ipairs(rb.events) do
            if e.action == "paks" and e.outcome == "bought" and e.detail:find("earlier run", 1, true) then
                settled = true
            end
        end
        assert.is_true(settled, cjson.encode(rb.events))
        assert.equal(setups_before, H.received("SetUpPOP3User"), "the woken holder sent requests on a lost lease")
        assert.is_falsy(ra.ok)
        assert.equal(0, #ra.created)
        local have = H.mailboxes(domain)
        assert.equal(12, count(have))
        for user, p in pairs(rb.handed) do
            assert.equal(have[user].password, p)
        end
        assert.equal(12, count(rb.handed))
        assert.equal(2, #H.domain(domain).paks)
    end)

    it("with Redis losing its keys while requests are queued: none of them leaves once another holds the domain", function()
        H.reset()
        local domain = "shop47.com"
        H.faults { rules = { { kind = "delay", command = "SetUpPOP3User", ms = 300 } } }
        local env = { ENOM_TEST_LOCK = "redis", ENOM_TEST_ENSURE = "1", ENOM_TEST_PER_REQUEST = "1",
            ENOM_TEST_CONCURRENCY = "1", ENOM_TEST_UID = "RESELLID" }
        local a = start_worker("flushed-a", domain, 30, env)
        -- Waves of 3 SetUps (one per pak), one in flight at a time: the
        -- 4th is the first of the second wave, the 5th and 6th are queued.
        assert.truthy(wait_for(function() return H.received("SetUpPOP3User") >= 4 end, 30), read(a .. ".log"))
        local host, port = os.getenv("ENOM_TEST_REDIS"):match("^(.+):(%d+)$")
        local log = H.admin("GET", "/requests")
        local flushed_at = log[#log].seq
        assert(sh(("redis-cli -h %s -p %s FLUSHALL > /dev/null"):format(q(host), port)))
        env.ENOM_TEST_UID = "resellid"
        local b = start_worker("flushed-b", domain, 30, env)
        rc_of(a, 60)
        local after_a = H.received("SetUpPOP3User")
        assert.equal(0, rc_of(b, 60), read(b .. ".log"))
        local ra = cjson.decode(read(a .. ".json"))
        local rb = cjson.decode(read(b .. ".json"))
        local lost = false
        for _, e in ipairs(ra.events) do
            if e.action == "lease" and e.outcome == "lost" then lost = true end
        end
        assert.is_true(lost, cjson.encode(ra.events))
        -- A (its login id in upper case) sent nothing that arrived after
        -- the FLUSHALL: what it had queued was withdrawn unsent.
        local late = 0
        for _, r in ipairs(H.admin("GET", "/requests")) do
            if r.seq > flushed_at and r.uid == "RESELLID" and r.command == "SetUpPOP3User" then
                late = late + 1
            end
        end
        assert.equal(0, late, "requests sent on a lost lease")
        assert.truthy(H.received("SetUpPOP3User") - after_a >= 30 - #ra.created - 1)
        local have = H.mailboxes(domain)
        assert.equal(30, count(have))
        local handed = {}
        for u, p in pairs(ra.handed) do handed[u] = p end
        for u, p in pairs(rb.handed) do
            assert.is_nil(handed[u], "two runs handed out a password for " .. u)
            handed[u] = p
        end
        assert.equal(30, count(handed))
        for u, p in pairs(handed) do
            assert.equal(have[u].password, p, u)
        end
    end)
end)
