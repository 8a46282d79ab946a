--- The latency benchmark's jobs, the sandbox state they start from, and
-- their floor: the time the fewest requests the job needs would take on
-- the delayed link with the given number in flight, each connection
-- paying its TCP and TLS 1.3 handshakes once.
local _M = {}

_M.UID = "resellid"
_M.PW = "S4ndbox-Acct-Pass"
_M.PAK_SIZE = 10
_M.RTT = 0.040                      -- 20 ms each way (bench/delaylink.c)
-- A new connection's first request waits for TCP's handshake (1 RTT) and
-- TLS 1.3's (1 RTT) before its own round trip.
_M.HANDSHAKE = 2 * _M.RTT
-- eNom's server time, as the sandbox's delay rules play it (seconds).
_M.SERVER = { GetPOP3 = 0.150, SetUpPOP3User = 0.300, PurchasePOPBundle = 1.500, DeletePOP3 = 0.300,
    ModifyPOP3 = 0.300 }

--- Workloads: domains of `per` mailboxes named `prefix`NNN.com.
-- `mixed`: domains of five kinds in turn (`kind(d)`), each starting from
-- the sandbox state `seed` gives it:
--   same    10 mailboxes in 1 pak, the same 10 desired: nothing to do
--   buy     empty, 12 desired: buy 2 paks, create 12
--   delete  10 mailboxes, 6 of them desired (prune): delete 4
--   swap    10 mailboxes in a full pak, 6 of them and 4 new desired:
--           delete 4, then create 4 in the slots they freed
--   admin   10 regular mailboxes, the same desired with 3 of them admins:
--           modify 3
_M.WORKLOADS = {
    small = { prefix = "lat", domains = 200, per = 12 },
    large = { prefix = "wide", domains = 20, per = 100 },
    mixed = { prefix = "mix", domains = 50, per = 10, mixed = true,
        policy = { prune = true, update_admin = true } },
}

local KINDS = { "same", "buy", "delete", "swap", "admin" }
_M.KINDS = KINDS

