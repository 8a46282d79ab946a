--- `enom catchall get|set`: a domain's catch-all, the address that gets
-- mail sent to any name of the domain without a mailbox or an alias
-- (GetCatchAll, SetCatchAll). `set` takes the domain's lease and says
-- what it replaces.
local names = require "enom.names"
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local EXIT = context.EXIT
local shown = output.shown

--- catchall get DOMAIN
function _M.get(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local domain = sld .. "." .. tld
    local res, err = ctx:read("get_catch_all", { sld = sld, tld = tld })
    if not res then
        return context.failed(err, "cannot read the catch-all of " .. domain)
    end
    if ctx.out.json then
        ctx.out:doc({ domain = domain, catch_all = res.catch_all ~= "" and res.catch_all or nil,
            tracking_key = res.tracking_key })
    elseif not res.catch_all or res.catch_all == "" then
        ctx.out:text(domain .. " has no catch-all")
    else
        ctx.out:text(("%s: mail to any other name goes to %s"):format(domain, shown(res.catch_all)))
    end
    return true
end

--- catchall set DOMAIN ADDRESS
function _M.set(ctx, a)
    local sld, tld, code = context.domain(a.domain)
    if not sld then
        return nil, tld, code
    end
    local domain = sld .. "." .. tld
    local bad = names.check_address(a.address)
    if bad then
        return nil, "the address '" .. shown(a.address) .. "' " .. bad, EXIT.usage
    end
    local ok, why
    ok, why, code = ctx:lease(domain)
    if not ok then
        return nil, why, code
    end
    local before = ctx:read("get_catch_all", { sld = sld, tld = tld })
    local was = before and before.catch_all ~= "" and before.catch_all or nil
    local res, err = ctx:client():set_catch_all { sld = sld, tld = tld, forward_to = a.address }
    if not res then
        return context.failed(err, "cannot set the catch-all of " .. domain)
    end
    if ctx.out.json then
        ctx.out:doc({ domain = domain, catch_all = res.catch_all or a.address, was = was,
            tracking_key = res.tracking_key })
    else
        ctx.out:text(("%s: mail to any other name now goes to %s%s"):format(domain,
            shown(res.catch_all or a.address), was and was ~= a.address and (" (was " .. shown(was) .. ")") or ""))
    end
    return true
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local ca = parser:command("catchall", "A domain's catch-all: where mail to a name without a mailbox goes.")
        :command_target("sub")
        :epilog(example("enom catchall get example.com"))
    local c = ca:command("get", "Show the domain's catch-all address.")
        :epilog(example("enom catchall get example.com --json"))
        :action(function(args) args.handler = _M.get end)
    c:argument("domain", "The domain, like example.com.")
    c = ca:command("set", "Set the domain's catch-all address.")
        :epilog(example("enom catchall set example.com office@example.com"))
        :action(function(args) args.handler = _M.set end)
    c:argument("domain", "The domain, like example.com.")
    c:argument("address", "The address, like office@example.com.")
end

return _M
