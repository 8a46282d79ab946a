-- How a run orders its requests, seen from the client's request events
-- against the sandbox: a domain's deletes, modifies and purchase are out
-- at eNom at once and its SetUps wait for all three; the order-history
-- mark goes out beside the first read, not in front of the purchase; an
-- applied plan whose domains have nothing to do sends nothing.
local H = require "helper"
local provision = require "enom.provision"

-- A client whose request events are kept in order: { "request", cmd } / { "done", cmd }.
local function watched()
    local events = {}
    local c = H.client { logger = function(ev)
        if ev.event == "request" then
            events[#events + 1] = { "request", ev.command }
        elseif ev.event == "response" or ev.event == "error" then
            events[#events + 1] = { "done", ev.command }
        end
    end }
    return c, events
end

local function first(events, what, command)
    for i, e in ipairs(events) do
        if e[1] == what and e[2] == command then
            return i
        end
    end
end

local function last(events, what, command)
    local at
    for i, e in ipairs(events) do
        if e[1] == what and e[2] == command then
            at = i
        end
    end
    return at
end

describe("scheduling", function()
    before_each(function()
        H.reset()
    end)

    it("sends a domain's deletes, modify and purchase at once, and its SetUps after all three", function()
        local c, events = watched()
        local boxes = { { username = "james", admin = false } }
        for i = 1, 12 do
            boxes[#boxes + 1] = { username = ("new%02d"):format(i) }
        end
        -- support goes (prune), james loses the admin flag, 12 new need a pak beyond the 9 slots.
        local rep = assert(provision.ensure(c, { { domain = "resellerdocs.com", mailboxes = boxes } },
            { buy_paks = true, prune = true, lock = "process", on_password = function() end }))
        c:close()
        assert.is_true(rep.ok, rep:format())
        assert.equal(12, rep.counts.created)
        assert.equal(1, rep.counts.deleted)
        assert.equal(1, rep.counts.modified)
        assert.equal(1, rep.paks_bought)
        local sent_last = math.max(first(events, "request", "DeletePOP3"), first(events, "request", "ModifyPOP3"),
            first(events, "request", "PurchasePOPBundle"))
        local done_first = math.min(first(events, "done", "DeletePOP3"), first(events, "done", "ModifyPOP3"),
            first(events, "done", "PurchasePOPBundle"))
        assert.truthy(sent_last < done_first, "the three were out at once")
        local done_last = math.max(last(events, "done", "DeletePOP3"), last(events, "done", "ModifyPOP3"),
            last(events, "done", "PurchasePOPBundle"))
        assert.truthy(first(events, "request", "SetUpPOP3User") > done_last, "SetUps after all three")
        -- The order-history mark left before the domain's read came back.
        assert.truthy(first(events, "request", "GetOrderList") < first(events, "done", "GetPOP3"))
        local m = H.mailboxes("resellerdocs.com")
        assert.is_nil(m.support)
        assert.is_false(m.james.admin == true)
        assert.truthy(m.new12)
    end)

    it("applies a fresh plan's idle domains without a read, and reads the rest", function()
        local c = H.client()
        local plan = assert(provision.plan(c, {
            { domain = "resellerdocs.com", mailboxes = { { username = "james", admin = true }, { username = "support" } } },
            { domain = "shop01.com", mailboxes = { { username = "ann" } } },
        }, { buy_paks = true }))
        local before = H.received("GetPOP3")
        local rep = assert(provision.apply(c, plan, { on_password = function() end }))
        c:close()
        assert.is_true(rep.ok, rep:format())
        assert.equal(2, rep.counts.already_present)
        assert.equal(1, rep.counts.created)
        -- shop01.com is read again under its lease; resellerdocs.com is not.
        assert.equal(before + 1, H.received("GetPOP3"))
    end)
end)
