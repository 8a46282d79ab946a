--- `enom paks list|buy|delete|expiring|renew|autorenew`: POP paks (10
-- mailboxes each) and their lifecycle. Buying and renewing spend money:
-- they ask first, take the domain's lease (no provisioning run can
-- mistake this pak for its own), write the intent to the journal and
-- never repeat a request whose answer was lost. A renewal is a
-- provisioning run of one pak (enom.provision.renew_pak): it settles a
-- lost answer from the pak's expiry read back, and an earlier renewal of
-- the pak left in doubt before anything else. A pak is renewed or
-- switched only when the domain named holds it: checked before asking.
local journal = require "enom.journal"
local json = require "enom.json"
local lease = require "enom.lease"
local provision = require "enom.provision"
local renew = require "enom.provision.renew"
local paks = require "enom.provision.paks"
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local concat = table.concat
local shown = output.shown

local PAK_COLUMNS = { "bundle_id", "purchased", "free", "quota", "expires", "auto_renew", "product_type" }

-- The largest bundle id taken from the command line.
local BUNDLE_ID_MAX = 9999999999

local function whole(n, name, lo, hi)
    n = tonumber(n)
    if not n or n % 1 ~= 0 or n < lo or n > hi then
        return nil, ("%s must be a whole number from %d to %d"):format(name, lo, hi), EXIT.usage
    end
    return n
end

