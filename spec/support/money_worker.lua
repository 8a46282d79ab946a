-- One provisioning run as its own OS process, for the specs that run
-- several at once or kill one (spec/integration/concurrency_spec,
-- spec/integration/killed_spec):
--   lua5.4 spec/support/money_worker.lua DOMAIN COUNT OUT [START_FILE]
-- waits for START_FILE (so that several start at once), plans and applies
-- COUNT mailboxes on DOMAIN (or ensures them: ENOM_TEST_ENSURE=1), and
-- writes OUT.json: the report's figures and the passwords handed out.
-- Each record is also appended to OUT.progress as it happens, and each
-- password to OUT.pw (mode 0600), for a spec that kills the process.
-- Knobs, from the environment:
--   ENOM_TEST_LOCK      "default" (process + host) or "redis" (ENOM_TEST_REDIS=host:port)
--   ENOM_TEST_UID       the login id to use (eNom's are not case sensitive)
--   ENOM_TEST_FORMAT    xml, text or html
--   ENOM_TEST_TTL       the lease's ttl, seconds
--   ENOM_TEST_SETTLE    seconds to wait for a purchase in doubt
--   ENOM_TEST_PER_REQUEST, ENOM_TEST_CONCURRENCY
--   ENOM_TEST_RENEW     renew the paks expiring within this many days (for a year)
local H = require "helper"
local provision = require "enom.provision"
local clock = require "enom.clock"
local core = require "enom.core"

local domain, n, out, start = arg[1], tonumber(arg[2]), arg[3], arg[4]
local function env_number(name)
    return tonumber(os.getenv(name) or "")
end

local desired = {}
for i = 1, n do
    desired[i] = { username = ("box%03d"):format(i) }
end

if start then
    while not io.open(start) do
        clock.sleep(0.005)
    end
end

local lock = os.getenv("ENOM_TEST_LOCK") or "default"
if lock == "redis" then
    local host, port = assert(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set"):match("^(.+):(%d+)$")
    lock = require("enom.lease").new { backend = "redis", host = host, port = tonumber(port) }
end

local c = H.client { uid = os.getenv("ENOM_TEST_UID") or H.UID, response_type = os.getenv("ENOM_TEST_FORMAT") }
local progress = assert(io.open(out .. ".progress", "a"))
progress:setvbuf("line")
local handed = {}
local opts = {
    on_password = function(d, user, pw)
        handed[user] = pw
        assert(core.append_private(out .. ".pw", d .. "\t" .. user .. "\t" .. pw .. "\n"))
    end,
    progress = function(rec)
        progress:write(H.json.encode(rec), "\n")
    end,
    lease_wait = 60, lock = lock, buy_paks = true, max_paks_per_run = 100,
    per_request = env_number("ENOM_TEST_PER_REQUEST") or 5,
    concurrency = env_number("ENOM_TEST_CONCURRENCY"),
    lease_ttl = env_number("ENOM_TEST_TTL"),
    settle = env_number("ENOM_TEST_SETTLE"),
    settle_interval = 0.2,
    renew = env_number("ENOM_TEST_RENEW") and { within_days = env_number("ENOM_TEST_RENEW"), years = 1 } or nil,
}
local want = { { domain = domain, mailboxes = desired } }
local rep
if os.getenv("ENOM_TEST_ENSURE") == "1" then
    rep = assert(provision.ensure(c, want, opts))
else
    local plan = assert(provision.plan(c, want, { buy_paks = true, max_paks_per_run = 100 }))
    rep = assert(provision.apply(c, plan, opts))
end
progress:close()
local created, events = {}, {}
for _, m in ipairs(rep:with("created")) do
    created[#created + 1] = m.username
end
for _, e in ipairs(rep.events) do
    events[#events + 1] = { action = e.action, outcome = e.outcome, detail = e.detail, bundle_id = e.bundle_id }
end
-- Written aside and renamed, so a reader never sees it half written.
local f = assert(io.open(out .. ".json.tmp", "w"))
f:write(H.json.encode {
    ok = rep.ok, paks_bought = rep.paks_bought, paks_renewed = rep.paks_renewed, counts = rep.counts, created = created,
    handed = handed, requests = rep.requests, events = events, stopped = rep.stopped,
})
f:close()
assert(os.rename(out .. ".json.tmp", out .. ".json"))
