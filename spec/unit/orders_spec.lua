-- eNom's order history as the settling of a lost purchase reads it: the
-- run's mark, and the domain's orders after it, from canned answers (no
-- client, no socket).
local orders = require "enom.provision.orders"

-- A domain's job over a fake scheduler: `list` is the account's orders,
-- newest first ({ id, items = { { product_type, description, quantity,
-- order_status, status } } }); nil answers where `broken` says so.
local function job(list, broken, domain)
    broken = broken or {}
    local calls = { get_order_list = 0, get_order_detail = 0 }
    local sched = {}
    function sched.call_retry(_, method, args)
        calls[method] = calls[method] + 1
        if broken[method] then
            return nil, { kind = "transport" }
        end
        if method == "get_order_list" then
            local out = {}
            for i = args.start, math.min(args.start + 24, #list) do
                out[#out + 1] = { order_id = list[i].id }
            end
            return { orders = out, record_count = #list }
        end
        for _, o in ipairs(list) do
            if o.id == args.order_id then
                return { items = o.items }
            end
        end
        return { items = {} }
    end
    function sched.sleep() end
    local run = { orders = orders.new() }
    return { sched = sched, run = run, intent = { domain = domain or "shop05.com" } }, calls
end

local function pak(domain, qty, status)
    return { product_type = "POP Pak", description = domain, quantity = qty,
        order_status = status == "open" and "Open" or "Closed", status = status == "failed" and "Failed" or "Successful" }
end

describe("order history", function()
    it("marks the newest order, once per run", function()
        local dom, calls = job { { id = 900 }, { id = 899 } }
        assert.equal(900, orders.mark(dom))
        assert.equal(900, orders.mark(dom))
        assert.equal(1, calls.get_order_list)
        local empty = job {}
        assert.equal(0, orders.mark(empty))
    end)

    it("finds the domain's pak orders after the mark, counting their paks, and none before it", function()
        local dom = job {
            { id = 905, items = { pak("shop05.com", 2) } },
            { id = 904, items = { pak("other.com", 5) } },
            { id = 903, items = { { product_type = "POP Pak Renewal", description = "shop05.com", quantity = 1,
                order_status = "Closed", status = "Successful" } } },
            { id = 902, items = { pak("SHOP05.COM", 1) } },
            { id = 901, items = { pak("shop05.com", 3) } },  -- the mark: not after it
        }
        local state, qty = orders.find(dom, 901)
        assert.equal("complete", state)
        assert.equal(3, qty)
        -- Read once, known to the run: not counted again.
        state, qty = orders.find(dom, 901)
        assert.equal("none", state)
        assert.equal(0, qty)
        local renewal = { product_type = "POP Pak Renewal", description = "shop05.com", quantity = 1,
            order_status = "Closed", status = "Successful" }
        state, qty = orders.find(job { { id = 903, items = { renewal } }, { id = 900 } }, 900, "renewal")
        assert.equal("complete", state)
        assert.equal(1, qty)
    end)

    it("says open while eNom works on an order, and none for a failed one", function()
        assert.equal("open", (orders.find(job { { id = 2, items = { pak("shop05.com", 1, "open") } }, { id = 1 } }, 1)))
        assert.equal("none", (orders.find(job { { id = 2, items = { pak("shop05.com", 1, "failed") } }, { id = 1 } }, 1)))
    end)

    it("knows nothing when the history cannot be read, or ends before the mark", function()
        local list = { { id = 2, items = { pak("shop05.com", 1) } }, { id = 1 } }
        assert.is_nil(orders.find(job(list, { get_order_list = true }), 1))
        assert.is_nil(orders.find(job(list, { get_order_detail = true }), 1))
        -- An order without items read proves nothing.
        assert.is_nil(orders.find(job { { id = 3, items = {} }, { id = 1 } }, 1))
        -- The history's end reached without the mark (it was not the newest).
        assert.is_nil(orders.find(job { { id = 3, items = { pak("shop05.com", 1) } } }, 2))
        assert.equal("complete", (orders.find(job { { id = 3, items = { pak("shop05.com", 1) } } }, 0)))
    end)

    it("reads page after page, 25 orders each, down to the mark", function()
        local list = {}
        for i = 60, 1, -1 do
            list[#list + 1] = { id = i, items = { pak(i == 7 and "shop05.com" or "other.com", 1) } }
        end
        local dom, calls = job(list)
        local state, qty = orders.find(dom, 5)
        assert.equal("complete", state)
        assert.equal(1, qty)
        assert.equal(3, calls.get_order_list)
    end)
end)
