--- One measured run of the latency benchmark, in the client's network
-- namespace: provision.ensure (plan and apply on one read per domain) for
-- the first N domains of a workload, with `concurrency` requests in
-- flight, over HTTPS on the delayed link. Prints one line: wall time, requests by command, outcomes.
--
--   lua5.4 bench/latency_client.lua URL CA WORKLOAD N CONCURRENCY [fresh|plan]
--
-- `fresh`: every state-changing request on a new connection, as enom did
-- before such requests were marked send-once (the saving's baseline).
-- `plan`: provision.plan, then provision.apply of that plan (a run
-- reviewed between the two), timed together.
local enom = require "enom"
local provision = require "enom.provision"
local now = require("enom.clock").now
local jobs = require "latency_jobs"

local url, ca, wname, n, conc, mode = arg[1], arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5]), arg[6]
local transport
if mode == "fresh" then
    local curl = require "enom.transport.curl"
    local function fresh(req)
        if req.once then
            req.fresh = true
        end
        return req
    end
    transport = {
        name = "curl",
        new = function(opts)
            local t = curl.new(opts)
            return setmetatable({
                request = function(self, req) return curl.request(self, fresh(req)) end,
                submit = function(self, req) return curl.submit(self, fresh(req)) end,
            }, { __index = t })
        end,
    }
end
local w = assert(jobs.WORKLOADS[wname], "unknown workload")
assert(url:match("^https://10%.%d+%.%d+%.%d+:%d+/"), "the benchmark talks to its own namespace's address only")

local desired = jobs.desired(w, n)
local t0 = now()
local client = assert(enom.new { uid = jobs.UID, pw = jobs.PW, endpoint = url, cainfo = ca,
    max_connections = conc, transport = transport })
local opts = { buy_paks = true, max_paks_per_run = 100000, concurrency = conc, on_password = function() end }
for k, v in pairs(w.policy or {}) do
    opts[k] = v
end
local rep
if mode == "plan" then
    local plan = assert(provision.plan(client, desired, { buy_paks = true, max_paks_per_run = 100000,
        concurrency = conc, prune = opts.prune, update_admin = opts.update_admin }))
    rep = assert(provision.apply(client, plan, { on_password = opts.on_password }))
else
    -- ensure: plan and apply on one read per domain, as a cron job or an
    -- API call runs it (no review between plan and apply).
    rep = assert(provision.ensure(client, desired, opts))
end
local wall = now() - t0
client:close()
assert(rep.ok, rep:format())
local reqs = {}
for k, v in pairs(rep.requests or {}) do
    reqs[#reqs + 1] = k .. ":" .. v
end
table.sort(reqs)
print(("LAT wall=%.3f created=%d present=%d apply_requests=%s")
    :format(wall, rep.counts.created or 0, rep.counts.already_present or 0, table.concat(reqs, ",")))
