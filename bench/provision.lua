--- Figure 4: the provisioning run of bench/provision_mem.lua, `runs`
-- times, each in a fresh lua5.4 process on a freshly seeded sandbox,
-- checked against the sandbox's state after every run.
--
--   lua5.4 bench/provision.lua [runs]
local util = require "util"
local admin = require "admin"
local fixtures = require "fixtures"

local RUNS = tonumber(arg[1]) or 5
local LUA = arg[-1] or "lua5.4"
local WANT = fixtures.PROV_DOMAINS * fixtures.PROV_PER_DOMAIN
local PAKS = WANT // fixtures.PAK_SIZE

local hwm, loaded, heap, live, wall = {}, {}, {}, {}, {}
local sent
for r = 1, RUNS do
    admin.seed()
    local p = assert(io.popen(LUA .. " bench/provision_mem.lua 2>&1"))
    local out = p:read("a")
    local ok = p:close()
    local line = out:match("PROV [^\n]*")
    if not ok or not line then
        error("provisioning run failed:\n" .. out)
    end
    local v = {}
    for k, x in line:gmatch("([%w_]+)=([%d.]+)") do
        v[k] = tonumber(x)
    end
    local st = admin.count()
    assert(st.mailboxes == WANT and st.paks == PAKS,
        ("the sandbox holds %d mailboxes and %d paks, not %d and %d"):format(st.mailboxes, st.paks, WANT, PAKS))
    hwm[r], loaded[r], heap[r], live[r], wall[r] = v.hwm_kb / 1024, v.rss_loaded_kb / 1024, v.heap_kb / 1024,
        v.live_kb / 1024, v.wall
    sent = v.sent
    io.stderr:write(("  run %d: peak RSS %.1f MB, heap %.1f MB, %.2f s, %d requests; sandbox holds %d mailboxes, %d paks\n")
        :format(r, hwm[r], heap[r], wall[r], v.sent, st.mailboxes, st.paks))
end

local s = util.stats(hwm)
local function mb(x) return ("%.1f MB"):format(x) end
util.row {
    figure = "4. provision 10,000 mailboxes (HTTPS), peak RSS",
    ours = mb(s.median), baseline = mb(util.stats(loaded).median) .. " (RSS once enom is loaded)",
    ratio = "-", target = "< 64 MB", met = s.max < 64 and "yes" or "NO",
    spread = ("peak RSS %s..%s over %d runs"):format(mb(s.min), mb(s.max), RUNS),
}
local h, l = util.stats(heap), util.stats(live)
util.row {
    figure = "4. ... Lua heap at the end",
    ours = mb(h.median), baseline = mb(l.median) .. " (live, after a full GC)",
    spread = ("heap %s..%s"):format(mb(h.min), mb(h.max)),
}
local w = util.stats(wall)
util.row {
    figure = ("4. ... wall time, plan + apply (%d requests)"):format(sent),
    ours = ("%.2f s"):format(w.median), baseline = ("%.0f req/s"):format(sent / w.median),
    spread = ("%.2f..%.2f s; %d mailboxes, %d paks verified in /admin/state"):format(w.min, w.max, WANT, PAKS),
}