-- The domain and the pak a command names: { sld, tld, domain, id }, or
-- nil, message, status.
local function named_pak(a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local id, why
    id, why, code = whole(a.bundle_id, "the pak's bundle ID", 1, BUNDLE_ID_MAX)
    if not id then
        return nil, why, code
    end
    return { sld = sld, tld = tld, domain = sld .. "." .. tld, id = id }
end

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
    local n, why
    n, why, code = whole(a.quantity, "--quantity", 1, paks.MAX_PER_ORDER)
    if not n then
        return nil, why, code
    end
    local ok
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
    local client = ctx:client()
    local j = journal.new(ctx:locker():journal_store())
    local key = lease.key(client.uid, sld .. "." .. tld)
    -- An order of the domain left in doubt (a lost answer) may have gone
    -- through: nothing more is bought for it until it is settled.
    local open, oerr = j:entries(key)
    if not open then
        return context.failed(oerr, "not bought: cannot read the journal")
    end
    for _, e in ipairs(open) do
        if e.kind == "purchase" or e.kind == "renew" then
            return nil, ("not bought: an earlier %s for %s is in doubt (it may have gone through); "
                .. "`enom journal settle %s` finds out, then buy again if it is still needed")
                :format(e.kind == "purchase" and ("order of " .. output.count(math.floor(tonumber(e.qty) or 0), "pak")) or "pak renewal",
                    a.domain, a.domain), EXIT.refused
        end
    end
    -- What the domain holds before, for the journal: if this command dies
    -- with the purchase in flight, the next run settles it, never buys again.
    local cur, rerr = ctx:read("get_pop3", { sld = sld, tld = tld })
    if not cur then
        return context.failed(rerr, "cannot read " .. a.domain)
    end
    local before = {}
    for i, p in ipairs(cur.paks or {}) do before[i] = p.bundle_id end
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

--- paks expiring [--within 30d]
function _M.expiring(ctx, a)
    local days, why = context.days(a.within, "--within")
    if not days then
        return nil, why, EXIT.usage
    end
    local res, err = ctx:read("get_pop_expirations", {})
    if not res then
        return context.failed(err, "cannot read the paks' expiry dates")
    end
    local now = os.time()
    local list, unreadable = renew.expiring(res.paks or {}, days, now)
    local rows = {}
    for i, e in ipairs(list) do
        local p = e.pak
        rows[i] = { domain = p.domain, bundle_id = p.bundle_id, expires = p.expires, days_left = e.days_left,
            auto_renew = p.auto_renew }
    end
    if ctx.out.json then
        local odd = {}
        for i, p in ipairs(unreadable) do
            odd[i] = { domain = p.domain, bundle_id = p.bundle_id, expires = p.expires }
        end
        ctx.out:doc({ within_days = days, paks = json.array(rows), unreadable = json.array(odd), count = res.count })
    elseif #rows == 0 then
        ctx.out:text(("no pak expires within %d days"):format(days))
    else
        ctx.out:text(output.table(rows, { "domain", "bundle_id", "expires", "days_left", "auto_renew" }))
    end
    for _, p in ipairs(unreadable) do
        io.stderr:write(("enom: pak %s of %s: its expiry '%s' cannot be read: check it by hand\n"):format(
            shown(p.bundle_id), shown(p.domain), shown(p.expires)))
    end
    return true
end

-- The pak `id` of the domain as GetPOP3 reads it, or nil, message, status.
local function pak_of(ctx, sld, tld, domain, id)
    local cur, err = ctx:read("get_pop3", { sld = sld, tld = tld })
    if not cur then
        return context.failed(err, "cannot read " .. domain)
    end
    local p = renew.find_pak(cur, id)
    if p then
        return p
    end
    return nil, ("pak %d is not a pak of %s: nothing sent (see `enom paks list %s`, `enom paks expiring`)")
        :format(id, domain, domain), EXIT.usage
end

-- The event of a run that says what became of pak `id`: renewed wins,
-- then a renewal in doubt, then the others.
local RANK = { renewed = 1, unknown = 2, refused = 3, failed = 4, blocked = 5, not_done = 6, settled = 7 }

local function outcome_of(rep, id)
    local best
    for _, e in ipairs(rep:events_with("renew")) do
        if e.bundle_id == id and (not best or (RANK[e.outcome] or 9) < (RANK[best.outcome] or 9)) then
            best = e
        end
    end
    return best
end

--- paks renew DOMAIN PAK [--years N]
function _M.renew(ctx, a)
    local named, why, code = named_pak(a)
    if not named then
        return nil, why, code
    end
    local sld, tld, domain, id = named.sld, named.tld, named.domain, named.id
    local years
    years, why, code = whole(a.years, "--years", 1, 10)
    if not years then
        return nil, why, code
    end
    local pak
    pak, why, code = pak_of(ctx, sld, tld, domain, id)
    if not pak then
        return nil, why, code
    end
    local price = ctx:read("get_pop_price", {})
    local cost = price and type(price.price) == "number"
        and (": %s at %s a year"):format(output.money(price.price * years), output.money(price.price)) or ""
    local ok
    ok, why, code = ctx:confirm(("Renew pak %d of %s (expires %s) for %d year%s? This is charged to the account%s.")
        :format(id, domain, shown(pak.expires or "?"), years, years == 1 and "" or "s", cost))
    if not ok then
        return nil, why, code
    end
    local locker
    locker, why, code = ctx:locker()
    if not locker then
        return nil, why, code
    end
    local rep, err = provision.renew_pak(ctx:client(), domain, id, years, { lock = locker, settle = a.wait,
        settle_interval = math.min(3, math.max(0.2, a.wait / 10)), lease_wait = 10 })
    if not rep then
        return context.failed(err, "cannot renew pak " .. id)
    end
    local e = outcome_of(rep, id) or { outcome = "not_done", detail = rep.stopped or rep.error or "not reached" }
    local now = e.outcome == "renewed" and ctx:read("get_pop3", { sld = sld, tld = tld }) or nil
    local after = renew.find_pak(now, id)
    after = after and after.expires
    if ctx.out.json then
        ctx.out:doc({ domain = domain, bundle_id = id, years = years, outcome = e.outcome, detail = e.detail,
            expires_before = pak.expires, expires = after, order_id = e.order_id, events = rep.events, ok = rep.ok })
    elseif e.outcome == "renewed" then
        -- How it was found renewed, when that is worth saying (a lost
        -- answer settled, an earlier command's renewal).
        local how = tostring(e.detail):match("%b()")
        ctx.out:text(("renewed pak %d of %s for %d year%s%s%s"):format(id, domain, e.years or years,
            (e.years or years) == 1 and "" or "s", how and (" " .. shown(how)) or "",
            after and (": expires " .. shown(after) .. " (was " .. shown(pak.expires or "?") .. ")") or ""))
    end
    if e.outcome == "renewed" then
        return true
    elseif e.outcome == "unknown" then
        return nil, ("pak %d of %s: %s; run this command again later: a renewal that went through is found "
            .. "then and not sent again"):format(id, domain, e.detail), EXIT.partial
    elseif e.outcome == "refused" then
        return nil, e.detail, EXIT.usage
    elseif e.outcome == "failed" and e.error then
        return nil, ("cannot renew pak %d of %s: %s"):format(id, domain, e.detail), context.exit_code(e.error)
    elseif e.outcome == "not_done" and tostring(e.detail):find("^busy") then
        return nil, domain .. " is busy: another enom run holds it; try again when it has finished", EXIT.transport
    end
    return nil, ("pak %d of %s not renewed: %s"):format(id, domain, tostring(e.detail)),
        rep.stopped and EXIT.interrupted or EXIT.partial
end

--- paks autorenew DOMAIN PAK on|off
function _M.autorenew(ctx, a)
    local named, why, code = named_pak(a)
    if not named then
        return nil, why, code
    end
    local sld, tld, domain, id = named.sld, named.tld, named.domain, named.id
    if a.state ~= "on" and a.state ~= "off" then
        return nil, "auto-renew is on or off (got '" .. shown(a.state) .. "')", EXIT.usage
    end
    local on = a.state == "on"
    local l
    l, why, code = ctx:lease(domain)
    if not l then
        return nil, why, code
    end
    local pak
    pak, why, code = pak_of(ctx, sld, tld, domain, id)
    if not pak then
        return nil, why, code
    end
    local res, err = ctx:client():set_pak_renew { sld = sld, tld = tld, bundle_id = id, auto_renew = on }
    if not res then
        return context.failed(err, ("cannot switch auto-renew of pak %d of %s"):format(id, domain))
    end
    if ctx.out.json then
        ctx.out:doc({ domain = domain, bundle_id = id, auto_renew = on, was = pak.auto_renew, result = res })
    else
        ctx.out:text(("pak %d of %s (expires %s): auto-renew %s%s"):format(id, domain, shown(pak.expires or "?"),
            a.state, pak.auto_renew == on and " (it was already)" or ""))
    end
    return true
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local pk = parser:command("paks", "List, buy, renew and delete POP paks (10 mailboxes each); expiry dates.")
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
    c = pk:command("expiring", "The account's paks that expire soon (GetPOPExpirations), soonest first.")
        :epilog(example([[
            enom paks expiring
            enom paks expiring --within 60d --json]]))
        :action(function(args) args.handler = _M.expiring end)
    c:option("--within", "The window: days (30d, or 30) or weeks (4w); expired paks are listed too.", "30d")
        :argname("<days>")
    c = pk:command("renew", "Renew a pak: this spends money (asks first unless --yes). A lost answer is settled "
        .. "from the pak's expiry, never sent again.")
        :epilog(example("enom paks renew example.com 6001 --years 1 --yes"))
        :action(function(args) args.handler = _M.renew end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("bundle_id", "The pak's bundle ID (enom paks list, enom paks expiring).")
    c:option("--years", "How many years.", "1"):convert(context.number("--years"))
    c:option("--wait", "Seconds to wait for a renewal whose answer was lost to show.", "120")
        :convert(context.number("--wait"))
    c:flag("-y --yes", "Do not ask for confirmation.")
    c = pk:command("autorenew", "Switch a pak's auto-renew on or off (SetPakRenew).")
        :epilog(example("enom paks autorenew example.com 6001 off"))
        :action(function(args) args.handler = _M.autorenew end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("bundle_id", "The pak's bundle ID.")
    c:argument("state", "on or off.")
end

return _M
