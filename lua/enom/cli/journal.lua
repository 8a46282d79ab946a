--- `enom journal list|settle|clear`: the intents runs left open (a run
-- killed during a purchase or while creating mailboxes). `list` shows
-- them (never a password); `settle` reads the domain and settles them as
-- the next run would: a purchase found or not, the passwords of mailboxes
-- that were made handed out (to --passwords); `clear` drops intents an
-- operator has settled by hand.
local provision = require "enom.provision"
local journal = require "enom.journal"
local json = require "enom.json"
local lease = require "enom.lease"
local context = require "enom.cli.context"
local output = require "enom.cli.output"
local passwords = require "enom.cli.passwords"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local shown = output.shown

-- The journal of the settings' lease backend.
local function open(ctx)
    local locker, why, code = ctx:locker()
    if not locker then
        return nil, why, code
    end
    return journal.new(locker:journal_store())
end

-- One entry as a row: what it is, never its passwords.
local function row(key, e)
    local what
    if e.kind == "purchase" then
        what = ("buy %d pak(s)"):format(tonumber(e.qty) or 0)
    elseif e.kind == "renew" then
        what = ("renew pak %d for %d year(s)"):format(tonumber(e.bundle_id) or 0, tonumber(e.years) or 0)
    elseif e.kind == "create" then
        local names = {}
        for i, u in ipairs(e.users or {}) do names[i] = u.username end
        what = ("create %s: %s"):format(output.count(#names, "mailbox", "mailboxes"), table.concat(names, ","))
    else
        what = tostring(e.kind)
    end
    return { key = key, domain = e.domain, id = e.id, kind = e.kind, opened = os.date("!%Y-%m-%dT%H:%M:%SZ",
        tonumber(e.opened) or 0), what = what }
end

--- journal list [DOMAIN]
function _M.list(ctx, a)
    local j, why, code = open(ctx)
    if not j then
        return nil, why, code
    end
    local keys, err = j:keys()
    if not keys then
        return context.failed(err, "cannot read the journal")
    end
    local rows = {}
    for _, key in ipairs(keys) do
        local entries = j:entries(key) or {}
        for _, e in ipairs(entries) do
            if not a.domain or (e.domain or ""):lower() == a.domain:lower() then
                rows[#rows + 1] = row(key, e)
            end
        end
    end
    if ctx.out.json then
        ctx.out:doc({ intents = json.array(rows) })
    elseif #rows == 0 then
        ctx.out:text("no open intents")
    else
        ctx.out:text(output.table(rows, { "domain", "opened", "kind", "id", "what" }))
    end
    return true
end

--- journal settle DOMAIN
function _M.settle(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local client, why
    client, why, code = ctx:client()
    if not client then
        return nil, why, code
    end
    local locker
    locker, why, code = ctx:locker()
    if not locker then
        return nil, why, code
    end
    local sink
    if a.passwords then
        sink, why = passwords.open(a.passwords, ctx.out.json, ctx.stdout_closed)
        if not sink then
            return nil, why, EXIT.usage
        end
    end
    -- A run that wants nothing changed: it settles the journal and stops.
    local opts = { lock = locker, settle = a.wait, buy_paks = false }
    if sink then
        opts.on_password = function(domain, user, pw) assert(sink:write(domain, user, pw)) end
        opts.password_file = sink:fallback()
    end
    local rep, err = provision.ensure(client, { { sld = sld, tld = tld, mailboxes = {} } }, opts)
    if not rep then
        return context.failed(err, "cannot settle " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc({ events = rep.events, mailboxes = rep.mailboxes, ok = rep.ok })
    else
        ctx.out:text(rep:format(shown))
    end
    local left = journal.new(locker:journal_store()):entries(lease.key(client.uid, sld .. "." .. tld)) or {}
    if #left > 0 then
        return nil, ("%s still open for %s: see `enom journal list %s`"):format(
            output.count(#left, "intent"), a.domain, a.domain), EXIT.partial
    end
    local problem = sink and sink:finish()
    if problem then
        return nil, problem, EXIT.partial
    end
    return true
end

--- journal clear DOMAIN [ID...]
function _M.clear(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local client, why
    client, why, code = ctx:client()
    if not client then
        return nil, why, code
    end
    local j
    j, why, code = open(ctx)
    if not j then
        return nil, why, code
    end
    local key = lease.key(client.uid, sld .. "." .. tld)
    local entries, err = j:entries(key)
    if not entries then
        return context.failed(err, "cannot read the journal")
    end
    local pick, want = {}, {}
    for _, id in ipairs(a.ids) do want[id] = true end
    local keeps_passwords = false
    for _, e in ipairs(entries) do
        if #a.ids == 0 or want[e.id] then
            pick[#pick + 1] = e
            keeps_passwords = keeps_passwords or e.kind == "create"
        end
    end
    if #pick == 0 then
        ctx.out:text("nothing to clear for " .. a.domain)
        return true
    end
    local ok
    ok, why, code = ctx:confirm(("Clear %s of %s? A purchase cleared while in doubt may be bought again%s.")
        :format(output.count(#pick, "intent"), a.domain,
            keeps_passwords and "; passwords kept for mailboxes being created are dropped (run `enom journal "
            .. "settle " .. a.domain .. " --passwords FILE` first)" or ""))
    if not ok then
        return nil, why, code
    end
    local l
    l, why, code = ctx:lease(a.domain)
    if not l then
        return nil, why, code
    end
    for _, e in ipairs(pick) do
        local done, cerr = j:close(key, e.id, l)
        if not done then
            return context.failed(cerr, "cannot clear " .. tostring(e.id))
        end
    end
    j:compact(key, l)
    ctx.out:text(("cleared %s of %s"):format(output.count(#pick, "intent"), a.domain))
    return true
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local jn = parser:command("journal", "Intents runs left open: purchases and mailboxes in doubt.")
        :command_target("sub")
        :epilog(example("enom journal list"))
    local c = jn:command("list", "List the open intents (no passwords).")
        :epilog(example([[
            enom journal list
            enom journal list example.com --json]]))
        :action(function(args) args.handler = _M.list end)
    c:argument("domain", "Only this domain."):args("?")
    c = jn:command("settle", "Settle a domain's open intents now, as the next run would.")
        :epilog(example("enom journal settle example.com --passwords pw.txt"))
        :action(function(args) args.handler = _M.settle end)
    c:argument("domain", "The domain, like example.com.")
    c:option("--passwords", "Where passwords of mailboxes that were made go (mode 0600 file, or '-').")
        :argname("<file>")
    c:option("--wait", "Seconds to wait for a purchase in doubt to show.", "120"):convert(context.number("--wait"))
    c = jn:command("clear", "Drop open intents settled by hand (asks first unless --yes).")
        :epilog(example("enom journal clear example.com 9f2c4e1a7b3d5f60 --yes"))
        :action(function(args) args.handler = _M.clear end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("ids", "Only these intents (ids from `enom journal list`)."):args("*")
    c:flag("-y --yes", "Do not ask for confirmation.")
end

return _M
