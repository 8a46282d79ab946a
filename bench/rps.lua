--- Figure 3: requests per second against the sandbox's /test/static
-- (a fixed Text answer served by nginx without Lua) over plain HTTP on
-- loopback.
--
--   a. enom client, sequential, keep-alive          client:call
--   c. LuaSocket socket.http, sequential            the usual Lua baseline
--                                                   (at most 2,500 requests a round)
--   e. enom client over HTTPS, sequential, keep-alive
--   f. LuaSec ssl.https over HTTPS, sequential      the Lua baseline for an
--                                                   HTTPS-only API like eNom's
--
-- (b, call_many against wrk -c8, measured loopback CPU that no eNom user
-- waits on; bench/callgrind.sh counts a request's instructions instead.)
-- Rounds interleave a, c, e, f so that a noisy neighbour hits all four;
-- each figure is the median of the rounds.
--
--   ENOM_SANDBOX_BASE=http://127.0.0.1:PORT lua5.4 bench/rps.lua [rounds] [seconds]
local enom = require "enom"
local core = require "enom.core"
local http = require "socket.http"
local https = require "ssl.https"
local ltn12 = require "ltn12"
local util = require "util"
local fixtures = require "fixtures"

local ROUNDS = tonumber(arg[1]) or 5
local SECONDS = tonumber(arg[2]) or 2
local base = assert(os.getenv("ENOM_SANDBOX_BASE"), "ENOM_SANDBOX_BASE is not set")
assert(base:match("^http://127%.0%.0%.1:%d+$"), "the benchmark talks to 127.0.0.1 only")
local URL = base .. "/test/static"
local HTTPS_BASE = assert(os.getenv("ENOM_SANDBOX_HTTPS_BASE"), "ENOM_SANDBOX_HTTPS_BASE is not set")
assert(HTTPS_BASE:match("^https://127%.0%.0%.1:%d+$"), "the benchmark talks to 127.0.0.1 only")
local HTTPS_URL = HTTPS_BASE .. "/test/static"
local CA = assert(os.getenv("ENOM_SANDBOX_CA"), "ENOM_SANDBOX_CA is not set")
local now = core.now

-- The exact body client:call("GetBalance", {}) sends with this client.
local BODY = enom.encode { command = "GetBalance", uid = fixtures.UID, pw = fixtures.PW, responsetype = "Text" }

local function new_client(tls)
    return assert(enom.new {
        uid = fixtures.UID, pw = fixtures.PW, endpoint = tls and HTTPS_URL or URL,
        allow_http = not tls, cainfo = tls and CA or nil,
        response_type = "text", max_connections = 8,
    })
end

local function check(res, err)
    if not res then
        error("request failed: " .. tostring(err))
    end
    assert(res.done and res.fields.Balance == "1,000.00", "unexpected answer")
end

-- a (and e over HTTPS). sequential client:call for SECONDS.
local function run_seq(tls)
    local c = new_client(tls)
    check(c:call("GetBalance", {})) -- connect outside the clock
    local n, t0 = 0, now()
    local t
    repeat
        for _ = 1, 100 do
            check(c:call("GetBalance", {}))
        end
        n = n + 100
        t = now() - t0
    until t >= SECONDS
    c:close()
    return n / t
end

-- c. LuaSocket: one POST at a time (socket.http opens a connection per
-- request; it has no keep-alive).
local HEADERS = { ["content-type"] = "application/x-www-form-urlencoded", ["content-length"] = tostring(#BODY) }
local function socket_post()
    local out = {}
    local ok, code = http.request {
        url = URL, method = "POST", headers = HEADERS,
        source = ltn12.source.string(BODY), sink = ltn12.sink.table(out),
    }
    if not ok or code ~= 200 then
        error("socket.http: " .. tostring(code))
    end
    assert(table.concat(out):find("\r\nDone=true\r\n", 1, true), "unexpected answer")
end

-- Every request leaves a socket in TIME_WAIT for 60 s; tens of
-- thousands of them slow connect() down (it hunts for a free port) and
-- would make this baseline look worse with every round. A cap per round
-- keeps them far below the 28,000 ephemeral ports.
local SOCKET_MAX = 2500

-- Requests per second of `post`, `step` at a time, for SECONDS or at
-- most SOCKET_MAX requests.
local function run_capped(post, step)
    post()
    local n, t0 = 0, now()
    local t
    repeat
        for _ = 1, step do
            post()
        end
        n = n + step
        t = now() - t0
    until t >= SECONDS or n >= SOCKET_MAX
    return n / t
end

local function run_socket()
    return run_capped(socket_post, 20)
end

-- f. LuaSec: one HTTPS POST at a time, certificate verified against the
-- sandbox's CA; like socket.http it opens a connection (and a TLS
-- session) per request.
local function tls_post()
    local out = {}
    local ok, code = https.request {
        url = HTTPS_URL, method = "POST", headers = HEADERS,
        source = ltn12.source.string(BODY), sink = ltn12.sink.table(out),
        cafile = CA, verify = "peer", protocol = "any", options = { "all", "no_sslv2", "no_sslv3" },
    }
    if not ok or code ~= 200 then
        error("ssl.https: " .. tostring(code))
    end
    assert(table.concat(out):find("\r\nDone=true\r\n", 1, true), "unexpected answer")
end

local function run_tls()
    return run_capped(tls_post, 10)
end

local a, c, e, f = {}, {}, {}, {}
for r = 1, ROUNDS do
    a[r] = run_seq(false)
    c[r] = run_socket()
    e[r] = run_seq(true)
    f[r] = run_tls()
    io.stderr:write(("  round %d: a %.0f  c %.0f  e %.0f  f %.0f req/s\n"):format(r, a[r], c[r], e[r], f[r]))
end
local sa, sc = util.stats(a), util.stats(c)
local se, sf = util.stats(e), util.stats(f)

local function spread(s)
    return ("%.0f..%.0f"):format(s.min, s.max)
end

util.row {
    figure = "3a. enom call, sequential keep-alive, req/s",
    ours = util.rate(sa.median), baseline = util.rate(sc.median) .. " (3c LuaSocket)",
    ratio = ("%.1fx"):format(sa.median / sc.median), target = ">= 3x",
    met = util.met(sa.median / sc.median, 3), spread = "a " .. spread(sa) .. ", c " .. spread(sc),
}
util.row {
    figure = "3e. enom call over HTTPS, sequential keep-alive",
    ours = util.rate(se.median), baseline = util.rate(sf.median) .. " (3f LuaSec ssl.https)",
    ratio = ("%.1fx"):format(se.median / sf.median), target = ">= 3x",
    met = util.met(se.median / sf.median, 3), spread = "e " .. spread(se) .. ", f " .. spread(sf),
}
