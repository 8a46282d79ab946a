--- One scaling run, in a process of its own: plan + apply for `domains`
-- domains of `per` mailboxes each against the loopback sandbox (HTTPS),
-- then the wall time, the client's CPU time and the peak RSS (VmHWM).
--
--   lua5.4 bench/scaling_run.lua PREFIX DOMAINS PER
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

local prefix, ndomains, per = arg[1], tonumber(arg[2]), tonumber(arg[3])
local url = assert(os.getenv("ENOM_SANDBOX_HTTPS_URL"), "ENOM_SANDBOX_HTTPS_URL is not set")
assert(url:match("^https://127%.0%.0%.1:%d+/"), "the benchmark talks to 127.0.0.1 only")
local ca = assert(os.getenv("ENOM_SANDBOX_CA"), "ENOM_SANDBOX_CA is not set")

local desired = {}
for d = 1, ndomains do
    local boxes = {}
    for i = 1, per do
        boxes[i] = { username = ("staff.%05d"):format(i) }
    end
    desired[d] = { domain = ("%s%04d.com"):format(prefix, d), mailboxes = boxes }
end
local t0, c0 = now(), os.clock()
local client = assert(enom.new { uid = fixtures.UID, pw = fixtures.PW, endpoint = url, cainfo = ca })
local plan = assert(provision.plan(client, desired, { buy_paks = true, max_paks_per_run = 100000 }))
local rep = provision.apply(client, plan, { on_password = function() end })
local wall, cpu = now() - t0, os.clock() - c0
client:close()
local want = ndomains * per
if not (rep.ok and rep.counts.created == want) then
    -- Measured as it is: say what stopped the run, in one line.
    local outcomes = {}
    for k, v in pairs(rep.counts) do
        outcomes[#outcomes + 1] = k .. " " .. v
    end
    table.sort(outcomes)
    local why = rep:format():match("paks failed %(([^)]*)%)") or "see the report"
    print(("SCALE_FAIL %s; %s"):format(table.concat(outcomes, ", "), why))
    os.exit(1)
end
print(("SCALE wall=%.3f cpu=%.3f hwm_kb=%d sent=%d"):format(wall, cpu, status("VmHWM"), rep.sent))