function _M.kind(d)
    return KINDS[(d - 1) % #KINDS + 1]
end

function _M.domain(w, d)
    return ("%s%03d.com"):format(w.prefix, d)
end

local function staff(i, admin)
    return { username = ("staff.%03d"):format(i), display_name = ("Staff %03d"):format(i), admin = admin }
end

-- A mixed domain's desired mailboxes.
local function mixed_boxes(kind)
    local boxes = {}
    local n = (kind == "buy" and 12) or ((kind == "delete" or kind == "swap") and 6) or 10
    for i = 1, n do
        boxes[i] = staff(i, kind == "admin" and i <= 3)
    end
    if kind == "swap" then
        for i = 1, 4 do
            boxes[#boxes + 1] = { username = ("new.%03d"):format(i), display_name = ("New %03d"):format(i) }
        end
    end
    return boxes
end

--- Mailboxes the sandbox holds for the first `n` domains of w once the
-- job is done.
function _M.expected(w, n)
    if not w.mixed then
        return n * w.per
    end
    local total = 0
    for d = 1, n do
        total = total + #mixed_boxes(_M.kind(d))
    end
    return total
end

--- Desired state: the first `n` domains of workload w.
function _M.desired(w, n)
    local out = {}
    for d = 1, n do
        local boxes
        if w.mixed then
            boxes = mixed_boxes(_M.kind(d))
        else
            boxes = {}
            for i = 1, w.per do
                boxes[i] = staff(i)
            end
        end
        out[d] = { domain = _M.domain(w, d), mailboxes = boxes }
    end
    return out
end

--- Sandbox state: the account and every workload's domains, empty but
-- for the mixed ones' mailboxes (in one pak each).
function _M.seed()
    local domains = {}
    for _, name in ipairs { "small", "large" } do
        local w = _M.WORKLOADS[name]
        for d = 1, w.domains do
            domains[#domains + 1] = { name = _M.domain(w, d), owner = _M.UID, service_select = "POP" }
        end
    end
    local w = _M.WORKLOADS.mixed
    local bundle = 5001
    for d = 1, w.domains do
        local dom = { name = _M.domain(w, d), owner = _M.UID, service_select = "POP", paks = {}, mailboxes = {} }
        if _M.kind(d) ~= "buy" then
            dom.paks[1] = { bundle_id = bundle, size = _M.PAK_SIZE }
            for i = 1, 10 do
                local m = staff(i, false)
                m.password, m.bundle_id = ("Seeded-%03d-Pw"):format(i), bundle
                dom.mailboxes[i] = m
            end
            bundle = bundle + 1
        end
        domains[#domains + 1] = dom
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
-- per pak, all at once (each names its own pak). A mixed domain: its
-- read, then per kind a DeletePOP3 (4 names), a DeletePOP3 then one
-- SetUpPOP3User into the freed slots, or one ModifyPOP3 (3 names).
local function stages(w, d, from_empty)
    if not from_empty then
        return { { "GetPOP3" } }
    end
    local kind = w.mixed and _M.kind(d)
    if kind == "same" then
        return { { "GetPOP3" } }
    elseif kind == "delete" then
        return { { "GetPOP3" }, { "DeletePOP3" } }
    elseif kind == "swap" then
        return { { "GetPOP3" }, { "DeletePOP3" }, { "SetUpPOP3User" } }
    elseif kind == "admin" then
        return { { "GetPOP3" }, { "ModifyPOP3" } }
    end
    local per = kind == "buy" and 12 or w.per
    local paks = (per + _M.PAK_SIZE - 1) // _M.PAK_SIZE
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
-- it), at most `conc` connections, each paying HANDSHAKE on its first
-- request (a connection once open is reused). Also returns the request
-- count and the connections opened.
function _M.floor(w, n, conc, from_empty)
    local st, behind = {}, {}        -- domain -> stages; domain -> stage -> seconds to the domain's end
    local ready = {}                 -- { domain, stage, command }
    local left = {}                  -- domain -> requests of its stage still running
    for d = 1, n do
        st[d] = stages(w, d, from_empty)
        behind[d] = {}
        local acc = 0
        for s = #st[d], 1, -1 do
            local longest = 0
            for _, c in ipairs(st[d][s]) do
                longest = math.max(longest, cost(c))
            end
            acc = acc + longest
            behind[d][s] = acc
        end
        for _, c in ipairs(st[d][1]) do
            ready[#ready + 1] = { d = d, s = 1, c = c }
        end
        left[d] = #st[d][1]
    end
    local running = {}               -- { ends, d, s }
    local t, requests, opened, idle = 0, 0, 0, 0
    while #ready > 0 or #running > 0 do
        table.sort(ready, function(a, b)
            local x, y = behind[a.d][a.s], behind[b.d][b.s]
            if x ~= y then return x > y end
            return a.d < b.d
        end)
        while #running < conc and #ready > 0 do
            local r = table.remove(ready, 1)
            local extra = 0
            if idle > 0 then
                idle = idle - 1
            else
                opened, extra = opened + 1, _M.HANDSHAKE
            end
            running[#running + 1] = { ends = t + extra + cost(r.c), d = r.d, s = r.s }
            requests = requests + 1
        end
        table.sort(running, function(a, b) return a.ends < b.ends end)
        local r = table.remove(running, 1)
        t = r.ends
        idle = idle + 1
        left[r.d] = left[r.d] - 1
        if left[r.d] == 0 and st[r.d][r.s + 1] then
            for _, c in ipairs(st[r.d][r.s + 1]) do
                ready[#ready + 1] = { d = r.d, s = r.s + 1, c = c }
            end
            left[r.d] = #st[r.d][r.s + 1]
        end
    end
    return t, requests, opened
end

return _M
