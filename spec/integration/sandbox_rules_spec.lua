-- The sandbox follows eNom's published rules: mailbox passwords (both
-- products and the contains check), eNom's own refusals as faults, the pak
-- lifecycle and its money, forwards that wait for their recipient's
-- approval, the order history with purchases of other actors, and an admin
-- API that no web page can drive or read.
local H = require "helper"
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local D = { sld = "resellerdocs", tld = "com" }
local function with(t)
    t = t or {}
    t.sld, t.tld = t.sld or D.sld, t.tld or D.tld
    return t
end

local FORMATS = { "xml", "text", "html" }

-- One /interface.asp request as the wire carries it, for what the typed
-- layer does not show (repeated keys, the exact Text lines).
local function raw(params, fmt)
    local form = { "uid=" .. H.UID, "pw=" .. H.PW, "ResponseType=" .. (fmt or "text") }
    for k, v in pairs(params) do
        form[#form + 1] = k .. "=" .. tostring(v):gsub("[^%w%.%-_]", function(c)
            return ("%%%02X"):format(c:byte())
        end)
    end
    local data = table.concat(form, "&")
    local out = {}
    local _, code = http.request {
        url = H.URL, method = "POST", source = ltn12.source.string(data), sink = ltn12.sink.table(out),
        headers = { ["content-type"] = "application/x-www-form-urlencoded", ["content-length"] = #data },
    }
    assert.equal(200, code)
    return table.concat(out)
end

-- A state where the account `resellid` has the password rule `rule`.
local function with_rule(rule)
    local st = H.state()
    st.accounts[1].password_rule = rule
    H.reset(st)
end

local function create(c, username, password, rt)
    return c:setup_pop3_users(with { bundle_id = 5134, response_type = rt,
        users = { { username = username, password = password } } })
end

describe("sandbox rules", function()
    before_each(function()
        H.reset()
    end)

    describe("mailbox passwords", function()
        local function refused(res, err, pattern, number)
            assert.is_nil(res)
            assert.equal("api", err.kind)
            assert.equal(1, err.result.accounts_failed)
            assert.equal(0, err.result.accounts_created)
            assert.truthy(err.errors[1]:find(pattern, 1, true), err.errors[1])
            assert.equal(number, err.response_number)
        end

        -- The sandbox checks on its own: these clients leave the library's
        -- check of the same rules off (password_rule = false).
        it("pop_m2w (KB 1691): 6 to 30 letters and digits, upper, lower and a digit", function()
            local c = H.client { password_rule = false }
            for _, rt in ipairs(FORMATS) do
                H.reset()
                with_rule("pop_m2w")
                assert(create(c, "kim", "Ab3def", rt))
                assert(create(c, "lee", "Ab3" .. ("x"):rep(27), rt))
                local res, err = create(c, "max", "Ab3de", rt)
                refused(res, err, "user max: 6 to 30 characters", 303156)
                res, err = create(c, "max", "Ab3" .. ("x"):rep(28), rt)
                refused(res, err, "6 to 30 characters", 303156)
                res, err = create(c, "max", "Ab3-defg", rt)
                refused(res, err, "special characters are not allowed", 306156)
                res, err = create(c, "max", "Ab3 defg", rt)
                refused(res, err, "special characters are not allowed", 306156)
                res, err = create(c, "max", "ab3defgh", rt)
                refused(res, err, "it needs an upper-case letter", 306156)
                res, err = create(c, "max", "AB3DEFGH", rt)
                refused(res, err, "it needs a lower-case letter", 306156)
                res, err = create(c, "max", "Abcdefgh", rt)
                refused(res, err, "it needs a digit", 306156)
                local m = H.mailboxes("resellerdocs.com")
                assert.truthy(m.kim and m.lee)
                assert.is_nil(m.max)
            end
        end)

        it("email_basic (the default seed's): 10 to 20, no spaces, an upper-case letter, a digit and one of * @ - _ / .",
            function()
            local c = H.client { password_rule = false }
            for i, ok in ipairs { "Abcdefgh1-", "ABCDEFGH1*", "abcdeFgh1@", "Abcdefgh1_", "Abcdefgh1/", "Abcdefgh1." } do
                assert(create(c, "ok" .. i, ok))
            end
            assert(create(c, "long", "Abcdefgh1-" .. ("x"):rep(10)))
            local res, err = create(c, "max", "Abcdefg1-")
            refused(res, err, "10 to 20 characters", 303156)
            res, err = create(c, "max", "Abcdefgh1-" .. ("x"):rep(11))
            refused(res, err, "10 to 20 characters", 303156)
            res, err = create(c, "max", "Abcd efgh1-")
            refused(res, err, "spaces and characters other than", 306156)
            res, err = create(c, "max", "Abcdefgh1!")
            refused(res, err, "spaces and characters other than", 306156)
            res, err = create(c, "max", "Abcdefgh12")
            refused(res, err, "it needs one of * @ - _ / .", 306156)
            res, err = create(c, "max", "abcdefgh1-")
            refused(res, err, "it needs an upper-case letter", 306156)
            res, err = create(c, "max", "Abcdefghi-")
            refused(res, err, "it needs a digit", 306156)
            -- pop_m2w's passwords have no special character: refused here
            res, err = create(c, "max", "Abcdefgh12x")
            refused(res, err, "it needs one of", 306156)
        end)

        it("refuses a password holding the user name, the domain or the login id, in any case, under both rules", function()
            for _, rule in ipairs { "pop_m2w", "email_basic" } do
                with_rule(rule)
                local c = H.client { password_rule = false }
                local tail = rule == "email_basic" and "-9" or "9"
                for _, pw in ipairs { "XxKiMberly" .. tail, "Resellerdocs" .. tail, "XRESELLIDx" .. tail } do
                    local res, err = create(c, "kimberly", pw)
                    refused(res, err, "user kimberly - contains username or other account info", 306156)
                end
                assert.is_nil(H.mailboxes("resellerdocs.com").kimberly)
            end
        end)

        it("ModifyPOP3 refuses the same way and keeps the old password", function()
            with_rule("pop_m2w")
            local c = H.client { password_rule = false }
            local res, err = c:modify_pop3(with { users = { { username = "support", password = "Short1" .. "-" } } })
            assert.is_nil(res)
            assert.equal("api", err.kind)
            assert.equal(306156, err.response_number)
            assert.truthy(err.errors[1]:find("user support: special characters", 1, true), err.errors[1])
            res, err = c:modify_pop3(with { users = { { username = "support", password = "MySupport9" } } })
            assert.is_nil(res)
            assert.truthy(err.errors[1]:find("contains username", 1, true), err.errors[1])
            assert.equal("Mbx-Sp7-Secret2", H.mailboxes("resellerdocs.com").support.password)
            assert(c:modify_pop3(with { users = { { username = "support", password = "NewSp7Pass" } } }))
            assert.equal("NewSp7Pass", H.mailboxes("resellerdocs.com").support.password)
        end)

        it("each user of a call succeeds or fails alone", function()
            with_rule("pop_m2w")
            local res, err = H.client({ password_rule = false }):setup_pop3_users(with { bundle_id = 5134, users = {
                { username = "ok1", password = "Good1Pass" }, { username = "bad1", password = "bad" },
                { username = "ok2", password = "Good2Pass" } } })
            assert.is_nil(res)
            assert.equal(2, err.result.accounts_created)
            assert.equal(1, err.result.accounts_failed)
            local m = H.mailboxes("resellerdocs.com")
            assert.truthy(m.ok1 and m.ok2)
            assert.is_nil(m.bad1)
        end)

        it("the seed's own passwords satisfy its rule (email_basic)", function()
            local st = H.state()
            for _, d in ipairs(st.domains) do
                for _, m in ipairs(d.mailboxes) do
                    local pw = m.password
                    assert.truthy(#pw >= 10 and #pw <= 20 and pw:find("^[%w%*@%-_/%.]+$") and pw:find("%u")
                        and pw:find("%d") and pw:find("[%*@%-_/%.]"), m.username)
                    assert.falsy(pw:lower():find(m.username:lower(), 1, true), m.username)
                end
            end
        end)

        it("a seed names a rule it knows", function()
            local st = H.state()
            st.accounts[1].password_rule = "anything_goes"
            assert.has_error(function() H.reset(st) end)
        end)
    end)

    describe("eNom's refusals as faults", function()
        local function buy(c, rt)
            return c:purchase_pop_bundle { sld = "emptydomain", tld = "com", response_type = rt }
        end

        it("maintenance: a class-6, x18 answer, nothing applied, in every format", function()
            H.faults { rules = { { kind = "maintenance", command = "PurchasePOPBundle" } } }
            local c = H.client()
            for _, rt in ipairs(FORMATS) do
                local res, err = buy(c, rt)
                assert.is_nil(res)
                assert.equal("api", err.kind)
                assert.equal(618000, err.response_number)
                assert.truthy(err.message:find("maintenance", 1, true), err.message)
                assert.equal("System error; down for maintenance;", err.responses[1].string)
            end
            assert.equal(0, #H.domain("emptydomain.com").paks)
            assert.equal(1000, H.state().accounts[1].balance)
            assert.equal(3, H.counters().commands.PurchasePOPBundle.faults.maintenance)
            -- other commands still answer
            assert(c:get_balance {})
        end)

        it("insufficient_balance: a class-5, x24 answer for one account only, nothing charged", function()
            H.faults { rules = { { kind = "insufficient_balance", uid = "resellid", times = 1 } } }
            local res, err = buy(H.client())
            assert.is_nil(res)
            assert.equal(524181, err.response_number)
            assert.truthy(err.message:find("Insufficient funds", 1, true))
            assert.equal(0, #H.domain("emptydomain.com").paks)
            -- the rule fired once: the next purchase goes through
            assert(buy(H.client()))
            assert.equal(1, #H.domain("emptydomain.com").paks)
        end)

        it("a purchase and a renewal beyond the balance are refused the same way, for real", function()
            local st = H.state()
            st.accounts[1].balance = 10
            H.reset(st)
            local c = H.client()
            local res, err = c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 2 }
            assert.is_nil(res)
            assert.equal(524181, err.response_number)
            assert.truthy(err.message:find("costs 11.90, the available balance is 10.00", 1, true), err.message)
            res, err = c:renew_pop_bundle(with { pak_id = 5134, years = 2 })
            assert.is_nil(res)
            assert.equal(524181, err.response_number)
            assert.equal("2/5/2031", H.domain("resellerdocs.com").paks[1].exp_date)
            assert.equal(10, H.state().accounts[1].balance)
        end)

        it("ip_refused: eNom's allow-list text with the caller's address and no number", function()
            H.faults { rules = { { kind = "ip_refused", command = "GetBalance" } } }
            local res, err = H.client():get_balance {}
            assert.is_nil(res)
            assert.equal("api", err.kind)
            assert.is_nil(err.response_number)
            assert.equal("User not permitted from this IP address - 127.0.0.1", err.message)
        end)

        it("at a seeded rate, repeatably", function()
            local function run()
                H.reset()
                H.faults { rate = 0.5, seed = 11, kinds = { "maintenance", "insufficient_balance", "ip_refused" } }
                local c = H.client()
                local seq = {}
                for i = 1, 60 do
                    local _, err = c:get_balance {}
                    seq[i] = err and tostring(err.response_number or "none") or "ok"
                end
                return table.concat(seq, ",")
            end
            local a, b = run(), run()
            assert.equal(a, b)
            assert.truthy(a:find("618000") and a:find("524181") and a:find("none") and a:find("ok"), a)
        end)
    end)

    describe("the pak lifecycle", function()
        it("GetPOPExpirations: every pak of the account, with its domain and expiry, in every format", function()
            local c = H.client()
            assert(c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 2 })
            assert(c:purchase_pop_bundle { sld = "shop07", tld = "com" })
            -- another account's paks are not listed
            local other = H.client { uid = "otherco", pw = "0therco-Pass" }
            assert(other:purchase_pop_bundle { sld = "otherco", tld = "com" })
            for _, rt in ipairs(FORMATS) do
                local res = assert(c:get_pop_expirations { response_type = rt })
                local by_id = {}
                for _, p in ipairs(res.paks) do by_id[p.bundle_id] = p end
                assert.equal(4, #res.paks, rt)
                assert.equal("resellerdocs.com", by_id[5134].domain)
                assert.equal("2/5/2031", by_id[5134].expires)
                assert.equal("emptydomain.com", by_id[6001].domain)
                assert.equal("shop07.com", by_id[6003].domain)
                assert.is_nil(by_id[6004])
                assert.equal(4, res.count)
                -- renewX is in Text and HTML only
                assert.equal(rt ~= "xml" or nil, by_id[5134].auto_renew)
            end
        end)

        it("RenewPOPBundle moves the expiry by the years, charged at the account's price per year", function()
            local c = H.client()
            local res = assert(c:renew_pop_bundle(with { pak_id = 5134, years = 2 }))
            assert.truthy(tonumber(res.order_id))
            assert.equal("2/5/2033", H.domain("resellerdocs.com").paks[1].exp_date)
            assert.equal(1000 - 2 * 5.95, H.state().accounts[1].balance)
            -- a new pak's expiry keeps its time of day
            local bought = assert(c:purchase_pop_bundle { sld = "emptydomain", tld = "com" })
            local before = H.domain("emptydomain.com").paks[1].exp_date
            assert(c:renew_pop_bundle { sld = "emptydomain", tld = "com", pak_id = bought.bundle_ids[1], years = 1,
                response_type = "text" })
            local after = H.domain("emptydomain.com").paks[1].exp_date
            local m, d, y, rest = before:match("^(%d+)/(%d+)/(%d+)(.*)$")
            assert.equal(("%s/%s/%d%s"):format(m, d, tonumber(y) + 1, rest), after)
            local pop = assert(c:get_pop3 { sld = "emptydomain", tld = "com" })
            assert.equal(after, pop.paks[1].expires)
        end)

        it("RenewPOPBundle refuses another domain's pak, and years out of 1..10, without charging", function()
            local c = H.client()
            local res, err = c:renew_pop_bundle { sld = "emptydomain", tld = "com", pak_id = 5134, years = 1 }
            assert.is_nil(res)
            assert.equal(316269, err.response_number)
            res, err = c:call("RenewPOPBundle", { SLD = "resellerdocs", TLD = "com", PakID = 5134, Quantity = 11 })
            assert.is_nil(res)
            assert.equal(303183, err.response_number)
            assert.equal(1000, H.state().accounts[1].balance)
            assert.equal("2/5/2031", H.domain("resellerdocs.com").paks[1].exp_date)
            assert.equal(0, H.counters().totals.applied)
        end)

        it("a renewal whose answer is lost has still happened once, and shows in the order history", function()
            H.faults { rules = { { kind = "close_after", command = "RenewPOPBundle", times = 1 } } }
            local c = H.client()
            local res, err = c:renew_pop_bundle(with { pak_id = 5134, years = 1 })
            assert.is_nil(res)
            assert.equal("transport", err.kind)
            assert.equal(1, H.counters().commands.RenewPOPBundle.received)
            assert.equal("2/5/2032", H.domain("resellerdocs.com").paks[1].exp_date)
            local list = assert(c:get_order_list {})
            local detail = assert(c:get_order_detail { order_id = list.orders[1].order_id })
            assert.equal("POP Pak Renewal", detail.items[1].product_type)
            assert.equal("resellerdocs.com", detail.items[1].description)
            assert.equal(1, detail.items[1].quantity)
            assert.equal("2/5/2032", detail.items[1].expires)
        end)

        it("SetPakRenew switches one pak, in every format, and refuses a pak of another domain", function()
            local c = H.client()
            assert(c:purchase_pop_bundle { sld = "resellerdocs", tld = "com" })
            for _, rt in ipairs(FORMATS) do
                local res = assert(c:set_pak_renew(with { bundle_id = 5134, auto_renew = false, response_type = rt }))
                if rt == "xml" then
                    assert.equal(5134, res.pak_updated)
                    assert.is_false(res.auto_renew)
                else
                    assert.is_true(res.success)
                end
                local paks = H.domain("resellerdocs.com").paks
                assert.is_false(paks[1].auto_renew)
                assert.is_true(paks[2].auto_renew)
                assert(c:set_pak_renew(with { bundle_id = 5134, auto_renew = true, response_type = rt }))
                assert.is_true(H.domain("resellerdocs.com").paks[1].auto_renew)
            end
            local res, err = c:set_pak_renew { sld = "emptydomain", tld = "com", bundle_id = 5134, auto_renew = false }
            assert.is_nil(res)
            assert.equal(316269, err.response_number)
            assert.is_true(H.domain("resellerdocs.com").paks[1].auto_renew)
            -- eNom's sample names the domain by DomainNameID
            local id = assert(c:get_pop_forwarding(with { username = "james" })).forwards[1].domain_name_id
            local raw_ans = raw({ command = "SetPakRenew", DomainNameID = id, BundleID = 5134, AutoPakRenew = 0 })
            assert.truthy(raw_ans:find("ErrCount=0", 1, true), raw_ans)
            assert.is_false(H.domain("resellerdocs.com").paks[1].auto_renew)
        end)

        it("SetRenew's AutoPakRenew sets every pak of the domain and the paks it buys later; GetRenew reads it", function()
            local c = H.client()
            assert(c:purchase_pop_bundle { sld = "resellerdocs", tld = "com" })
            local got = assert(c:get_renew(with()))
            assert.is_true(got.auto_pak_renew)
            assert.is_true(got.pak_exists)
            assert.is_true(got.auto_renew)
            for _, rt in ipairs(FORMATS) do
                local res = assert(c:set_renew(with { auto_renew = true, auto_pak_renew = false, response_type = rt }))
                assert.is_false(res.auto_pak_renew)
                assert.is_true(res.auto_renew)
                got = assert(c:get_renew(with { response_type = rt }))
                assert.is_false(got.auto_pak_renew)
                assert.is_true(got.auto_renew)
            end
            for _, p in ipairs(H.domain("resellerdocs.com").paks) do assert.is_false(p.auto_renew) end
            assert(c:purchase_pop_bundle { sld = "resellerdocs", tld = "com" })
            assert.is_false(H.domain("resellerdocs.com").paks[3].auto_renew)
            -- without AutoPakRenew, the paks stay as they are and the answer has none
            local res = assert(c:set_renew(with { auto_renew = false }))
            assert.is_nil(res.auto_pak_renew)
            got = assert(c:get_renew(with()))
            assert.is_false(got.auto_renew)
            assert.is_false(got.auto_pak_renew)
            -- one pak on again: the domain's paks are no longer all on
            assert(c:set_pak_renew(with { bundle_id = 5134, auto_renew = true }))
            assert.is_false(assert(c:get_renew(with())).auto_pak_renew)
            assert.is_false(assert(c:get_renew { sld = "emptydomain", tld = "com" }).pak_exists)
        end)

        it("UpdateRenewalSettings changes the account's renewal notices, and no AutoPakRenew", function()
            local c = H.client()
            local res = assert(c:update_renewal_settings { renewal_setting = 1, renewal_bcc = true, url = "www.resellerdocs.com",
                response_type = "text" })
            assert.equal("Successful", res.renewal_setting)
            local r = H.state().accounts[1].renewal
            assert.equal(1, r.renewal_setting)
            assert.is_true(r.renewal_bcc)
            assert.equal("www.resellerdocs.com", r.url)
            -- eNom's page documents no AutoPakRenew here: it changes nothing
            assert(c:call("UpdateRenewalSettings", { AutoPakRenew = 0 }))
            assert.is_true(H.domain("resellerdocs.com").paks[1].auto_renew)
            local _, err = c:call("UpdateRenewalSettings", { RenewalSetting = 3 })
            assert.equal(304163, err.response_number)
            assert.equal(1, H.state().accounts[1].renewal.renewal_setting)
        end)

        it("PE_GetPOPPrice gives the account's own price, which purchases and renewals charge", function()
            local c = H.client()
            for _, rt in ipairs(FORMATS) do
                assert.equal(5.95, assert(c:get_pop_price { response_type = rt }).price)
            end
            local other = H.client { uid = "otherco", pw = "0therco-Pass" }
            assert.equal(6.45, assert(other:get_pop_price {}).price)
            assert(other:purchase_pop_bundle { sld = "otherco", tld = "com", quantity = 2 })
            assert.equal(250 - 2 * 6.45, H.state().accounts[2].balance)
        end)
    end)

    describe("forwards", function()
        local function status_of(res, alias)
            for _, f in ipairs(res.forwards) do
                if f.alias == alias then return f.status, f.reject_reason, f.forward_to end
            end
        end

        it("SetPOPForwarding adds, changes and deletes one mailbox's forward; every other forward stays", function()
            local c = H.client()
            local before = H.domain("resellerdocs.com")
            local res = assert(c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com",
                forward_to = "desk@example.net", enable = true, status_flags = 1 }))
            assert.is_true(res.success)
            local after = H.domain("resellerdocs.com")
            assert.same(before.forwarding, after.forwarding)
            local m = H.mailboxes("resellerdocs.com")
            assert.equal("desk@example.net", m.support.forward_to)
            assert.equal("1", m.support.forward_flags)
            assert.equal("pending", m.support.forward_state)
            assert.equal("james.doe@example.net", m.james.forward_to)
            assert.equal("approved", m.james.forward_state)
            -- the new one waits for its recipient; james's still forwards
            local pf = assert(c:get_pop_forwarding(with { username = "support" }))
            assert.is_false(pf.forwards[1].active)
            assert.equal("desk@example.net", pf.forwards[1].forward_to)
            local text = raw({ command = "GetPOPForwarding", SLD = "resellerdocs", TLD = "com", UserName = "support" })
            assert.truthy(text:find("\r\nstatus=2\r\n", 1, true), text)
            assert.is_true(assert(c:get_pop_forwarding(with { username = "james" })).forwards[1].active)
            -- keep a copy (0), the same target: no new approval needed once approved
            H.admin("POST", "/forwards/approve", { domain = "resellerdocs.com", address = "support", mailbox = true })
            assert(c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com",
                forward_to = "DESK@example.net", enable = true, status_flags = 0, response_type = "html" }))
            m = H.mailboxes("resellerdocs.com")
            assert.equal("approved", m.support.forward_state)
            assert.equal("0", m.support.forward_flags)
            assert.is_true(assert(c:get_pop_forwarding(with { username = "support" })).forwards[1].active)
            -- a new target asks again
            assert(c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com",
                forward_to = "other@example.net", enable = true, status_flags = 0 }))
            assert.equal("pending", H.mailboxes("resellerdocs.com").support.forward_state)
            -- delete: the approval goes with it
            assert(c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com", enable = false,
                response_type = "text" }))
            m = H.mailboxes("resellerdocs.com")
            assert.equal("", m.support.forward_to)
            assert.equal("", m.support.forward_state)
            assert.equal("james.doe@example.net", m.james.forward_to)
            assert.same(before.forwarding, H.domain("resellerdocs.com").forwarding)
        end)

        it("SetPOPForwarding refuses an unknown mailbox, another domain in EMail, a missing target", function()
            local c = H.client()
            local _, err = c:set_pop_forwarding(with { username = "ghost", email = "resellerdocs.com",
                forward_to = "a@example.net", enable = true })
            assert.equal(316286, err.response_number)
            _, err = c:set_pop_forwarding(with { username = "support", email = "otherco.com",
                forward_to = "a@example.net", enable = true })
            assert.equal(304012, err.response_number)
            _, err = c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com", enable = true })
            assert.equal(301172, err.response_number)
            assert.equal("", H.mailboxes("resellerdocs.com").support.forward_to)
            assert.equal(0, H.counters().totals.applied)
        end)

        it("a new forward is pending until approved; an unchanged one keeps its approval; GetForwarding shows both", function()
            local c = H.client()
            assert(c:set_forwarding(with { forwards = {
                { address = "info", forward_to = "james@resellerdocs.com" },   -- unchanged: stays approved
                { address = "sales", forward_to = "new-sales@example.net" },   -- changed: asks again
                { address = "help", forward_to = "desk@example.net" },         -- new
            } }))
            for _, rt in ipairs(FORMATS) do
                local res = assert(c:get_forwarding(with { response_type = rt }))
                assert.equal(0, (status_of(res, "info")))
                local st, reason = status_of(res, "sales")
                assert.equal(2, st)
                assert.truthy(reason:find("approve", 1, true), reason)
                assert.equal(2, (status_of(res, "help")))
            end
            H.admin("POST", "/forwards/approve", { domain = "resellerdocs.com", address = "help" })
            local res = assert(c:get_forwarding(with()))
            assert.equal(0, (status_of(res, "help")))
            assert.equal(2, (status_of(res, "sales")))
            local reqs = H.admin("GET", "/forwards")
            local seen = {}
            for _, r in ipairs(reqs) do seen[r.domain .. "/" .. r.address] = r.state end
            assert.equal("pending", seen["resellerdocs.com/sales"])
            assert.equal("approved", seen["resellerdocs.com/help"])
            assert.equal("approved", seen["resellerdocs.com/james"])
        end)

        it("an unanswered request expires (the admin call, or 24 hours); sending it again asks again", function()
            local c = H.client()
            assert(c:set_forwarding(with { forwards = { { address = "help", forward_to = "desk@example.net" } } }))
            H.admin("POST", "/forwards/expire", { domain = "resellerdocs.com", address = "help" })
            local res = assert(c:get_forwarding(with { response_type = "text" }))
            local st, reason = status_of(res, "help")
            assert.equal(3, st)
            assert.truthy(reason:find("24 hours", 1, true), reason)
            -- an expired request cannot be approved any more
            assert.has_error(function()
                H.admin("POST", "/forwards/approve", { domain = "resellerdocs.com", address = "help" })
            end)
            assert(c:set_forwarding(with { forwards = { { address = "help", forward_to = "desk@example.net" } } }))
            assert.equal(2, (status_of(assert(c:get_forwarding(with())), "help")))
            -- a request made more than 24 hours ago has expired by itself
            local state = H.state()
            local dom = H.domain("resellerdocs.com", state)
            dom.forwarding[1].requested_at = os.time() - 24 * 3600 - 5
            dom.mailboxes[2].forward_to = "old@example.net"
            dom.mailboxes[2].forward_flags = "1"
            dom.mailboxes[2].forward_state = "pending"
            dom.mailboxes[2].forward_requested_at = os.time() - 25 * 3600
            H.reset(state)
            assert.equal(3, (status_of(assert(c:get_forwarding(with())), "help")))
            local text = raw({ command = "GetPOPForwarding", SLD = "resellerdocs", TLD = "com", UserName = "support" })
            assert.truthy(text:find("\r\nstatus=3\r\n", 1, true), text)
            assert.truthy(text:find("\r\nactive=0\r\n", 1, true), text)
        end)

        it("at most 20 requests wait for one recipient; expired ones do not count", function()
            local c = H.client()
            local set = {}
            for i = 1, 20 do set[i] = { address = ("a%02d"):format(i), forward_to = "desk@example.net" } end
            assert(c:set_forwarding(with { forwards = set }))
            local before = H.domain("resellerdocs.com").forwarding
            set[21] = { address = "a21", forward_to = "desk@example.net" }
            local res, err = c:set_forwarding(with { forwards = set })
            assert.is_nil(res)
            assert.equal(706172, err.response_number)
            assert.same(before, H.domain("resellerdocs.com").forwarding)
            -- a mailbox's forward to the same recipient: refused as well
            local _, err2 = c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com",
                forward_to = "desk@example.net", enable = true })
            assert.equal(706172, err2.response_number)
            -- another domain's forward to that recipient too; another recipient is free
            local _, err3 = c:set_forwarding { sld = "shop01", tld = "com",
                forwards = { { address = "x", forward_to = "desk@example.net" } } }
            assert.equal(706172, err3.response_number)
            assert(c:set_forwarding { sld = "shop01", tld = "com",
                forwards = { { address = "x", forward_to = "else@example.net" } } })
            H.admin("POST", "/forwards/expire", { domain = "resellerdocs.com", address = "a01" })
            assert(c:set_pop_forwarding(with { username = "support", email = "resellerdocs.com",
                forward_to = "desk@example.net", enable = true }))
        end)

        it("SetCatchAll sets the domain's catch-all, which GetCatchAll reads, in every format", function()
            local c = H.client()
            for i, rt in ipairs(FORMATS) do
                local to = ("catch%d@example.net"):format(i)
                local res = assert(c:set_catch_all(with { forward_to = to, response_type = rt }))
                assert.equal(to, res.catch_all)
                assert.equal(to, assert(c:get_catch_all(with { response_type = rt })).catch_all)
            end
            local _, err = c:set_catch_all(with { forward_to = "not an address" })
            assert.equal(304172, err.response_number)
            assert.equal("catch3@example.net", H.domain("resellerdocs.com").catch_all)
        end)
    end)

    describe("the order history", function()
        local function ids_in_text(body)
            local ids = {}
            for id in body:gmatch("\r\nOrderID=(%d+)") do ids[#ids + 1] = tonumber(id) end
            return ids
        end

        it("holds this client's purchases, another client's and a person's in the web interface, newest first", function()
            local c = H.client()
            local mine = assert(c:purchase_pop_bundle { sld = "emptydomain", tld = "com" })
            local other = assert(H.client { response_type = "text" }:purchase_pop_bundle { sld = "shop02", tld = "com" })
            local web = H.admin("POST", "/purchase", { domain = "shop03.com", quantity = 2 })
            assert.equal(2, #web.bundle_ids)
            assert.equal(2, #H.domain("shop03.com").paks)
            assert.equal(1000 - 4 * 5.95, H.state().accounts[1].balance)
            local want = { tonumber(web.order_id), tonumber(other.order_id), tonumber(mine.order_id) }
            local list = assert(c:get_order_list {})
            assert.equal(3, list.record_count)
            assert.equal(1, list.show_start)
            assert.equal(3, list.show_end)
            local got = {}
            for i, o in ipairs(list.orders) do
                got[i] = o.order_id
                assert.equal("Order complete", o.status)
                assert.is_true(o.processed)
            end
            assert.same(want, got)
            -- Text repeats OrderID for every order, without an index, in that order
            local text = raw({ command = "GetOrderList" })
            assert.same(want, ids_in_text(text))
            assert.falsy(text:find("OrderID1=", 1, true))
            local web_detail = assert(c:get_order_detail { order_id = want[1], response_type = "text" })
            assert.equal(6, web_detail.order_status)
            assert.equal("Successful", web_detail.status)
            assert.equal("POP Pak", web_detail.items[1].product_type)
            assert.equal("shop03.com", web_detail.items[1].description)
            assert.equal(2, web_detail.items[1].quantity)
            assert.equal("Closed", web_detail.items[1].order_status)
            assert.equal("11.90", web_detail.items[1].amount_paid)
            assert.equal("$11.90", web_detail.bill_amount)
            -- no product bundle: the fields are there and empty, as in eNom's sample
            assert.equal("", web_detail.items[1].bundle_id)
            assert.equal("", web_detail.items[1].bundle_name)
        end)

        it("shows an order open while its purchase is under way", function()
            -- A purchase that takes longer than any spec: its order is
            -- recorded when it arrives and stays open (the caller stops
            -- waiting; the sandbox goes on, as eNom does).
            H.admin("POST", "/settings", { purchase_delay_ms = 600000 })
            local host, port = H.URL:match("^http://([%d%.]+):(%d+)/")
            local buyer = assert(socket.tcp())
            buyer:settimeout(10)
            assert(buyer:connect(host, tonumber(port)))
            local form = ("command=PurchasePOPBundle&uid=%s&pw=%s&sld=shop04&tld=com"):format(H.UID, H.PW)
            assert(buyer:send(("POST /interface.asp HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                .. "application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"):format(host, #form, form)))
            local c = H.client()
            local list
            for _ = 1, 500 do
                list = assert(c:get_order_list {})
                if #list.orders > 0 then break end
                socket.sleep(0.02)
            end
            assert.equal(1, #list.orders)
            assert.equal("Processing", list.orders[1].status)
            assert.is_false(list.orders[1].processed)
            for _, rt in ipairs(FORMATS) do
                local detail = assert(c:get_order_detail { order_id = list.orders[1].order_id, response_type = rt })
                assert.equal(3, detail.order_status)
                assert.equal("Processing", detail.status)
                assert.equal("Open", detail.items[1].order_status)
                assert.equal("Processing", detail.items[1].status)
            end
            -- charged, paks not there yet
            assert.equal(1000 - 5.95, H.state().accounts[1].balance)
            assert.equal(0, #H.domain("shop04.com").paks)
            buyer:close()
        end)

        it("pages by 25 from Start, and keeps to BeginDate..EndDate of at most six months", function()
            local st = H.state()
            st.orders = {}
            local now = os.time()
            for i = 1, 30 do
                st.orders[i] = { order_id = 157000000 + i, uid = "resellid", domain = "shop01.com", quantity = 1,
                    time = now - (31 - i) * 60 }
            end
            st.orders[31] = { order_id = 157000031, uid = "otherco", domain = "otherco.com", time = now }
            st.orders[32] = { order_id = 156000001, uid = "resellid", domain = "shop01.com", time = now - 400 * 86400 }
            H.reset(st)
            local c = H.client()
            local p1 = assert(c:get_order_list {})
            assert.equal(30, p1.record_count)
            assert.equal(25, #p1.orders)
            assert.equal(157000030, p1.orders[1].order_id)
            assert.equal(26, p1.next_start)
            local p2 = assert(c:get_order_list { start = 26 })
            assert.equal(5, #p2.orders)
            assert.equal(157000005, p2.orders[1].order_id)
            assert.equal(30, p2.show_end)
            local old_day = os.date("!%m/%d/%Y", now - 400 * 86400)
            local older = assert(c:get_order_list { begin_date = old_day, end_date = os.date("!%m/%d/%Y", now - 300 * 86400) })
            assert.equal(1, #older.orders)
            assert.equal(156000001, older.orders[1].order_id)
            local _, err = c:get_order_list { begin_date = old_day, end_date = os.date("!%m/%d/%Y", now) }
            assert.equal(303217, err.response_number)
            -- another account's order is not there
            local _, err2 = c:get_order_detail { order_id = 157000031 }
            assert.equal(316259, err2.response_number)
        end)
    end)

    describe("the admin API", function()
        -- An admin request with headers of the caller's choosing.
        local function request(method, path, headers, body)
            local out = {}
            headers = headers or {}
            if body then headers["content-length"] = #body end
            local _, code = http.request {
                url = H.ADMIN .. path, method = method, headers = headers,
                source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out),
            }
            return code, table.concat(out)
        end

        local function changed_state()
            local st = H.state()
            st.accounts[1].balance = 123.45
            H.reset(st)
            return st
        end

        it("refuses an Origin of another site, state unchanged", function()
            changed_state()
            local code, body = request("POST", "/reset",
                { origin = "http://evil.example", ["content-type"] = "application/json" }, "")
            assert.equal(403, code)
            assert.truthy(body:find("origin", 1, true), body)
            code = request("POST", "/faults", { origin = "http://evil.example", ["content-type"] = "application/json" },
                '{"rules":[{"kind":"close_before"}]}')
            assert.equal(403, code)
            code = request("GET", "/state", { origin = "http://evil.example" })
            assert.equal(403, code)
            code = request("GET", "/state", { origin = "null" })
            assert.equal(403, code)
            assert.equal(123.45, H.state().accounts[1].balance)
            assert.same({}, H.admin("GET", "/faults").rules)
            -- a page served from the loopback itself may
            code = request("GET", "/health", { origin = "http://127.0.0.1:8080" })
            assert.equal(200, code)
        end)

        it("refuses a Host that is not the loopback (DNS rebinding): no state, no password", function()
            changed_state()
            local code, body = request("GET", "/state", { host = "evil.example" })
            assert.equal(403, code)
            assert.falsy(body:find("Mbx-Jx4-Secret1", 1, true))
            assert.falsy(body:find(H.PW, 1, true))
            code = request("POST", "/reset", { host = "evil.example:" .. H.ADMIN:match(":(%d+)/"),
                ["content-type"] = "application/json" }, "")
            assert.equal(403, code)
            code = request("GET", "/health", { host = "localhost" })
            assert.equal(200, code)
            assert.equal(123.45, H.state().accounts[1].balance)
        end)

        it("refuses a POST that is not JSON (a cross-origin text/plain or form request), state unchanged", function()
            changed_state()
            local code, body = request("POST", "/reset", { ["content-type"] = "text/plain" }, "")
            assert.equal(415, code)
            assert.truthy(body:find("Content-Type", 1, true), body)
            code = request("POST", "/faults", { ["content-type"] = "text/plain" }, '{"rules":[{"kind":"close_before"}]}')
            assert.equal(415, code)
            code = request("POST", "/settings", { ["content-type"] = "application/x-www-form-urlencoded" },
                '{"purchase_delay_ms":5000}')
            assert.equal(415, code)
            code = request("POST", "/reset", {}, "")
            assert.equal(415, code)
            assert.equal(123.45, H.state().accounts[1].balance)
            assert.same({}, H.admin("GET", "/faults").rules)
            assert.equal(0, H.state().settings.purchase_delay_ms)
            -- JSON with a charset is JSON
            code = request("POST", "/reset", { ["content-type"] = "application/json; charset=utf-8" }, "")
            assert.equal(200, code)
            assert.equal(1000, H.state().accounts[1].balance)
        end)
    end)
end)

describe("sandbox rules against a client on both schemes", function()
    it("answers the lifecycle over http and https alike", function()
        H.reset()
        for _, scheme in ipairs { "http", "https" } do
            local c = H.client { http = scheme == "http" }
            assert.equal(1, #assert(c:get_pop_expirations {}).paks)
            assert.equal(5.95, assert(c:get_pop_price {}).price)
            c:close()
        end
    end)
end)
