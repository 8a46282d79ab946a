--- `enom mailboxes list|add|modify|delete`: one domain's mailboxes, each
-- subcommand one typed method of the client. Those that change the
-- domain take its lease first, so no provisioning run acts on it meanwhile.
local context = require "enom.cli.context"
local output = require "enom.cli.output"
local passwords = require "enom.cli.passwords"
local password = require "enom.password"
local paks = require "enom.provision.paks"
local names = require "enom.names"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local shown = output.shown

local MAILBOX_COLUMNS = { "username", "admin", "quota", "quota_used", "bundle_id", "expires", "auto_renew" }

-- One password per user from stdin, one per line (CR/LF stripped).
local function passwords_from_stdin(n)
    local out = {}
    for i = 1, n do
        local line = io.stdin:read("l")
        if not line then
            return nil, ("--password-stdin: expected %d password line(s) on stdin, got %d"):format(n, i - 1), EXIT.usage
        end
        line = line:gsub("\r$", "")
        if line == "" then
            return nil, "--password-stdin: line " .. i .. " is empty", EXIT.usage
        end
        out[i] = line
    end
    return out
end

local function usernames(users)
    for _, u in ipairs(users) do
        local bad = names.check_username(u)
        if bad then
            return nil, "the user name '" .. shown(u) .. "' " .. bad, EXIT.usage
        end
    end
    return users
end

