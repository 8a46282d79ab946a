-- eNom's response numbers and e-mail codes (enom.responses), the error's
-- category and the one retry rule (enom.errors.retryable), and eNom's
-- TrackingKey, ExecTime and Server in results, errors and log events:
-- through enom.new with a fake transport (spec/support/fake_transport.lua).
local enom = require "enom"
local errors = require "enom.errors"
local responses = require "enom.responses"
local fake = require "fake_transport"

local PW = "Acct-Secret-9"
local DOMAIN = { sld = "example", tld = "com" }
local KEY = "2df1da83-bf0c-4db4-8492-07013f9f5815"

-- An eNom Text error answer: Err1 and, when given, ResponseNumber1 with
-- the ResponseString eNom writes beside it.
local function error_answer(text, number, rstring)
    local fields = { { "Command", "FAKE" }, { "Err1", text } }
    if number then
        fields[#fields + 1] = { "ResponseCount", 1 }
        fields[#fields + 1] = { "ResponseNumber1", number }
        fields[#fields + 1] = { "ResponseString1", rstring or "" }
    end
    fields[#fields + 1] = { "Server", "SJL0VWRESELL_T" }
    fields[#fields + 1] = { "ExecTime", "0.922" }
    fields[#fields + 1] = { "TrackingKey", KEY }
    return fake.ok(fake.text(fields, 1))
end

local function client(answer, opts)
    local o = { uid = "resellid", pw = PW, endpoint = "test", transport = fake.with(answer), response_type = "text" }
    for k, v in pairs(opts or {}) do
        o[k] = v
    end
    return assert(enom.new(o))
end

describe("eNom's response numbers", function()
    describe("classify", function()
        -- number (or nil), Err text, ResponseString, the category eNom's tables give
        local cases = {
            -- each category from a number
            { 618150, "", "System error; down for maintenance; command", "maintenance" },
            { 624183, "", "", "balance" },
            { 524181, "Insufficient funds", "", "balance" },
            { 505198, "", "Payment error; type mismatch; card type", "balance" },
            { 304155, "Bad User name or Password", "Validation error; invalid ; loginid", "auth" },
            { 401155, "", "", "auth" },
            { 413254, "", "", "auth" },
            { 713254, "User not permitted from this IP address - 192.0.2.7", "Policy error; unauthorized; user(s)",
                "ip_not_permitted" },
            { 302286, "User name ann already exists", "", "duplicate" },
            { 316153, "Domain name not found", "", "not_found" },
            { 304286, "User name contains invalid characters", "", "validation" },
            { 301286, "UserName1 is required", "", "validation" },
            { 620397, "Unable to retrieve CSR information", "System error; ...", "system" },
            { 607150, "", "", "system" },
            { 299166, "", "", "system" },
            { 699167, "", "", "system" },
            { 304166, "", "", "validation" }, -- a time-out value refused is no time-out
            { 704271, "POP pak is full", "", "policy" },
            { 221153, "", "", "registry" },
            { 199000, "", "", "unknown" },
            -- e-mail codes as numbers
            { 20, "Try again later", "", "system" },
            { 22, "", "", "system" },
            { 25, "", "", "system" },
            { 21, "", "", "ip_not_permitted" },
            { 38, "", "", "policy" },
            { 40, "", "", "password" },
            { 48, "", "", "password" },
            { 7, "", "", "duplicate" },
            -- no number: the known texts
            { nil, "User not permitted from this IP address - 192.0.2.7", nil, "ip_not_permitted" },
            { nil, "Requestor not permitted from this IP address", nil, "ip_not_permitted" },
            { nil, "Bad User name or Password", nil, "auth" },
            { nil, "Try again later", nil, "system" },
            { nil, "Requested object temporarily unavailable, try again later", nil, "system" },
            { nil, "Failed to obtain provisioning lock", nil, "system" },
            { nil, "maximum number of forward recipients reached", nil, "policy" },
            { nil, "Password not strong enough", nil, "password" },
            { nil, "Password rejected - contains username or other account info", nil, "password" },
            { nil, "An object with this name already exists.", nil, "duplicate" },
            { nil, "Invalid Item specified", nil, "unknown" },
            -- a number with a text that says more than its bare "invalid"
            { 304286, "User name ann already exists", "", "duplicate" },
            { 304156, "Password not strong enough", "", "password" },
            -- ... but a text never overrides what the number decides
            { 618150, "User name ann already exists", "", "maintenance" },
            { 713254, "Try again later", "", "ip_not_permitted" },
            -- a ResponseString carrying the number's meaning, the number unreadable
            { "6-18", "", "System error; down for maintenance; ", "maintenance" },
        }
        for i, case in ipairs(cases) do
            it(("gives %s for %s / %s (%d)"):format(case[4], tostring(case[1]), case[2], i), function()
                local resp = case[1] and { { number = case[1], string = case[3] } } or {}
                local category = responses.classify({ case[2] }, resp)
                assert.equal(case[4], category)
            end)
        end

        it("splits a six-digit number into system, kind and parameter", function()
            assert.same({ 7, 13, 254 }, { responses.split(713254) })
            assert.same({ 0, 7, 166 }, { responses.split(7166) })
            assert.is_nil(responses.split(1234567))
            assert.is_nil(responses.split("x"))
            assert.is_nil(responses.split(12.5))
        end)

        it("reports the e-mail code of a number and the category's hint", function()
            local category, code, hint = responses.classify({ "x" }, { { number = 48 } })
            assert.equal("password", category)
            assert.equal(48, code)
            assert.is_string(hint)
            local _, _, ip_hint = responses.classify({ "User not permitted from this IP address - 1.2.3.4" }, {})
            assert.truthy(ip_hint:find("allow list", 1, true))
        end)

        it("gives every entry a category that exists and every category a retry decision", function()
            for _, t in pairs { responses.SYSTEMS, responses.KINDS, responses.PARAMETERS, responses.NUMBERS,
                responses.EMAIL } do
                for _, e in pairs(t) do
                    assert.truthy(e.category == nil or responses.CATEGORIES[e.category], e.category)
                end
            end
            for _, t in ipairs(responses.TEXTS) do
                assert.truthy(responses.CATEGORIES[t.category])
                assert.is_string(t.source)
            end
            for name, c in pairs(responses.CATEGORIES) do
                assert.is_boolean(c.retry, name)
            end
        end)
    end)

    describe("errors.retryable, the one retry rule", function()
        local function api(category)
            return errors.new("api", "x", { category = category })
        end

        it("retries what passes: transport, time-out, cut or garbled answers, 5xx, 429, 408", function()
            for _, kind in ipairs { "transport", "timeout", "incomplete", "parse" } do
                assert.is_true(errors.retryable(errors.new(kind, "x")), kind)
            end
            for _, st in ipairs { 500, 502, 503, 504, 429, 408 } do
                assert.is_true(errors.retryable(errors.new("http", "x", { status = st })), st)
            end
        end)

        it("retries eNom's maintenance and system errors, e-mail codes 20, 22, 25 included", function()
            assert.is_true(errors.retryable(api("maintenance")))
            assert.is_true(errors.retryable(api("system")))
            for _, n in ipairs { 20, 22, 25, 618150, 607150 } do
                local e = errors.new("api", "x", { responses = { { number = n } }, errors = { "x" } })
                assert.is_true(errors.retryable(e), n) -- no category set: classified from the numbers
            end
        end)

        it("does not retry what the same request meets again", function()
            for _, c in ipairs { "validation", "auth", "balance", "duplicate", "password", "policy", "not_found",
                "ip_not_permitted", "registry", "unknown" } do
                assert.is_false(errors.retryable(api(c)), c)
            end
            for _, kind in ipairs { "invalid", "tls", "stopped", "busy", "lease" } do
                assert.is_false(errors.retryable(errors.new(kind, "x")), kind)
            end
            for _, st in ipairs { 400, 403, 404 } do
                assert.is_false(errors.retryable(errors.new("http", "x", { status = st })), st)
            end
            assert.is_false(errors.retryable(nil))
            assert.is_false(errors.retryable("timeout"))
        end)

        it("is the provisioning scheduler's rule", function()
            assert.equal(errors.retryable, require("enom.provision.scheduler").retryable)
        end)
    end)

    describe("an api error from eNom", function()
        it("carries the category, the hint, and eNom's TrackingKey, ExecTime and Server", function()
            local c = client(function()
                return error_answer("User not permitted from this IP address - 192.0.2.7", 713254,
                    "Policy error; unauthorized; user(s)")
            end)
            local res, err = c:get_pop3(DOMAIN)
            assert.is_nil(res)
            assert.equal("api", err.kind)
            assert.equal("ip_not_permitted", err.category)
            assert.equal(713254, err.response_number)
            assert.truthy(err.hint:find("allow list", 1, true))
            assert.equal(KEY, err.tracking_key)
            assert.equal(0.922, err.exec_time)
            assert.equal("SJL0VWRESELL_T", err.server)
            local s = tostring(err)
            assert.truthy(s:find("[TrackingKey " .. KEY .. "]", 1, true), s)
            assert.truthy(s:find("[ip_not_permitted]", 1, true), s)
            assert.truthy(s:find("allow list", 1, true), s)
            assert.is_false(errors.retryable(err))
        end)

        it("is retryable when eNom is down for maintenance, and not when the balance is short", function()
            local c = client(function() return error_answer("The system is down", 618150) end)
            local _, err = c:get_pop3(DOMAIN)
            assert.equal("maintenance", err.category)
            assert.is_true(errors.retryable(err))
            c = client(function() return error_answer("Insufficient funds", 524181) end)
            _, err = c:purchase_pop_bundle(DOMAIN)
            assert.equal("balance", err.category)
            assert.is_false(errors.retryable(err))
        end)

        it("calls a SetUpPOP3User duplicate a duplicate, with the partial answer kept", function()
            local c = client(function()
                return fake.ok(fake.text({ { "Command", "SETUPPOP3USER" }, { "AccountsCreated", 0 },
                    { "AccountsFailed", 1 }, { "Err1", "User name ann already exists" },
                    { "ResponseCount", 1 }, { "ResponseNumber1", 304286 }, { "TrackingKey", KEY } }, 1))
            end)
            local _, err = c:setup_pop3_users(
                { sld = "example", tld = "com", bundle_id = 1, users = { { username = "ann", password = "Tern-Gull-42" } } })
            assert.equal("duplicate", err.category)
            assert.equal(1, err.result.accounts_failed)
            assert.equal(KEY, err.result.tracking_key)
            assert.is_nil(tostring(err):find("Tern-Gull-42", 1, true))
        end)

        it("keeps no secret in the error, also where eNom echoes the request", function()
            local c = client(function()
                return error_answer("Bad User name or Password for resellid/" .. PW, 304155)
            end)
            local _, err = c:call("GetBalance", {})
            assert.equal("auth", err.category)
            assert.is_nil(tostring(err):find(PW, 1, true))
            assert.is_nil(err.message:find(PW, 1, true))
        end)
    end)

    describe("TrackingKey, ExecTime and Server", function()
        local function answer()
            return fake.ok(fake.text({ { "Command", "GETBALANCE" }, { "Balance", "1,000.50" },
                { "AvailableBalance", "900" }, { "Server", "SJL0VWRESELL_T" }, { "ExecTime", "0.156" },
                { "TrackingKey", KEY } }))
        end

        it("are in every typed result, from one place", function()
            local c = client(answer)
            local res = assert(c:get_balance {})
            assert.equal(1000.5, res.balance)
            assert.equal(KEY, res.tracking_key)
            assert.equal(0.156, res.exec_time)
            assert.equal("SJL0VWRESELL_T", res.server)
            local pop = assert(c:get_pop3(DOMAIN)) -- another command, the same three fields
            assert.equal(KEY, pop.tracking_key)
            assert.equal("SJL0VWRESELL_T", pop.server)
        end)

        it("are in free-form results as eNom's fields", function()
            local res = assert(client(answer):call("GetBalance", {}))
            assert.equal(KEY, res.fields.TrackingKey)
        end)

        it("are in the client's log events, for answers and for errors", function()
            local events = {}
            local log = function(e) events[#events + 1] = e end
            assert(client(answer, { logger = log }):get_balance {})
            local c = client(function() return error_answer("Try again later", 20) end, { logger = log })
            assert.is_nil(c:get_balance {})
            local response, failure
            for _, e in ipairs(events) do
                if e.event == "response" then response = e end
                if e.event == "error" then failure = e end
            end
            assert.equal(KEY, response.tracking_key)
            assert.equal(0.156, response.exec_time)
            assert.equal("SJL0VWRESELL_T", response.server)
            assert.equal(KEY, failure.tracking_key)
            assert.equal("system", failure.category)
        end)

        it("are kept for an answer cut before Done=true", function()
            local c = client(function()
                return fake.ok(fake.text({ { "Command", "GETBALANCE" }, { "TrackingKey", KEY } }, 0, true))
            end)
            local _, err = c:get_balance {}
            assert.equal("incomplete", err.kind)
            assert.equal(KEY, err.tracking_key)
            assert.truthy(tostring(err):find(KEY, 1, true))
        end)
    end)
end)
