-- Results and error values through enom.new's `transport` option, with a
-- fake transport (spec/support/fake_transport.lua) answering eNom's documented
-- answers: shaped records in each response format, every error kind, a
-- partly failed batch, and call_many / batch over submit and poll. No
-- sandbox, no network; the sandbox specs cover the wire.
local enom = require "enom"
local fake = require "fake_transport"

local PW = "Acct-Secret-9"
local DOMAIN = { sld = "example", tld = "com" }

local function fixture(name)
    local f = assert(io.open("spec/fixtures/parse/" .. name, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local function client(answer, opts)
    local o = { uid = "resellid", pw = PW, endpoint = "test", transport = fake.with(answer) }
    for k, v in pairs(opts or {}) do
        o[k] = v
    end
    return assert(enom.new(o))
end

-- An answer from the fixture of the request's command and format.
local FORMAT_EXT = { XML = "xml", Text = "txt", HTML = "html" }
local function from_fixtures(suffix)
    return function(wire)
        local p = fake.decode(wire.body or wire.url:match("%?(.*)$"))
        return fake.ok(fixture(p.command:lower() .. (suffix or "") .. "." .. FORMAT_EXT[p.responsetype]))
    end
end

local function no_secret(err)
    assert.is_nil(tostring(err):find(PW, 1, true))
    for k, v in pairs(err) do
        assert.is_nil(tostring(v):find(PW, 1, true), "err." .. tostring(k) .. " shows the password")
    end
end

describe("results (fake transport)", function()
    describe("shaped answers", function()
        it("types GetPOP3 alike from XML, Text and HTML", function()
            local seen = {}
            for _, rt in ipairs { "xml", "text", "html" } do
                local c = client(from_fixtures(), { response_type = rt })
                local pop = assert(c:get_pop3(DOMAIN))
                assert.are.equal(8, #pop.mailboxes, rt)
                local m = pop.mailboxes[1]
                assert.are.equal("dell", m.username)
                assert.are.equal(1024, m.quota)
                assert.are.equal(26770, m.bundle_id)
                assert.is_false(m.admin)
                assert.is_false(m.auto_renew)
                assert.are.equal(0, m.quota_used)
                assert.is_nil(m.password) -- only with include_passwords
                assert.are.equal(2, #pop.paks)
                assert.are.same({ bundle_id = 26770, purchased = 10, free = 6, quota = 1024, product_type = 38 }, {
                    bundle_id = pop.paks[1].bundle_id, purchased = pop.paks[1].purchased, free = pop.paks[1].free,
                    quota = pop.paks[1].quota, product_type = pop.paks[1].product_type,
                })
                seen[rt] = pop.mailboxes
            end
            assert.are.same(seen.xml, seen.text)
            assert.are.same(seen.xml, seen.html)
        end)

        it("gives mailbox passwords only with include_passwords", function()
            local c = client(from_fixtures(), { response_type = "text" })
            local pop = assert(c:get_pop3(DOMAIN))
            for _, m in ipairs(pop.mailboxes) do
                assert.is_nil(m.password)
            end
            pop = assert(c:get_pop3(DOMAIN and { sld = "example", tld = "com", include_passwords = true }))
            assert.are.equal("78910", pop.mailboxes[1].password)
            assert.are.equal("1111", pop.mailboxes[3].password)
        end)

        it("types SetUpPOP3User and PurchasePOPBundle", function()
            local c = client(from_fixtures(), { response_type = "xml" })
            local setup = assert(c:setup_pop3_users {
                sld = "example", tld = "com", bundle_id = 1, users = { { username = "a", password = "Heron-7-Quiz" } },
            })
            assert.are.equal(1, setup.accounts_created)
            assert.are.equal(0, setup.accounts_failed)
            local buy = assert(c:purchase_pop_bundle { sld = "example", tld = "com", quantity = 2 })
            assert.are.same({ 30823, 30824 }, buy.bundle_ids)
            assert.are.equal("157781024", tostring(buy.order_id))
            assert.are.equal(2, buy.bundle_count)
            c = client(from_fixtures(), { response_type = "text" })
            buy = assert(c:purchase_pop_bundle { sld = "example", tld = "com", quantity = 2 })
            assert.are.same({ 1004952, 1004953 }, buy.bundle_ids)
            assert.are.equal("161808176", tostring(buy.order_id))
        end)

        it("returns any command by name with its fields", function()
            local c = client(function()
                return fake.ok(fake.text { { "Command", "GETBALANCE" }, { "Balance", "1,000.00" } })
            end, { response_type = "text" })
            local raw = assert(c:call("GetBalance", {}))
            assert.are.equal("1,000.00", raw.fields.Balance)
            assert.are.equal(0, raw.err_count)
            assert.is_true(raw.done)
        end)
    end)

    describe("error values", function()
        it("an eNom error is kind api with its response number, and holds no secret", function()
            local c = client(from_fixtures("_error"))
            local res, err = c:get_pop3(DOMAIN)
            assert.is_nil(res)
            assert.are.equal("api", err.kind)
            assert.are.equal("Bad User name or Password", err.message)
            assert.are.equal(304155, err.response_number)
            assert.is_true(err.maybe_delivered)
            assert.matches("GetPOP3", tostring(err), 1, true)
            no_secret(err)
        end)

        it("an HTTP status other than 200 is kind http", function()
            local c = client(function() return { status = 503, body = "busy" } end)
            local res, err = c:get_pop3(DOMAIN)
            assert.is_nil(res)
            assert.are.equal("http", err.kind)
            assert.are.equal(503, err.status)
            assert.is_true(err.maybe_delivered)
        end)

        it("passes the transport's kind and maybe_delivered on, scrubbing what it says", function()
            for _, delivered in ipairs { false, true } do
                local c = client(function()
                    return nil, { kind = "timeout", message = "timed out on pw=" .. PW, maybe_delivered = delivered,
                        code = 28 }
                end)
                local res, err = c:get_pop3(DOMAIN)
                assert.is_nil(res)
                assert.are.equal("timeout", err.kind)
                assert.are.equal(delivered, err.maybe_delivered)
                assert.are.equal(28, err.code)
                no_secret(err)
            end
        end)

        it("an answer without Done=true is kind incomplete; garbage is kind parse", function()
            local c = client(function() return fake.ok(fake.text({ { "Balance", "1" } }, 0, true)) end,
                { response_type = "text" })
            local _, err = c:get_balance {}
            assert.are.equal("incomplete", err.kind)
            c = client(function() return fake.ok(fixture("garbage.txt")) end)
            _, err = c:get_pop3(DOMAIN)
            assert.are.equal("parse", err.kind)
            assert.is_true(err.maybe_delivered)
        end)

        it("an error beside Success=True is still kind api, with the answer kept", function()
            local c = client(from_fixtures(), { response_type = "text" })
            local res, err = c:setup_pop3_users {
                sld = "example", tld = "com", bundle_id = 1, users = { { username = "a", password = "Heron-7-Quiz" } },
            }
            assert.is_nil(res)
            assert.are.equal("api", err.kind)
            assert.are.equal("Invalid Item specified", err.message)
            assert.are.equal(1, err.result.accounts_created)
        end)

        it("shapes records whose Text answer lacks some columns, leaving those fields nil", function()
            local c = client(function()
                return fake.ok(fake.text({ { "Command", "GETPOP3" }, { "Username1", "ann" }, { "Quota1", 5 },
                    { "Username2", "bob" }, { "EmailCount", 2 } }))
            end, { response_type = "text" })
            local pop = assert(c:get_pop3(DOMAIN))
            assert.are.equal(2, #pop.mailboxes)
            assert.are.equal("ann", pop.mailboxes[1].username)
            assert.are.equal(5, pop.mailboxes[1].quota)
            assert.is_nil(pop.mailboxes[1].admin)
            assert.is_nil(pop.mailboxes[2].quota)
            assert.are.same({}, pop.paks)
        end)

        it("keeps the partial answer of a partly failed SetUpPOP3User", function()
            local c = client(function()
                return fake.ok(fake.text({ { "Command", "SETUPPOP3USER" }, { "AccountsCreated", 1 },
                    { "AccountsFailed", 1 }, { "Err1", "User b already exists" } }, 1))
            end, { response_type = "text" })
            local res, err = c:setup_pop3_users {
                sld = "example", tld = "com", bundle_id = 1,
                users = { { username = "a", password = "Heron-7-Quiz" }, { username = "b", password = "Heron-8-Quiz" } },
            }
            assert.is_nil(res)
            assert.are.equal("api", err.kind)
            assert.are.equal("User b already exists", err.message)
            assert.are.equal(1, err.result.accounts_created)
            assert.are.equal(1, err.result.accounts_failed)
            no_secret(err)
            assert.is_nil(tostring(err):find("Heron-7-Quiz", 1, true))
        end)

        it("stops a split request at an unknown outcome and lists the users not done", function()
            local users = {}
            for i = 1, 25 do
                users[i] = { username = "u" .. i, password = ("Wren-%02d-Kite"):format(i) }
            end
            local c = client(function(_, n)
                if n == 2 then
                    return nil, { kind = "timeout", message = "no answer", maybe_delivered = true }
                end
                return fake.ok(fake.text({ { "AccountsCreated", 10 }, { "AccountsFailed", 0 } }))
            end, { response_type = "text" })
            local res, err = c:setup_pop3_users { sld = "example", tld = "com", bundle_id = 1, users = users, batch_size = 10 }
            assert.is_nil(res)
            assert.are.equal("timeout", err.kind)
            assert.are.equal(11, err.batch_first)
            assert.are.equal(15, #err.not_done)
            assert.are.equal("u11", err.not_done[1])
            assert.are.equal(10, err.result.accounts_created)
            assert.are.equal(2, #c.transport.sent) -- the third request never left
        end)
    end)

    describe("concurrent drivers over submit and poll", function()
        local function by_domain(wire)
            local p = fake.decode(wire.body)
            if p.command == "GetBalance" then
                return fake.ok(fake.text({ { "Command", "GETBALANCE" }, { "Balance", "5.00" } }))
            end
            if p.SLD == "bad" or p.sld == "bad" then
                return nil, { kind = "transport", message = "refused", maybe_delivered = false }
            end
            return fake.ok(fake.text({ { "Command", "GETPOP3" }, { "Username1", "x" .. (p.SLD or p.sld) },
                { "Quota1", 1 }, { "EmailCount", 1 }, { "Count", 0 } }))
        end

        it("call_many returns results and errors indexed like the requests, whatever the completion order", function()
            local c = client(by_domain, { response_type = "text" })
            local reqs = {}
            for i = 1, 7 do
                local sld = i == 4 and "bad" or ("d" .. i)
                reqs[i] = { method = "get_pop3", args = { sld = sld, tld = "com" } }
            end
            reqs[8] = { command = "GetBalance", params = {} }
            local res, errs = c:call_many(reqs, { concurrency = 3 })
            for i = 1, 7 do
                if i == 4 then
                    assert.is_nil(res[i])
                    assert.are.equal("transport", errs[i].kind)
                    assert.is_false(errs[i].maybe_delivered)
                else
                    assert.is_nil(errs[i])
                    assert.are.equal("xd" .. i, res[i].mailboxes[1].username)
                end
            end
            assert.is_true(res[8].done)
            assert.are.equal(8, #c.transport.sent)
            assert.are.equal(0, c.transport:pending())
        end)

        it("batch:each hands out every request once, with progress", function()
            local c = client(by_domain, { response_type = "text" })
            local progress = {}
            local b = c:batch { concurrency = 2, progress = function(done, total) progress[#progress + 1] = done .. "/" .. total end }
            for i = 1, 5 do
                b:add_method("get_pop3", { sld = "d" .. i, tld = "com" })
            end
            local got = {}
            for i, res, err in b:each() do
                assert.is_nil(err)
                assert.is_nil(got[i])
                got[i] = res.mailboxes[1].username
            end
            assert.are.same({ "xd1", "xd2", "xd3", "xd4", "xd5" }, got)
            assert.are.same({ "1/5", "2/5", "3/5", "4/5", "5/5" }, progress)
        end)
    end)
end)
