-- Shared by spec/transport_core_spec.lua and spec/transport_core_poll_spec.lua:
-- the sandbox's addresses and small helpers around enom.core.client.
local core = require "enom.core"
local cjson = require "cjson"
local socket = require "socket"
local assert = require "luassert"

local _M = {}

local function env(name)
    local v = os.getenv(name)
    if not v or v == "" then
        error(name .. " is not set: these specs need the sandbox (run them through `make test`)", 3)
    end
    return v
end

_M.BASE = env("ENOM_SANDBOX_BASE")
_M.HTTPS_BASE = env("ENOM_SANDBOX_HTTPS_BASE")
_M.CA = env("ENOM_SANDBOX_CA")
_M.now = socket.gettime

-- A port on 127.0.0.1 that refuses connections: bound, then closed.
function _M.closed_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return port
end

-- A listener that never accepts: the kernel completes the TCP handshake,
-- then nothing is ever read or answered.
function _M.silent_listener()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    return s, port
end

function _M.https_client(opts)
    local o = { cainfo = _M.CA }
    for k, v in pairs(opts or {}) do
        o[k] = v
    end
    return core.client(o)
end

function _M.http_client(opts)
    local o = { allow_http = true }
    for k, v in pairs(opts or {}) do
        o[k] = v
    end
    return core.client(o)
end

-- A /test/gate key no other request of this run shares.
local gate_count = 0
function _M.gate_key()
    gate_count = gate_count + 1
    return ("core-%d-%d-%d"):format(os.time(), math.random(1e9), gate_count)
end

function _M.ok_result(res, err)
    assert(res, err and ("request failed: " .. tostring(err.message)))
    return res
end

function _M.echo_args(res)
    assert.are.equal(200, res.status)
    return cjson.decode(res.body)
end

return _M
