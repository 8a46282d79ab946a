--- `enom paks list|buy|delete`: one domain's POP paks (10 mailboxes
-- each). Buying spends money: it asks first, takes the domain's lease
-- (no provisioning run can mistake this pak for its own) and never
-- repeats a purchase whose answer was lost: it says how to check.
local journal = require "enom.journal"
local lease = require "enom.lease"
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local tostring = tostring
local concat = table.concat

local PAK_COLUMNS = { "bundle_id", "purchased", "free", "quota", "expires", "auto_renew", "product_type" }

--- paks list DOMAIN
function _M.list(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local res, err = ctx:read("get_pop3", { sld = sld, tld = tld })
    if not res then
        return context.failed(err, "cannot list the paks of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc({ paks = res.paks, command = res.command, errors = res.errors })
    elseif #(res.paks or {}) == 0 then
        ctx.out:text(a.domain .. " has no paks")
    else
        ctx.out:text(output.table(res.paks, output.columns(res.paks, PAK_COLUMNS)))
    end
    return true
end

--- paks buy DOMAIN
function _M.buy(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local n = a.quantity
    if not n or n < 1 or n > 10 or n % 1 ~= 0 then
        return nil, "--quantity must be a whole number from 1 to 10", EXIT.usage
    end
    local ok, why
    ok, why, code = ctx:confirm(("Buy %s for %s? This is charged to the account."):format(output.count(n, "POP pak"),
        a.domain))
    if not ok then
        return nil, why, code
    end
    local l
    l, why, code = ctx:lease(a.domain)
    if not l then
        return nil, why, code
    end
    -- What the domain holds before, for the journal: if this command dies
    -- with the purchase in flight, the next run settles it, never buys again.
    local cur, rerr = ctx:read("get_pop3", { sld = sld, tld = tld })
    if not cur then
        return context.failed(rerr, "cannot read " .. a.domain)
    end
    local before = {}
    for i, p in ipairs(cur.paks or {}) do before[i] = p.bundle_id end
    local client = ctx:client()
    local j = journal.new(ctx:locker():journal_store())
    local key = lease.key(client.uid, sld .. "." .. tld)
    local entry = { kind = "purchase", domain = sld .. "." .. tld, qty = n, before = before, sent_at = os.time() }
    local id, jerr = j:open(key, entry, l, true)
    if not id then
        return context.failed(jerr, "not bought: cannot write the journal")
    end
    local res, err = client:purchase_pop_bundle { sld = sld, tld = tld, quantity = n }
    if not res then
        if err.maybe_delivered and err.kind ~= "api" then
            -- Left open: the next run (or `enom journal settle`) finds out.
            return context.failed(err, "cannot buy paks for " .. a.domain, "the purchase may have gone through: "
                .. "it stays open in the journal; `enom journal settle " .. a.domain .. "` settles it, and nothing "
                .. "is bought for the domain until then")
        end
        j:close(key, id, l)
        return context.failed(err, "cannot buy paks for " .. a.domain)
    end
    j:close(key, id, l)
    j:compact(key, l)
    ctx:record({ type = "event", action = "paks", outcome = "bought", detail = tostring(res.bundle_count or n) })
    if ctx.out.json then
        ctx.out:doc(res)
    else
        local ids = {}
        for i, b in ipairs(res.bundle_ids or {}) do ids[i] = tostring(b) end
        ctx.out:text(("bought %s for %s: %s (order %s)"):format(output.count(res.bundle_count or n, "pak"), a.domain,
            #ids > 0 and concat(ids, ", ") or "?", output.shown(res.order_id)))
    end
    return true
end

--- paks delete DOMAIN [BUNDLE_ID | --all]
function _M.delete(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    if a.all == (a.bundle_id ~= nil) then
        return nil, "give a pak's bundle ID or --all (not both)", EXIT.usage
    end
    local ok, why
    if a.all then
        ok, why, code = ctx:confirm("Delete every POP pak of " .. a.domain .. "?")
    else
        ok, why, code = ctx:confirm(("Delete pak %d of %s?"):format(a.bundle_id, a.domain))
    end
    if not ok then
        return nil, why, code
    end
    ok, why, code = ctx:lease(a.domain)
    if not ok then
        return nil, why, code
    end
    local client = ctx:client()
    local res, err
    if a.all then
        res, err = client:delete_all_pop_paks { sld = sld, tld = tld }
    else
        res, err = client:delete_pop_pak { sld = sld, tld = tld, bundle_id = a.bundle_id }
    end
    if not res then
        return context.failed(err, "cannot delete paks of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(a.all and ("deleted %s of %s"):format(res.paks_removed and output.count(res.paks_removed, "pak")
            or "every pak", a.domain) or ("deleted pak %d of %s"):format(a.bundle_id, a.domain))
    end
    return true
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local pk = parser:command("paks", "List, buy and delete a domain's POP paks (10 mailboxes each).")
        :command_target("sub")
        :epilog(example("enom paks list example.com"))
    local c = pk:command("list", "List a domain's paks and their free slots.")
        :epilog(example("enom paks list example.com --json"))
        :action(function(args) args.handler = _M.list end)
    c:argument("domain", "The domain, like example.com.")
    c = pk:command("buy", "Buy paks: this spends money (asks first unless --yes).")
        :epilog(example("enom paks buy example.com --quantity 2 --yes"))
        :action(function(args) args.handler = _M.buy end)
    c:argument("domain", "The domain, like example.com.")
    c:option("-n --quantity", "How many paks.", "1"):convert(context.number("--quantity"))
    c:flag("-y --yes", "Do not ask for confirmation.")
    c = pk:command("delete", "Delete an empty pak, or every pak with --all (asks first unless --yes).")
        :epilog(example([[
            enom paks delete example.com 6001 --yes
            enom paks delete example.com --all]]))
        :action(function(args) args.handler = _M.delete end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("bundle_id", "The pak's bundle ID."):args("?"):convert(context.number("bundle_id"))
    c:flag("--all", "Delete every pak of the domain (they must be empty).")
    c:flag("-y --yes", "Do not ask for confirmation.")
end

return _M
