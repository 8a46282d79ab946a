-- Provisioning across processes on one Redis Stream: `enom enqueue`
-- puts 240 domains on a queue, 4 `enom worker` processes (leases and
-- journal in the same Redis, as on several hosts) run them, and one is
-- SIGKILLed in the middle of a job (its purchase in flight at eNom). The
-- others take its job over after the idle time and finish everything:
-- every domain exactly as desired in the sandbox, no pak bought twice,
-- every created mailbox's password handed out, and `enom jobs status`
-- right.
local H = require "helper"
local R = require "cli_runner"
local clock = require "enom.clock"

local ROOT = os.getenv("PWD")
local BIN = ROOT .. "/bin/enom"
local WORK = assert(os.getenv("ENOM_TEST_WORK"), "run through spec/run") .. "/queue"
local REDIS = assert(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set: run through spec/run")

local DOMAINS, PER, WORKERS = 240, 6, 4

local q, read = R.q, R.read

local function domain_name(i)
    return ("qjob%04d.com"):format(i)
end

local QUEUE = ("spec%d%d"):format(os.time(), math.random(1e6))

local function env_words(extra)
    local vars = {
        "ENOM_UID=" .. q(H.UID), "ENOM_PW=" .. q(H.PW), "ENOM_ENDPOINT=" .. q(H.URL),
        "XDG_CONFIG_HOME=" .. q(WORK .. "/noconfig"), "ENOM_LOCK=redis", "ENOM_REDIS=" .. q(REDIS),
        "LUA_PATH=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. package.path),
        "LUA_CPATH=" .. q(package.cpath),
    }
    for k, v in pairs(extra or {}) do vars[#vars + 1] = k .. "=" .. q(v) end
    return table.concat(vars, " ")
end

-- The enom command, waited for: its status and output.
local function enom(args)
    local words = {}
    for i, a in ipairs(args) do words[i] = q(a) end
    local p = io.popen(("cd %s && env -u LD_PRELOAD %s lua5.4 %s %s 2>&1; echo \"rc=$?\""):format(q(ROOT),
        env_words(), q(BIN), table.concat(words, " ")))
    local out = p:read("a")
    p:close()
    return tonumber(out:match("rc=(%d+)%s*$")), out
end

-- A worker in the background; its pid and files are named after `name`.
local function start_worker(name, args)
    local words = {}
    for i, a in ipairs(args) do words[i] = q(a) end
    local base = WORK .. "/" .. name
    local cmd = ("cd %s && env -u LD_PRELOAD %s lua5.4 %s worker %s > %s.out 2> %s.err < /dev/null & "
        .. "echo $! > %s.pid; wait $!; echo $? > %s.rc"):format(q(ROOT), env_words(), q(BIN),
        table.concat(words, " "), q(base), q(base), q(base), q(base))
    assert(os.execute("sh -c " .. q(cmd) .. " > /dev/null 2>&1 &"))
    assert(H.wait_for(function() return read(base .. ".pid") ~= nil end, 10))
    return base
end

local function lines_of(s)
    local out = {}
    for l in (s or ""):gmatch("[^\n]+") do out[#out + 1] = l end
    return out
end

describe("the job queue across worker processes", function()
    local bases = {}

    setup(function()
        os.execute("rm -rf " .. q(WORK) .. " && mkdir -p " .. q(WORK .. "/noconfig"))
    end)

    teardown(function()
        for _, base in ipairs(bases) do
            local pid = (read(base .. ".pid") or ""):match("%d+")
            if pid and not read(base .. ".rc") then
                os.execute("kill -KILL " .. pid .. " 2>/dev/null")
            end
        end
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
        enom { "jobs", "clear", "--yes", "--queue", QUEUE }
        H.reset()
    end)

    it("finishes every domain exactly, the jobs of a killed worker included, never buying twice", function()
        H.reset()
        local st = H.state()
        st.accounts[1].balance = 1e7
        local rows = { "domain,username,display_name" }
        for i = 1, DOMAINS do
            st.domains[#st.domains + 1] = { name = domain_name(i), owner = H.UID, service_select = "POP" }
            for j = 1, PER do
                rows[#rows + 1] = ("%s,staff%d,Staff %d"):format(domain_name(i), j, j)
            end
        end
        H.reset(st)
        -- A purchase takes its time at eNom: a worker is always in the
        -- middle of one.
        H.admin("POST", "/settings", { purchase_delay_ms = 150 })
        local csv = WORK .. "/domains.csv"
        local f = assert(io.open(csv, "w"))
        f:write(table.concat(rows, "\n"), "\n")
        f:close()

        local rc, out = enom { "enqueue", csv, "--buy-paks", "--queue", QUEUE }
        assert.equal(0, rc, out)
        assert.matches(DOMAINS .. " jobs on queue " .. QUEUE, out)

        local args = { "--buy-paks", "--queue", QUEUE, "--claim-idle", "2", "--lease-ttl", "3", "--until-empty",
            "--concurrency", "4" }
        for i = 1, WORKERS do
            local a = { "--passwords", WORK .. "/pw" .. i .. ".txt", "--report", WORK .. "/report" .. i .. ".jsonl",
                "--name", "w" .. i }
            for _, x in ipairs(args) do a[#a + 1] = x end
            bases[i] = start_worker("w" .. i, a)
        end

        -- Worker 1 dies with a job in hand, once it has done a few.
        assert.is_true(H.wait_for(function() return #lines_of(read(bases[1] .. ".out")) >= 5 end, 120),
            tostring(read(bases[1] .. ".err")))
        -- Frozen first, so that it is killed holding a job, not between two.
        local victim = read(bases[1] .. ".pid"):match("%d+")
        local status, held
        for _ = 1, 50 do
            os.execute("kill -STOP " .. victim)
            _, status = enom { "jobs", "status", "--json", "--queue", QUEUE }
            held = H.json.decode(status:match("^[^\n]*")).consumers.w1 or 0
            if held >= 1 then
                break
            end
            os.execute("kill -CONT " .. victim)
            clock.sleep(0.05)
        end
        os.execute("kill -KILL " .. victim)
        assert.is_true(held >= 1, "the killed worker held no job: " .. status)

        for i = 2, WORKERS do
            assert.is_true(H.wait_for(function() return read(bases[i] .. ".rc") ~= nil end, 300),
                "worker " .. i .. " did not end: " .. tostring(read(bases[i] .. ".err")))
            assert.equal("0", read(bases[i] .. ".rc"):match("%d+"), read(bases[i] .. ".err"))
        end

        -- The queue: everything done, nothing pending, the dead worker's job claimed.
        rc, status = enom { "jobs", "status", "--json", "--queue", QUEUE }
        assert.equal(0, rc, status)
        local s = H.json.decode(status:match("^[^\n]*"))
        assert.equal(DOMAINS, s.enqueued)
        assert.equal(DOMAINS, s.done)
        assert.equal(0, s.failed)
        assert.equal(0, s.pending)
        assert.equal(0, s.waiting)
        assert.is_true(s.claimed >= 1, status)
        rc, out = enom { "jobs", "status", "--queue", QUEUE }
        assert.equal(0, rc, out)
        assert.matches(("%d enqueued, 0 waiting, 0 pending, %d done, 0 failed"):format(DOMAINS, DOMAINS), out)

        -- The sandbox: every domain exact, one pak each, bought once.
        local purchases = H.counters().commands.PurchasePOPBundle
        assert.equal(DOMAINS, purchases.applied)
        local handed = {}
        for i = 1, WORKERS do
            for _, l in ipairs(lines_of(read(WORK .. "/pw" .. i .. ".txt"))) do
                local d, user, pw = l:match("^([^\t]+)\t([^\t]+)\t(.+)$")
                local key = d .. "/" .. user
                assert.is_nil(handed[key], "a password handed out twice: " .. key)
                handed[key] = pw
            end
        end
        local state = H.state()
        for i = 1, DOMAINS do
            local d = H.domain(domain_name(i), state)
            assert.equal(1, #d.paks, domain_name(i))
            local users = {}
            for _, m in ipairs(d.mailboxes) do
                users[#users + 1] = m.username
                assert.equal(m.password, handed[domain_name(i) .. "/" .. m.username],
                    "the password of " .. m.username .. "@" .. domain_name(i))
            end
            table.sort(users)
            assert.same({ "staff1", "staff2", "staff3", "staff4", "staff5", "staff6" }, users)
        end
        -- Nothing secret reached Redis's results or the reports.
        for i = 1, WORKERS do
            local rep = read(WORK .. "/report" .. i .. ".jsonl") or ""
            for _, pw in pairs(handed) do
                assert.is_nil(rep:find(pw, 1, true), "a password in a report")
            end
        end
    end)
end)
