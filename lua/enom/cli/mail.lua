--- The enom command's single-domain subcommands: mailboxes, paks,
-- forwarding, balance, and any command by name. Each is one typed method
-- of the client (or client:call) and a way to print its answer.
local enom = require "enom"
local cli = require "enom.cli"
local output = require "enom.cli.output"
local password = require "enom.password"

local _M = {}

local EXIT = cli.EXIT
local ipairs = ipairs
local tostring = tostring
local concat = table.concat

local MAILBOX_COLUMNS = { "username", "admin", "quota", "quota_used", "bundle_id", "expires", "auto_renew" }
local PAK_COLUMNS = { "bundle_id", "purchased", "free", "quota", "expires", "auto_renew", "product_type" }
local FORWARD_COLUMNS = { "alias", "forward_to", "status", "mail_id" }

local function print_rows(ctx, rows, cols, empty)
    if #rows == 0 then
        ctx.out:text(empty)
    else
        ctx.out:text(output.table(rows, output.columns(rows, cols)))
    end
end

-- One password per user from stdin, one per line (CR/LF stripped).
local function passwords_from_stdin(n)
    local out = {}
    for i = 1, n do
        local line = io.stdin:read("l")
        if not line then
            cli.fail(EXIT.usage, ("--password-stdin: expected %d password line(s) on stdin, got %d"):format(n, i - 1))
        end
        line = line:gsub("\r$", "")
        if line == "" then
            cli.fail(EXIT.usage, "--password-stdin: line " .. i .. " is empty")
        end
        out[i] = line
    end
    return out
end

local function usernames(users)
    for _, u in ipairs(users) do
        if not u:find("^[%w][%w._-]*$") or #u > 30 then
            cli.fail(EXIT.usage, "not a mailbox user name: '" .. u .. "' (letters, digits, . _ -, at most 30)")
        end
    end
    return users
end

