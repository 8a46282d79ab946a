-- Separate OS processes applying the same domain at once (two cron runs
-- overlapping, two hosts), with the host lock, in repeated trials; and a
-- process killed with SIGKILL in the middle of an apply, then a second
-- apply that finishes the job. Each trial ends exact: the desired
-- mailboxes and no more, paks bought = paks needed, every mailbox
-- reported created has the password that was handed out. The same for
-- renewals: two processes ensuring a renew policy on one domain renew
-- each pak in the window once, and a process killed while its renewal is
-- in flight leaves it to the next run to settle, never to send again.
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
local function spawn(domain, n, out, start, lock, env)
    local vars = {}
    for k, v in pairs(env or {}) do vars[#vars + 1] = k .. "=" .. v end
    local cmd = ("cd %s && %s ENOM_TEST_LOCK=%s LUA_PATH='%s' LUA_CPATH='%s' sh -c "
        .. "'echo $$ > %s.pid; exec lua5.4 spec/support/money_worker.lua %s %d %s %s' > %s.log 2>&1 &")
        :format(ROOT, table.concat(vars, " "), lock or "default", LPATH, CPATH, out, domain, n, out, start or "", out)
    assert(sh(cmd))
    return out
end

-- Wait until the file `path` is there (at most `seconds`).
local function wait_for(path, seconds)
    return H.wait_for(function()
        local f = io.open(path)
        if f then f:close() return true end
        return false
    end, seconds)
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
local UID_SPELLINGS = { H.UID, H.UID:upper(), H.UID:sub(1, 1):upper() .. H.UID:sub(2), H.UID:lower() }

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
            -- eNom's login ids are not case sensitive: the processes spell
            -- the one account's differently, and still share its leases.
            outs[p] = spawn(domain, BOXES, dir .. "/p" .. p, start, lock,
                { ENOM_TEST_UID = UID_SPELLINGS[(p - 1) % #UID_SPELLINGS + 1] })
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

local in_days, year_later, expiries = H.in_days, H.year_later, H.expiries

-- Give `domain` paks expiring in `days` (an array) and return their ids
-- and expiry dates.
local function paks_expiring(domain, days)
    H.reset()
    local ids, dates = {}, {}
    H.edit(function(d)
        if d.name == domain then
            d.paks = {}
            for i, n in ipairs(days) do
                ids[i] = 8000 + i
                dates[ids[i]] = in_days(n)
                d.paks[i] = { bundle_id = ids[i], size = 10, exp_date = dates[ids[i]], auto_renew = false }
            end
        end
    end)
    return ids, dates
end

-- RENEW_TRIALS trials of two processes ensuring a renew policy on one domain.
local RENEW_TRIALS = 3

local function renew_trials(lock)
    for trial = 1, RENEW_TRIALS do
        local domain = ("shop%02d.com"):format(50 + trial)
        -- Three paks in a 30-day window, one outside it.
        local ids, dates = paks_expiring(domain, { 3, 12, 29, 90 })
        -- Renewals take eNom a while: the two runs overlap.
        H.admin("POST", "/settings", { purchase_delay_ms = 400 })
        local dir = ("%s/renew-%s-%d"):format(WORK, lock, trial)
        sh("rm -rf " .. dir .. " && mkdir -p " .. dir)
        local start = dir .. "/start"
        local outs = {}
        for p = 1, 2 do
            outs[p] = spawn(domain, 0, dir .. "/p" .. p, start, lock, { ENOM_TEST_ENSURE = "1", ENOM_TEST_RENEW = "30" })
        end
        clock.sleep(0.3)
        assert(io.open(start, "w")):close()
        local renewed = {}
        for p = 1, 2 do
            assert.is_true(wait_for(outs[p] .. ".json", 90), "worker " .. p .. ": " .. log_of(outs[p]))
            local r = read_json(outs[p] .. ".json")
            assert.is_true(r.ok, log_of(outs[p]))
            for _, e in ipairs(r.events) do
                if e.action == "renew" then
                    assert.equal("renewed", e.outcome)
                    assert.is_nil(renewed[e.bundle_id], "pak " .. tostring(e.bundle_id) .. " renewed twice")
                    renewed[e.bundle_id] = p
                end
            end
        end
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
        local now = expiries(domain)
        for i = 1, 3 do
            assert.truthy(renewed[ids[i]], "pak " .. ids[i] .. " not renewed")
            assert.equal(year_later(dates[ids[i]]), now[ids[i]])
        end
        assert.is_nil(renewed[ids[4]])
        assert.equal(dates[ids[4]], now[ids[4]])
        assert.equal(3, H.received("RenewPOPBundle"))
    end
end

describe("concurrency", function()
    it(("renews each pak in the window once with two processes ensuring one domain at once, host lock, %d trials")
        :format(RENEW_TRIALS), function()
        renew_trials("default")
    end)

    it(("renews each pak in the window once with two processes ensuring one domain at once, Redis lock, %d trials")
        :format(RENEW_TRIALS), function()
        assert.truthy(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set: spec/run starts Redis")
        renew_trials("redis")
    end)

    it("leaves a renewal in flight when its process is killed to the next run, which settles it and sends nothing",
        function()
        local domain = "shop55.com"
        local ids, dates = paks_expiring(domain, { 5 })
        H.admin("POST", "/settings", { purchase_delay_ms = 3000 })
        local dir = WORK .. "/renew-kill"
        sh("rm -rf " .. dir .. " && mkdir -p " .. dir)
        local out = spawn(domain, 0, dir .. "/victim", nil, "default", { ENOM_TEST_ENSURE = "1", ENOM_TEST_RENEW = "30" })
        H.wait_for(function() return H.received("RenewPOPBundle") > 0 end, 30)
        assert.equal(1, H.received("RenewPOPBundle"), log_of(out))
        assert(sh("kill -9 " .. pid_of(out)))
        clock.sleep(0.2)
        assert.is_nil(io.open(out .. ".json"), "the victim finished before the kill")
        -- At once, while eNom still works on it: the next run waits for the
        -- expiry to move rather than renewing again.
        local c = H.client()
        local rep = assert(provision.ensure(c, { { domain = domain } }, {
            renew = { within_days = 30 }, settle = 20, settle_interval = 0.2 }))
        H.admin("POST", "/settings", { purchase_delay_ms = 0 })
        assert.is_true(rep.ok, rep:format())
        assert.equal(1, H.received("RenewPOPBundle"))
        assert.equal(year_later(dates[ids[1]]), expiries(domain)[ids[1]])
        local e = rep:events_with("renew")
        assert.equal(1, #e)
        assert.equal("renewed", e[1].outcome)
        assert.truthy(e[1].detail:find("earlier run", 1, true), e[1].detail)
    end)

    it(("gives %d processes applying one domain at once the exact result, login id spelt in any case, host lock, %d trials")
        :format(PROCS, TRIALS), function()
        trials("default", 20)
    end)

    it(("gives %d processes applying one domain at once the exact result, login id spelt in any case, Redis lock, %d trials")
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
