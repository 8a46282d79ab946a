-- One provisioning run as its own OS process, for spec/concurrency_spec:
--   lua5.4 spec/support/money_worker.lua DOMAIN COUNT OUT [START_FILE]
-- waits for START_FILE (so that several start at once), plans and applies
-- COUNT mailboxes on DOMAIN, and writes OUT.json: the report's figures
-- and the passwords handed out. Each record is also appended to
-- OUT.progress as it happens, for a spec that kills the process.
-- ENOM_TEST_LOCK picks the lease backend: "default" (process + host) or
-- "redis" (the Redis of ENOM_TEST_REDIS=host:port).
local H = require "helper"
local provision = require "enom.provision"
local clock = require "enom.clock"

local domain, n, out, start = arg[1], tonumber(arg[2]), arg[3], arg[4]

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

local c = H.client()
local plan = assert(provision.plan(c, { { domain = domain, mailboxes = desired } },
    { buy_paks = true, max_paks_per_run = 100, batch_size = 5 }))
local progress = assert(io.open(out .. ".progress", "a"))
progress:setvbuf("line")
local handed = {}
local rep = assert(provision.apply(c, plan, {
    on_password = function(_, user, pw) handed[user] = pw end,
    progress = function(rec)
        progress:write(H.json.encode(rec), "\n")
    end,
    lease_wait = 60, lock = lock,
}))
progress:close()
local created = {}
for _, m in ipairs(rep:with("created")) do
    created[#created + 1] = m.username
end
-- Written aside and renamed, so a reader never sees it half written.
local f = assert(io.open(out .. ".json.tmp", "w"))
f:write(H.json.encode {
    ok = rep.ok, paks_bought = rep.paks_bought, counts = rep.counts, created = created,
    handed = handed, requests = rep.requests,
})
f:close()
assert(os.rename(out .. ".json.tmp", out .. ".json"))
