--- The latency benchmark's admin calls, run inside the sandbox's network
-- namespace (the admin API answers on 127.0.0.1 only).
--
--   lua5.4 bench/latency_admin.lua reset            seed + eNom's server time
--   lua5.4 bench/latency_admin.lua count PREFIX     mailboxes paks of PREFIX*.com
--   lua5.4 bench/latency_admin.lua counters         received per command, then zeroed
local admin = require "admin"
local jobs = require "latency_jobs"

local cmd = arg[1]
if cmd == "reset" then
    admin.call("POST", "/reset", jobs.seed())
    admin.call("POST", "/faults", jobs.delay_rules())
elseif cmd == "count" then
    local pat = "^" .. assert(arg[2]):gsub("%p", "%%%0") .. "%d+%.com$"
    local st = admin.call("GET", "/state")
    local boxes, paks = 0, 0
    for _, d in ipairs(st.domains) do
        if d.name:match(pat) then
            boxes, paks = boxes + #d.mailboxes, paks + #d.paks
        end
    end
    print(boxes, paks)
elseif cmd == "counters" then
    local c = admin.call("GET", "/counters")
    local out = {}
    for name, e in pairs(c.commands or {}) do
        out[#out + 1] = ("%s:%d"):format(name, e.received)
    end
    table.sort(out)
    admin.call("DELETE", "/counters")
    print(table.concat(out, ","))
else
    error("usage: latency_admin.lua reset | count PREFIX | counters")
end
