--- `enom apply FILE`: carry out a saved plan, or plan and apply a people
-- or mailboxes file in one run (`ensure`: one read of the file, one
-- GetPOP3 per domain). A progress line, a report, passwords delivered
-- or kept, and Ctrl-C (or TERM, HUP) that stops after the requests in
-- flight with the record complete.
local core = require "enom.core"
local provision = require "enom.provision"
local context = require "enom.cli.context"
local desired = require "enom.cli.desired"
local output = require "enom.cli.output"
local passwords = require "enom.cli.passwords"
local progress = require "enom.cli.progress"
local plan_cmd = require "enom.cli.plan"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local pairs = pairs
local tostring = tostring
local tonumber = tonumber
local lower = string.lower

-- Outcomes that count as failures on the progress line.
local FAILED = { failed = true, unknown = true, not_done = true, blocked = true, conflict = true,
    busy = true, invalid = true }

-- Up to this many mailboxes a streamed run's report keeps every record,
-- for the text at the end; above, totals and what fell short (every
-- record is in --report FILE).
local KEEP_ALL = 10000

-- Words for the signal that stopped the run.
local STOPPED_BY = { SIGINT = "Ctrl-C", SIGTERM = "SIGTERM", SIGHUP = "SIGHUP (the terminal went away)" }

-- The mailbox records the run will make (the progress line's total).
local function expected(plan, want)
    local n = 0
    if plan then
        for k, v in pairs(plan:totals()) do
            if k ~= "buy" and k ~= "domains" then
                n = n + v
            end
        end
    else
        for _, d in ipairs(want) do
            n = n + #(d.mailboxes or {})
        end
    end
    return n
end

-- What a saved plan asks that this run's flags do not allow, said once.
local function bounded(plan, policy)
    local t = plan:totals()
    if t.buy > 0 and not policy.buy_paks then
        io.stderr:write(("enom: the plan buys %s: nothing is bought without --buy-paks\n")
            :format(output.count(t.buy, "pak")))
    elseif t.buy > policy.max_paks_per_run then
        io.stderr:write(("enom: the plan buys %d paks; --max-paks %d allows fewer\n")
            :format(t.buy, policy.max_paks_per_run))
    end
    if t.delete > 0 and not policy.prune then
        io.stderr:write(("enom: the plan deletes %s: nothing is deleted without --prune\n")
            :format(output.count(t.delete, "mailbox", "mailboxes")))
    end
end

-- The exit status of a finished run.
local function status_of(rep, stopped_by)
    if stopped_by then
        return EXIT.interrupted
    end
    if rep.ok then
        return EXIT.ok
    end
    local u = rep.unreachable
    if #u > 0 and (rep.total or 0) > 0 then
        -- Not one domain could be read: say why as the status does.
        local reached = false
        for outcome, n in pairs(rep.counts or {}) do
            if n > 0 and outcome ~= "not_done" and outcome ~= "invalid" then
                reached = true
                break
            end
        end
        if not reached then
            return context.exit_code(u[1].error)
        end
    end
    return EXIT.partial
end

--- apply FILE
function _M.run(ctx, a)
    if a.concurrency and (a.concurrency < 1 or a.concurrency % 1 ~= 0) then
        return nil, "--concurrency must be a whole number of at least 1", EXIT.usage
    end
    local policy, why, code = desired.policy(a)
    if not policy then
        return nil, why, code
    end
    local expiring_within = 30
    if a.expiring_within then
        expiring_within, why = context.days(a.expiring_within, "--expiring-within")
        if not expiring_within then
            return nil, why, EXIT.usage
        end
    end
    -- A CSV or JSON lines file is read once to check and count it, then
    -- streamed into the run: memory holds the domains under way.
    local streamed
    if not a.dry_run and desired.streamable(a.file) then
        streamed, why, code = desired.scan(a.file, a)
        if not streamed then
            return nil, why, code
        end
        if not streamed.grouped then
            io.stderr:write("enom: ", a.file, ": a domain's records are not together, so the file is read whole "
                .. "(sort it by domain to stream it)\n")
            streamed = nil
        end
    end
    local what, data = "stream", nil
    if not streamed then
        what, data, code = desired.read(a.file)
        if not what then
            return nil, data, code
        end
    end
    local plan, want, all_given
    if streamed then
        all_given = streamed.all_given
    elseif what == "plan" then
        if a.domain then
            return nil, "--domain is for people/mailboxes files: " .. a.file .. " is a saved plan", EXIT.usage
        end
        plan, all_given = data, false
        bounded(plan, policy)
    else
        want, all_given = desired.from_records(data, a.file, a)
        if not want then
            return nil, all_given, code
        end
    end
    if a.dry_run then
        if not plan then
            plan, why, code = plan_cmd.make(ctx, want, policy, a.progress)
            if not plan then
                return nil, why, code
            end
        end
        plan_cmd.print(ctx, plan)
        local status = plan_cmd.status(plan)
        return status == EXIT.ok or nil, nil, status
    end
    local creates = plan and plan:totals().create or streamed and streamed.mailboxes or expected(nil, want)
    if creates > 0 and not all_given and not a.passwords then
        return nil, ("this run may create %s with generated passwords: give --passwords FILE (written with "
            .. "mode 0600) or --passwords - to print them"):format(output.count(creates, "mailbox", "mailboxes")),
            EXIT.usage
    end
    local client, locker
    client, why, code = ctx:client()
    if not client then
        return nil, why, code
    end
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

    local total = streamed and streamed.mailboxes or expected(plan, want)
    local bar = progress.new { label = "apply", total = total, unit = "mailboxes", force = a.progress }
    bar.domains, bar.read = streamed and streamed.domains or plan and #plan.domains or #want, 0
    local stream = ctx.out.json
    local opts = {
        records = streamed and (streamed.mailboxes <= KEEP_ALL and "all" or "short") or nil,
        inventory = a.reconcile or false, expiring_within = expiring_within,
        report_file = a.report, concurrency = a.concurrency, lock = locker,
        buy_paks = policy.buy_paks, max_paks_per_run = policy.max_paks_per_run, prune = policy.prune,
        max_spend = policy.max_spend, pak_price = policy.pak_price, renew = policy.renew,
        progress = function(rec)
            ctx:record(rec)
            if rec.type == "mailbox" then
                bar:step(1, FAILED[rec.outcome] and 1 or 0)
            elseif rec.action == "paks" and rec.outcome == "bought" then
                bar.bought = bar.bought + (tonumber(rec.detail) or 0)
            end
            if stream then
                ctx.out:jsonl(rec)
            end
        end,
        stop = function()
            local n, name = core.signals()
            if n > 0 then
                bar.note = "stopping after the requests in flight"
                return "stopped by " .. (STOPPED_BY[name] or tostring(name))
            end
        end,
    }
    if sink then
        -- A password is delivered or kept: raising here only when it can
        -- be put nowhere stops the run before it makes more.
        opts.on_password = function(domain, user, pw)
            assert(sink:write(domain, user, pw))
        end
        opts.password_file = sink:fallback()
    end
    -- Requests report through the client's logger: the line moves (reads,
    -- what is out at eNom, rate, time left) with every answer.
    ctx.on_event = function(ev)
        if ev.event == "request" then
            bar.waiting = bar.waiting + 1
        elseif ev.event == "response" or ev.event == "error" then
            bar.waiting = bar.waiting - 1
            if lower(tostring(ev.command)) == "getpop3" and bar.read < bar.domains then
                bar.read = bar.read + 1
            end
        end
        bar:draw()
    end
    bar:draw(true)

    core.signals("catch")
    local ok, rep, aerr
    if plan then
        ok, rep, aerr = pcall(provision.apply, client, plan, opts)
    elseif streamed then
        local entries, serr = desired.stream(a.file, a)
        if not entries then
            core.signals("restore")
            return nil, serr, EXIT.usage
        end
        ok, rep, aerr = pcall(provision.ensure, client, entries, opts)
    else
        ok, rep, aerr = pcall(provision.ensure, client, want, opts)
    end
    local _, signal = core.signals("restore")
    ctx.on_event = nil
    bar:finish()
    if not ok then
        return nil, "internal error: " .. output.shown(rep), EXIT.internal
    end
    if not rep then
        return context.failed(aerr, "cannot apply")
    end
    local summary = rep:summary()
    ctx:record(summary)
    if stream then
        ctx.out:jsonl(summary)
    else
        ctx.out:text(rep:format(output.shown))
        if sink and a.passwords ~= "-" and sink.written > 0 then
            io.stderr:write(("%s appended to %s (mode 0600)\n"):format(output.count(sink.written, "new password"),
                a.passwords))
        end
        if a.report then
            io.stderr:write("report: ", a.report, "\n")
        end
    end
    local problem = sink and sink:finish()
    if problem then
        io.stderr:write("enom: ", problem, "\n")
    end
    local stopped_by = signal and (STOPPED_BY[signal] or signal)
    if stopped_by then
        return nil, "stopped by " .. stopped_by .. (a.report and ("; what was done is in " .. a.report) or "")
            .. "; run the same command again to finish", EXIT.interrupted
    end
    local status = status_of(rep, nil)
    if problem and status == EXIT.ok then
        status = EXIT.partial
    end
    if status ~= EXIT.ok then
        return nil, nil, status
    end
    return true
