--- Figure 4, run in a process of its own: create 10,000 mailboxes on
-- 100 domains through enom.provision (plan + apply, buying 1,000 paks)
-- over HTTPS with the sandbox's CA, then print the process's peak RSS
-- (VmHWM), its RSS once enom was loaded, the Lua heap and the wall time.
--
--   ENOM_SANDBOX_HTTPS_URL=... ENOM_SANDBOX_CA=... lua5.4 bench/provision_mem.lua
local function status(field)
    local f = assert(io.open("/proc/self/status"))
    local s = f:read("a")
    f:close()
    return tonumber(s:match(field .. ":%s*(%d+) kB"))
end

local enom = require "enom"
local provision = require "enom.provision"
local now = require("enom.clock").now
local fixtures = require "fixtures"

local url = assert(os.getenv("ENOM_SANDBOX_HTTPS_URL"), "ENOM_SANDBOX_HTTPS_URL is not set")
assert(url:match("^https://127%.0%.0%.1:%d+/"), "the benchmark talks to 127.0.0.1 only")
local ca = assert(os.getenv("ENOM_SANDBOX_CA"), "ENOM_SANDBOX_CA is not set")

local desired = fixtures.desired()
local rss_loaded = status("VmRSS")
local t0 = now()

local client = assert(enom.new { uid = fixtures.UID, pw = fixtures.PW, endpoint = url, cainfo = ca })
local plan = assert(provision.plan(client, desired, { buy_paks = true, max_paks_per_run = 1000 }))
local t = plan:totals()
local want = fixtures.PROV_DOMAINS * fixtures.PROV_PER_DOMAIN
assert(t.create == want and t.buy == want // fixtures.PAK_SIZE and t.blocked == 0, tostring(plan))
local passwords = 0
local rep = provision.apply(client, plan, {
    on_password = function() passwords = passwords + 1 end,
})
local wall = now() - t0
client:close()
assert(rep.ok, rep:format())
assert(rep.counts.created == want and passwords == want,
    ("created %s, passwords %d"):format(tostring(rep.counts.created), passwords))

local heap_kb = collectgarbage("count")
local hwm = status("VmHWM")
collectgarbage("collect")
local live_kb = collectgarbage("count")
print(("PROV hwm_kb=%d rss_loaded_kb=%d heap_kb=%.0f live_kb=%.0f wall=%.2f sent=%d paks=%d created=%d")
    :format(hwm, rss_loaded, heap_kb, live_kb, wall, rep.sent, rep.paks_bought, rep.counts.created))
