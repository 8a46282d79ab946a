--- `enom enqueue FILE`, `enom worker`, `enom jobs status|clear`:
-- provisioning across hosts on a Redis Stream (enom.queue). `enqueue`
-- puts one job per domain of a people/mailboxes file on the queue; any
-- number of `worker` processes, on any hosts that reach the Redis, run
-- `ensure` for one domain at a time (under its lease and journal, as
-- `enom apply` does) and write each domain's result line to Redis;
-- `jobs status` says how far the queue is.
--
-- The Redis is the config file's `redis = host:port` (its password in
-- ENOM_REDIS_PASSWORD), the one the leases use with `lock = redis`.
-- Passwords a worker generates go where `enom apply` puts them
-- (--passwords FILE, mode 0600, on the worker's host), never to Redis.
local core = require "enom.core"
local queue = require "enom.queue"
local provision = require "enom.provision"
local context = require "enom.cli.context"
local config = require "enom.cli.config"
local desired = require "enom.cli.desired"
local output = require "enom.cli.output"
local passwords = require "enom.cli.passwords"

local _M = {}

local EXIT = context.EXIT
local ipairs = ipairs
local pairs = pairs
local tostring = tostring
local concat = table.concat

-- Words for the signal that stopped a worker.
local STOPPED_BY = { SIGINT = "Ctrl-C", SIGTERM = "SIGTERM", SIGHUP = "SIGHUP" }

-- The queue of the settings and flags.
local function open_queue(a)
    local s, err = config.resolve { config = a.config, profile = a.profile }
    if not s then
        return nil, err, EXIT.usage
    end
    local r, why = context.redis_options(s)
    if not r then
        return nil, why, EXIT.usage
    end
    local opts = { name = a.queue, redis = r }
    if a.claim_idle then
        opts.claim_idle = a.claim_idle
    end
    local ok, q = pcall(queue.new, opts)
    if not ok then
        return nil, tostring(q):gsub("^[^\n]-%.lua:%d+: ", ""), EXIT.usage
    end
    return q
end

-- This worker's name in the consumer group: host:pid and a random part.
local function consumer_name()
    local host = "host"
    local f = io.open("/proc/sys/kernel/hostname", "r")
    if f then
        host = (f:read("l") or host):gsub("[^%w_.-]", "")
        f:close()
    end
    local pid = "0"
    f = io.open("/proc/self/stat", "r")
    if f then
        pid = (f:read("l") or ""):match("^(%d+)") or pid
        f:close()
    end
    local r = core.random_bytes(3):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    return host .. ":" .. pid .. ":" .. r
end

--- enqueue FILE
function _M.enqueue(ctx, a)
    if not a.max_paks or a.max_paks < 0 or a.max_paks % 1 ~= 0 then
        return nil, "--max-paks must be a whole number", EXIT.usage
    end
    local entries, why, code
    -- A CSV or JSON lines file grouped by domain is checked whole, then
    -- streamed onto the queue; another is read whole.
    if desired.streamable(a.file) then
        local scan
        scan, why, code = desired.scan(a.file, a)
        if not scan then
            return nil, why, code
        end
        if scan.grouped then
            entries, why = desired.stream(a.file, a)
            if not entries then
                return nil, why, EXIT.usage
            end
        end
    end
    if not entries then
        local what, data
        what, data, code = desired.read(a.file)
        if not what then
            return nil, data, code
        end
        if what == "plan" then
            return nil, a.file .. " is a saved plan: enqueue a people/mailboxes file", EXIT.usage
        end
        entries, why, code = desired.from_records(data, a.file, a)
        if not entries then
            return nil, why, code
        end
    end
    local q
    q, why, code = open_queue(a)
    if not q then
        return nil, why, code
    end
    local n, err, added = q:enqueue(entries, { buy_paks = a.buy_paks or false, prune = a.prune or false,
        max_paks_per_run = a.max_paks })
    q:close()
    if not n then
        if type(err) == "table" then
            return context.failed(err, ("cannot enqueue (%d job(s) were added before)"):format(added or 0))
        end
        return nil, ("%s: %s (%d job(s) were added before)"):format(a.file, output.shown(err), added or 0),
            EXIT.usage
    end
    if ctx.out.json then
        ctx.out:doc { queue = q.name, enqueued = n }
    else
        ctx.out:text(("%s on queue %s"):format(output.count(n, "job"), q.name))
    end
    return true
end

-- Why a run fell short, in a line: the first domain event that failed
-- or is in doubt (a purchase left open in the journal), else the first
-- mailbox's reason.
local function why_short(rep)
    for _, e in ipairs(rep.events or {}) do
        if (e.outcome == "unknown" or e.outcome == "failed") and e.detail then
            return e.action .. " " .. e.outcome .. ": " .. e.detail
        end
    end
    for _, m in ipairs(rep.mailboxes or {}) do
        if m.reason and m.outcome ~= "created" and m.outcome ~= "already_present" then
            return m.username .. " " .. m.outcome .. ": " .. m.reason
        end
    end
end

-- The result line of a job: the report's summary, the domain, who ran
-- it and, when it fell short, why. A report holds no secrets.
local function result_of(job, consumer, rep, err)
    if not rep then
        return { domain = job.domain, ok = false, worker = consumer, error = tostring(err), at = os.time() }
    end
    local s = rep:summary()
    return { domain = job.domain, ok = s.ok, worker = consumer, counts = s.counts, paks_bought = s.paks_bought,
        paks_in_doubt = s.paks_in_doubt, error = s.error or (not s.ok and why_short(rep) or nil),
        stopped = s.stopped, seconds = s.seconds, claimed = job.claimed or nil, at = os.time() }
end

--- worker
function _M.worker(ctx, a)
    for _, f in ipairs { "concurrency", "max_jobs", "claim_idle", "lease_ttl" } do
        local v = a[f]
        if v ~= nil and (v <= 0 or (f ~= "claim_idle" and f ~= "lease_ttl" and v % 1 ~= 0)) then
            return nil, "--" .. f:gsub("_", "-") .. " must be more than 0" .. (f == "claim_idle" and ""
                or f == "lease_ttl" and "" or " and whole"), EXIT.usage
        end
    end
    if not a.max_paks or a.max_paks < 0 or a.max_paks % 1 ~= 0 then
        return nil, "--max-paks must be a whole number", EXIT.usage
    end
    if not a.passwords then
        return nil, "a worker may create mailboxes with generated passwords: give --passwords FILE (written with "
            .. "mode 0600) or --passwords - to print them", EXIT.usage
    end
    local q, why, code = open_queue(a)
    if not q then
        return nil, why, code
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
    sink, why = passwords.open(a.passwords, ctx.out.json, ctx.stdout_closed)
    if not sink then
        return nil, why, EXIT.usage
    end
    local consumer = a.name or consumer_name()
    local worker_policy = {
        buy_paks = a.buy_paks or false, prune = a.prune or false, max_paks_per_run = a.max_paks,
        concurrency = a.concurrency, lock = locker, report_file = a.report, lease_ttl = a.lease_ttl,
        on_password = function(domain, user, pw)
            assert(sink:write(domain, user, pw))
        end,
        password_file = sink:fallback(),
        progress = function(rec)
            ctx:record(rec)
            if ctx.out.json then
                ctx.out:jsonl(rec)
            end
        end,
    }
    local touch_every = q.claim_idle / 3
    local done, failed, stop_why = 0, 0, nil
    core.signals("catch")
    local function signalled()
        local n, name = core.signals()
        if n > 0 then
            stop_why = "stopped by " .. (STOPPED_BY[name] or tostring(name))
            return stop_why
        end
    end
    io.stderr:write(("enom: worker %s on queue %s\n"):format(consumer, q.name))
    while not signalled() do
        if a.max_jobs and done + failed >= a.max_jobs then
            break
        end
        local job, err = q:next(consumer)
        if job == nil then
            io.stderr:write("enom: ", output.shown(tostring(err)), "\n")
            core.sleep(1)
        elseif job == false then
            if a.until_empty then
                local st = q:status()
                if st and st.waiting == 0 and st.pending == 0 then
                    break
                end
            end
        elseif job.bad or not job.entry then
            failed = failed + 1
            q:done(job, { domain = job.domain, ok = false, worker = consumer, error = job.bad, at = os.time() })
        else
            -- While the job runs, its idle time starts again now and then,
            -- so no other worker takes it over; a worker that took it over
            -- (this one was thought dead) makes this one stop.
            local last, lost = core.now(), false
            local policy = queue.policy(job, worker_policy)
            policy.stop = function()
                local s = signalled()
                if s then
                    return s
                end
                if core.now() - last >= touch_every then
                    last = core.now()
                    if q:touch(job, consumer) == false then
                        lost = true
                        return "another worker took the job over"
                    end
                end
            end
            local ok, rep, rerr = pcall(provision.ensure, client, { job.entry }, policy)
            if not ok then
                rep, rerr = nil, "internal error: " .. tostring(rep)
            end
            if rep then
                ctx:record(rep:summary())
            end
            local busy = rep and rep.leases and (rep.leases.busy or 0) > 0
            if stop_why or lost or busy then
                -- Not acknowledged: it stays pending, and a worker takes it
                -- up again after the idle time (this one too).
                if busy then
                    io.stderr:write("enom: ", output.shown(job.domain), " is busy (another run holds it): "
                        .. "it is taken up again later\n")
                end
            else
                local res = result_of(job, consumer, rep, rerr)
                local acked, derr = q:done(job, res)
                if acked == nil then
                    io.stderr:write("enom: ", output.shown(job.domain), ": the result could not be written: ",
                        output.shown(tostring(derr)), "\n")
                end
                if res.ok then
                    done = done + 1
                else
                    failed = failed + 1
                end
                if not ctx.out.json then
                    ctx.out:text(("%s %s%s"):format(output.shown(job.domain), res.ok and "ok" or "FAILED",
                        res.error and (": " .. output.shown(res.error)) or ""))
                end
            end
        end
    end
    core.signals("restore")
    q:close()
    local problem = sink:finish()
    if problem then
        io.stderr:write("enom: ", problem, "\n")
    end
    io.stderr:write(("enom: worker %s: %d job(s) done, %d failed%s\n"):format(consumer, done, failed,
        stop_why and ("; " .. stop_why) or ""))
    if stop_why then
        return nil, nil, EXIT.interrupted
    end
    if failed > 0 or problem then
        return nil, nil, EXIT.partial
    end
    return true
end

--- jobs status | jobs clear
function _M.jobs(ctx, a)
    local q, why, code = open_queue(a)
    if not q then
        return nil, why, code
    end
    if a.jobs_command == "clear" then
        local ok, err = ctx:confirm("Remove queue " .. q.name .. ": its jobs, pending ones too, and its results?")
        if not ok then
            q:close()
            return nil, err, EXIT.usage
        end
        local done, cerr = q:clear()
        q:close()
        if not done then
            return context.failed(cerr, "cannot clear the queue")
        end
        ctx.out:text("queue " .. q.name .. " cleared")
        return true
    end
    local st, err = q:status()
    local failed = st and a.failed and q:results("failed") or nil
    q:close()
    if not st then
        return context.failed(err, "cannot read the queue")
    end
    if ctx.out.json then
        st.failed_domains = failed
        ctx.out:doc(st)
        return true
    end
    local lines = {
        ("queue %s: %d enqueued, %d waiting, %d pending, %d done, %d failed, %d claimed after a worker stopped")
            :format(st.name, st.enqueued, st.waiting, st.pending, st.done, st.failed, st.claimed),
    }
    local names = {}
    for name in pairs(st.consumers) do
        names[#names + 1] = name
    end
    table.sort(names)
    for _, name in ipairs(names) do
        lines[#lines + 1] = ("  pending at %s: %d"):format(output.shown(name), st.consumers[name])
    end
    for _, r in ipairs(failed or {}) do
        lines[#lines + 1] = ("  FAILED %s: %s"):format(output.shown(r.domain), output.shown(r.error or
            (r.stopped and ("stopped: " .. r.stopped)) or "see its report"))
    end
    ctx.out:text(concat(lines, "\n"))
    return true
end

local function queue_option(c)
    c:option("--queue", "The queue's name (several may share one Redis).", "default"):argname("<name>")
end

--- Declare the commands and their arguments.
function _M.add_to_parser(parser, example)
    local e = parser:command("enqueue", "Put one job per domain of a people/mailboxes file on the Redis queue.")
        :epilog("The Redis is the config file's redis = host:port (password: ENOM_REDIS_PASSWORD).\n"
            .. "Jobs carry the mailboxes and the flags below; passwords only when the file gives them.\n"
            .. "A worker buys or prunes only when its own flags allow it too.\n\n"
            .. example([[
            enom enqueue mailboxes.csv --buy-paks
            enom worker --buy-paks --passwords pw.txt --report run.jsonl
            enom jobs status]]))
        :action(function(args) args.handler = _M.enqueue end)
    e:argument("file", "A people or mailboxes file (CSV, JSON, JSON lines).")
    e:option("-d --domain", "The domain of every record (else a 'domain' column).")
    e:flag("--buy-paks", "The jobs may buy the paks they need (if the worker allows it).")
    e:option("--max-paks", "At most this many paks per job.", "10"):convert(context.number("--max-paks"))
    e:flag("--prune", "The jobs delete the domain's mailboxes that are not in the file (if the worker allows it).")
    e:option("--username", "Template for user names from people's records.", "{first}.{last}")
    e:option("--display-name", "Template for display names.", "{first} {last}")
    e:option("--admin-role", "People whose 'role' is this become admins.", "admin")
    queue_option(e)

    local w = parser:command("worker", "Run the queue's jobs: ensure one domain at a time, until stopped.")
        :epilog("Any number of workers, on any hosts that reach the Redis, share the queue. A job\n"
            .. "whose worker died is taken over after --claim-idle seconds. SIGTERM or Ctrl-C stops\n"
            .. "after the requests in flight; the job in hand stays on the queue for another worker.\n\n"
            .. example([[
            enom worker --buy-paks --passwords pw.txt --report run.jsonl
            enom worker --passwords pw.txt --until-empty --max-jobs 1000]]))
        :action(function(args) args.handler = _M.worker end)
    w:option("--passwords", "Append generated passwords to this file (mode 0600) as 'domain<TAB>user<TAB>password'"
        .. " lines; '-' prints them.")
        :argname("<file>")
    w:option("--report", "Append every job's report as JSON lines (no secrets) to this file."):argname("<file>")
    w:flag("--buy-paks", "Let jobs that ask for it buy paks (spends money).")
    w:option("--max-paks", "At most this many paks per job.", "10"):convert(context.number("--max-paks"))
    w:flag("--prune", "Let jobs that ask for it delete mailboxes that are not desired.")
    w:option("--concurrency", "Requests in flight for a job.", "8"):convert(context.number("--concurrency"))
    w:option("--claim-idle", "Seconds a job may go untouched before another worker takes it over.", "60")
        :convert(context.number("--claim-idle"))
    w:option("--lease-ttl", "Seconds a domain's lease lives unless renewed (how soon another worker may act "
        .. "on the domain of a worker that died).", "60"):convert(context.number("--lease-ttl"))
    w:option("--max-jobs", "Stop after this many jobs."):convert(context.number("--max-jobs"))
    w:flag("--until-empty", "Stop when no job is left on the queue.")
    w:option("--name", "This worker's name in the queue (default host:pid:random)."):argname("<name>")
    queue_option(w)

    local j = parser:command("jobs", "The queue's progress, or remove it.")
        :command_target("jobs_command")
        :epilog(example([[
            enom jobs status
            enom jobs status --failed
            enom jobs clear --yes]]))
    local js = j:command("status", "Jobs enqueued, waiting, pending per worker, done and failed.")
        :epilog(example([[
            enom jobs status
            enom jobs status --failed --queue nightly]]))
        :action(function(args) args.handler = _M.jobs end)
    js:flag("--failed", "List the domains whose job failed, with why.")
    queue_option(js)
    local jc = j:command("clear", "Remove the queue: its jobs (pending ones too), results and counts.")
        :epilog(example("enom jobs clear --queue nightly --yes"))
        :action(function(args) args.handler = _M.jobs end)
    jc:flag("-y --yes", "Do not ask for confirmation.")
    queue_option(jc)
end

return _M
