--- `enom forwarding get|set`: a domain's e-mail forwarding (alias ->
-- address). eNom's Forwarding command replaces the whole set, so `set`
-- says which forwards go away and asks before deleting them.
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local concat = table.concat
local shown = output.shown

local FORWARD_COLUMNS = { "alias", "forward_to", "status", "mail_id" }

--- forwarding get DOMAIN
function _M.get(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local res, err = ctx:read("get_forwarding", { sld = sld, tld = tld })
    if not res then
        return context.failed(err, "cannot read the forwarding of " .. a.domain)
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

--- forwarding set DOMAIN alias=address...
function _M.set(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local forwards, seen = {}, {}
    for _, pair in ipairs(a.forwards) do
        local alias, to = pair:match("^([^=]+)=(.+)$")
        if not alias then
            return nil, "not alias=address: '" .. shown(pair) .. "'", EXIT.usage
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

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local fw = parser:command("forwarding", "A domain's e-mail forwarding (alias -> address).")
        :command_target("sub")
        :epilog(example("enom forwarding get example.com"))
    local c = fw:command("get", "List the domain's forwards.")
        :epilog(example("enom forwarding get example.com"))
        :action(function(args) args.handler = _M.get end)
    c:argument("domain", "The domain, like example.com.")
    c = fw:command("set", "Replace the whole set of forwards (those left out are deleted).")
        :epilog(example("enom forwarding set example.com info=ann@example.net sales=team@example.org"))
        :action(function(args) args.handler = _M.set end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("forwards", "alias=address pairs."):args("*")
    c:flag("--allow-empty", "Allow an empty set (deletes every forward).")
    c:flag("-y --yes", "Do not ask before deleting forwards left out.")
end

return _M