--- mailboxes list DOMAIN
function _M.mailboxes_list(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local res, err = cli.read(ctx, "get_pop3", { sld = sld, tld = tld, include_passwords = a.show_passwords or nil })
    if not res then
        cli.fail_err(err, "cannot list " .. a.domain)
    end
    if not a.show_passwords then
        res = output.without_secrets(res)
    end
    if ctx.out.json then
        ctx.out:doc(res)
        return
    end
    local cols = MAILBOX_COLUMNS
    if a.show_passwords then
        cols = { "username", "password", "admin", "quota", "quota_used", "bundle_id", "expires" }
    end
    print_rows(ctx, res.mailboxes, cols, a.domain .. " has no mailboxes")
    local free, total = 0, 0
    for _, p in ipairs(res.paks or {}) do
        free = free + (p.free or 0)
        total = total + (p.purchased or 0)
    end
    io.stderr:write(("%d mailboxes, %d paks, %d of %d slots free\n")
        :format(#res.mailboxes, #(res.paks or {}), free, total))
end

-- A pak of the domain with `n` free slots, or a clear stop.
local function pick_pak(ctx, sld, tld, domain, n)
    local pop, err = cli.read(ctx, "get_pop3", { sld = sld, tld = tld })
    if not pop then
        cli.fail_err(err, "cannot read " .. domain)
    end
    local best
    for _, p in ipairs(pop.paks or {}) do
        if (p.free or 0) >= n and (not best or p.free < best.free) then
            best = p
        end
    end
    if not best then
        cli.fail(EXIT.refused, ("no pak of %s has %d free slot(s): buy one with `enom paks buy %s`, "
            .. "or use `enom apply` to spread mailboxes over paks"):format(domain, n, domain))
    end
    return best.bundle_id
end

--- mailboxes add DOMAIN USER...
function _M.mailboxes_add(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local users = usernames(a.users)
    if a.display_name and #users > 1 then
        cli.fail(EXIT.usage, "--display-name is for one user at a time")
    end
    if a.password_stdin and a.passwords then
        cli.fail(EXIT.usage, "--password-stdin and --passwords do not go together: the passwords are yours")
    end
    if not a.password_stdin and not a.passwords then
        cli.fail(EXIT.usage, "generated passwords need a place: --passwords FILE (written with mode 0600), "
            .. "--passwords - to print them, or --password-stdin to give your own")
    end
    local pws
    if a.password_stdin then
        pws = passwords_from_stdin(#users)
    else
        local length, rule = a.length, password.rule(cli.client(ctx).password_rule)
        if not length or length < rule.min or length > rule.max then
            cli.fail(EXIT.usage, ("--length must be between %d and %d (password rule %s)"):format(rule.min, rule.max, rule.name))
        end
        pws = {}
        for i = 1, #users do
            pws[i] = password.generate(rule, { username = users[i], sld = sld, tld = tld, uid = cli.client(ctx).uid, others = pws },
                length)
        end
    end
    local bundle = a.pak or pick_pak(ctx, sld, tld, a.domain, #users)
    local list = {}
    for i, u in ipairs(users) do
        list[i] = { username = u, password = pws[i], admin = a.admin or nil, display_name = a.display_name }
    end
    -- The file gets the passwords before eNom does, so none is lost.
    if a.passwords and a.passwords ~= "-" then
        local lines = {}
        for i, u in ipairs(users) do
            lines[i] = a.domain .. "\t" .. u .. "\t" .. pws[i] .. "\n"
        end
        local ok, err = enom.append_private(a.passwords, concat(lines))
        if not ok then
            cli.fail(EXIT.usage, "--passwords: " .. tostring(err))
        end
    end
    local res, err = cli.client(ctx):setup_pop3_users { sld = sld, tld = tld, bundle_id = bundle, users = list }
    local result = res or (err and err.result)
    if a.passwords == "-" and res then
        for i, u in ipairs(users) do
            io.stdout:write(a.domain, "\t", u, "\t", pws[i], "\n")
        end
    end
    if ctx.out.json and result then
        ctx.out:doc(result)
    elseif res then
        if a.passwords ~= "-" then
            ctx.out:text(("created %d mailbox(es) on %s in pak %s%s"):format(#users, a.domain, tostring(bundle),
                a.passwords and ("; passwords in " .. a.passwords) or ""))
        end
    end
    if not res then
        if err.kind == "api" and result and (result.accounts_created or 0) > 0 then
            cli.fail(EXIT.partial, ("%s: %d created, %d failed: %s (see `enom mailboxes list %s`)")
                :format(a.domain, result.accounts_created, result.accounts_failed or 0,
                    concat(err.errors or { err.message }, "; "), a.domain))
        end
        cli.fail_err(err, "cannot add mailboxes to " .. a.domain, err.maybe_delivered and err.kind ~= "api"
            and ("they may exist now: check with `enom mailboxes list " .. a.domain .. "`") or nil)
    end
end

--- mailboxes modify DOMAIN USER...
function _M.mailboxes_modify(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local users = usernames(a.users)
    if a.admin and a.no_admin then
        cli.fail(EXIT.usage, "--admin and --no-admin contradict each other")
    end
    if not a.admin and not a.no_admin and not a.password_stdin then
        cli.fail(EXIT.usage, "nothing to change: give --admin, --no-admin or --password-stdin")
    end
    local pws = a.password_stdin and passwords_from_stdin(#users) or {}
    local list = {}
    for i, u in ipairs(users) do
        local admin
        if a.admin then admin = true elseif a.no_admin then admin = false end
        list[i] = { username = u, admin = admin, password = pws[i] }
    end
    local res, err = cli.client(ctx):modify_pop3 { sld = sld, tld = tld, users = list }
    if not res then
        cli.fail_err(err, "cannot modify mailboxes of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(("modified %d mailbox(es) on %s"):format(res.accounts_modified or #users, a.domain))
    end
end

--- mailboxes delete DOMAIN USER...
function _M.mailboxes_delete(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local users = usernames(a.users)
    cli.confirm(ctx, ("Delete %d mailbox(es) of %s (%s) and their mail?"):format(#users, a.domain, concat(users, ", ")))
    local res, err = cli.client(ctx):delete_pop3 { sld = sld, tld = tld, users = users }
    if not res then
        cli.fail_err(err, "cannot delete mailboxes of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(("deleted %d mailbox(es) of %s"):format(res.accounts_deleted or #users, a.domain))
    end
end

--- paks list DOMAIN
function _M.paks_list(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local res, err = cli.read(ctx, "get_pop3", { sld = sld, tld = tld })
    if not res then
        cli.fail_err(err, "cannot list the paks of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc({ paks = res.paks, command = res.command, errors = res.errors })
    else
        print_rows(ctx, res.paks or {}, PAK_COLUMNS, a.domain .. " has no paks")
    end
end

--- paks buy DOMAIN
function _M.paks_buy(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local n = a.quantity
    if not n or n < 1 or n > 10 or n % 1 ~= 0 then
        cli.fail(EXIT.usage, "--quantity must be a whole number from 1 to 10")
    end
    cli.confirm(ctx, ("Buy %d POP pak(s) for %s? This is charged to the account."):format(n, a.domain))
    local res, err = cli.client(ctx):purchase_pop_bundle { sld = sld, tld = tld, quantity = n }
    if not res then
        cli.fail_err(err, "cannot buy paks for " .. a.domain, err.maybe_delivered and err.kind ~= "api"
            and ("the purchase may have gone through: check `enom paks list " .. a.domain
                .. "` before buying again") or nil)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        local ids = {}
        for i, id in ipairs(res.bundle_ids or {}) do ids[i] = tostring(id) end
        ctx.out:text(("bought %d pak(s) for %s: %s (order %s)"):format(res.bundle_count or n, a.domain,
            #ids > 0 and concat(ids, ", ") or "?", tostring(res.order_id)))
    end
end

--- paks delete DOMAIN [BUNDLE_ID | --all]
function _M.paks_delete(ctx, a)
    local sld, tld = cli.domain(a.domain)
    if a.all == (a.bundle_id ~= nil) then
        cli.fail(EXIT.usage, "give a pak's bundle ID or --all (not both)")
    end
    local res, err
    if a.all then
        cli.confirm(ctx, "Delete every POP pak of " .. a.domain .. "?")
        res, err = cli.client(ctx):delete_all_pop_paks { sld = sld, tld = tld }
    else
        cli.confirm(ctx, ("Delete pak %d of %s?"):format(a.bundle_id, a.domain))
        res, err = cli.client(ctx):delete_pop_pak { sld = sld, tld = tld, bundle_id = a.bundle_id }
    end
    if not res then
        cli.fail_err(err, "cannot delete paks of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(a.all and ("deleted %s pak(s) of %s"):format(tostring(res.paks_removed or "all"), a.domain)
            or ("deleted pak %d of %s"):format(a.bundle_id, a.domain))
    end
end

--- forwarding get DOMAIN
function _M.forwarding_get(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local res, err = cli.read(ctx, "get_forwarding", { sld = sld, tld = tld })
    if not res then
        cli.fail_err(err, "cannot read the forwarding of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        print_rows(ctx, res.forwards or {}, FORWARD_COLUMNS, a.domain .. " has no forwards")
    end
end

--- forwarding set DOMAIN alias=address...
function _M.forwarding_set(ctx, a)
    local sld, tld = cli.domain(a.domain)
    local forwards, seen = {}, {}
    for _, pair in ipairs(a.forwards) do
        local alias, to = pair:match("^([^=]+)=(.+)$")
        if not alias then
            cli.fail(EXIT.usage, "not alias=address: '" .. pair .. "'")
        end
        if seen[alias:lower()] then
            cli.fail(EXIT.usage, "alias '" .. alias .. "' appears twice")
        end
        seen[alias:lower()] = true
        forwards[#forwards + 1] = { address = alias, forward_to = to }
    end
    if #forwards == 0 and not a.allow_empty then
        cli.fail(EXIT.usage, "no forwards given: that would delete every forward of " .. a.domain
            .. " (pass --allow-empty if that is meant)")
    end
    local client = cli.client(ctx)
    -- eNom replaces the whole set: say what goes away.
    local cur, gerr = client:get_forwarding { sld = sld, tld = tld }
    if not cur then
        cli.fail_err(gerr, "cannot read the forwarding of " .. a.domain)
    end
    local gone = {}
    for _, f in ipairs(cur.forwards or {}) do
        if f.alias and not seen[f.alias:lower()] then
            gone[#gone + 1] = f.alias
        end
    end
    if #gone > 0 then
        cli.confirm(ctx, ("This deletes the forwards of %s not given: %s. Go on?"):format(a.domain, concat(gone, ", ")))
    end
    local res, err = client:set_forwarding { sld = sld, tld = tld, forwards = forwards,
        allow_empty = a.allow_empty or nil }
    if not res then
        cli.fail_err(err, "cannot set the forwarding of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(("%s now forwards %d alias(es)%s"):format(a.domain, #forwards,
            #gone > 0 and ("; deleted " .. concat(gone, ", ")) or ""))
    end
end

--- balance
function _M.balance(ctx)
    local res, err = cli.read(ctx, "get_balance", {})
    if not res then
        cli.fail_err(err, "cannot read the balance")
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(output.fields(res, { "balance", "available_balance" }))
    end
end

--- call COMMAND Name=value...
function _M.call(ctx, a)
    if not require("enom.validate").is_command_name(a.name) then
        cli.fail(EXIT.usage, "not an eNom command name: '" .. a.name .. "'")
    end
    local params, seen = {}, {}
    for _, pair in ipairs(a.params) do
        local k, v = pair:match("^([%a][%w_]*)=(.*)$")
        if not k then
            cli.fail(EXIT.usage, "not Name=value: '" .. pair .. "'")
        end
        if seen[k:lower()] then
            cli.fail(EXIT.usage, "parameter " .. k .. " appears twice")
        end
        if output.secret_key(k) then
            cli.fail(EXIT.usage, "parameter " .. k .. " is a secret: the command line would show it "
                .. "in `ps` and shell history; use a typed subcommand with --password-stdin")
        end
        seen[k:lower()] = true
        params[k] = v
    end
    local res, err = cli.client(ctx):call(a.name, params, { response_type = a.response_type })
    if not res then
        cli.fail_err(err, a.name)
    end
    if not a.show_passwords then
        res = output.without_secrets(res)
    end
    if ctx.out.json then
        ctx.out:doc(res)
        return
    end
    ctx.out:text(output.fields(res.fields or {}))
    for name, recs in pairs(res.records or {}) do
        if type(recs) == "table" and #recs > 0 and type(recs[1]) == "table" then
            ctx.out:text("\n" .. name .. ":")
            ctx.out:text(output.table(recs, output.columns(recs)))
        end
    end
end

return _M
