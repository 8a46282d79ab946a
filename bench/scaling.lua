--- Scaling: plan + apply for 1,000, 10,000 and 100,000 mailboxes in
-- domains of 100, and for one domain of 1,000, 5,000 and 20,000, each in
-- a process of its own on a freshly seeded loopback sandbox, the median
-- of 3 runs (BENCH_SCALE_RUNS); wall time, client CPU, peak RSS, the
-- sandbox's count checked after each. Linear
-- means the time per mailbox at the largest size is about that at the
-- smallest (ratio near 1).
--
--   lua5.4 bench/scaling.lua
local util = require "util"
local admin = require "admin"
local fixtures = require "fixtures"

local LUA = arg[-1] or "lua5.4"
local RUNS = tonumber(os.getenv("BENCH_SCALE_RUNS")) or 3
local SERIES = {
    { name = "domains of 100", prefix = "scale", sizes = { { 10, 100 }, { 100, 100 }, { 1000, 100 } } },
    -- Its paks are in the seed, so that the figure is the part that grows
    -- with the domain's size, not thousands of purchases.
    { name = "one domain", prefix = "single", sizes = { { 1, 1000 }, { 1, 5000 }, { 1, 20000 } }, paks = true },
}

local function thousands(n)
    local s = tostring(n)
    return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function seed(prefix, ndomains, paks)
    local domains = {}
    local next_id = 10001
    for d = 1, ndomains do
        domains[d] = { name = ("%s%04d.com"):format(prefix, d), owner = fixtures.UID, service_select = "POP",
            paks = {} }
        for p = 1, paks do
            domains[d].paks[p] = { bundle_id = next_id, size = fixtures.PAK_SIZE }
            next_id = next_id + 1
        end
    end
    admin.reset({
        settings = { pop_pak_price = 5.95, pak_size = fixtures.PAK_SIZE, quota = 1024,
            next_bundle_id = next_id, next_order_id = 157230001 },
        accounts = { { uid = fixtures.UID, pw = fixtures.PW, balance = 10000000 } },
        domains = domains,
    })
end

local function count(prefix)
    local st = admin.call("GET", "/state")
    local n = 0
    for _, d in ipairs(st.domains) do
        if d.name:sub(1, #prefix) == prefix then
            n = n + #d.mailboxes
        end
    end
    return n
end

-- One run of a size on a freshly seeded sandbox: the values it printed,
-- or nil and the reason it stopped.
local function run_once(s, nd, per)
    local want = nd * per
    seed(s.prefix, nd, s.paks and per // fixtures.PAK_SIZE or 0)
    local p = assert(io.popen(("%s bench/scaling_run.lua %s %d %d 2>&1"):format(LUA, s.prefix, nd, per)))
    local out = p:read("a")
    local ok = p:close()
    local failed = out:match("SCALE_FAIL ([^\n]*)")
    if failed then
        return nil, failed
    end
    local line = out:match("SCALE [^\n]*")
    if not ok or not line then
        error("scaling run failed:\n" .. out)
    end
    local v = {}
    for k, x in line:gmatch("([%w_]+)=([%d.]+)") do
        v[k] = tonumber(x)
    end
    local have = count(s.prefix)
    assert(have == want, ("the sandbox holds %d mailboxes, not %d"):format(have, want))
    return v
end

-- The run of median wall time among RUNS (a busy neighbour slows single
-- runs by half on this machine), and the peak RSS over all of them.
local function run_size(s, nd, per)
    local runs = {}
    local hwm = 0
    for r = 1, RUNS do
        local v, failed = run_once(s, nd, per)
        if not v then
            return nil, failed
        end
        runs[r] = v
        hwm = math.max(hwm, v.hwm_kb)
    end
    table.sort(runs, function(x, y) return x.wall < y.wall end)
    local m = runs[(RUNS + 1) // 2]
    m.hwm_kb, m.min_wall, m.max_wall = hwm, runs[1].wall, runs[RUNS].wall
    return m
end

for _, s in ipairs(SERIES) do
    local per_box, cpu_box = {}, {}
    for i, size in ipairs(s.sizes) do
        local nd, per = size[1], size[2]
        local want = nd * per
        local v, failed = run_size(s, nd, per)
        if not v then
            util.row {
                figure = ("5. %s: %s mailboxes, plan + apply"):format(s.name, thousands(want)),
                ours = "not done", ratio = "-", target = "all created", met = "NO", spread = failed,
            }
            io.stderr:write(("  %s x %d: not done: %s\n"):format(nd, per, failed))
            goto next_size
        end
        per_box[i], cpu_box[i] = v.wall / want, v.cpu / want
        do
            local mb = v.hwm_kb / 1024
            local big = want == 100000
            util.row {
                figure = ("5. %s: %s mailboxes, plan + apply%s"):format(s.name, thousands(want),
                    s.paks and " (paks there)" or ""),
                ours = ("%.2f s"):format(v.wall),
                baseline = ("%.1f us/mailbox; CPU %.2f s"):format(1e6 * per_box[i], v.cpu),
                ratio = "-",
                spread = ("%.2f..%.2f s over %d runs; peak RSS %.1f MB, %d requests, %d mailboxes verified in"
                    .. " /admin/state"):format(v.min_wall, v.max_wall, RUNS, mb, v.sent, want),
            }
            io.stderr:write(("  %s x %d: %.2f s, CPU %.2f s, peak RSS %.1f MB\n"):format(nd, per, v.wall, v.cpu, mb))
            if big then
                util.row {
                    figure = "5. ... peak RSS, 100,000 mailboxes", ours = ("%.1f MB"):format(mb), baseline = "",
                    ratio = "-", target = "< 256 MB", met = mb < 256 and "yes" or "NO",
                    spread = "VmHWM of the client process, highest of the runs",
                }
            end
        end
        ::next_size::
    end
    local last = #s.sizes
    local r, rc = 0 / 0, 0 / 0
    if per_box[1] and per_box[last] then
        r, rc = per_box[last] / per_box[1], cpu_box[last] / cpu_box[1]
    end
    util.row {
        figure = ("5. %s: time per mailbox, largest / smallest"):format(s.name),
        ours = r == r and ("%.2f"):format(r) or "n/a", baseline = "1.00 (linear)", ratio = "-", target = "<= 1.5",
        met = (r == r and r <= 1.5) and "yes" or "NO",
        spread = ("%s: %s to %s mailboxes; client CPU per mailbox %s"):format(s.name,
            thousands(s.sizes[1][1] * s.sizes[1][2]), thousands(s.sizes[last][1] * s.sizes[last][2]),
            rc == rc and ("%.2f"):format(rc) or "n/a"),
    }
end
