--- The latency benchmark's jobs, the sandbox state they start from, and
-- their floor: the time the fewest requests the job needs would take on
-- the delayed link with the given number in flight.
local _M = {}

_M.UID = "resellid"
_M.PW = "S4ndbox-Acct-Pass"
_M.PAK_SIZE = 10
_M.RTT = 0.040                      -- 20 ms each way (bench/delaylink.c)
-- eNom's server time, as the sandbox's delay rules play it (seconds).
_M.SERVER = { GetPOP3 = 0.150, SetUpPOP3User = 0.300, PurchasePOPBundle = 1.500 }

--- Workloads: domains of `per` mailboxes named `prefix`NNN.com.
_M.WORKLOADS = {
    small = { prefix = "lat", domains = 200, per = 12 },
    large = { prefix = "wide", domains = 20, per = 100 },
}

function _M.domain(w, d)
    return ("%s%03d.com"):format(w.prefix, d)
end

--- Desired state: the first `n` domains of workload w.
function _M.desired(w, n)
    local out = {}
    for d = 1, n do
        local boxes = {}
        for i = 1, w.per do
            boxes[i] = { username = ("staff.%03d"):format(i), display_name = ("Staff %03d"):format(i) }
        end
        out[d] = { domain = _M.domain(w, d), mailboxes = boxes }
    end
    return out
end

--- Sandbox state: the account and every workload's domains, empty.
function _M.seed()
    local domains = {}
    for _, name in ipairs { "small", "large" } do
        local w = _M.WORKLOADS[name]
        for d = 1, w.domains do
            domains[#domains + 1] = { name = _M.domain(w, d), owner = _M.UID, service_select = "POP" }
        end
    end
    return {
        settings = { pop_pak_price = 5.95, pak_size = _M.PAK_SIZE, quota = 1024,
            next_bundle_id = 10001, next_order_id = 157230001 },
        accounts = { { uid = _M.UID, pw = _M.PW, balance = 1000000 } },
        domains = domains,
    }
end

--- The sandbox's fault rules that play eNom's server time.
function _M.delay_rules()
    local rules = {}
    for command, s in pairs(_M.SERVER) do
        rules[#rules + 1] = { kind = "delay", command = command, ms = math.floor(s * 1000 + 0.5) }
    end
    return { rules = rules }
end

-- The requests of one domain, as chains: each stage's requests need the
-- stage before it. From empty: one GetPOP3, one PurchasePOPBundle (it
-- returns the new bundle ids, so no read follows), then one SetUpPOP3User
-- per pak, all at once (each names its own pak).
local function stages(w, from_empty)
    if not from_empty then
        return { { "GetPOP3" } }
    end
    local paks = (w.per + _M.PAK_SIZE - 1) // _M.PAK_SIZE
    local setups = {}
    for i = 1, paks do
        setups[i] = "SetUpPOP3User"
    end
    return { { "GetPOP3" }, { "PurchasePOPBundle" }, setups }
end

local function cost(command)
    return _M.RTT + _M.SERVER[command]
end

--- Floor in seconds for `n` domains of w with `conc` requests in flight:
-- the fewest requests, each 1 RTT + server time, scheduled greedily (a
-- free slot takes the ready request with the longest chain still behind
-- it). Also returns the request count.
function _M.floor(w, n, conc, from_empty)
    local st = stages(w, from_empty)
    local behind = {}                -- stage -> seconds from its start to the domain's end
    local acc = 0
    for s = #st, 1, -1 do
        local longest = 0
        for _, c in ipairs(st[s]) do
            longest = math.max(longest, cost(c))
        end
        acc = acc + longest
        behind[s] = acc
    end
    local ready = {}                 -- { domain, stage, command }
    local left = {}                  -- domain -> requests of its stage still running
    for d = 1, n do
        for _, c in ipairs(st[1]) do
            ready[#ready + 1] = { d = d, s = 1, c = c }
        end
        left[d] = #st[1]
    end
    local running = {}               -- { ends, d, s }
    local t, requests = 0, 0
    while #ready > 0 or #running > 0 do
        table.sort(ready, function(a, b)
            if behind[a.s] ~= behind[b.s] then return behind[a.s] > behind[b.s] end
            return a.d < b.d
        end)
        while #running < conc and #ready > 0 do
            local r = table.remove(ready, 1)
            running[#running + 1] = { ends = t + cost(r.c), d = r.d, s = r.s }
            requests = requests + 1
        end
        table.sort(running, function(a, b) return a.ends < b.ends end)
        local r = table.remove(running, 1)
        t = r.ends
        left[r.d] = left[r.d] - 1
        if left[r.d] == 0 and st[r.s + 1] then
            for _, c in ipairs(st[r.s + 1]) do
                ready[#ready + 1] = { d = r.d, s = r.s + 1, c = c }
            end
            left[r.d] = #st[r.s + 1]
        end
    end
    return t, requests
end

return _M
