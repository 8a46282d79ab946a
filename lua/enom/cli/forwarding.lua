--- `enom forwarding get|set|add|remove`: e-mail forwarding. A domain's
-- set of aliases (`get`, `set`: eNom's Forwarding command replaces the
-- whole set, so `set` says which forwards go away and asks before
-- deleting them), and one mailbox's forward at a time (`add`, `remove`:
-- SetPOPForwarding, which leaves every other forward as it is).
--
-- Since 2025-09-18 a new forward works only once its recipient approves
-- it: `add` shows it `pending`, and leaves alone a forward to the same
-- address that is already approved or waiting (sending it again could
-- ask the recipient again). States are read as enom.provision.forwards
-- reads them.
local fwd = require "enom.provision.forwards"
local names = require "enom.names"
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local concat = table.concat
local lower = string.lower
local shown = output.shown

local FORWARD_COLUMNS = { "alias", "forward_to", "state", "status", "mail_id" }
local MAILBOX_COLUMNS = { "username", "forward_to", "state", "outcome" }

--- forwarding get DOMAIN [USER...]
function _M.get(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    if #(a.users or {}) > 0 then
        local rows = {}
        for i, u in ipairs(a.users) do
            local bad = names.check_username(u)
            if bad then
                return nil, "the user name '" .. shown(u) .. "' " .. bad, EXIT.usage
            end
            local res, err = ctx:read("get_pop_forwarding", { sld = sld, tld = tld, username = u })
            if not res then
                return context.failed(err, "cannot read the forward of " .. u .. "@" .. a.domain)
            end
            local rec = res.forwards and res.forwards[1]
            rows[i] = { username = u, forward_to = rec and rec.forward_to ~= "" and rec.forward_to or nil,
                state = fwd.state(rec), active = rec and rec.active, status = rec and rec.status }
        end
        if ctx.out.json then
            ctx.out:doc({ domain = a.domain, mailboxes = rows })
        else
            ctx.out:text(output.table(rows, MAILBOX_COLUMNS))
        end
        return true
    end
    local res, err = ctx:read("get_forwarding", { sld = sld, tld = tld })
    if not res then
        return context.failed(err, "cannot read the forwarding of " .. a.domain)
    end
    for _, f in ipairs(res.forwards or {}) do
        f.state = fwd.state(f)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    elseif #(res.forwards or {}) == 0 then
        ctx.out:text(a.domain .. " has no forwards")
    else
        ctx.out:text(output.table(res.forwards, output.columns(res.forwards, FORWARD_COLUMNS)))
    end
    return true
end

-- One alias=address word (the address optional when `optional`):
-- alias, address (nil when left out), or nil, message, status.
local function split_pair(word, optional)
    local alias, to = word:match("^([^=]+)=(.+)$")
    if not alias and optional and not word:find("=", 1, true) then
        alias = word
    end
    if not alias then
        return nil, "not alias=address: '" .. shown(word) .. "'", EXIT.usage
    end
    return alias, to
end

--- forwarding set DOMAIN alias=address...
function _M.set(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local forwards, seen = {}, {}
    for _, pair in ipairs(a.forwards) do
        local alias, to
        alias, to, code = split_pair(pair, false)
        if not alias then
            return nil, to, code
        end
        if seen[alias:lower()] then
            return nil, "alias '" .. shown(alias) .. "' appears twice", EXIT.usage
        end
        seen[alias:lower()] = true
        forwards[#forwards + 1] = { address = alias, forward_to = to }
    end
    if #forwards == 0 and not a.allow_empty then
        return nil, "no forwards given: that would delete every forward of " .. a.domain
            .. " (pass --allow-empty if that is meant)", EXIT.usage
    end
    local ok, why
    ok, why, code = ctx:lease(a.domain)
    if not ok then
        return nil, why, code
    end
    local cur, gerr = ctx:read("get_forwarding", { sld = sld, tld = tld })
    if not cur then
        return context.failed(gerr, "cannot read the forwarding of " .. a.domain)
    end
    local gone = {}
    for _, f in ipairs(cur.forwards or {}) do
        if f.alias and not seen[f.alias:lower()] then
            gone[#gone + 1] = shown(f.alias)
        end
    end
    if #gone > 0 then
        ok, why, code = ctx:confirm(("This deletes the forwards of %s not given: %s. Go on?")
            :format(a.domain, concat(gone, ", ")))
        if not ok then
            return nil, why, code
        end
    end
    local res, err = ctx:client():set_forwarding { sld = sld, tld = tld, forwards = forwards,
        allow_empty = a.allow_empty or nil }
    if not res then
        return context.failed(err, "cannot set the forwarding of " .. a.domain)
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(("%s now forwards %s%s"):format(a.domain, output.count(#forwards, "alias", "aliases"),
            #gone > 0 and ("; deleted " .. concat(gone, ", ")) or ""))
    end
    return true
end

-- alias=address pairs (address optional when `optional`), checked.
-- Returns a list of { username, forward_to } or nil, message, status.
local function pairs_of(list, optional)
    local out, seen = {}, {}
    for _, pair in ipairs(list) do
        local alias, to, code = split_pair(pair, optional)
        if not alias then
            return nil, to, code
        end
        local bad = names.check_username(alias)
        if bad then
            return nil, "the mailbox '" .. shown(alias) .. "' " .. bad, EXIT.usage
        end
        if to then
            bad = names.check_address(to)
            if bad then
                return nil, "the address '" .. shown(to) .. "' " .. bad, EXIT.usage
            end
        end
        if seen[lower(alias)] then
            return nil, "'" .. shown(alias) .. "' appears twice", EXIT.usage
        end
        seen[lower(alias)] = true
        out[#out + 1] = { username = alias, forward_to = to }
    end
    return out
end

-- Read one mailbox's forward: the record (nil: none) | false, message.
local function read_forward(ctx, sld, tld, domain, username)
    local res, err = ctx:read("get_pop_forwarding", { sld = sld, tld = tld, username = username })
    if res then
        return res.forwards and res.forwards[1] or nil
    end
    if fwd.not_a_mailbox(err) then
        return false, ("%s is not a mailbox of %s: a forward of an address without a mailbox is part of the "
            .. "domain's set (`enom forwarding set`)"):format(shown(username), domain), EXIT.usage
    end
    local _, msg, code = context.failed(err, "cannot read the forward of " .. shown(username) .. "@" .. domain)
    return false, msg, code
end

-- Send one mailbox's forward `want` (current record `rec`) and read it
-- back. Returns the row for the output, and nil or a failure message and
-- its status.
local function send(ctx, sld, tld, domain, want, rec)
    local client = ctx:client()
    local res, err = client:set_pop_forwarding(fwd.request(sld, tld, want.username, want,
        rec and rec.forward_to or ""))
    local now, rmsg = read_forward(ctx, sld, tld, domain, want.username)
    local outcome = fwd.outcome(now or nil, want, now ~= false)
    local row = { username = want.username, forward_to = want.forward_to or (rec and rec.forward_to),
        state = now ~= false and fwd.state(now) or "unknown" }
    if res then
        row.outcome = outcome or (want.forward_to == false and "removed" or "pending")
        return row
    end
    if outcome and err.kind ~= "api" and err.kind ~= "invalid" then
        -- The answer was lost, but the read-back shows it done.
        row.outcome = outcome
        return row
    end
    row.outcome = (err.kind == "api" or err.kind == "invalid" or now ~= false) and "failed" or "unknown"
    local _, msg, code = context.failed(err, shown(want.username) .. "@" .. domain, now == false and rmsg
        and ("it may have been carried out: check with `enom forwarding get " .. domain .. " "
        .. shown(want.username) .. "`") or nil)
    return row, msg, code
end

local function show_rows(ctx, domain, rows)
    if ctx.out.json then
        ctx.out:doc({ domain = domain, mailboxes = rows })
        return
    end
    ctx.out:text(output.table(rows, MAILBOX_COLUMNS))
    local pending = 0
    for _, r in ipairs(rows) do
        if r.outcome == "pending" then pending = pending + 1 end
    end
    if pending > 0 then
        io.stderr:write(("%s waiting for the recipient's approval: eNom e-mails each recipient a request that "
            .. "expires after 24 hours\n"):format(output.count(pending, "forward is", "forwards are")))
    end
end

-- What a list of per-mailbox results ends with.
local function finish(failures)
    if #failures == 0 then
        return true
    end
    local worst = EXIT.partial
    for _, f in ipairs(failures) do
        if f.code ~= EXIT.partial then worst = f.code end
    end
    local msgs = {}
    for i, f in ipairs(failures) do msgs[i] = f.msg end
    return nil, concat(msgs, "; "), #failures == 1 and worst or EXIT.partial
end

-- The domain and the mailbox=address words of a per-mailbox command,
-- checked (see `pairs_of`): { sld, tld, domain, list }, or nil, message,
-- status; `none` says what to give when no word was.
local function mailbox_pairs(a, optional, none)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local list, why
    list, why, code = pairs_of(a.forwards, optional)
    if not list then
        return nil, why, code
    end
    if #list == 0 then
        return nil, none, EXIT.usage
    end
    return { sld = sld, tld = tld, domain = sld .. "." .. tld, list = list }
end

-- Give each mailbox of `job` (from `mailbox_pairs`) the forward
-- `want_of(item)` asks for, one SetPOPForwarding at a time, and show the
-- rows. `refuse`, when given, may turn a mailbox away once its forward
-- is read: it returns the row, a message and a status then.
local function each_mailbox(ctx, job, want_of, refuse)
    local sld, tld, domain = job.sld, job.tld, job.domain
    local rows, failures = {}, {}
    for _, item in ipairs(job.list) do
        local want = want_of(item)
        local rec, msg, code = read_forward(ctx, sld, tld, domain, item.username)
        local row
        if rec == false then
            row = { username = item.username, forward_to = item.forward_to, state = "unknown", outcome = "failed" }
        else
            if refuse then
                row, msg, code = refuse(item, rec)
            end
            if not row then
                local action, outcome = fwd.decide(rec, want)
                if action == "keep" then
                    row = { username = item.username, forward_to = want.forward_to or nil, state = fwd.state(rec),
                        outcome = outcome }
                else
                    row, msg, code = send(ctx, sld, tld, domain, want, rec)
                end
            end
        end
        if msg then
            failures[#failures + 1] = { msg = msg, code = code }
        end
        rows[#rows + 1] = row
    end
    show_rows(ctx, domain, rows)
    return finish(failures)
end

--- forwarding add DOMAIN alias=address...
function _M.add(ctx, a)
    local job, why, code = mailbox_pairs(a, false, "give mailbox=address pairs, like info=ann@example.net")
    if not job then
        return nil, why, code
    end
    local ok
    ok, why, code = ctx:lease(job.domain)
    if not ok then
        return nil, why, code
    end
    return each_mailbox(ctx, job, function(want)
        want.keep_copy = not a.forward_only
        return want
    end)
end

-- A removal of `w` (mailbox=address) from a mailbox that forwards
-- elsewhere is refused: the row, the message and its status.
local function elsewhere(w, rec)
    if w.forward_to and fwd.state(rec) ~= "none" and lower(rec.forward_to) ~= lower(w.forward_to) then
        return { username = w.username, forward_to = rec.forward_to, state = fwd.state(rec), outcome = "failed" },
            ("%s forwards to %s, not %s: left as it is"):format(shown(w.username), shown(rec.forward_to),
            shown(w.forward_to)), EXIT.usage
    end
end

--- forwarding remove DOMAIN alias[=address]...
function _M.remove(ctx, a)
    local job, why, code = mailbox_pairs(a, true,
        "give the mailboxes whose forward goes, like info (or info=ann@example.net)")
    if not job then
        return nil, why, code
    end
    local names_list = {}
    for i, w in ipairs(job.list) do names_list[i] = shown(w.username) end
    local ok
    ok, why, code = ctx:confirm(("Remove the forward of %s on %s? Its approval goes with it: set again, the "
        .. "recipient is asked again."):format(concat(names_list, ", "), job.domain))
    if not ok then
        return nil, why, code
    end
    ok, why, code = ctx:lease(job.domain)
    if not ok then
        return nil, why, code
    end
    return each_mailbox(ctx, job, function(w)
        return { username = w.username, forward_to = false }
    end, elsewhere)
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local fw = parser:command("forwarding", "E-mail forwarding: a domain's aliases, and one mailbox's forward.")
        :command_target("sub")
        :epilog(example([[
            enom forwarding get example.com
            enom forwarding add example.com ann=ann.lee@example.net]]))
    local c = fw:command("get", "List the domain's forwards, or the given mailboxes' own, with their state "
        .. "(forwarding, pending, expired, off).")
        :epilog(example([[
            enom forwarding get example.com
            enom forwarding get example.com ann bob --json]]))
        :action(function(args) args.handler = _M.get end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "Mailboxes whose own forward to show."):args("*")
    c = fw:command("add", "Forward mailboxes, one at a time (SetPOPForwarding): every other forward stays. A new "
        .. "forward is pending until its recipient approves it.")
        :epilog(example([[
            enom forwarding add example.com ann=ann.lee@example.net
            enom forwarding add example.com bob=bob@example.org --forward-only]]))
        :action(function(args) args.handler = _M.add end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("forwards", "mailbox=address pairs."):args("+")
    c:flag("--forward-only", "Deliver to the forward only (default: the mailbox keeps a copy).")
    c = fw:command("remove", "Remove mailboxes' forwards, one at a time (asks first unless --yes).")
        :epilog(example("enom forwarding remove example.com ann bob=bob@example.org --yes"))
        :action(function(args) args.handler = _M.remove end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("forwards", "Mailboxes (mailbox=address: only if it forwards there)."):args("+")
    c:flag("-y --yes", "Do not ask for confirmation.")
    c = fw:command("set", "Replace the domain's whole set of aliases (those left out are deleted).")
        :epilog(example("enom forwarding set example.com info=ann@example.net sales=team@example.org"))
        :action(function(args) args.handler = _M.set end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("forwards", "alias=address pairs."):args("*")
    c:flag("--allow-empty", "Allow an empty set (deletes every forward).")
    c:flag("-y --yes", "Do not ask before deleting forwards left out.")
end

return _M
