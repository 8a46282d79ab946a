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
    describe("the password rule", function()
        local function setup(c, users)
            return c:setup_pop3_users(with(DOMAIN, { bundle_id = 5134, users = users }))
        end

        it("refuses, before sending, a password the default rule refuses, naming the record, field and rule", function()
            local c = client()
            local res, err = setup(c, { { username = "james", password = "Tern-Gull-42" },
                { username = "ann", password = "s3cret!" } })
            refused(c, res, err, "users[2].password (user ann) breaks rule email_basic: must be 10 to 20 characters")
            assert.are.equal("users[2].password", err.field)
            assert.are.equal("email_basic", err.password_rule)
            assert.are.equal("length", err.check)
            assert.is_nil(tostring(err):find("s3cret!", 1, true))
        end)

        it("refuses a password holding the user name, the domain or the account id (eNom's error 48)", function()
            for _, case in ipairs {
                { "Xann-Gull-42", "the user name" },
                { "Example.com-42", "the domain name" },
                { "Gull-EXAMPLE-4", "the domain's SLD" },
                { "Resellid-Gull-4", "the account id" },
            } do
                local c = client()
                local res, err = setup(c, { { username = "ann", password = case[1] } })
                refused(c, res, err, "contains " .. case[2])
                assert.are.equal("contains", err.check)
                assert.is_nil(err.message:find(case[1], 1, true))
            end
        end)

        it("refuses two records with one password", function()
            local c = client()
            local res, err = setup(c, { { username = "ann", password = "Tern-Gull-42" },
                { username = "bob", password = "Tern-Gull-42" } })
            refused(c, res, err, "users[2].password (user bob) breaks rule email_basic: is the same as another")
        end)

        it("checks ModifyPOP3's passwords, not its admin-only records", function()
            local c = client()
            local res, err = c:modify_pop3(with(DOMAIN, { users = { { username = "ann", admin = true },
                { username = "bob", password = "bob-Gull-42" } } }))
            refused(c, res, err, "users[2].password (user bob) breaks rule email_basic: contains the user name")
            assert.truthy(c:modify_pop3(with(DOMAIN, { users = { { username = "ann", admin = true },
                { username = "bob", password = "Tern-Gull-42" } } })))
            assert.are.equal(1, #c.transport.sent)
        end)

        it("follows the client's rule: pop_m2w takes no special character and no shared root", function()
            local c = client { password_rule = "pop_m2w" }
            assert.truthy(setup(c, { { username = "ann", password = "TernGull42" } }))
            local res, err = setup(c, { { username = "ann", password = "Tern-Gull-42" } })
            assert.is_nil(res)
            assert.truthy(err.message:find("breaks rule pop_m2w: has a character", 1, true), err.message)
            res, err = setup(c, { { username = "mary", password = "Me12345" }, { username = "paul", password = "Pe12345" } })
            assert.is_nil(res)
            assert.truthy(err.message:find("users[2].password (user paul) breaks rule pop_m2w: shares 5", 1, true))
            assert.are.equal(1, #c.transport.sent)
        end)

        it("takes a rule table of the caller's", function()
            local rule = { name = "house", min = 8, max = 12, classes = { lower = "abcdefghijklmnopqrstuvwxyz" } }
            local c = client { password_rule = rule }
            assert.truthy(setup(c, { { username = "ann", password = "ternsgull" } }))
            local res, err = setup(c, { { username = "ann", password = "Ternsgull" } })
            assert.is_nil(res)
            assert.truthy(err.message:find("breaks rule house", 1, true))
            assert.are.equal("house", err.password_rule)
        end)

        it("is off with password_rule = false: any password leaves as given", function()
            local c = client { password_rule = false }
            assert.truthy(setup(c, { { username = "ann", password = "ann" } }))
            assert.are.equal("ann", c.transport.sent[1].params.Password1)
        end)

        it("also holds for a typed call in a batch", function()
            local c = client()
            local b = c:batch()
            b:add_method("setup_pop3_users", with(DOMAIN, { bundle_id = 1, users = { { username = "ann", password = "short" } } }))
            b:add_method("setup_pop3_users", with(DOMAIN, { bundle_id = 1, users = { { username = "ann", password = "Tern-Gull-42" } } }))
            local res, errs = b:wait()
            assert.are.equal("invalid", errs[1].kind)
            assert.truthy(errs[1].message:find("breaks rule email_basic", 1, true))
            assert.truthy(res[2])
            assert.are.equal(1, #c.transport.sent)
        end)

        it("is a name, a table or false: anything else is refused by enom.new", function()
            local _, err = client { password_rule = "m2w" }
            assert.are.equal("invalid", err.kind)
            assert.truthy(err.message:find("unknown password rule 'm2w'", 1, true))
            _, err = client { password_rule = { min = 30, max = 8, classes = { a = "a" } } }
            assert.truthy(err.message:find("min and max", 1, true))
            assert.has_error(function() client { password_rule = true } end)
            assert.has_error(function() client { password_rule = 8 } end)
            assert.are.equal(require("enom.password").rules.email_basic, client().password_rule)
            assert.is_false(client({ password_rule = false }).password_rule)
        end)
    end)

    describe("command names", function()
        it("call sends any eNom command: letters, digits and '_'", function()
            for _, name in ipairs { "PE_GetPOPPrice", "TP_CreateOrder", "Queue_GetInfo", "RPT_GetReport", "GetPOP3",
                "NM_ProcessOrder", "TLD_Overview" } do
                local c = client()
                assert.truthy(c:call(name, {}), name)
                assert.are.equal(name, c.transport.sent[1].params.command)
            end
        end)

        it("call refuses anything that could change the request, and sends nothing", function()
            for _, name in ipairs { "GetPOP3&uid=x", "GetPOP3=1", "Get POP3", "GetPOP3\r\nX: y", "GetPOP3\0",
                "Get%50OP3", "G\195\169tPOP3", "_GetPOP3", "1GetPOP3", "", ("A"):rep(65), "GetPOP3\n", "Get.POP3",
                "Get-POP3" } do
                local c = client()
                assert.has_error(function() c:call(name, {}) end)
                assert.are.equal(0, #c.transport.sent, name)
            end
            assert.has_error(function() client():call(nil, {}) end)
        end)

        it("is one definition, which the command line's `enom call` asks too", function()
            local validate = require "enom.validate"
            assert.is_true(validate.is_command_name("PE_GetPOPPrice"))
            for _, bad in ipairs { "PE GetPOPPrice", "PE_GetPOPPrice;", 5, true } do
                assert.is_false(validate.is_command_name(bad))
            end
        end)
    end)
end)
