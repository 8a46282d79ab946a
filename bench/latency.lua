--- The latency benchmark's driver (bench/latency.sh sets up the link and
-- the sandbox, then runs this in the first namespace). For each workload
-- and concurrency: reset the sandbox, run enom's plan + apply in the
-- client's namespace, check the sandbox's state, count the requests it
-- received and the connections and TLS handshakes its log shows, and set
-- the time against the floor and the peer. Then issue 22's workloads: 50
-- mixed domains, a second run through plan + apply, and 1% packet loss
-- (DELAYLINK_PID: the link, which loses packets between SIGUSR1 and
-- SIGUSR2). Prints the table.
--
--   lua5.4 bench/latency.lua NS_CLIENT NS_SANDBOX URL CA CONN_LOG
local jobs = require "latency_jobs"

local NS_C, NS_S, URL, CA, CONN_LOG = arg[1], arg[2], arg[3], arg[4], arg[5]
local LUA = arg[-1] or "lua5.4"
local CONCURRENCY = {}
for c in (os.getenv("BENCH_LAT_CONC") or "1,8,32,64"):gmatch("%d+") do
    CONCURRENCY[#CONCURRENCY + 1] = tonumber(c)
end
-- BENCH_LAT_DOMAINS caps the domains of every run (a quick look; the
-- figures are for the whole workloads).
local CAP = tonumber(os.getenv("BENCH_LAT_DOMAINS")) or math.huge
-- Domains run at concurrency 1 (its floor and peer are for the same
-- domains); every other concurrency runs the whole workload.
local AT_ONE = { small = tonumber(os.getenv("BENCH_LAT_C1_SMALL")) or 10,
    large = tonumber(os.getenv("BENCH_LAT_C1_LARGE")) or 2 }
local PEER = { small = tonumber(os.getenv("BENCH_LAT_PEER_SMALL")) or 3, large = 1 }
local SAVING = { n = tonumber(os.getenv("BENCH_LAT_SAVING")) or 40, conc = 8 }
local MIXED_CONC = tonumber(os.getenv("BENCH_LAT_MIXED_CONC")) or 16
local WIDE_CONC = 64                -- the second run through plan + apply, and the lossy runs
local LOSS = os.getenv("BENCH_LAT_LOSS") or "1"
local DELAYLINK_PID = tonumber(os.getenv("DELAYLINK_PID"))
-- enom / floor (issue 22): 1.05 everywhere, 1.15 from empty under loss.
local TARGET, TARGET_LOSS = 1.05, 1.15

local function q(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function run(ns, cmd)
    local p = assert(io.popen("ip netns exec " .. q(ns) .. " " .. cmd .. " 2>&1"))
    local out = p:read("a")
    local ok = p:close()
    if not ok then
        error("failed: " .. cmd .. "\n" .. out)
    end
    return out
end

local function admin(...)
    local args = {}
    for i, a in ipairs { ... } do
        args[i] = q(a)
    end
    return run(NS_S, LUA .. " bench/latency_admin.lua " .. table.concat(args, " "))
end

-- Connections and handshakes since the log was last cleared; TLS only
-- (the admin calls are plain HTTP on loopback).
local function connections()
    local conns, full, resumed, requests = 0, 0, 0, 0
    for line in io.lines(CONN_LOG) do
        local _, nreq, reused, proto = line:match("^(%d+) (%d+) (%S+) (%S+)$")
        if proto and proto:match("^TLS") then
            requests = requests + 1
            if nreq == "1" then
                conns = conns + 1
                if reused == "r" then resumed = resumed + 1 else full = full + 1 end
            end
        end
    end
    io.open(CONN_LOG, "w"):close()
    return { conns = conns, full = full, resumed = resumed, requests = requests }
end

local function measure(wname, n, conc, variant)
    local out = run(NS_C, ("%s bench/latency_client.lua %s %s %s %d %d %s"):format(LUA, q(URL), q(CA), wname, n, conc,
        variant or ""))
    local wall = tonumber(out:match("LAT wall=([%d.]+)"))
    if not wall then
        error("run failed:\n" .. out)
    end
    return wall, out:match("created=(%d+)"), out:match("present=(%d+)")
end

local function check_state(w, n_expected_boxes)
    local boxes = tonumber(admin("count", w.prefix):match("^(%d+)"))
    assert(boxes == n_expected_boxes, ("sandbox holds %d mailboxes of %s, want %d"):format(boxes, w.prefix,
        n_expected_boxes))
end

local rows = {}
local function fmt_s(x)
    return x >= 100 and ("%.0f s"):format(x) or x >= 10 and ("%.1f s"):format(x) or ("%.2f s"):format(x)
end

-- The peer first: 3 domains of 12 and one of 100, scaled per domain.
admin("reset")
io.open(CONN_LOG, "w"):close()
local peer = {}
for _, wname in ipairs { "small", "large" } do
    local out = run(NS_C, ("%s bench/latency_peer.lua %s %s %s %d"):format(LUA, q(URL), q(CA), wname, PEER[wname]))
    local first, second = out:match("PEER first=([%d.]+) second=([%d.]+)")
    assert(first, "peer failed:\n" .. out)
    peer[wname] = { first = tonumber(first) / PEER[wname], second = tonumber(second) / PEER[wname] }
    check_state(jobs.WORKLOADS[wname], PEER[wname] * jobs.WORKLOADS[wname].per)
    local c = connections()
    io.stderr:write(("  peer %s: %d domains, %.2f s + %.2f s, %d connections for %d requests (%d resumed)\n")
        :format(wname, PEER[wname], first, second, c.conns, c.requests, c.resumed))
end

-- One row of the table. `target`: the most enom / floor may be (nil: no
-- target, the ratio is shown). The peer is for the small and large
-- workloads only, and not under loss (it was measured without).
local function row(label, wname, n, conc, from_empty, wall, c, reqs, target, lossy)
    local w = jobs.WORKLOADS[wname]
    local floor, _, floor_conns = jobs.floor(w, n, conc, from_empty)
    local p = peer[wname] and not lossy and (from_empty and peer[wname].first or peer[wname].second) * n
    -- Targets: measured / floor (issue 22); faster than the peer at
    -- concurrency 1, 40 times the peer at 64 (issue 12).
    local met = { target and (wall / floor <= target and "yes" or "NO") or "-" }
    if p and conc == 1 then
        met[2] = "peer " .. (p > wall and "yes" or "NO")
    elseif p and conc == 64 then
        met[2] = "40x " .. (p / wall >= 40 and "yes" or "NO")
    end
    rows[#rows + 1] = {
        label, tostring(conc), fmt_s(wall), ("%s (%d)"):format(fmt_s(floor), floor_conns),
        ("%.3f"):format(wall / floor), p and fmt_s(p) or "-", p and ("%.1fx"):format(p / wall) or "-",
        table.concat(met, ", "), ("%d (%d full, %d resumed)"):format(c.conns, c.full, c.resumed), reqs,
    }
    io.stderr:write(("  %s c=%d: %.2f s, floor %.2f s (%d connections), peer %s, %d connections, %s\n")
        :format(label, conc, wall, floor, floor_conns, p and fmt_s(p) or "-", c.conns, reqs))
end

for _, conc in ipairs(CONCURRENCY) do
    for _, wname in ipairs { "small", "large" } do
        local w = jobs.WORKLOADS[wname]
        local n = math.min(conc == 1 and AT_ONE[wname] or w.domains, CAP)
        admin("reset")
        connections()
        local wall = measure(wname, n, conc)
        check_state(w, n * w.per)
        local reqs = admin("counters"):gsub("%s+$", "")
        row(("%d x %d, from empty"):format(n, w.per), wname, n, conc, true, wall, connections(), reqs, TARGET)
        if wname == "small" then
            wall = measure(wname, n, conc)
            check_state(w, n * w.per)
            reqs = admin("counters"):gsub("%s+$", "")
            row(("%d x %d, second run"):format(n, w.per), wname, n, conc, false, wall, connections(), reqs, TARGET)
        end
    end
end

-- One measured run and its row: the sandbox's state checked, its
-- counters and connection log read (and cleared).
-- A run that fails is a row that says why (the run's ERROR line, or its
-- last line), and the benchmark goes on.
local function measured_row(label, wname, n, conc, from_empty, mode, target, lossy)
    local w = jobs.WORKLOADS[wname]
    local ok, wall = pcall(measure, wname, n, conc, mode)
    if not ok then
        local why = tostring(wall):match("ERROR: ([^\n]*)") or tostring(wall):match("([^\n]*)\n?$")
        rows[#rows + 1] = { label, tostring(conc), "FAILED", "", "", "", "", "NO", "", why }
        io.stderr:write(("  %s c=%d: FAILED: %s\n"):format(label, conc, why))
        admin("counters")
        connections()
        return
    end
    check_state(w, jobs.expected(w, n))
    local reqs = admin("counters"):gsub("%s+$", "")
    row(label, wname, n, conc, from_empty, wall, connections(), reqs, target, lossy)
end

-- Issue 22's workloads. 50 mixed domains: nothing to do, buy + create,
-- deletes, deletes then creates in the freed slots, admin flags.
do
    local w = jobs.WORKLOADS.mixed
    local n = math.min(w.domains, CAP)
    admin("reset")
    connections()
    measured_row(("%d mixed domains, ensure"):format(n), "mixed", n, MIXED_CONC, true, nil, TARGET)
end

-- A second run (nothing to do) through plan + apply: the plan's reads
-- are fresh, so apply has nothing to read again.
do
    local w = jobs.WORKLOADS.small
    local n = math.min(w.domains, CAP)
    admin("reset")
    measure("small", n, WIDE_CONC)
    admin("counters")
    connections()
    measured_row(("%d x %d, second run, plan + apply"):format(n, w.per), "small", n, WIDE_CONC, false, "plan",
        TARGET)
end

-- Packet loss: the link drops LOSS % of the packets each way, on both
-- runs (from empty, then nothing to do).
if DELAYLINK_PID then
    local w = jobs.WORKLOADS.small
    local n = math.min(w.domains, CAP)
    admin("reset")
    connections()
    assert(os.execute(("kill -USR1 %d"):format(DELAYLINK_PID)))
    local ok, err = pcall(function()
        measured_row(("%d x %d, from empty, %s%% loss"):format(n, w.per, LOSS), "small", n, WIDE_CONC, true, nil,
            TARGET_LOSS, true)
        measured_row(("%d x %d, second run, %s%% loss"):format(n, w.per, LOSS), "small", n, WIDE_CONC, false, nil,
            nil, true)
    end)
    os.execute(("kill -USR2 %d"):format(DELAYLINK_PID))
    assert(ok, err)
end

-- The saving of sending state-changing requests on kept-alive connections.
local saving = {}
for _, variant in ipairs { "fresh", "reuse" } do
    admin("reset")
    connections()
    local wall = measure("small", SAVING.n, SAVING.conc, variant == "fresh" and "fresh" or nil)
    check_state(jobs.WORKLOADS.small, SAVING.n * jobs.WORKLOADS.small.per)
    admin("counters")
    saving[variant] = { wall = wall, c = connections() }
end

local head = { "workload", "conc", "measured", "floor", "ratio", "peer", "vs peer", "met?", "connections (TLS)",
    "requests received" }
local width = {}
for i, h in ipairs(head) do
    width[i] = #h
    for _, r in ipairs(rows) do
        width[i] = math.max(width[i], #r[i])
    end
end
local function line(r)
    local cells = {}
    for i = 1, #head do
        cells[i] = r[i] .. string.rep(" ", width[i] - #r[i])
    end
    print((table.concat(cells, "  "):gsub("%s+$", "")))
end
line(head)
local dashes = {}
for i = 1, #head do
    dashes[i] = string.rep("-", width[i])
end
line(dashes)
for _, r in ipairs(rows) do
    line(r)
end
print()
print(("met?: measured / floor <= %.2f (from empty under %s%% loss <= %.2f; the second run under loss has no"
    .. " target); at concurrency 1 faster than the peer; at 64, 40 times the peer or more"):format(TARGET, LOSS,
    TARGET_LOSS))
print(("peer: LuaSec ssl.https, one request at a time, a new TLS connection each; measured on %d domains of %d"
    .. " and %d of %d, scaled per domain"):format(PEER.small, jobs.WORKLOADS.small.per, PEER.large,
    jobs.WORKLOADS.large.per))
print("floor: the fewest requests (1 GetPOP3 per domain, 1 PurchasePOPBundle, 1 SetUpPOP3User per pak, all a"
    .. " domain's SetUps at once; a mixed domain's DeletePOP3, then SetUpPOP3User in the freed slots, or"
    .. " ModifyPOP3), each 1 RTT + server time, best schedule with that many in flight; each connection (in"
    .. " brackets, at most that many) pays one TCP + TLS 1.3 handshake, 2 RTT, on its first request")
local f, r = saving.fresh, saving.reuse
print(("state-changing requests on kept-alive connections (%d x 12 from empty, concurrency %d): %.2f s, %d"
    .. " connections (%d full, %d resumed handshakes); each on a new connection: %.2f s, %d connections (%d full,"
    .. " %d resumed); saving %.0f%%")
    :format(SAVING.n, SAVING.conc, r.wall, r.c.conns, r.c.full, r.c.resumed, f.wall, f.c.conns, f.c.full,
        f.c.resumed, 100 * (1 - r.wall / f.wall)))