--- mailboxes list DOMAIN
function _M.list(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local res, err = ctx:read("get_pop3", { sld = sld, tld = tld, include_passwords = a.show_passwords or nil })
    if not res then
        return context.failed(err, "cannot list " .. a.domain)
    end
    if not a.show_passwords then
        res = output.without_secrets(res)
    end
    if ctx.out.json then
        ctx.out:doc(res)
        return true
    end
    local cols = MAILBOX_COLUMNS
    if a.show_passwords then
        cols = { "username", "password", "admin", "quota", "quota_used", "bundle_id", "expires" }
    end
    if #res.mailboxes == 0 then
        ctx.out:text(a.domain .. " has no mailboxes")
    else
        ctx.out:text(output.table(res.mailboxes, output.columns(res.mailboxes, cols)))
    end
    local total = 0
    for _, p in ipairs(res.paks or {}) do
        total = total + (p.purchased or 0)
    end
    io.stderr:write(("%s, %s, %d of %d slots free\n"):format(output.count(#res.mailboxes, "mailbox", "mailboxes"),
        output.count(#(res.paks or {}), "pak"), paks.free(res.paks or {}), total))
    return true
end

-- A pak of the domain with `n` free slots.
local function pick_pak(ctx, sld, tld, domain, n)
    local pop, err = ctx:read("get_pop3", { sld = sld, tld = tld })
    if not pop then
        return context.failed(err, "cannot read " .. domain)
    end
    local best
    for _, p in ipairs(pop.paks or {}) do
        if (p.free or 0) >= n and (not best or p.free < best.free) then
            best = p
        end
    end
    if not best then
        return nil, ("no pak of %s has %d free slot(s): buy one with `enom paks buy %s`, "
            .. "or use `enom apply` to spread mailboxes over paks"):format(domain, n, domain), EXIT.refused
    end
    return best.bundle_id
end

--- mailboxes add DOMAIN USER...
function _M.add(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local users, why
    users, why, code = usernames(a.users)
    if not users then
        return nil, why, code
    end
    if a.display_name and #users > 1 then
        return nil, "--display-name is for one user at a time", EXIT.usage
    end
    if a.password_stdin and a.passwords then
        return nil, "--password-stdin and --passwords do not go together: the passwords are yours", EXIT.usage
    end
    if not a.password_stdin and not a.passwords then
        return nil, "generated passwords need a place: --passwords FILE (written with mode 0600), "
            .. "--passwords - to print them, or --password-stdin to give your own", EXIT.usage
    end
    local pws, sink
    if a.password_stdin then
        pws, why, code = passwords_from_stdin(#users)
        if not pws then
            return nil, why, code
        end
    else
        local client
        client, why, code = ctx:client()
        if not client then
            return nil, why, code
        end
        -- The client's rule: the one its requests are checked against.
        local rule, length = password.rule(client.password_rule), a.length
        if not length or length < rule.min or length > rule.max then
            return nil, ("--length must be between %d and %d (password rule %s)"):format(rule.min, rule.max, rule.name),
                EXIT.usage
        end
        sink, why = passwords.open(a.passwords, ctx.out.json, ctx.stdout_closed)
        if not sink then
            return nil, why, EXIT.usage
        end
        pws = {}
        for i = 1, #users do
            pws[i] = password.generate(rule, { username = users[i], sld = sld, tld = tld, uid = client.uid,
                others = pws }, length)
        end
    end
    local lease, lcode
    lease, why, lcode = ctx:lease(a.domain)
    if not lease then
        return nil, why, lcode
    end
    local bundle = a.pak
    if not bundle then
        bundle, why, code = pick_pak(ctx, sld, tld, a.domain, #users)
        if not bundle then
            return nil, why, code
        end
    end
    local list = {}
    for i, u in ipairs(users) do
        list[i] = { username = u, password = pws[i], admin = a.admin or nil, display_name = a.display_name }
    end
    -- A file gets the passwords before eNom does, so none is lost.
    if sink and a.passwords ~= "-" then
        for i, u in ipairs(users) do
            local ok, werr = sink:write(a.domain, u, pws[i])
            if not ok then
                return nil, werr, EXIT.usage
            end
        end
    end
    local client = ctx:client()
    local res, err = client:setup_pop3_users { sld = sld, tld = tld, bundle_id = bundle, users = list }
    local result = res or (err and err.result)
    if sink and a.passwords == "-" and res then
        for i, u in ipairs(users) do
            local ok, werr = sink:write(a.domain, u, pws[i])
            if not ok then
                return nil, werr, EXIT.partial
            end
        end
    end
    if ctx.out.json and result then
        ctx.out:doc(result)
    elseif res and a.passwords ~= "-" then
        ctx.out:text(("created %s on %s in pak %s%s"):format(output.count(#users, "mailbox", "mailboxes"), a.domain,
            tostring(bundle), a.passwords and ("; passwords in " .. a.passwords) or ""))
    end
    local problem = sink and sink:finish()
    if problem then
        return nil, problem, EXIT.partial
    end
    if not res then
        if err.kind == "api" and result and (result.accounts_created or 0) > 0 then
            return nil, ("%s: %d created, %d failed: %s (see `enom mailboxes list %s`)")
                :format(a.domain, result.accounts_created, result.accounts_failed or 0,
                    shown(concat(err.errors or { err.message }, "; ")), a.domain), EXIT.partial
        end
        return context.failed(err, "cannot add mailboxes to " .. a.domain, err.maybe_delivered and err.kind ~= "api"
            and ("they may exist now: check with `enom mailboxes list " .. a.domain .. "`") or nil)
    end
    return true
end

--- mailboxes modify DOMAIN USER...
function _M.modify(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local users, why
    users, why, code = usernames(a.users)
    if not users then
        return nil, why, code
    end
    if a.admin and a.no_admin then
        return nil, "--admin and --no-admin contradict each other", EXIT.usage
    end
    if not a.admin and not a.no_admin and not a.password_stdin then
        return nil, "nothing to change: give --admin, --no-admin or --password-stdin", EXIT.usage
    end
    local pws = {}
    if a.password_stdin then
        pws, why, code = passwords_from_stdin(#users)
        if not pws then
            return nil, why, code
        end
    end
    local lease
    lease, why, code = ctx:lease(a.domain)
    if not lease then
        return nil, why, code
    end
    local list = {}
    for i, u in ipairs(users) do
        local admin
        if a.admin then admin = true elseif a.no_admin then admin = false end
        list[i] = { username = u, admin = admin, password = pws[i] }
    end
    local res, err = ctx:client():modify_pop3 { sld = sld, tld = tld, users = list }
    if not res then
        return context.failed(err, "cannot modify mailboxes of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(("modified %s on %s"):format(output.count(res.accounts_modified or #users, "mailbox", "mailboxes"),
            a.domain))
    end
    return true
end

--- mailboxes delete DOMAIN USER...
function _M.delete(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local users, why
    users, why, code = usernames(a.users)
    if not users then
        return nil, why, code
    end
    local ok
    ok, why, code = ctx:confirm(("Delete %s of %s (%s) and their mail?")
        :format(output.count(#users, "mailbox", "mailboxes"), a.domain, concat(users, ", ")))
    if not ok then
        return nil, why, code
    end
    local lease
    lease, why, code = ctx:lease(a.domain)
    if not lease then
        return nil, why, code
    end
    local res, err = ctx:client():delete_pop3 { sld = sld, tld = tld, users = users }
    if not res then
        return context.failed(err, "cannot delete mailboxes of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(("deleted %s of %s"):format(output.count(res.accounts_deleted or #users, "mailbox", "mailboxes"),
            a.domain))
    end
    return true
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local mb = parser:command("mailboxes", "List, add, change and delete a domain's mailboxes.")
        :command_target("sub")
        :epilog(example("enom mailboxes list example.com"))
    local c = mb:command("list", "List a domain's mailboxes.")
        :epilog(example([[
            enom mailboxes list example.com
            enom mailboxes list example.com --json]]))
        :action(function(args) args.handler = _M.list end)
    c:argument("domain", "The domain, like example.com.")
    c:flag("--show-passwords", "Include the mailboxes' passwords (printed in clear).")

    c = mb:command("add", "Create mailboxes with generated passwords (or read from stdin).")
        :epilog(example([[
            enom mailboxes add example.com ann bob --passwords pw.txt
            printf '%s\n' 'Quill-Harbor-27' | enom mailboxes add example.com carol --password-stdin]]))
        :action(function(args) args.handler = _M.add end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "User names (the part before the @)."):args("+")
    c:option("--passwords", "Append 'domain<TAB>user<TAB>password' lines to this file (mode 0600); '-' prints them.")
        :argname("<file>")
    c:flag("--password-stdin", "Read one password per user, one per line, from stdin.")
    c:option("--length", "Length of generated passwords.", "16"):convert(context.number("--length"))
    c:flag("--admin", "Make the new mailboxes administrators of the domain.")
    c:option("--display-name", "Display name (one user only)."):argname("<name>")
    c:option("--pak", "Bundle ID of the pak to use (default: one with enough free slots)."):argname("<id>")
        :convert(context.number("--pak"))

    c = mb:command("modify", "Change mailboxes: the admin flag, or the password from stdin.")
        :epilog(example([[
            enom mailboxes modify example.com ann --admin
            enom mailboxes modify example.com ann --password-stdin < new-password.txt]]))
        :action(function(args) args.handler = _M.modify end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "User names."):args("+")
    c:flag("--admin", "Make them administrators.")
    c:flag("--no-admin", "Make them regular users.")
    c:flag("--password-stdin", "Read one new password per user, one per line, from stdin.")

    c = mb:command("delete", "Delete mailboxes (asks first unless --yes).")
        :epilog(example("enom mailboxes delete example.com ann bob --yes"))
        :action(function(args) args.handler = _M.delete end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "User names."):args("+")
    c:flag("-y --yes", "Do not ask for confirmation.")
end

return _M
