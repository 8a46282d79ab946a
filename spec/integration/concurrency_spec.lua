-- Separate OS processes applying the same domain at once (two cron runs
-- overlapping, two hosts), with the host lock, in repeated trials; and a
-- process killed with SIGKILL in the middle of an apply, then a second
-- apply that finishes the job. Each trial ends exact: the desired
-- mailboxes and no more, paks bought = paks needed, every mailbox
-- reported created has the password that was handed out.
local H = require "helper"
local provision = require "enom.provision"
local clock = require "enom.clock"

local ROOT = os.getenv("PWD")
local WORK = os.getenv("ENOM_TEST_WORK") or "/tmp"
local CPATH = ROOT .. "/build/5.4/?.so;" .. package.cpath
local LPATH = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. ROOT .. "/spec/support/?.lua;" .. package.path

local PROCS, TRIALS, BOXES = 4, 5, 25

local function sh(cmd)
    return os.execute(cmd)
end

local function read_json(path)
    local f = io.open(path)
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return H.json.decode(s)
end

-- Start a worker in the background; returns the file prefix of its output.
local function spawn(domain, n, out, start, lock)
    local cmd = ("cd %s && ENOM_TEST_LOCK=%s LUA_PATH='%s' LUA_CPATH='%s' sh -c "
        .. "'echo $$ > %s.pid; exec lua5.4 spec/support/money_worker.lua %s %d %s %s' > %s.log 2>&1 &")
        :format(ROOT, lock or "default", LPATH, CPATH, out, domain, n, out, start or "", out)
    assert(sh(cmd))
    return out
end

local function wait_for(path, seconds)
    local deadline = clock.now() + seconds
    while clock.now() < deadline do
        local f = io.open(path)
        if f then f:close() return true end
        clock.sleep(0.05)
    end
    return false
end

local function pid_of(out)
    local f = io.open(out .. ".pid")
    local pid = f and f:read("n")
    if f then f:close() end
    return pid
end

local function log_of(out)
    local f = io.open(out .. ".log")
    local s = f and f:read("a") or ""
    if f then f:close() end
    return s
end

-- TRIALS trials of PROCS processes applying one domain at once.
local function trials(lock, first_domain)
    local doubled_paks, wrong, extra = 0, 0, 0
    for trial = 1, TRIALS do
        H.reset()
        local domain = ("shop%02d.com"):format(first_domain + trial)
        local dir = ("%s/conc-%s-%d"):format(WORK, lock, trial)
        sh("rm -rf " .. dir .. " && mkdir -p " .. dir)
        local start = dir .. "/start"
        local outs = {}
        for p = 1, PROCS do
            outs[p] = spawn(domain, BOXES, dir .. "/p" .. p, start, lock)
        end
        clock.sleep(0.3)
        assert(io.open(start, "w")):close()
        local results = {}
        for p = 1, PROCS do
            assert.is_true(wait_for(outs[p] .. ".json", 90), "worker " .. p .. ": " .. log_of(outs[p]))
            results[p] = read_json(outs[p] .. ".json")
        end
        local have = H.mailboxes(domain)
        local bought, creators = 0, {}
        for p, r in ipairs(results) do
            bought = bought + r.paks_bought
            for _, u in ipairs(r.created) do
                assert.is_nil(creators[u], u .. " reported created twice")
                creators[u] = p
                if not have[u] or have[u].password ~= r.handed[u] then
                    wrong = wrong + 1
                end
            end
        end
        local n = 0
        for _ in pairs(have) do n = n + 1 end
        extra = extra + math.max(0, n - BOXES)
        doubled_paks = doubled_paks + math.max(0, #H.domain(domain).paks - 3)
        assert.equal(BOXES, n)
        assert.equal(3, #H.domain(domain).paks)
        assert.equal(3, bought)
        local reported = 0
        for _ in pairs(creators) do reported = reported + 1 end
        assert.equal(BOXES, reported)
        assert.equal(0, wrong)
    end
    print(("\n# concurrency (%s lock): %d trials x %d processes x %d mailboxes: extra mailboxes %d, "
        .. "extra paks %d, wrong passwords %d"):format(lock, TRIALS, PROCS, BOXES, extra, doubled_paks, wrong))
end

describe("concurrency", function()
    it(("gives %d processes applying one domain at once the exact result, host lock, %d trials")
        :format(PROCS, TRIALS), function()
        trials("default", 20)
    end)

    it(("gives %d processes applying one domain at once the exact result, Redis lock, %d trials")
        :format(PROCS, TRIALS), function()
        assert.truthy(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set: spec/run starts Redis")
        trials("redis", 40)
    end)

    it("finishes the job of a process killed with SIGKILL mid-apply, doubling nothing", function()
        H.reset()
        local domain, n = "shop30.com", 40
        local dir = WORK .. "/conc-kill"
        sh("rm -rf " .. dir .. " && mkdir -p " .. dir)
        -- Slow SetUps, so the kill lands in the middle.
        H.faults { rules = { { kind = "delay", command = "SetUpPOP3User", ms = 250 } } }
        local out = spawn(domain, n, dir .. "/victim")
        local deadline = clock.now() + 30
        local seen = 0
        while clock.now() < deadline and seen < 5 do
            clock.sleep(0.05)
            seen = 0
            local f = io.open(out .. ".progress")
            if f then
                for line in f:lines() do
                    if line:find('"outcome":"created"', 1, true) then seen = seen + 1 end
                end
                f:close()
            end
        end
        assert.truthy(seen >= 5, "the victim created nothing: " .. log_of(out))
        assert(sh("kill -9 " .. pid_of(out)))
        clock.sleep(0.5)
        assert.is_nil(io.open(out .. ".json"), "the victim finished before the kill")
        H.faults {}
        local before_paks = #H.domain(domain).paks
        assert.equal(4, before_paks)
        -- A second apply, in this process, finishes the job.
        local desired = {}
        for i = 1, n do desired[i] = { username = ("box%03d"):format(i) } end
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = domain, mailboxes = desired } }, { buy_paks = true }))
        local handed = {}
        local rep = assert(provision.apply(c, plan, { on_password = function(_, u, pw) handed[u] = pw end }))
        assert.is_true(rep.ok, rep:format())
        assert.equal(0, rep.paks_bought)
        local have = H.mailboxes(domain)
        local count = 0
        for _ in pairs(have) do count = count + 1 end
        assert.equal(n, count)
        assert.equal(4, #H.domain(domain).paks)
        assert.equal(1, H.counters().commands.PurchasePOPBundle.applied)
        for _, m in ipairs(rep:with("created")) do
            assert.equal(have[m.username].password, handed[m.username])
        end
        assert.equal(n, (rep.counts.created or 0) + (rep.counts.already_present or 0))
    end)
end)
