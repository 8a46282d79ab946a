-- A state-changing request goes over the wire at most once, even on a
-- kept-alive connection: when the server closes it without answering,
-- libcurl would resend the request on a new connection by itself; the
-- transfer fails instead, maybe delivered, and the sandbox counts one.
local H = require "helper"
local enom = require "enom"

local function purchase_body()
    return enom.encode { command = "PurchasePOPBundle", uid = H.UID, pw = H.PW,
        sld = "emptydomain", tld = "com", Quantity = 1, ResponseType = "XML" }
end

local function counts(command)
    local c = H.counters().commands[command] or {}
    return c.received or 0, c.applied or 0
end

describe("a state-changing request", function()
    before_each(function()
        H.reset()
    end)

    it("rides a kept-alive connection when nothing goes wrong", function()
        local core = require "enom.core"
        local c = core.client { cainfo = H.CA }
        assert(c:request { url = H.HTTPS_URL, body = enom.encode { command = "GetBalance", uid = H.UID, pw = H.PW } })
        local res = assert(c:request { url = H.HTTPS_URL, body = purchase_body(), once = true })
        assert.equal(200, res.status)
        assert.is_true(res.reused)
        assert.equal(1, res.sends)
        c:close()
    end)

    for _, kind in ipairs { "close_before", "close_after" } do
        it("is sent once when the server closes the kept-alive connection unanswered (" .. kind .. ")", function()
            local core = require "enom.core"
            local c = core.client { cainfo = H.CA }
            assert(c:request { url = H.HTTPS_URL, body = enom.encode { command = "GetBalance", uid = H.UID, pw = H.PW } })
            H.faults { rules = { { kind = kind, command = "PurchasePOPBundle", times = 1 } } }
            local res, err = c:request { url = H.HTTPS_URL, body = purchase_body(), once = true }
            assert.is_nil(res)
            assert.equal("transport", err.kind)
            assert.is_true(err.maybe_delivered)
            assert.equal(1, err.sends)
            local received, applied = counts("PurchasePOPBundle")
            assert.equal(1, received)
            assert.equal(kind == "close_after" and 1 or 0, applied)
            assert.equal(kind == "close_after" and 1 or 0, #H.domain("emptydomain.com").paks)
            -- The connection pool is still usable afterwards.
            assert(c:request { url = H.HTTPS_URL, body = enom.encode { command = "GetBalance", uid = H.UID, pw = H.PW } })
            c:close()
        end)
    end

    it("through the client: a purchase on a warm connection, closed unanswered, is ambiguous and counted once", function()
        local events = {}
        local c = H.client { logger = function(ev) events[#events + 1] = ev end }
        assert(c:get_balance {})
        H.faults { rules = { { kind = "close_before", command = "PurchasePOPBundle", times = 1 } } }
        local _, err = c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 1 }
        assert.equal("transport", err.kind)
        assert.is_true(err.maybe_delivered)
        assert.equal(1, (counts("PurchasePOPBundle")))
        assert.equal(0, #H.domain("emptydomain.com").paks)
        -- Without a fault the next purchase rides the pooled connection.
        local res = assert(c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 1 })
        assert.equal(1, res.bundle_count or #res.bundle_ids)
        local last = events[#events]
        assert.equal("response", last.event)
        assert.equal("PURCHASEPOPBUNDLE", last.command:upper())
        assert.equal(2, (counts("PurchasePOPBundle")))
        c:close()
    end)

    it("a read is still resent after a dead kept-alive connection", function()
        local core = require "enom.core"
        local c = core.client { cainfo = H.CA }
        local body = enom.encode { command = "GetBalance", uid = H.UID, pw = H.PW }
        assert(c:request { url = H.HTTPS_URL, body = body })
        H.faults { rules = { { kind = "close_before", command = "GetBalance", times = 1 } } }
        local res = assert(c:request { url = H.HTTPS_URL, body = body })
        assert.equal(2, res.sends)
        c:close()
    end)
end)
