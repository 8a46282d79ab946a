--- `enom plan` and `enom apply`: enom.provision from the command line,
-- with a progress line, a report, and Ctrl-C that stops after the
-- requests in flight.
local enom = require "enom"
local core = require "enom.core"
local cli = require "enom.cli"
local provision = require "enom.provision"
local input = require "enom.provision.input"
local json = require "enom.json"
local progress = require "enom.cli.progress"

local _M = {}

local EXIT = cli.EXIT
local ipairs = ipairs
local pairs = pairs
local tostring = tostring
local lower = string.lower

-- Outcomes that count as failures on the progress line.
local FAILED = { failed = true, unknown = true, not_done = true, blocked = true, conflict = true,
    busy = true, invalid = true }

local function slurp(path)
    local f, err = io.open(path, "rb")
    if not f then
        cli.fail(EXIT.usage, "cannot read " .. tostring(err))
    end
    local text = f:read("a")
    f:close()
    if not text then
        cli.fail(EXIT.usage, "cannot read " .. path)
    end
    return text
end

local function is_json(path, text)
    return path:lower():find("%.json$") ~= nil or text:find("^%s*[%[{]") ~= nil
end

-- The records of a people or mailboxes file.
local function read_records(path)
    local text = slurp(path)
    local recs, err
    if is_json(path, text) then
        recs, err = json.decode(text)
        if recs and (type(recs) ~= "table" or (#recs == 0 and next(recs) ~= nil)) then
            recs, err = nil, "expected a JSON array of records"
        end
    else
        recs, err = input.parse_csv(text)
    end
    if not recs then
        cli.fail(EXIT.usage, path .. ": " .. tostring(err))
    end
    for i, r in ipairs(recs) do
        if type(r) ~= "table" then
            cli.fail(EXIT.usage, ("%s: record %d is not an object"):format(path, i))
        end
    end
    if #recs == 0 then
        cli.fail(EXIT.usage, path .. ": no records")
    end
    return recs
end

local function truthy(v)
    if type(v) == "string" then
        v = lower(v)
        return v == "1" or v == "true" or v == "yes" or v == "y"
    end
    return v == true or v == 1
end

-- The desired state from a file: people (first, last, ...) or mailboxes
-- (username, ...), for --domain or per a `domain` column. Also says
-- whether every mailbox comes with its own password.
local function desired_from(path, a)
    local recs = read_records(path)
    local groups, order = {}, {}
    for i, r in ipairs(recs) do
        local dom = a.domain or r.domain
        if not dom or dom == "" then
            cli.fail(EXIT.usage, ("%s: record %d has no domain: pass --domain or add a 'domain' column"):format(path, i))
        end
        dom = lower(dom)
        cli.domain(dom)
        if not groups[dom] then
            groups[dom] = {}
            order[#order + 1] = dom
        end
        local g = groups[dom]
        g[#g + 1] = r
    end
    local desired, all_given = {}, true
    for _, dom in ipairs(order) do
        local recs_d = groups[dom]
        local mailboxes
        if recs_d[1].username then
            mailboxes = {}
            for j, r in ipairs(recs_d) do
                if not r.username or r.username == "" then
                    cli.fail(EXIT.usage, ("%s: record %d of %s has no username"):format(path, j, dom))
                end
                mailboxes[j] = { username = r.username, display_name = r.display_name,
                    admin = truthy(r.admin), password = r.password }
            end
        else
            local skipped
            mailboxes, skipped = provision.from_people(recs_d, {
                username = a.username, display_name = a.display_name,
                admin = function(p) return p.role ~= nil and lower(p.role) == lower(a.admin_role) end,
            })
            for _, s in ipairs(skipped or {}) do
                io.stderr:write(("enom: %s: person %d skipped: %s\n"):format(dom, s.index, tostring(s.reason)))
            end
        end
        for _, m in ipairs(mailboxes) do
            all_given = all_given and m.password ~= nil
        end
        desired[#desired + 1] = { domain = dom, mailboxes = mailboxes }
    end
    return desired, all_given
end

local function policy_from(a)
    if not a.max_paks or a.max_paks < 0 or a.max_paks % 1 ~= 0 then
        cli.fail(EXIT.usage, "--max-paks must be a whole number")
    end
    return { buy_paks = a.buy_paks or false, max_paks_per_run = a.max_paks, prune = a.prune or false }
end

local function plan_doc(plan)
    return { domains = plan.domains, errors = plan.errors, totals = plan:totals() }
end

local function fail_plan(err)
    if enom.is_error(err) then
        cli.fail_err(err, "cannot plan")
    end
    cli.fail(EXIT.usage, "cannot plan: " .. tostring(err))
end

-- Plan from a people/mailboxes file.
local function make_plan(ctx, a)
    local desired, all_given = desired_from(a.file, a)
    local client = cli.client(ctx)
    -- Many domains: a progress line as each one is read.
    local bar
    if #desired > 1 then
        bar = progress.new { label = "plan", total = #desired, force = a.progress }
        local seen = 0
        ctx.on_event = function(ev)
            if (ev.event == "response" or ev.event == "error") and tostring(ev.command):lower() == "getpop3" then
                seen = seen + 1
                if seen <= #desired then
                    bar:step(1, ev.event == "error" and 1 or 0)
                end
            end
        end
    end
    local ok, plan, err = pcall(provision.plan, client, desired, policy_from(a))
    ctx.on_event = nil
    if bar then
        bar:finish()
    end
    if not ok then
        cli.fail(EXIT.usage, "cannot plan: " .. tostring(plan))
    end
    if not plan then
        fail_plan(err)
    end
    return plan, all_given
end

-- Exit status of a plan that could not read some domains.
local function plan_status(plan)
    if #plan.errors == 0 then
        return EXIT.ok
    end
    if #plan.domains == 0 then
        local e = plan.errors[1]
        if type(e.error) == "table" then
            return cli.exit_code(e.error)
        end
        if e.kind then
            return cli.exit_code(e)
        end
    end
    return EXIT.partial
end

local function print_plan(ctx, plan)
    if ctx.out.json then
        ctx.out:doc(plan_doc(plan))
    else
        ctx.out:text(plan:format())
    end
end

--- plan FILE
function _M.plan(ctx, a)
    local plan = make_plan(ctx, a)
    print_plan(ctx, plan)
    if a.save then
        local ok, err = plan:save(a.save)
        if not ok then
            cli.fail(EXIT.usage, "--save: " .. tostring(err))
        end
        io.stderr:write("plan saved to ", a.save, ": apply it with `enom apply ", a.save, "`\n")
    end
    return plan_status(plan)
end

-- A saved plan is a JSON object with `domains`.
local function is_saved_plan(path)
    local text = slurp(path)
    if not is_json(path, text) then
        return false
    end
    local data = json.decode(text)
    return type(data) == "table" and type(data.domains) == "table"
end

local function interrupted()
    return core.sigint() > 0
end

local INTERRUPT = setmetatable({ kind = "interrupted", message = "stopped by Ctrl-C" }, {
    __tostring = function() return "stopped by Ctrl-C" end,
})

--- apply FILE
function _M.apply(ctx, a)
    if a.concurrency and (a.concurrency < 1 or a.concurrency % 1 ~= 0) then
        cli.fail(EXIT.usage, "--concurrency must be a whole number of at least 1")
    end
    local plan, all_given
    if is_saved_plan(a.file) then
        if a.domain then
            cli.fail(EXIT.usage, "--domain is for people/mailboxes files: " .. a.file .. " is a saved plan")
        end
        local err
        plan, err = provision.load_plan(a.file)
        if not plan then
            cli.fail(EXIT.usage, a.file .. ": " .. tostring(err))
        end
        all_given = false
    else
        plan, all_given = make_plan(ctx, a)
    end
    local totals = plan:totals()
    if a.dry_run then
        print_plan(ctx, plan)
        return plan_status(plan)
    end
    if totals.create > 0 and not all_given and not a.passwords then
        cli.fail(EXIT.usage, ("this run may create %d mailbox(es) with generated passwords: give "
            .. "--passwords FILE (written with mode 0600) or --passwords - to print them"):format(totals.create))
    end
    local client = cli.client(ctx)
    for _, e in ipairs(plan.errors or {}) do
        io.stderr:write("enom: ", tostring(e.domain), ": cannot plan: ", tostring(e.error), "\n")
    end

    -- Every mailbox of the plan ends as one report record.
    local expected = 0
    for k, n in pairs(totals) do
        if k ~= "buy" and k ~= "domains" and type(n) == "number" then
            expected = expected + n
        end
    end
    local bar = progress.new { label = "apply", total = expected, force = a.progress }
    local stream = ctx.out.json
    local function on_record(rec)
        if rec.type == "mailbox" then
            bar:step(1, FAILED[rec.outcome] and 1 or 0)
        end
        if stream and rec.type ~= "summary" then
            ctx.out:jsonl(rec)
        end
    end
    local function stopping()
        if interrupted() then
            bar.note = "Ctrl-C: stopping after the requests in flight"
            bar:draw(true)
            return true
        end
    end

    -- Passwords are "domain<TAB>user<TAB>password" lines, the format in
    -- which the run itself writes those it could not hand out.
    local opts = { report_file = a.report, concurrency = a.concurrency }
    local pw_spill
    if a.passwords then
        local target = a.passwords
        if a.passwords == "-" then
            opts.on_password = function(domain, user, pw)
                io.stdout:write(domain, "\t", user, "\t", pw, "\n")
                io.stdout:flush()
            end
            -- Where the run puts passwords it could not hand out (after
            -- Ctrl-C, say), printed when it ends.
            pw_spill = os.tmpname()
            target = pw_spill
        else
            opts.on_password = function(domain, user, pw)
                assert(enom.append_private(a.passwords, domain .. "\t" .. user .. "\t" .. pw .. "\n"))
            end
        end
        opts.password_file = target
    end
    -- The run hands over each record as it is kept; raising from here
    -- stops it after the requests in flight, its report complete.
    opts.progress = function(rec)
        on_record(rec)
        if stopping() then
            error(INTERRUPT, 0)
        end
    end
    -- Requests report through the client's logger: the line moves (rate,
    -- time left) with every answer.
    ctx.on_event = function(ev)
        if ev.event == "response" or ev.event == "error" then
            stopping()
            bar:draw()
        end
    end
    bar:draw(true)

    core.sigint("catch")
    local ok, rep, aerr = pcall(provision.apply, client, plan, opts)
    local signals = core.sigint("restore")
    ctx.on_event = nil
    bar:finish()
    if pw_spill then
        local f = io.open(pw_spill, "r")
        if f then
            io.stdout:write(f:read("a"))
            f:close()
        end
        os.remove(pw_spill)
    end
    if not ok then
        if rep == INTERRUPT or signals > 0 then
            cli.fail(EXIT.interrupted, "stopped by Ctrl-C" .. (a.report and ("; what was done is in " .. a.report) or "")
                .. "; run the same command again to finish")
        end
        error(rep, 0)
    end
    if not rep then
        cli.fail_err(aerr, "cannot apply")
    end
    if stream then
        ctx.out:jsonl({ type = "summary", counts = rep.counts, ok = rep.ok, stopped = rep.stopped,
            requests = rep.requests, sent = rep.sent, retries = rep.retries, reconciles = rep.reconciles,
            paks_bought = rep.paks_bought, seconds = rep.seconds })
    else
        ctx.out:text(rep:format())
        if a.passwords and a.passwords ~= "-" and (rep.counts and rep.counts.created or 0) > 0 then
            io.stderr:write("new passwords were appended to ", a.passwords, " (mode 0600)\n")
        end
        if a.report then
            io.stderr:write("report: ", a.report, "\n")
        end
    end
    if signals > 0 then
        io.stderr:write("enom: stopped by Ctrl-C; run the same command again to finish\n")
        return EXIT.interrupted
    end
    if rep.ok then
        return EXIT.ok
    end
    return EXIT.partial
end

return _M
