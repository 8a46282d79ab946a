-- The shared transport cases (spec/support/transport_cases.lua) with the curl
-- transport; spec/nginx/run runs the same list with the ngx transport.
local curl = require "enom.transport.curl"
local cases = require "transport_cases"
local socket = require "socket"

local function env(name)
    local v = os.getenv(name)
    if not v or v == "" then
        error(name .. " is not set: these specs need the sandbox (run them through `make test`)", 2)
    end
    return v
end

-- A port on 127.0.0.1 that refuses connections: bound, then closed.
local function closed_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return port
end

local BASE = env("ENOM_SANDBOX_BASE")
local B = {
    base = BASE,
    https = env("ENOM_SANDBOX_HTTPS_BASE"),
    http_port = BASE:match(":(%d+)$"),
    closed_port = closed_port(),
    secret = "S4ndbox-Acct-Pass",
}
local CA = env("ENOM_SANDBOX_CA")

describe("transport cases with the curl transport", function()
    for _, case in ipairs(cases) do
        it(case.name, function()
            -- ca = "wrong": libcurl's own store, which lacks the sandbox CA.
            local ok, why = cases.run(curl, case, B, { cainfo = CA }, {}, socket.gettime)
            assert(ok, why)
        end)
    end
end)
