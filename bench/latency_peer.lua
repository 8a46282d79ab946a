--- The peer baseline of the latency benchmark: the way other eNom
-- clients work, one request at a time, each on a new HTTPS connection
-- (LuaSec `ssl.https`, Debian's lua-sec, certificate verified), doing the
-- same job as enom for the first N domains of a workload: read the
-- domain, buy the paks, set up each pak's users; then the second run
-- (read each domain, nothing to do). Prints the seconds of each.
--
--   lua5.4 bench/latency_peer.lua URL CA WORKLOAD N
local https = require "ssl.https"
local ltn12 = require "ltn12"
local enom = require "enom"
local now = require("enom.clock").now
local jobs = require "latency_jobs"

local url, ca, wname, n = arg[1], arg[2], arg[3], tonumber(arg[4])
local w = assert(jobs.WORKLOADS[wname], "unknown workload")
assert(url:match("^https://10%.%d+%.%d+%.%d+:%d+/"), "the benchmark talks to its own namespace's address only")

local function call(params, group)
    params.uid, params.pw, params.ResponseType = jobs.UID, jobs.PW, "Text"
    local body = enom.encode(params, group and { group } or nil)
    local out = {}
    local _, code = assert(https.request {
        url = url, method = "POST", cafile = ca, verify = "peer", protocol = "any",
        options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
        headers = { ["content-type"] = "application/x-www-form-urlencoded", ["content-length"] = #body },
        source = ltn12.source.string(body), sink = ltn12.sink.table(out),
    })
    local text = table.concat(out)
    assert(code == 200 and text:find("ErrCount=0", 1, true) and text:find("Done=true", 1, true),
        "peer request failed: " .. tostring(code))
    return text
end

local FIELDS = { { "username", "UserName" }, { "password", "Password" }, { "display_name", "DisplayName" } }

local desired = jobs.desired(w, n)
local t0 = now()
for _, d in ipairs(desired) do
    local sld, tld = d.domain:match("^([^.]+)%.(.+)$")
    call { command = "GetPOP3", SLD = sld, TLD = tld }
    local paks = (#d.mailboxes + jobs.PAK_SIZE - 1) // jobs.PAK_SIZE
    local answer = call { command = "PurchasePOPBundle", SLD = sld, TLD = tld, Quantity = paks }
    local ids = {}
    for id in answer:gmatch("BundleID%d+=(%d+)") do
        ids[#ids + 1] = id
    end
    assert(#ids == paks, "purchase returned " .. #ids .. " bundle ids")
    for p, id in ipairs(ids) do
        local users = {}
        for i = (p - 1) * jobs.PAK_SIZE + 1, math.min(p * jobs.PAK_SIZE, #d.mailboxes) do
            local m = d.mailboxes[i]
            users[#users + 1] = { username = m.username, password = "Peer-Pw-" .. i .. "x.Q7", display_name = m.display_name }
        end
        call({ command = "SetUpPOP3User", SLD = sld, TLD = tld, BundleID = id },
            { name = "users", fields = FIELDS, records = users })
    end
end
local first = now() - t0
t0 = now()
for _, d in ipairs(desired) do
    local sld, tld = d.domain:match("^([^.]+)%.(.+)$")
    call { command = "GetPOP3", SLD = sld, TLD = tld }
end
print(("PEER first=%.3f second=%.3f domains=%d"):format(first, now() - t0, n))
