-- One process sending requests under the account's rate limit, for the
-- spec that runs several at once (spec/integration/rate_processes_spec):
--   lua5.4 spec/support/rate_worker.lua COUNT OUT START_FILE [RATE KEY]
-- waits for START_FILE (so that every process starts at once), sends
-- COUNT GetBalance requests through a batch of 8 in flight, with a Redis
-- rate limit of RATE requests a second under KEY (ENOM_TEST_REDIS), or
-- without one when RATE is absent, and writes OUT: "ok SENT WAITED".
local H = require "helper"
local clock = require "enom.clock"

local count, out, start, rate, key = tonumber(arg[1]), arg[2], arg[3], tonumber(arg[4] or ""), arg[5]

local limit
if rate then
    local host, port = assert(os.getenv("ENOM_TEST_REDIS"), "ENOM_TEST_REDIS is not set"):match("^(.+):(%d+)$")
    limit = { rate = rate, backend = "redis", key = key, redis = { host = host, port = tonumber(port) } }
end
local c = H.client { rate_limit = limit, http = true }

while not io.open(start) do
    clock.sleep(0.005)
end

local b = c:batch { concurrency = 8 }
for _ = 1, count do
    b:add_method("get_balance", {})
end
local ok = 0
for _, res in b:each() do
    if res then ok = ok + 1 end
end
local f = assert(io.open(out .. ".tmp", "w"))
f:write(("ok %d %.3f\n"):format(ok, b.rate_limit_wait))
f:close()
assert(os.rename(out .. ".tmp", out))
c:close()
