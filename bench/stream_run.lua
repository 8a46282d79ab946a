--- One streamed run of figure 9, in a process of its own: `ensure` over
-- a desired state that a Lua function generates one domain at a time
-- (DOMAINS domains of PER mailboxes, none there yet: every pak is bought),
-- the report written as JSON lines to REPORT and kept "short" in memory,
-- passwords counted as they are handed out and dropped. At the end: the
-- peak RSS (VmHWM), the Lua heap, wall and CPU time, the report's counts.
--
--   lua5.4 bench/stream_run.lua PREFIX DOMAINS PER REPORT JOURNAL_DIR
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
local report_file, journal_dir = arg[4], arg[5]
assert(prefix and ndomains and per and report_file and journal_dir,
    "usage: stream_run.lua PREFIX DOMAINS PER REPORT JOURNAL_DIR")
local url = assert(os.getenv("ENOM_SANDBOX_HTTPS_URL"), "ENOM_SANDBOX_HTTPS_URL is not set")
assert(url:match("^https://127%.0%.0%.1:%d+/"), "the benchmark talks to 127.0.0.1 only")
local ca = assert(os.getenv("ENOM_SANDBOX_CA"), "ENOM_SANDBOX_CA is not set")

-- The stream: each call makes the next domain's entry, nil at the end.
-- Nothing of the job exists before it is asked for.
local d = 0
local function desired()
    if d == ndomains then
        return nil
    end
    d = d + 1
    local boxes = {}
    for i = 1, per do
        boxes[i] = { username = ("staff.%05d"):format(i) }
    end
    return { domain = ("%s%05d.com"):format(prefix, d), mailboxes = boxes }
end

local rss_loaded = status("VmRSS")
local passwords = 0
local t0, c0 = now(), os.clock()
local client = assert(enom.new { uid = fixtures.UID, pw = fixtures.PW, endpoint = url, cainfo = ca })
local rep = assert(provision.ensure(client, desired, {
    buy_paks = true,
    max_paks_per_run = ndomains * per // fixtures.PAK_SIZE,
    budget = 7 * 86400,
    report_file = report_file,
    journal_dir = journal_dir,
    on_password = function() passwords = passwords + 1 end,
}))
local wall, cpu = now() - t0, os.clock() - c0
client:close()
local heap_kb = collectgarbage("count")
local hwm = status("VmHWM")

local want = ndomains * per
if not (rep.ok and rep.counts.created == want and passwords == want) then
    local outcomes = {}
    for k, v in pairs(rep.counts) do
        outcomes[#outcomes + 1] = k .. " " .. v
    end
    table.sort(outcomes)
    print(("STREAM_FAIL %s; passwords %d; %s"):format(table.concat(outcomes, ", "), passwords,
        tostring(rep.error or (rep.run_notes or {})[1] or "see the report")))
    os.exit(1)
end
print(("STREAM wall=%.3f cpu=%.3f hwm_kb=%d rss_loaded_kb=%d heap_kb=%.0f sent=%d created=%d passwords=%d kept=%d")
    :format(wall, cpu, hwm, rss_loaded, heap_kb, rep.sent, rep.counts.created, passwords, #rep.mailboxes))
