--- Figure 10, client CPU per mailbox against the code before issue 22's
-- work (commit 80e7327, built by bench/run into build/bench-baseline):
-- the same `ensure` workload (bench/cpu_run.lua: 200 domains of 50
-- mailboxes from empty, then a second run with nothing to do) with each
-- tree, in a `lua5.4` process of its own on a freshly seeded loopback
-- sandbox over HTTPS, the two trees alternating, BENCH_RUNS runs each.
-- The client process's CPU time (user + system) per phase, medians, and
-- the ratio ours / old. Then, when valgrind is there (BENCH_CPU_CALLGRIND=0
-- skips it), the same phases on 40 domains of 50 counted in instructions
-- under callgrind (the whole process run three times per tree: without
-- the runs, with the first, with both; the differences are the phases'),
-- which is repeatable where CPU time on a shared machine is not.
--
--   lua5.4 bench/cpu.lua RUNS BASELINE_DIR
local util = require "util"
local admin = require "admin"
local fixtures = require "fixtures"

local LUA = arg[-1] or "lua5.4"
local RUNS = tonumber(arg[1]) or 5
local BASE = assert(arg[2], "usage: cpu.lua RUNS BASELINE_DIR")
local DOMAINS = tonumber(os.getenv("BENCH_CPU_DOMAINS")) or 200
local PER = tonumber(os.getenv("BENCH_CPU_PER")) or 50
local work = os.getenv("BENCH_WORK") or os.getenv("TMPDIR") or "/tmp"
local want = DOMAINS * PER

local TREES = {
    { name = "ours", path = "bench/?.lua;lua/?.lua;lua/?/init.lua", cpath = "build/5.4/?.so" },
    { name = "old", path = ("bench/?.lua;%s/lua/?.lua;%s/lua/?/init.lua"):format(BASE, BASE),
        cpath = BASE .. "/build/5.4/?.so" },
}

local function seed()
    local domains = {}
    for d = 1, DOMAINS do
        domains[d] = { name = ("cpu%04d.com"):format(d), owner = fixtures.UID, service_select = "POP", paks = {} }
    end
    admin.call("POST", "/reset", {
        settings = { pop_pak_price = 5.95, pak_size = fixtures.PAK_SIZE, quota = 1024,
            next_bundle_id = 10001, next_order_id = 157230001 },
        accounts = { { uid = fixtures.UID, pw = fixtures.PW, balance = 10000000 } },
        domains = domains,
    })
end

-- One process of cpu_run.lua with a tree on a freshly seeded sandbox:
-- its CPU line's values, and the instructions callgrind counted when
-- `callgrind` (then the sandbox is checked for what the phases made).
local function run_once(tree, r, ndomains, phases, callgrind)
    seed()
    local journal = ("%s/cpu-journal-%s-%d"):format(work, tree.name, r)
    assert(os.execute(("mkdir -m 700 -p '%s'"):format(journal)))
    local prefix = ""
    if callgrind then
        prefix = ("valgrind --tool=callgrind --callgrind-out-file='%s/cpu-cg.out' "):format(work)
    end
    local cmd = ("LUA_PATH='%s;;' LUA_CPATH='%s;;' %s%s bench/cpu_run.lua %d %d '%s' %s 2>&1"):format(tree.path,
        tree.cpath, prefix, LUA, ndomains, PER, journal, phases)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    os.execute(("rm -rf '%s' '%s/cpu-cg.out'"):format(journal, work))
    local line = out:match("CPU [^\n]*")
    if not line then
        error(("figure 10, %s code: %s"):format(tree.name, out:sub(1, 400)))
    end
    local v = {}
    for k, x in line:gmatch("([%w_]+)=([%d.]+)") do
        v[k] = tonumber(x)
    end
    if callgrind then
        v.ir = tonumber(out:match("Collected : (%d+)"))
        assert(v.ir, "figure 10: no instruction count from callgrind: " .. out:sub(-400))
    end
    local have = admin.call("GET", "/count?prefix=cpu")
    local boxes = phases == "none" and 0 or ndomains * PER
    assert(have.mailboxes == boxes and have.paks == boxes // fixtures.PAK_SIZE,
        ("%s code: the sandbox holds %d mailboxes, not %d"):format(tree.name, have.mailboxes, boxes))
    return v
end

local got = { ours = { empty = {}, second = {} }, old = { empty = {}, second = {} } }
local sent = {}
for r = 1, RUNS do
    -- Alternate which tree goes first, so that neither always runs on a
    -- sandbox just reset or a machine just woken.
    local order = r % 2 == 1 and { TREES[1], TREES[2] } or { TREES[2], TREES[1] }
    for _, tree in ipairs(order) do
        local v = run_once(tree, r, DOMAINS, "both")
        got[tree.name].empty[r], got[tree.name].second[r] = v.empty, v.second
        sent[tree.name] = { empty = v.sent_empty, second = v.sent_second }
    end
end

local PHASES = {
    { key = "empty", label = ("%d x %d from empty (buy + create)"):format(DOMAINS, PER) },
    { key = "second", label = "second run (nothing to do)" },
}
for _, ph in ipairs(PHASES) do
    local a, b = util.stats(got.ours[ph.key]), util.stats(got.old[ph.key])
    local ratio = a.median / b.median
    util.row {
        figure = "10. client CPU per mailbox, ensure " .. ph.label,
        ours = ("%.1f us"):format(1e6 * a.median / want),
        baseline = ("%.1f us (80e7327)"):format(1e6 * b.median / want),
        ratio = ("%.2f"):format(ratio),
        target = "<= 1/3",
        met = ratio <= 1 / 3 and "yes" or "NO",
        spread = ("ours %.2f..%.2f s, old %.2f..%.2f s over %d runs (user + system CPU of the client process);"
            .. " requests ours %d, old %d; %d mailboxes verified at the sandbox after each run"):format(
            a.min, a.max, b.min, b.max, RUNS, sent.ours[ph.key], sent.old[ph.key], want),
    }
end

-- Instructions under callgrind: each phase is the difference of two
-- whole-process counts.
local CG_DOMAINS = tonumber(os.getenv("BENCH_CPU_CG_DOMAINS")) or 40
if os.getenv("BENCH_CPU_CALLGRIND") ~= "0" and os.execute("command -v valgrind >/dev/null 2>&1") then
    local cg_want = CG_DOMAINS * PER
    local ir = {}
    for _, tree in ipairs(TREES) do
        local none = run_once(tree, 0, CG_DOMAINS, "none", true).ir
        local empty = run_once(tree, 0, CG_DOMAINS, "empty", true).ir
        local both = run_once(tree, 0, CG_DOMAINS, "both", true).ir
        ir[tree.name] = { empty = (empty - none) / cg_want, second = (both - empty) / cg_want }
    end
    for _, ph in ipairs(PHASES) do
        local a, b = ir.ours[ph.key], ir.old[ph.key]
        local ratio = a / b
        util.row {
            figure = ("10. ... instructions per mailbox (callgrind, %d x %d), %s"):format(CG_DOMAINS, PER,
                ph.key == "empty" and "from empty" or "second run"),
            ours = ("%.0f"):format(a), baseline = ("%.0f (80e7327)"):format(b), ratio = ("%.2f"):format(ratio),
            target = "<= 1/3", met = ratio <= 1 / 3 and "yes" or "NO",
            spread = "instructions of the client process (Lua, libcurl, OpenSSL, libxml2), one run of each",
        }
    end
end
admin.seed()
