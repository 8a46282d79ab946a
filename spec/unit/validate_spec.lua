-- Validation through enom.new's `transport` option, with a fake transport
-- (spec/support/fake_transport.lua): no sandbox, no network. Every bad input is an
-- `invalid` error that names the field and says nothing left; a good one
-- leaves as exactly the parameters it should.
local enom = require "enom"
local fake = require "fake_transport"

local PW = "Acct-Secret-9"
local DOMAIN = { sld = "example", tld = "com" }

local function ok_answer()
    return fake.ok(fake.text({ { "Command", "FAKE" }, { "AccountsCreated", 1 }, { "AccountsFailed", 0 } }))
end

-- A client over a fake transport that answers every request with success.
local function client(opts)
    local mod = fake.with(ok_answer)
    local o = { uid = "resellid", pw = PW, endpoint = "test", transport = mod, response_type = "text" }
    for k, v in pairs(opts or {}) do
        o[k] = v
    end
    local c, err = enom.new(o)
    return c, err, mod
end

local function with(t, extra)
    local out = {}
    for k, v in pairs(t) do
        out[k] = v
    end
    for k, v in pairs(extra) do
        out[k] = v
    end
    return out
end

-- Asserts an invalid error naming `field`, with nothing sent.
local function refused(c, res, err, field)
    assert.is_nil(res)
    assert.are.equal("invalid", err.kind)
    assert.is_false(err.maybe_delivered)
    assert.truthy(err.message:find(field, 1, true), err.message .. " does not name " .. field)
    assert.is_nil(tostring(err):find(PW, 1, true))
    assert.are.equal(0, #c.transport.sent)
end

describe("validation (fake transport)", function()
    describe("enom.new", function()
        it("refuses a missing pw or uid, or CR/LF in them, before making a transport", function()
            for _, o in ipairs { { pw = "" }, { uid = "" }, { pw = "a\r\nb" }, { uid = "u\0" } } do
                local mod = fake.with(ok_answer)
                local c, err = enom.new(with({ uid = "resellid", pw = PW, transport = mod }, o))
                assert.is_nil(c)
                assert.are.equal("invalid", err.kind)
                assert.are.equal(0, #mod.made)
            end
        end)

        it("allows plain http only with allow_http and only to loopback", function()
            local _, err = client { endpoint = "http://127.0.0.1:1/interface.asp" }
            assert.matches("allow_http", err.message, 1, true)
            _, err = client { endpoint = "http://example.com/interface.asp", allow_http = true }
            assert.matches("loopback", err.message, 1, true)
            _, err = client { endpoint = "ftp://example.com/" }
            assert.are.equal("invalid", err.kind)
            for _, url in ipairs { "http://127.0.0.1:8/x", "http://localhost/x", "http://[::1]:8/x" } do
                assert.truthy((client { endpoint = url, allow_http = true }), url)
            end
        end)

        it("raises on an unknown option or a wrong type, naming it", function()
            assert.has_error(function() client { bogus = 1 } end, "bad argument #1 to 'new' (unknown option 'bogus')")
            local ok, msg = pcall(client, { timeout = "60" })
            assert.is_false(ok)
            assert.matches("timeout", msg, 1, true)
        end)

        it("hands the transport its own settings, never the credentials", function()
            local _, _, mod = client { timeout = 7, user_agent = "ua/1" }
            local opts = mod.made[1].opts
            assert.are.equal(7, opts.timeout)
            assert.are.equal("ua/1", opts.user_agent)
            for k, v in pairs(opts) do
                assert.is_nil(tostring(v):find(PW, 1, true), k)
                assert.are_not.equal("uid", k)
            end
        end)
    end)

    describe("typed methods", function()
        local user = { username = "ann", password = "Kestrel-2024" }

        local bad = {
            { "a missing password", { users = { user, { username = "bob" } } }, "users[2].password is missing" },
            { "a user name over 30 characters", { users = { { username = string.rep("a", 31), password = "x" } } },
                "users[1].username" },
            { "an empty list", { users = {} }, "users must not be empty" },
            { "a duplicate user name", { users = { user, { username = "ann", password = "y" } } }, "users[2].username repeats" },
            { "a LF in a display name", { users = { with(user, { display_name = "A\nB" }) } }, "users[1].display_name" },
            { "a NUL in a password", { users = { with(user, { password = "a\0b" }) } }, "users[1].password" },
            { "a CR in the domain", { sld = "exa\rmple" }, "sld" },
            { "an unknown argument", { colour = "red" }, "unknown argument 'colour'" },
            { "an unknown field of a user", { users = { with(user, { quota = 5 }) } }, "users[1]: unknown field 'quota'" },
            { "a missing domain", { sld = false }, "sld is missing" },
            { "a bundle id that is not an integer", { bundle_id = 1.5 }, "bundle_id" },
        }
        for _, case in ipairs(bad) do
            it("refuses " .. case[1] .. " and sends nothing", function()
                local c = client()
                local args = with(DOMAIN, { bundle_id = 5134, users = { user } })
                for k, v in pairs(case[2]) do
                    args[k] = v or nil
                end
                local res, err = c:setup_pop3_users(args)
                refused(c, res, err, case[3])
            end)
        end

        it("refuses a quantity out of 1..10 or of the wrong type", function()
            for _, q in ipairs { 0, 11, 2.5, "two", true } do
                local c = client()
                local res, err = c:purchase_pop_bundle(with(DOMAIN, { quantity = q }))
                refused(c, res, err, "quantity")
            end
        end)

        it("refuses a ModifyPOP3 user with nothing to change", function()
            local c = client()
            local res, err = c:modify_pop3(with(DOMAIN, { users = { { username = "ann" } } }))
            refused(c, res, err, "users[1] needs one of: password, admin")
        end)

        it("refuses an empty forwarding set unless allow_empty says so", function()
            local c = client()
            local res, err = c:set_forwarding(with(DOMAIN, { forwards = {} }))
            refused(c, res, err, "forwards")
            assert.truthy(c:set_forwarding(with(DOMAIN, { forwards = {}, allow_empty = true })))
            assert.are.equal(1, #c.transport.sent)
        end)

        it("never shows a password in the error about it", function()
            local long = "Pw-" .. string.rep("z", 200)
            local c = client()
            local res, err = c:setup_pop3_users(with(DOMAIN, { bundle_id = 1, users = { { username = "ann", password = long } } }))
            refused(c, res, err, "users[1].password")
            assert.is_nil(tostring(err):find(long, 1, true))
            assert.is_nil(err.message:find("zzzz", 1, true))
        end)
    end)

    describe("what leaves", function()
        it("sends a valid SetUpPOP3User once, each value as one parameter, never to be resent", function()
            -- Any bytes at all must arrive as one value: the password rule is off.
            local c = client { password_rule = false }
            local res = assert(c:setup_pop3_users(with(DOMAIN, { bundle_id = 5134, users = {
                { username = "james", password = "s3cret!", display_name = "James Doe" },
                { username = "ann", password = "x&IsAdmin1=1", admin = true },
            } })))
            assert.are.equal(1, res.accounts_created)
            assert.are.equal(1, #c.transport.sent)
            local sent = c.transport.sent[1]
            local p = sent.params
            assert.are.equal("SetUpPOP3User", p.command)
            assert.are.equal("resellid", p.uid)
            assert.are.equal(PW, p.pw)
            assert.are.equal("Text", p.responsetype)
            assert.are.equal("example", p.SLD or p.sld)
            assert.are.equal("james", p.UserName1)
            assert.are.equal("s3cret!", p.Password1)
            assert.are.equal("x&IsAdmin1=1", p.Password2)
            assert.are_not.equal("1", p.IsAdmin1)
            assert.are.equal("James Doe", p.DisplayName1)
            assert.is_true(sent.once)      -- may ride a kept-alive connection, never sent twice
            assert.is_falsy(sent.fresh)
            assert.is_string(sent.body) -- POST: the password is not in the URL
            assert.is_nil(sent.url:find(PW, 1, true))
        end)

        it("sends a read-only command on a pooled connection", function()
            local c = client()
            c:get_pop3(DOMAIN)
            assert.are.equal(1, #c.transport.sent)
            assert.is_falsy(c.transport.sent[1].fresh)
            assert.is_falsy(c.transport.sent[1].once)
        end)

        it("splits users into requests of batch_size", function()
            local users = {}
            for i = 1, 25 do
                users[i] = { username = "u" .. i, password = ("Wren-%02d-Kite"):format(i) }
            end
            local c = client()
            assert(c:setup_pop3_users(with(DOMAIN, { bundle_id = 1, users = users, batch_size = 10 })))
            local sent = c.transport.sent
            assert.are.equal(3, #sent)
            assert.are.equal("u1", sent[1].params.UserName1)
            assert.are.equal("u10", sent[1].params.UserName10)
            assert.is_nil(sent[1].params.UserName11)
            assert.are.equal("u11", sent[2].params.UserName1)
            assert.are.equal("u25", sent[3].params.UserName5)
        end)

        it("call refuses CR/LF in a parameter and names set by the client", function()
            local c = client()
            local res, err = c:call("GetPOP3", { SLD = "a\r\nb", TLD = "com" })
            refused(c, res, err, "SLD")
            for _, name in ipairs { "uid", "PW", "Command", "ResponseType" } do
                res, err = c:call("GetPOP3", { [name] = "x" })
                refused(c, res, err, name)
            end
        end)

        it("a closed client raises rather than sending", function()
            local c = client()
            c:close()
            c:close()
            assert.has_error(function() c:get_pop3(DOMAIN) end)
        end)
    end)
end)
