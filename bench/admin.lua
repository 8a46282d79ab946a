--- The benchmark's dealings with the sandbox's admin API, over
-- LuaSocket, so that enom never measures or checks itself.
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local fixtures = require "fixtures"

local _M = {}

local function base()
    local admin = assert(os.getenv("ENOM_SANDBOX_ADMIN"), "ENOM_SANDBOX_ADMIN is not set")
    assert(admin:match("^http://127%.0%.0%.1:%d+/admin$"), "the benchmark talks to 127.0.0.1 only")
    return admin
end

local function call(method, path, body)
    local out = {}
    local data = body and cjson.encode(body)
    local _, code = http.request {
        url = base() .. path, method = method,
        source = data and ltn12.source.string(data) or nil,
        -- the admin API takes a POST only as JSON, an empty body included
        headers = (data or method == "POST")
            and { ["content-type"] = "application/json", ["content-length"] = data and #data or 0 } or nil,
        sink = ltn12.sink.table(out),
    }
    local text = table.concat(out)
    if code ~= 200 then
        error("admin " .. method .. " " .. path .. " -> " .. tostring(code) .. ": " .. text)
    end
    return cjson.decode(text)
end

_M.call = call

-- A sandbox reset is a new world: what the journal of intents
-- (ENOM_JOURNAL_DIR, the benchmark's own folder) says of the old one is
-- void, and must not decide the next run.
local function clear_journal()
    local dir = os.getenv("ENOM_JOURNAL_DIR")
    if dir and dir ~= "" then
        for _, name in ipairs(require("enom.core").list_dir(dir) or {}) do
            if name:find("^journal%-") then
                os.remove(dir .. "/" .. name)
            end
        end
    end
end

--- Replace the sandbox's state with `state` (seed shape), and empty the
-- journal.
function _M.reset(state)
    clear_journal()
    call("POST", "/reset", state)
end

--- Replace the sandbox's state with fixtures.seed().
function _M.seed()
    _M.reset(fixtures.seed())
end

--- Mailboxes, paks and domains on the provisioning domains, and the
-- account's balance, from the sandbox's own state.
function _M.count()
    local st = call("GET", "/state")
    local out = { mailboxes = 0, paks = 0, domains = 0, balance = st.accounts[1].balance }
    for _, d in ipairs(st.domains) do
        if d.name:match("^prov%d+%.com$") then
            out.domains = out.domains + 1
            out.mailboxes = out.mailboxes + #d.mailboxes
            out.paks = out.paks + #d.paks
        end
    end
    return out
end

return _M
