--- `enom plan FILE`: read the domains, print what would change, and
-- save the plan for `enom apply` (no passwords in it).
local provision = require "enom.provision"
local context = require "enom.cli.context"
local desired = require "enom.cli.desired"
local output = require "enom.cli.output"
local progress = require "enom.cli.progress"

local _M = {}

local EXIT = context.EXIT
local tostring = tostring

--- Plan `desired` on the account, drawing a progress line as domains
-- are read when there are several.
-- @return the plan, or nil, message, status
function _M.make(ctx, want, policy, force_progress)
    local client, why, code = ctx:client()
    if not client then
        return nil, why, code
    end
    local bar
    if #want > 1 then
        bar = progress.new { label = "plan", total = #want, unit = "domains read", force = force_progress }
        ctx.on_event = function(ev)
            if (ev.event == "response" or ev.event == "error") and tostring(ev.command):lower() == "getpop3" then
                bar:step(1, ev.event == "error" and 1 or 0)
            end
        end
    end
    local ok, plan, err = pcall(provision.plan, client, want, policy)
    ctx.on_event = nil
    if bar then
        bar:finish()
    end
    if not ok then
        return nil, "cannot plan: " .. output.shown(plan), EXIT.internal
    end
    if not plan then
        return context.failed(err, "cannot plan")
    end
    return plan
end

--- The exit status of a plan: 0, or that of the read errors when no
-- domain could be read, else 1 (partly).
function _M.status(plan)
    if #plan.errors == 0 then
        return EXIT.ok
    end
    if #plan.domains == 0 then
        return context.exit_code(plan.errors[1].error)
    end
    return EXIT.partial
end

--- Print a plan: text, or one JSON document.
function _M.print(ctx, plan)
    if ctx.out.json then
        ctx.out:doc(plan:document())
    else
        ctx.out:text(plan:format(output.shown))
    end
end

--- plan FILE
function _M.run(ctx, a)
    local what, data, code = desired.read(a.file)
    if not what then
        return nil, data, code
    end
    if what == "plan" then
        return nil, a.file .. " is a saved plan already: apply it with `enom apply " .. a.file .. "`", EXIT.usage
    end
    local want, why
    want, why, code = desired.from_records(data, a.file, a)
    if not want then
        return nil, why, code
    end
    local policy
    policy, why, code = desired.policy(a)
    if not policy then
        return nil, why, code
    end
    local plan
    plan, why, code = _M.make(ctx, want, policy, a.progress)
    if not plan then
        return nil, why, code
    end
    _M.print(ctx, plan)
    if a.save then
        local ok, err = plan:save(a.save)
        if not ok then
            return nil, "--save: " .. tostring(err), EXIT.usage
        end
        io.stderr:write("plan saved to ", a.save, ": apply it with `enom apply ", a.save, "`\n")
    end
    local status = _M.status(plan)
    if status ~= EXIT.ok then
        return nil, nil, status
    end
    return true
end

--- Declare the command and its arguments.
function _M.add_to_parser(parser, example)
    local c = parser:command("plan", "What would change: read the domains, print the plan.")
        :epilog("FILE is a CSV (header row) or a JSON array of people (first, last, role, ...)\n"
            .. "or of mailboxes (username, display_name, admin, password).\n\n" .. example([[
            enom plan people.csv --domain example.com
            enom plan people.csv --domain example.com --buy-paks --max-paks 3 --save plan.json]]))
        :action(function(args) args.handler = _M.run end)
    c:argument("file", "People or mailboxes: .csv or .json.")
    desired.add_options(c)
    c:option("--save", "Write the plan as JSON (no passwords) for `enom apply`."):argname("<file>")
    c:flag("--progress", "Draw the progress line even when stderr is not a terminal.")
end

return _M
