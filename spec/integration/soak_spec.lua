-- Soak: 40 domains, 1,000 mailboxes, the sandbox failing 25% of requests
-- with every fault kind, "closed after the command took effect" among
-- them. At the end the sandbox holds exactly the desired state and the
-- report agrees with the sandbox's own request counters.
local H = require "helper"
local provision = require "enom.provision"

local DOMAINS, PER_DOMAIN = 40, 25

-- One soak run; `ensure` plans and applies in one run (one read a domain).
local function soak(ensure)
    H.reset()
    local c = H.client { timeout = 20 }
    local desired = {}
    for d = 1, DOMAINS do
        local boxes = {}
        for i = 1, PER_DOMAIN do
            boxes[i] = { username = ("m%02d.%02d"):format(d, i), display_name = "Mailbox " .. i, admin = i == 1 }
        end
        desired[d] = { domain = ("shop%02d.com"):format(d), mailboxes = boxes }
    end
    local policy = { buy_paks = true, max_paks_per_run = 200, concurrency = 8, attempts = 8,
        backoff_base = 0.02, backoff_cap = 0.5, circuit = 40, budget = 240,
        -- A purchase lost to a fault settles within a second here.
        settle = 1, settle_interval = 0.2 }
    local plan
    if not ensure then
        plan = assert(provision.plan(c, desired, policy))
        local t = plan:totals()
        assert.equal(DOMAINS * PER_DOMAIN, t.create)
        assert.equal(DOMAINS * 3, t.buy)
    end

    H.admin("DELETE", "/counters")
    H.faults { rate = 0.25, seed = 20261128, kinds = { "close_before", "close_after", "status500", "status503",
        "status_after", "cut", "garbage", "trickle", "delay" } }
    local passwords = {}
    local function on_password(domain, user, pw)
        local key = domain .. "/" .. user
        assert.is_nil(passwords[key], "password handed out twice for " .. key)
        passwords[key] = pw
    end
    local rep
    if ensure then
        policy.on_password = on_password
        rep = assert(provision.ensure(c, desired, policy))
    else
        rep = assert(provision.apply(c, plan, { on_password = on_password }))
    end
    H.faults {}
    local counters = H.counters()

    -- The sandbox's state equals the desired state.
    local st = H.state()
    local missing, extra, wrong_pw, paks = 0, 0, 0, 0
    for _, want in ipairs(desired) do
        local have = H.mailboxes(want.domain, st)
        local wanted = {}
        for _, m in ipairs(want.mailboxes) do
            wanted[m.username] = true
            local got = have[m.username]
            if not got then
                missing = missing + 1
            elseif got.password ~= passwords[want.domain .. "/" .. m.username] then
                wrong_pw = wrong_pw + 1
            end
        end
        for name in pairs(have) do
            if not wanted[name] then extra = extra + 1 end
        end
        paks = paks + #H.domain(want.domain, st).paks
    end
    local faults = 0
    for _, n in pairs(counters.totals.faults or {}) do
        faults = faults + n
    end
    print(("\n# soak (%s): %d mailboxes on %d domains; %d requests (%d faults injected), %d retries, "
        .. "%d read-backs, %d paks bought, %.1f s; missing %d, extra %d, wrong password %d")
        :format(ensure and "ensure" or "plan + apply", DOMAINS * PER_DOMAIN, DOMAINS, rep.sent, faults,
            rep.retries, rep.reconciles, rep.paks_bought, rep.seconds, missing, extra, wrong_pw))
    assert.is_nil(rep.stopped)
    assert.is_true(rep.ok, rep:format())
    assert.equal(DOMAINS * PER_DOMAIN, rep.counts.created)
    assert.equal(0, missing)
    assert.equal(0, extra)
    assert.equal(0, wrong_pw)
    assert.equal(DOMAINS * 3, paks)
    assert.equal(DOMAINS * 3, rep.paks_bought)
    assert.truthy(faults > 50, "faults injected: " .. faults)
    -- The report's request counts equal what the sandbox received.
    for cmd, n in pairs(rep.requests) do
        local sb
        for name, cnt in pairs(counters.commands) do
            if name:upper() == cmd then sb = cnt.received end
        end
        assert.equal(n, sb, cmd)
    end
    assert.equal(rep.sent, counters.totals.received)
end

describe("soak", function()
    it("reaches the desired state exactly through 25% faults", function()
        soak(false)
    end)

    it("reaches it exactly through 25% faults when planning and applying in one run", function()
        soak(true)
    end)
end)
