-- The client against the sandbox over real HTTP and HTTPS: success,
-- every error kind for real, validation, and that no secret leaks.
local H = require "helper"
local enom = require "enom"

-- Mailbox passwords eNom's default rule accepts (enom.password), with
-- characters a form body must encode.
local MAILBOX_PW = "Mbx@Pw/9f3-Secret"
local SECOND_PW = "Mbx@Pw/7k2-Second"
local INJECT_PW = "x&IsAdmin1=1"
local SECRETS = { H.PW, MAILBOX_PW, SECOND_PW, INJECT_PW, "Mbx-Jx4-Secret1", "Mbx-Sp7-Secret2" }

-- Everything the run showed a user: error messages, tostring, events.
local shown = {}
local function record(...)
    for i = 1, select("#", ...) do
        local v = select(i, ...)
        shown[#shown + 1] = v
        if type(v) == "table" then
            shown[#shown + 1] = tostring(v)
        end
    end
    return ...
end
local events = {}
local function logger(ev)
    events[#events + 1] = ev
end

describe("enom client", function()
    before_each(function()
        H.reset()
    end)

    it("creates mailboxes over https, the password arriving as one value", function()
        -- Any bytes at all must arrive as one value: the password rule is off.
        local c = H.client { logger = logger, password_rule = false }
        local res, err = record(c:setup_pop3_users {
            sld = "resellerdocs", tld = "com", bundle_id = 5134,
            users = {
                { username = "ann", password = INJECT_PW },
                { username = "bob", password = MAILBOX_PW, admin = true, display_name = "Bob Lee" },
            },
        })
        -- The sandbox's rule (email_basic) refuses the whole value for its
        -- '&' and '='; split at '&' it would have been "x", refused for its
        -- length, and IsAdmin1=1 would have reached the sandbox.
        assert.is_nil(res)
        assert.equal("api", err.kind)
        assert.equal(1, err.result.accounts_created)
        assert.equal(1, err.result.accounts_failed)
        assert.equal(1, #err.errors)
        assert.truthy(err.errors[1]:find("user ann: spaces and characters other than", 1, true), err.errors[1])
        local m = H.mailboxes("resellerdocs.com")
        assert.is_nil(m.ann)
        assert.is_true(m.bob.admin)
        assert.equal("Bob Lee", m.bob.display_name)
        assert.equal(MAILBOX_PW, m.bob.password)
        c:close()
    end)

    it("raises on unknown options and wrong types, returns nil, err for unusable values", function()
        assert.has_error(function() enom.new { uid = H.UID, pw = H.PW, endpiont = "test" } end)
        assert.has_error(function() enom.new { uid = H.UID, pw = H.PW, timeout = "10" } end)
        assert.has_error(function() enom.new "resellid" end)
        local c, err = enom.new { uid = H.UID, pw = nil }
        assert.is_nil(c)
        assert.equal("invalid", err.kind)
        assert.truthy(err.message:find("pw is missing"))
        local c2, err2 = enom.new { uid = H.UID, pw = H.PW, endpoint = "ftp://example.com/" }
        assert.is_nil(c2)
        assert.truthy(err2.message:find("https"))
        assert.falsy(tostring(err2):find(H.PW, 1, true))
    end)

    it("works over plain http only when allowed, and only to loopback", function()
        local c, err = enom.new { uid = H.UID, pw = H.PW, endpoint = H.URL }
        assert.is_nil(c)
        assert.equal("invalid", err.kind)
        assert.truthy(err.message:find("allow_http"))
        local c2, err2 = enom.new { uid = H.UID, pw = H.PW, endpoint = "http://192.0.2.1/interface.asp", allow_http = true }
        assert.is_nil(c2)
        assert.truthy(err2.message:find("loopback"))
        local c3 = H.client { http = true }
        local res = assert(record(c3:call("GetBalance", {})))
        assert.equal("GETBALANCE", res.command)
    end)

    it("sends POST by default with credentials in the body, GET on request", function()
        local c = H.client()
        assert(c:get_balance {})
        assert(c:call("GetBalance", {}, { method = "GET" }))
        local log = H.admin("GET", "/requests")
        local post, get = log[#log - 1], log[#log]
        assert.equal("POST", post.method)
        local function has(names, want)
            for _, n in ipairs(names) do
                if n:lower() == want then
                    return true
                end
            end
            return false
        end
        assert.is_false(has(post.query_names, "pw"))
        assert.is_true(has(post.body_names, "pw"))
        assert.equal("GET", get.method)
        assert.is_true(has(get.query_names, "pw"))
    end)

    it("calls any command by name and parses every format", function()
        local c = H.client()
        for _, rt in ipairs { "xml", "text", "html" } do
            local res, err = c:call("GetBalance", {}, { response_type = rt })
            assert.is_nil(err)
            assert.equal("GETBALANCE", res.command)
            assert.is_true(res.done)
            assert.equal(0, res.err_count)
        end
        local bal = assert(c:get_balance {})
        assert.equal(1000, bal.balance)
    end)

    it("reports ErrCount > 0 as an api error with eNom's texts", function()
        local c = H.client { logger = logger }
        local res, err = record(c:setup_pop3_users {
            sld = "resellerdocs", tld = "com", bundle_id = 999,
            users = { { username = "zed", password = MAILBOX_PW } },
        })
        assert.is_nil(res)
        assert.equal("api", err.kind)
        assert.truthy(#err.errors >= 1)
        assert.truthy(tostring(err):find("api error in SetUpPOP3User"))
    end)

    it("lets the caller see both parts of a partial batch", function()
        local c = H.client()
        local res, err = record(c:setup_pop3_users {
            sld = "resellerdocs", tld = "com", bundle_id = 5134,
            users = { { username = "new1", password = MAILBOX_PW }, { username = "james", password = SECOND_PW } },
        })
        assert.is_nil(res)
        assert.equal("api", err.kind)
        assert.equal(1, err.result.accounts_created)
        assert.equal(1, err.result.accounts_failed)
        assert.truthy(H.mailboxes("resellerdocs.com").new1)
    end)

    it("reports bad credentials with eNom's response number", function()
        local c = H.client { pw = "Wrong-Pass-123" }
        local _, err = record(c:get_balance {})
        assert.equal("api", err.kind)
        assert.equal(304155, err.response_number)
        assert.falsy(tostring(err):find("Wrong-Pass-123", 1, true))
    end)

    describe("each error kind, for real", function()
        it("connection refused: transport, not delivered", function()
            local c = H.client { http = true, endpoint = "http://127.0.0.1:1/interface.asp" }
            local _, err = record(c:get_balance {})
            assert.equal("transport", err.kind)
            assert.is_false(err.maybe_delivered)
        end)

        it("a slow server: timeout, maybe delivered", function()
            H.faults { rules = { { kind = "delay", ms = 2000 } } }
            local c = H.client { timeout = 0.4, logger = logger }
            local t0 = os.time()
            local _, err = record(c:get_balance {})
            assert.equal("timeout", err.kind)
            assert.is_true(err.maybe_delivered)
            assert.truthy(os.time() - t0 <= 2)
        end)

        it("an untrusted certificate: tls, not delivered", function()
            local c = assert(enom.new { uid = H.UID, pw = H.PW, endpoint = H.HTTPS_URL, logger = logger })
            local _, err = record(c:get_balance {})
            assert.equal("tls", err.kind)
            assert.is_false(err.maybe_delivered)
        end)

        it("HTTP 500 and 503: http", function()
            for _, kind in ipairs { "status500", "status503" } do
                H.faults { rules = { { kind = kind, times = 1 } } }
                local c = H.client { logger = logger }
                local _, err = record(c:get_balance {})
                assert.equal("http", err.kind)
                assert.equal(tonumber(kind:sub(-3)), err.status)
            end
        end)

        it("a body cut before Done: incomplete", function()
            for _, rt in ipairs { "xml", "text", "html" } do
                H.faults { rules = { { kind = "cut", times = 1 } } }
                local c = H.client { response_type = rt }
                local _, err = record(c:get_pop3 { sld = "resellerdocs", tld = "com" })
                assert.is_truthy(err, rt)
                assert.is_true(err.kind == "incomplete" or err.kind == "parse", rt .. ": " .. tostring(err))
                if rt ~= "xml" then
                    assert.equal("incomplete", err.kind)
                end
            end
        end)

        it("a garbage body: parse", function()
            H.faults { rules = { { kind = "garbage", times = 1 } } }
            local c = H.client()
            local _, err = record(c:get_balance {})
            assert.equal("parse", err.kind)
        end)

        it("malformed XML: parse", function()
            local c = H.client { endpoint = H.HTTPS_BASE .. "/test/badxml" }
            local _, err = record(c:get_balance {})
            assert.equal("parse", err.kind)
        end)

        it("an oversized body: stopped at the cap", function()
            local c = H.client { endpoint = H.HTTPS_BASE .. "/test/big?bytes=5000000", max_response = 100000 }
            local _, err = record(c:get_balance {})
            assert.equal("transport", err.kind)
            assert.equal("too_large", err.reason)
        end)

        it("connection closed after the command took effect: transport, maybe delivered", function()
            H.faults { rules = { { kind = "close_after", command = "SetUpPOP3User", times = 1 } } }
            local c = H.client()
            local _, err = record(c:setup_pop3_users {
                sld = "resellerdocs", tld = "com", bundle_id = 5134,
                users = { { username = "ghost", password = MAILBOX_PW } },
            })
            assert.equal("transport", err.kind)
            assert.is_true(err.maybe_delivered)
            assert.truthy(H.mailboxes("resellerdocs.com").ghost)
        end)
    end)

    it("never sends a purchase twice when a kept-alive connection dies", function()
        -- libcurl resends a request on its own when a reused connection
        -- closes without an answer; state-changing commands must not ride
        -- on a reused connection.
        local c = H.client()
        assert(c:get_balance {})
        assert(c:get_balance {})
        H.faults { rules = { { kind = "close_after", command = "PurchasePOPBundle", times = 1 } } }
        local _, err = c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 1 }
        assert.equal("transport", err.kind)
        assert.is_true(err.maybe_delivered)
        assert.equal(1, H.received("PurchasePOPBundle"))
        assert.equal(1, #H.domain("emptydomain.com").paks)
    end)

    it("counts a read that libcurl resent by itself on a dead kept-alive connection", function()
        local core = require "enom.core"
        local c = core.client { cainfo = H.CA }
        local body = enom.encode { command = "GetBalance", uid = H.UID, pw = H.PW }
        local first = assert(c:request { url = H.HTTPS_URL, body = body })
        assert.equal(1, first.sends)
        H.faults { rules = { { kind = "close_before", command = "GetBalance", times = 1 } } }
        local before = H.received("GetBalance")
        local res = assert(c:request { url = H.HTTPS_URL, body = body })
        assert.equal(200, res.status)
        assert.equal(2, res.sends)
        assert.equal(before + 2, H.received("GetBalance"))
        c:close()
    end)

    describe("validation before sending", function()
        local function check(args, pattern)
            local c = H.client()
            local before = H.total_received()
            local res, err = record(c:setup_pop3_users(args))
            assert.is_nil(res)
            assert.equal("invalid", err.kind)
            assert.is_false(err.maybe_delivered)
            assert.truthy(err.message:find(pattern), err.message)
            assert.equal(before, H.total_received())
        end
        local function users(list)
            return { sld = "resellerdocs", tld = "com", bundle_id = 5134, users = list }
        end

        it("refuses a missing password, naming the user's position", function()
            check(users { { username = "a", password = MAILBOX_PW }, { username = "b" } }, "users%[2%]%.password is missing")
        end)
        it("refuses a user name over 30 characters", function()
            check(users { { username = ("x"):rep(31), password = MAILBOX_PW } }, "users%[1%]%.username is longer than 30")
        end)
        it("refuses an empty list", function()
            check(users {}, "users must not be empty")
        end)
        it("refuses duplicate user names in one call", function()
            check(users { { username = "Ann", password = MAILBOX_PW }, { username = "ann", password = SECOND_PW } },
                "users%[2%]%.username repeats users%[1%]")
        end)
        it("refuses CR, LF or NUL in any field, without echoing it", function()
            check(users { { username = "a", password = "bad\r\nIsAdmin1=1" } }, "users%[1%]%.password contains a CR")
            check(users { { username = "a", password = MAILBOX_PW, display_name = "x\0y" } }, "users%[1%]%.display_name")
            check(users { { username = "a\n", password = MAILBOX_PW } }, "users%[1%]%.username")
        end)
        it("refuses unknown arguments and missing domain parts", function()
            check({ sld = "resellerdocs", tld = "com", bundleid = 5134, users = {} }, "unknown argument 'bundleid'")
            check({ tld = "com", bundle_id = 5134, users = { { username = "a", password = "x" } } }, "sld is missing")
        end)
    end)

    it("never shows a secret: tostring, table contents, errors, events", function()
        local c = H.client { logger = logger }
        record(c)
        for k, v in pairs(c) do
            assert.falsy(H.contains(k, H.PW) or H.contains(v, H.PW), "client field " .. tostring(k))
        end
        assert.truthy(tostring(c):find("^enom%.client"))
        assert(c:get_balance {})
        assert.truthy(#events > 0)
        for _, secret in ipairs(SECRETS) do
            for i, v in ipairs(shown) do
                assert.falsy(H.contains(v, secret), "secret in shown value " .. i)
            end
            for i, ev in ipairs(events) do
                assert.falsy(H.contains(ev, secret), "secret in event " .. i)
            end
        end
    end)

    it("is closed safely, twice, and refuses use afterwards", function()
        local c = H.client()
        c:close()
        c:close()
        assert.has_error(function() c:get_balance {} end)
    end)
end)
