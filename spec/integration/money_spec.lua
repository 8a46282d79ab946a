-- Money and passwords under the situations that cost resellers: a
-- purchase answered after the client gave up, an invalid name among
-- valid ones, a mailbox made elsewhere while a SetUp was in doubt,
-- callbacks that raise at every position, a domain busy elsewhere.
local H = require "helper"
local lease = require "enom.lease"
local provision = require "enom.provision"

local function people(n, prefix)
    local list = {}
    for i = 1, n do
        list[i] = { username = (prefix or "user") .. i }
    end
    return list
end

local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

local function read_file(path)
    local f = io.open(path)
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

local function tmpname()
    local p = os.tmpname()
    os.remove(p)
    return p
end

describe("money", function()
    before_each(function()
        H.reset()
    end)

    describe("a purchase answered after the client's time-out", function()
        for _, format in ipairs { "xml", "text", "html" } do
        it("is settled from the read-back and the order history, never bought twice (" .. format .. ")", function()
            H.reset()
            H.admin("POST", "/settings", { purchase_delay_ms = 1500 })
            local c = H.client { timeout = 0.6, response_type = format }
            local plan = assert(provision.plan(c, { { domain = "shop05.com", mailboxes = people(23) } },
                { buy_paks = true }))
            assert.equal(3, plan:totals().buy)
            local handed = {}
            local rep = assert(provision.apply(c, plan, {
                purchase_timeout = 0.6, settle = 6, settle_interval = 0.3, backoff_base = 0.01,
                on_password = function(_, u, pw) handed[u] = pw end,
            }))
            assert.is_true(rep.ok, rep:format())
            assert.equal(1, H.received("PurchasePOPBundle"))
            assert.equal(3, #H.domain("shop05.com").paks)
            assert.equal(3, rep.paks_bought)
            assert.equal(0, rep.paks_in_doubt)
            assert.equal(23, rep.counts.created)
            local m = H.mailboxes("shop05.com")
            for u, pw in pairs(handed) do
                assert.equal(m[u].password, pw)
            end
            assert.equal(23, count(handed))
            assert.truthy(H.received("GetOrderList") >= 1)
            assert.truthy(rep.reconciles >= 1, "the purchase was settled by reading back")
        end)
        end

        it("never claims a pak a person bought in eNom's web interface while the answer was awaited", function()
            H.reset()
            H.admin("POST", "/settings", { purchase_delay_ms = 1500 })
            -- 0.4 s into the run, with the run's order in flight, a person
            -- buys one pak for the same domain by hand.
            os.execute(("(sleep 0.4; env -u LD_PRELOAD curl -s -o /dev/null -X POST -H 'content-type: application/json' "
                .. "-d '{\"domain\":\"shop05.com\",\"quantity\":1}' %s/purchase) &"):format(H.ADMIN))
            local c = H.client { timeout = 0.8 }
            local rep = assert(provision.ensure(c, { { domain = "shop05.com", mailboxes = people(23) } }, {
                buy_paks = true, purchase_timeout = 0.8, settle = 6, settle_interval = 0.3, backoff_base = 0.01,
                pak_price = 5.95,
            }))
            assert.is_true(rep.ok, rep:format())
            assert.equal(1, H.received("PurchasePOPBundle"))
            -- 3 ordered by the run, 1 by the person: the run counts its 3.
            assert.equal(4, #H.domain("shop05.com").paks)
            assert.equal(3, rep.paks_bought)
            assert.near(3 * 5.95, rep:summary().spend, 1e-6)
            local e = rep:events_with("paks", "bought")[1]
            assert.truthy(e.detail:find("1 more pak(s) appeared, bought by someone else", 1, true), e.detail)
            assert.equal(23, rep.counts.created)
        end)

        for _, format in ipairs { "xml", "text" } do
        it("stops the domain as unknown when the window ends first, and counts it against max_spend ("
            .. format .. ")", function()
            H.reset()
            H.admin("POST", "/settings", { purchase_delay_ms = 2500 })
            local c = H.client { timeout = 0.5, response_type = format }
            local plan = assert(provision.plan(c, {
                { domain = "shop06.com", mailboxes = people(5) },
                { domain = "shop07.com", mailboxes = people(5) },
            }, { buy_paks = true, pak_price = 5.95, max_spend = 11.90, concurrency = 1 }))
            assert.equal(2, plan:totals().buy)
            local rep = assert(provision.apply(c, plan, {
                purchase_timeout = 0.5, settle = 0.8, settle_interval = 0.2, backoff_base = 0.01,
                concurrency = 1, max_spend = 5.95,
            }))
            assert.is_false(rep.ok)
            -- One purchase went out and is in doubt; the spending cap,
            -- counted with it, leaves no room for the second domain.
            assert.equal(1, H.received("PurchasePOPBundle"))
            assert.equal(1, rep.paks_in_doubt)
            assert.truthy(rep:format():find("IN DOUBT", 1, true))
            assert.equal(5, rep.counts.unknown)
            assert.equal(0, rep.counts.created or 0)
            -- Once eNom has finished, a new run finds the pak and buys nothing more.
            H.admin("POST", "/settings", { purchase_delay_ms = 0 })
            local deadline = os.time() + 10
            while #H.domain("shop06.com").paks + #H.domain("shop07.com").paks == 0 and os.time() < deadline do
                require("enom.clock").sleep(0.2)
            end
            local c2 = H.client()
            local again = assert(provision.plan(c2, {
                { domain = "shop06.com", mailboxes = people(5) },
                { domain = "shop07.com", mailboxes = people(5) },
            }, { buy_paks = true, max_paks_per_run = 1 }))
            local rep2 = assert(provision.apply(c2, again))
            assert.equal(10, rep2.counts.created, rep2:format())
            assert.equal(2, #H.domain("shop06.com").paks + #H.domain("shop07.com").paks)
            assert.equal(2, H.received("PurchasePOPBundle"))
        end)
        end
    end)

    it("keeps an invalid name out of every batch and every purchase", function()
        local c = H.client()
        local boxes = people(10)
        boxes[4] = { username = "bad name!" }
        local plan = assert(provision.plan(c, { { domain = "shop08.com", mailboxes = boxes } }, { buy_paks = true }))
        local t = plan:totals()
        assert.equal(1, t.invalid)
        assert.equal(9, t.create)
        assert.equal(1, t.buy)
        assert.truthy(plan:format():find("invalid  bad name!", 1, true))
        local rep = assert(provision.apply(c, plan))
        assert.equal(9, rep.counts.created)
        assert.equal(1, rep.counts.invalid)
        local bad = rep:with("invalid")[1]
        assert.equal("bad name!", bad.username)
        assert.truthy(bad.reason:find("username", 1, true), bad.reason)
        assert.equal(9, count(H.mailboxes("shop08.com")))
        assert.equal(1, H.received("SetUpPOP3User"))
        assert.equal(1, #H.domain("shop08.com").paks)
        for _, r in ipairs(H.admin("GET", "/requests")) do
            assert.falsy(table.concat(r.body_names or {}, " "):find("UserName10", 1, true))
        end
    end)

    it("calls a mailbox made elsewhere during a doubtful SetUp a conflict and hands out no password for it", function()
        local c = H.client()
        local other = H.client()
        local plan = assert(provision.plan(c, { { domain = "resellerdocs.com",
            mailboxes = { { username = "james", admin = true }, { username = "ann" }, { username = "bob" } } } }))
        assert.equal(2, plan:totals().create)
        local handed, made = {}, false
        local rep = assert(provision.apply(c, plan, {
            on_password = function(_, u, pw) handed[u] = pw end,
            -- After the re-read, before the SetUp: someone else makes ann.
            progress = function(rec)
                if not made and rec.username == "james" then
                    made = true
                    assert(other:setup_pop3_users { sld = "resellerdocs", tld = "com", bundle_id = 5134,
                        users = { { username = "ann", password = "Made-Elsewhere-1" } } })
                end
            end,
        }))
        assert.is_true(made)
        local ann = rep:with("conflict")[1]
        assert.equal("ann", ann.username)
        assert.is_nil(handed.ann)
        assert.equal(1, rep.counts.created)
        assert.equal(handed.bob, H.mailboxes("resellerdocs.com").bob.password)
        assert.equal("Made-Elsewhere-1", H.mailboxes("resellerdocs.com").ann.password)
        assert.is_false(rep.ok)
    end)

    it("says busy when another run holds the domain, and goes ahead once it is free", function()
        local c = H.client()
        local plan = assert(provision.plan(c, { { domain = "shop09.com", mailboxes = people(3) } }, { buy_paks = true }))
        local locker = lease.new { backend = "default" }
        local held = assert(locker:acquire("enom:" .. H.UID .. ":shop09.com", { ttl = 30, wait = 0 }))
        local before = H.total_received()
        local rep = assert(provision.apply(c, plan, { lease_wait = 0.3 }))
        assert.equal(3, rep.counts.busy)
        assert.is_false(rep.ok)
        assert.equal(before, H.total_received())
        held:release()
        rep = assert(provision.apply(c, plan, { lease_wait = 0.3 }))
        assert.is_true(rep.ok, rep:format())
        assert.equal(3, rep.counts.created)
    end)

    it("lets go of every lease and records every mailbox when the scheduler itself fails", function()
        local broken = {
            uid = "resellid",
            batch = function()
                return {
                    add_method = function() return 1 end,
                    add = function() return 1 end,
                    remaining = function() return 1 end,
                    cancel = function() return 0 end,
                    next = function() error("transport exploded") end,
                }
            end,
        }
        local rep = assert(provision.ensure(broken, {
            { domain = "one.com", mailboxes = people(3) },
            { domain = "two.com", mailboxes = people(2) },
        }, { concurrency = 1 }))
        assert.truthy(rep.error:find("transport exploded", 1, true))
        assert.is_false(rep.ok)
        assert.equal(5, #rep.mailboxes)
        assert.equal(5, rep.counts.not_done)
        local locker = lease.new { backend = "default" }
        for _, d in ipairs { "one.com", "two.com" } do
            local l = assert(locker:acquire("enom:resellid:" .. d, { ttl = 5, wait = 0 }))
            l:release()
        end
    end)

    describe("a callback that raises", function()
        local N = 12

        -- One apply of N mailboxes (two paks to buy) with `opts`; checks
        -- what every such run must keep, whatever raised where.
        local function run_with(opts)
            H.reset()
            local c = H.client()
            local plan = assert(provision.plan(c, { { domain = "shop10.com", mailboxes = people(N) } },
                { buy_paks = true, batch_size = 5 }))
            local file = tmpname()
            opts.report_file = file
            opts.password_file = opts.password_file or tmpname()
            local rep = assert(provision.apply(c, plan, opts))
            assert.is_false(rep.ok)
            assert.truthy(rep.error, "the report carries what was raised")
            assert.truthy(rep.stopped)
            -- Every mailbox has one record, in the table and in the file.
            assert.equal(N, #rep.mailboxes)
            local text = read_file(file)
            os.remove(file)
            local lines, summary = 0, nil
            for line in text:gmatch("[^\n]+") do
                local rec = H.json.decode(line)
                if rec.type == "mailbox" then lines = lines + 1 end
                if rec.type == "summary" then summary = rec end
            end
            assert.equal(N, lines)
            assert.truthy(summary and summary.error)
            -- What exists was reported created; nothing was made twice.
            local have = H.mailboxes("shop10.com")
            local created = {}
            for _, m in ipairs(rep:with("created")) do
                created[m.username] = m
                assert.truthy(have[m.username], m.username)
            end
            assert.equal(count(have), count(created))
            assert.equal(rep.paks_bought, #H.domain("shop10.com").paks)
            assert.truthy(H.received("PurchasePOPBundle") <= 1)
            return rep, have, created, opts.password_file
        end

        it("on_password, at every call: the run stops, no password is lost", function()
            for k = 1, N do
                local calls, handed = 0, {}
                local rep, have, created, pwfile = run_with {
                    on_password = function(_, u, pw)
                        calls = calls + 1
                        -- The message quotes the password: it must not reach the report.
                        if calls == k then error("password store is down, could not keep " .. pw) end
                        handed[u] = pw
                    end,
                }
                assert.truthy(rep.error:find("password store is down", 1, true))
                local written = {}
                for line in (read_file(pwfile) or ""):gmatch("[^\n]+") do
                    local _, u, pw = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
                    written[u] = pw
                end
                os.remove(pwfile)
                for u, m in pairs(created) do
                    local pw = handed[u] or written[u]
                    assert.equal(have[u].password, pw, "password of " .. u .. " lost at k=" .. k)
                    assert.is_false(handed[u] ~= nil and written[u] ~= nil)
                    if written[u] then
                        assert.equal("written_to_file", m.password)
                    end
                end
                for _, m in pairs(have) do
                    assert.is_nil(rep.error:find(m.password, 1, true))
                    assert.is_nil(rep.stopped:find(m.password, 1, true))
                    assert.falsy(H.contains(rep, m.password))
                end
            end
        end)

        it("progress, at every record: the record it was given is kept", function()
            for k = 1, N + 1 do
                local calls, seen = 0, {}
                local rep = run_with {
                    progress = function(rec)
                        calls = calls + 1
                        seen[#seen + 1] = rec
                        if calls == k then error("dashboard is down") end
                    end,
                }
                assert.truthy(rep.error:find("dashboard is down", 1, true))
                -- The record whose callback raised is in the report.
                local last = seen[#seen]
                local found = false
                for _, r in ipairs(rep.mailboxes) do found = found or r == last end
                for _, e in ipairs(rep.events) do found = found or e == last end
                assert.is_true(found)
            end
        end)

        it("a retry hook: the run stops with what is in flight recorded", function()
            H.reset()
            local c = H.client()
            local plan = assert(provision.plan(c, { { domain = "shop11.com", mailboxes = people(4) } },
                { buy_paks = true }))
            H.faults { rules = { { kind = "status503", command = "SetUpPOP3User", times = 1 } } }
            local rep = assert(provision.apply(c, plan, { retry = function() error("hook bug") end }))
            assert.truthy(rep.error:find("hook bug", 1, true))
            assert.equal(4, #rep.mailboxes)
            assert.equal(1, #H.domain("shop11.com").paks)
            assert.equal(1, rep.paks_bought)
        end)
    end)
end)
