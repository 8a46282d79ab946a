--- Figure 9, a million mailboxes in bounded memory: `ensure` over a
-- streamed input (a Lua function generating one domain of 100 mailboxes
-- at a time), the report as JSON lines in a file and "short" in memory,
-- at a tenth of the size and at the full size (BENCH_STREAM_MAILBOXES,
-- 1,000,000 unless set), each in a `lua5.4` process of its own
-- (bench/stream_run.lua) on a freshly seeded loopback sandbox, HTTPS.
-- Peak RSS (VmHWM) at both sizes and their ratio: bounded memory means
-- about the same peak for ten times the mailboxes. After each run the
-- sandbox must hold exactly the mailboxes and paks asked for (counted by
-- its /admin/count), and the report file a `created` line for each.
--
--   lua5.4 bench/stream.lua
local util = require "util"
local admin = require "admin"
local fixtures = require "fixtures"

local LUA = arg[-1] or "lua5.4"
local PER = 100
local FULL = tonumber(os.getenv("BENCH_STREAM_MAILBOXES")) or 1000000
assert(FULL >= 10 * PER and FULL % (10 * PER) == 0,
    "BENCH_STREAM_MAILBOXES must be a multiple of 1,000 (domains of 100, and a tenth of it)")
local PREFIX = "stream"
local work = assert(os.getenv("BENCH_WORK") or os.getenv("TMPDIR") or "/tmp")

local function thousands(n)
    local s = tostring(n)
    return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

-- Domains without paks or mailboxes, owned by the account, with money
-- for every pak.
local function seed(ndomains)
    local domains = {}
    for d = 1, ndomains do
        domains[d] = { name = ("%s%05d.com"):format(PREFIX, d), owner = fixtures.UID, service_select = "POP",
            paks = {} }
    end
    admin.call("POST", "/reset", {
        settings = { pop_pak_price = 5.95, pak_size = fixtures.PAK_SIZE, quota = 1024,
            next_bundle_id = 10001, next_order_id = 157230001 },
        accounts = { { uid = fixtures.UID, pw = fixtures.PW, balance = 100000000 } },
        domains = domains,
    })
end

-- The report file's mailbox records by outcome, and whether its last
-- line is a summary that says ok.
local function read_report(path)
    local outcomes, ok, lines = {}, false, 0
    for line in io.lines(path) do
        lines = lines + 1
        local outcome = line:match('"type":"mailbox"') and line:match('"outcome":"([%w_]+)"')
        if outcome then
            outcomes[outcome] = (outcomes[outcome] or 0) + 1
        end
        if line:match('"type":"summary"') then
            ok = line:match('"ok":true') ~= nil
        end
    end
    return outcomes, ok, lines
end

local function run(mailboxes)
    local nd = mailboxes // PER
    seed(nd)
    local report = ("%s/stream-report-%d.jsonl"):format(work, mailboxes)
    local journal = ("%s/stream-journal-%d"):format(work, mailboxes)
    os.remove(report)
    assert(os.execute(("mkdir -m 700 -p '%s'"):format(journal)))
    local p = assert(io.popen(("%s bench/stream_run.lua %s %d %d '%s' '%s' 2>&1"):format(LUA, PREFIX, nd, PER,
        report, journal)))
    local out = p:read("a")
    local exited = p:close()
    local failed = out:match("STREAM_FAIL ([^\n]*)")
    local line = out:match("STREAM [^\n]*")
    if failed or not exited or not line then
        os.remove(report)
        return nil, failed or ("the run failed: " .. out:sub(1, 300):gsub("%s+", " "))
    end
    local v = {}
    for k, x in line:gmatch("([%w_]+)=([%d.]+)") do
        v[k] = tonumber(x)
    end
    local have = admin.call("GET", "/count?prefix=" .. PREFIX)
    local paks = mailboxes // fixtures.PAK_SIZE
    assert(have.mailboxes == mailboxes and have.paks == paks and have.domains == nd,
        ("the sandbox holds %d mailboxes and %d paks, not %d and %d"):format(have.mailboxes, have.paks,
            mailboxes, paks))
    local outcomes, ok = read_report(report)
    assert(ok and outcomes.created == mailboxes,
        ("the report file has %s created records (not %d), summary ok: %s"):format(
            tostring(outcomes.created), mailboxes, tostring(ok)))
    os.remove(report)
    os.execute(("rm -rf '%s'"):format(journal))
    return v
end

local sizes = { FULL // 10, FULL }
local got = {}
for i, n in ipairs(sizes) do
    io.stderr:write(("  %s mailboxes ...\n"):format(thousands(n)))
    local v, failed = run(n)
    local figure = ("9. stream %s mailboxes (ensure, Lua function in), peak RSS"):format(thousands(n))
    if not v then
        util.row { figure = figure, ours = "not done", ratio = "-", met = "NO", spread = failed }
        io.stderr:write(("  %s mailboxes: not done: %s\n"):format(thousands(n), failed))
    else
        got[i] = v
        local mb = v.hwm_kb / 1024
        util.row {
            figure = figure,
            ours = ("%.1f MB"):format(mb),
            baseline = ("%.1f MB (RSS once enom is loaded)"):format(v.rss_loaded_kb / 1024),
            ratio = "-",
            target = i == #sizes and "<= 256 MB" or "",
            met = i == #sizes and (mb <= 256 and "yes" or "NO") or "",
            spread = ("wall %.1f s, client CPU %.1f s (%.0f us/mailbox), %d requests, Lua heap at the end %.1f MB;"
                .. " %d mailboxes and %d paks verified at the sandbox (/admin/count), %d created lines in the"
                .. " report file"):format(v.wall, v.cpu, 1e6 * v.cpu / n, v.sent, v.heap_kb / 1024, n,
                n // fixtures.PAK_SIZE, n),
        }
        io.stderr:write(("  %s mailboxes: %.1f s, CPU %.1f s, peak RSS %.1f MB\n"):format(thousands(n), v.wall,
            v.cpu, mb))
    end
end
local small, big = got[1], got[2]
local r = (small and big) and big.hwm_kb / small.hwm_kb or 0 / 0
util.row {
    figure = ("9. peak RSS, %s / %s mailboxes"):format(thousands(sizes[2]), thousands(sizes[1])),
    ours = r == r and ("%.2f"):format(r) or "n/a", baseline = "1.00 (bounded)", ratio = "-", target = "<= 1.5",
    met = (r == r and r <= 1.5) and "yes" or "NO",
    spread = r == r and ("ten times the mailboxes; time per mailbox %.2f of the smaller run's"):format(
        (big.wall / sizes[2]) / (small.wall / sizes[1])) or "a run was not done",
}
-- Leave the sandbox as the other figures expect it.
admin.seed()
