--- One run of figure 10 with one code tree (LUA_PATH and LUA_CPATH name
-- it), in a process of its own: `ensure` for DOMAINS domains of PER
-- mailboxes from empty (every pak bought), then the same again with
-- nothing to do, over HTTPS against the loopback sandbox. Prints the
-- process's CPU time (user + system, os.clock) of each phase.
--
--   lua5.4 bench/cpu_run.lua DOMAINS PER JOURNAL_DIR [PHASES]
--
-- PHASES (for instruction counts under callgrind, which counts the whole
-- process): "both" (the default), "empty" (the first phase only) or
-- "none" (everything but the two runs).
local enom = require "enom"
local provision = require "enom.provision"
local fixtures = require "fixtures"

local ndomains, per, journal_dir, phases = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4] or "both"
assert(ndomains and per and journal_dir, "usage: cpu_run.lua DOMAINS PER JOURNAL_DIR [both|empty|none]")
assert(phases == "both" or phases == "empty" or phases == "none", "PHASES: both, empty or none")
local url = assert(os.getenv("ENOM_SANDBOX_HTTPS_URL"), "ENOM_SANDBOX_HTTPS_URL is not set")
assert(url:match("^https://127%.0%.0%.1:%d+/"), "the benchmark talks to 127.0.0.1 only")
local ca = assert(os.getenv("ENOM_SANDBOX_CA"), "ENOM_SANDBOX_CA is not set")

-- The desired state is built before the clock starts: both trees take
-- the same array.
local desired = {}
for d = 1, ndomains do
    local boxes = {}
    for i = 1, per do
        boxes[i] = { username = ("staff.%05d"):format(i) }
    end
    desired[d] = { domain = ("cpu%04d.com"):format(d), mailboxes = boxes }
end
local passwords = 0
local opts = {
    buy_paks = true,
    max_paks_per_run = ndomains * per // fixtures.PAK_SIZE,
    journal_dir = journal_dir,
    on_password = function() passwords = passwords + 1 end,
}
local want = ndomains * per
local client = assert(enom.new { uid = fixtures.UID, pw = fixtures.PW, endpoint = url, cainfo = ca })

local function phase(name, check)
    collectgarbage("collect")
    local c0 = os.clock()
    local rep = assert(provision.ensure(client, desired, opts))
    local cpu = os.clock() - c0
    if not (rep.ok and check(rep)) then
        local outcomes = {}
        for k, v in pairs(rep.counts) do
            outcomes[#outcomes + 1] = k .. " " .. v
        end
        table.sort(outcomes)
        print(("CPU_FAIL %s: %s"):format(name, table.concat(outcomes, ", ")))
        os.exit(1)
    end
    return cpu, rep.sent
end

local cpu1, sent1, cpu2, sent2 = 0, 0, 0, 0
if phases ~= "none" then
    cpu1, sent1 = phase("from empty", function(rep) return rep.counts.created == want and passwords == want end)
end
if phases == "both" then
    cpu2, sent2 = phase("second run", function(rep) return rep.counts.already_present == want end)
end
client:close()
print(("CPU empty=%.4f second=%.4f sent_empty=%d sent_second=%d"):format(cpu1, cpu2, sent1, sent2))
