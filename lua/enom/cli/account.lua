--- `enom balance`, `enom price` and `enom call`: the account, and any
-- eNom command by name for what no typed subcommand covers.
local context = require "enom.cli.context"
local output = require "enom.cli.output"
local validate = require "enom.validate"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local pairs = pairs
local type = type
local shown = output.shown

--- balance
function _M.balance(ctx)
    local res, err = ctx:read("get_balance", {})
    if not res then
        return context.failed(err, "cannot read the balance")
    end
    if ctx.out.json then
        ctx.out:doc(res)
    else
        ctx.out:text(output.fields({ balance = output.money(res.balance),
            available_balance = output.money(res.available_balance) }, { "balance", "available_balance" }))
    end
    return true
end

--- price
function _M.price(ctx)
    local res, err = ctx:read("get_pop_price", {})
    if not res then
        return context.failed(err, "cannot read the account's price of a pak")
    end
    if ctx.out.json then
        ctx.out:doc({ price = res.price, tracking_key = res.tracking_key })
    elseif type(res.price) ~= "number" then
        return nil, "eNom answered PE_GetPOPPrice without a price", EXIT.refused
    else
        ctx.out:text(("%s per POP pak (10 mailboxes) and year: what a purchase and each year of a renewal cost "
            .. "this account"):format(output.money(res.price)))
    end
    return true
end

--- call COMMAND Name=value...
function _M.call(ctx, a)
    if not validate.is_command_name(a.name) then
        return nil, "not an eNom command name: '" .. shown(a.name) .. "'", EXIT.usage
    end
    local params, seen = {}, {}
    for _, pair in ipairs(a.params) do
        local k, v = pair:match("^([%a][%w_]*)=(.*)$")
        if not k then
            return nil, "not Name=value: '" .. shown(pair) .. "'", EXIT.usage
        end
        if seen[k:lower()] then
            return nil, "parameter " .. k .. " appears twice", EXIT.usage
        end
        if validate.is_secret_name(k) then
            return nil, "parameter " .. k .. " is a secret: the command line would show it "
                .. "in `ps` and shell history; use a typed subcommand with --password-stdin", EXIT.usage
        end
        seen[k:lower()] = true
        params[k] = v
    end
    local client, why, code = ctx:client()
    if not client then
        return nil, why, code
    end
    local res, err = client:call(a.name, params, { response_type = a.response_type })
    if not res then
        return context.failed(err, a.name)
    end
    if not a.show_passwords then
        res = output.without_secrets(res)
    end
    if ctx.out.json then
        ctx.out:doc(res)
        return true
    end
    ctx.out:text(output.fields(res.fields or {}))
    for name, recs in pairs(res.records or {}) do
        if type(recs) == "table" and #recs > 0 and type(recs[1]) == "table" then
            ctx.out:text("\n" .. shown(name) .. ":")
            ctx.out:text(output.table(recs, output.columns(recs)))
        end
    end
    return true
end

--- Declare the commands and their arguments.
function _M.add_to_parser(parser, example)
    parser:command("balance", "The account's balance.")
        :epilog(example("enom balance --json"))
        :action(function(args) args.handler = _M.balance end)
    parser:command("price", "The account's price of a POP pak (PE_GetPOPPrice), which max_spend counts with.")
        :epilog(example("enom price --json"))
        :action(function(args) args.handler = _M.price end)
    local c = parser:command("call", "Any eNom command by name; prints the parsed answer.")
        :epilog(example([[
            enom call GetBalance
            enom call GetPOP3 SLD=example TLD=com --json]]))
        :action(function(args) args.handler = _M.call end)
    c:argument("name", "eNom's command name, like GetDomainInfo.")
    c:argument("params", "Name=value parameters."):args("*")
    c:option("--response-type", "xml (default), text or html."):choices { "xml", "text", "html" }
    c:flag("--show-passwords", "Keep password fields of the answer (printed in clear).")
end

return _M