end

--- Declare the command and its arguments.
function _M.add_to_parser(parser, example)
    local c = parser:command("apply", "Carry out a saved plan, or plan and apply a people/mailboxes file.")
        :epilog("Ctrl-C stops after the requests in flight and writes the report; run the same\n"
            .. "command again to finish: it reads the domains again and does only what is left.\n"
            .. "A saved plan is applied within this command's flags: --buy-paks, --max-paks and\n"
            .. "--prune bound what it may buy and delete.\n\n"
            .. example([[
            enom apply plan.json --buy-paks --passwords pw.txt --report run.jsonl
            enom apply people.csv --domain example.com --buy-paks --passwords pw.txt
            enom apply people.csv --domain example.com --dry-run]]))
        :action(function(args) args.handler = _M.run end)
    c:argument("file", "A plan saved by `enom plan --save`, or a people/mailboxes file.")
    desired.add_options(c)
    c:flag("--dry-run", "Plan only: print what would be done, change nothing.")
    c:option("--report", "Append the report as JSON lines (no secrets) to this file."):argname("<file>")
    c:option("--passwords", "Append generated passwords to this file (mode 0600) as 'domain<TAB>user<TAB>password'"
        .. " lines; '-' prints them.")
        :argname("<file>")
    c:option("--concurrency", "Requests in flight across domains.", "8"):convert(context.number("--concurrency"))
    c:flag("--progress", "Draw the progress line even when stderr is not a terminal.")
    c:flag("--reconcile", "Read every pak of the account first (one GetPOPExpirations): domains with no pak and "
        .. "nothing wanted are not read; paks expiring soon and paks of domains not in FILE are reported.")
    c:option("--expiring-within", "With --reconcile: report paks that expire within this (30d, 4w).", "30d")
        :argname("<days>")
end

return _M
