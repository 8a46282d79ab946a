-- Shared by the specs: the sandbox started by spec/run, its admin API,
-- and clients pointed at it. Admin calls go through LuaSocket, not
-- through enom, so the client under test never checks itself.
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local enom = require "enom"
local clock = require "enom.clock"

local H = {}

local function env(name)
    local v = os.getenv(name)
    if not v or v == "" then
        error(name .. " is not set: run the specs through `make test` (spec/run starts the sandbox)", 2)
    end
    return v
end

H.URL = env("ENOM_SANDBOX_URL")
H.HTTPS_URL = env("ENOM_SANDBOX_HTTPS_URL")
H.CA = env("ENOM_SANDBOX_CA")
H.ADMIN = env("ENOM_SANDBOX_ADMIN")
H.BASE = env("ENOM_SANDBOX_BASE")
H.HTTPS_BASE = env("ENOM_SANDBOX_HTTPS_BASE")

-- The default seed's credentials (sandbox/seed.lua).
H.UID = "resellid"
H.PW = "S4ndbox-Acct-Pass"

H.json = cjson

--- Call the admin API: method, path ("/state"), optional Lua table body.
-- A POST always says its body is JSON (the admin API refuses one that does
-- not), an empty body included.
function H.admin(method, path, body)
    local out = {}
    local data = body ~= nil and cjson.encode(body) or nil
    local headers
    if data or method == "POST" then
        headers = { ["content-type"] = "application/json", ["content-length"] = data and #data or 0 }
    end
    local _, code = http.request {
        url = H.ADMIN .. path,
        method = method,
        source = data and ltn12.source.string(data) or nil,
        headers = headers,
        sink = ltn12.sink.table(out),
    }
    local text = table.concat(out)
    if code ~= 200 then
        error("admin " .. method .. " " .. path .. " -> " .. tostring(code) .. ": " .. text)
    end
    local ok, decoded = pcall(cjson.decode, text)
    return ok and decoded or text
end

--- A fresh sandbox state, and an empty journal of intents (spec/run
-- points ENOM_JOURNAL_DIR at a folder of its own): what a spec left open
-- must not reach the next one.
function H.reset(state)
    H.clear_journal()
    return H.admin("POST", "/reset", state)
end

function H.clear_journal()
    local dir = os.getenv("ENOM_JOURNAL_DIR")
    if dir and dir ~= "" then
        for _, name in ipairs(require("enom.core").list_dir(dir) or {}) do
            if name:find("^journal%-") then
                os.remove(dir .. "/" .. name)
            end
        end
    end
end

function H.state()
    return H.admin("GET", "/state")
end

function H.counters()
    return H.admin("GET", "/counters")
end

function H.faults(spec)
    return H.admin("POST", "/faults", spec)
end

--- A client on the sandbox: https with its CA unless opts.http.
function H.client(opts)
    opts = opts or {}
    local o = { uid = H.UID, pw = H.PW, endpoint = H.HTTPS_URL, cainfo = H.CA }
    if opts.http then
        o.endpoint = H.URL
        o.allow_http = true
        o.cainfo = nil
    end
    for k, v in pairs(opts) do
        if k ~= "http" then
            o[k] = v
        end
    end
    return assert(enom.new(o))
end

--- A domain's record in the sandbox's own state.
function H.domain(name, st)
    st = st or H.state()
    for _, d in ipairs(st.domains) do
        if d.name == name then
            return d
        end
    end
end

--- Mailboxes of a domain in the sandbox's own state, keyed by user name.
function H.mailboxes(name, st)
    local d = H.domain(name, st)
    local out = {}
    for _, m in ipairs(d and d.mailboxes or {}) do
        out[m.username] = m
    end
    return out
end

--- How many requests of `command` the sandbox received.
function H.received(command)
    local c = H.counters().commands[command]
    return c and c.received or 0
end

--- Total requests the sandbox received.
function H.total_received()
    return H.counters().totals.received or 0
end

--- Change the sandbox's state: `edit(d, st)` gets each domain's record
-- (and the whole state, for its accounts), then the state is put back
-- (the journal emptied, as by H.reset). Returns the state.
function H.edit(edit)
    local st = H.state()
    for _, d in ipairs(st.domains) do
        edit(d, st)
    end
    H.reset(st)
    return st
end

--- The expiry of pak `id` of `domain` as the sandbox holds it, and the
-- pak's record.
function H.expiry(domain, id)
    for _, p in ipairs(H.domain(domain).paks) do
        if p.bundle_id == id then
            return p.exp_date, p
        end
    end
end

--- The expiry of every pak of `domain`, by bundle id.
function H.expiries(domain)
    local out = {}
    for _, p in ipairs(H.domain(domain).paks) do
        out[p.bundle_id] = p.exp_date
    end
    return out
end

H.DAY = 86400

--- A date `n` days from now as eNom writes it (M/D/YYYY, UTC).
function H.in_days(n)
    local t = os.date("!*t", os.time() + n * H.DAY)
    return ("%d/%d/%d"):format(t.month, t.day, t.year)
end

--- The same date (M/D/YYYY) a year later.
function H.year_later(s)
    local m, d, y = s:match("^(%d+)/(%d+)/(%d+)$")
    return ("%s/%s/%d"):format(m, d, tonumber(y) + 1)
end

--- Wait until `fn` is true (polling every 0.05 s, at most `seconds`).
-- @return what `fn` last said
function H.wait_for(fn, seconds)
    local deadline = clock.now() + seconds
    while clock.now() < deadline do
        if fn() then return true end
        clock.sleep(0.05)
    end
    return fn()
end

--- Does `s` (any value, deep) contain `needle` anywhere?
function H.contains(v, needle, seen)
    seen = seen or {}
    if type(v) == "string" then
        return v:find(needle, 1, true) ~= nil
    elseif type(v) == "table" then
        if seen[v] then
            return false
        end
        seen[v] = true
        for k, x in pairs(v) do
            if H.contains(k, needle, seen) or H.contains(x, needle, seen) then
                return true
            end
        end
    end
    return false
end

return H
