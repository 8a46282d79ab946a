--- Figure 3: requests per second against the sandbox's /test/static
-- (a fixed Text answer served by nginx without Lua) over plain HTTP on
-- loopback.
--
--   a. enom client, sequential, keep-alive          client:call
--   b. enom client, 8 in flight                     client:call_many
--   c. LuaSocket socket.http, sequential            the usual Lua baseline
--                                                   (at most 2,500 requests a round)
--   d. wrk -t2 -c8, POST                            the machine's ceiling
--   e. enom client over HTTPS, sequential, keep-alive
--   f. LuaSec ssl.https over HTTPS, sequential      the Lua baseline for an
--                                                   HTTPS-only API like eNom's
--
-- Rounds interleave a, b, c, d so that a noisy neighbour hits all four;
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
local WRK_SECONDS = 3
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

-- b. call_many at concurrency 8: `n` requests in one batch.
local function run_many(n)
    local c = new_client()
    check(c:call("GetBalance", {}))
    local reqs = {}
    for i = 1, n do
        reqs[i] = { command = "GetBalance", params = {} }
    end
    local t0 = now()
    local res, errs = c:call_many(reqs, { concurrency = 8 })
    local t = now() - t0
    for i = 1, n do
        check(res[i], errs[i])
    end
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

-- d. wrk, 2 threads, 8 connections.
local function run_wrk()
    local cmd = ("ENOM_BENCH_BODY='%s' wrk -t2 -c8 -d%ds -s bench/wrk_post.lua %s 2>&1")
        :format(BODY, WRK_SECONDS, URL)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    assert(not out:find("Non%-2xx"), "wrk saw non-2xx answers:\n" .. out)
    local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
    assert(rps, "no Requests/sec in wrk's output:\n" .. out)
    return rps
end

-- Size b's batch to take about SECONDS from a short trial.
local many_n = math.max(1000, math.floor(run_many(2000) * SECONDS))

local a, b, c, d, e, f = {}, {}, {}, {}, {}, {}
for r = 1, ROUNDS do
    a[r] = run_seq(false)
    b[r] = run_many(many_n)
    c[r] = run_socket()
    d[r] = run_wrk()
    e[r] = run_seq(true)
    f[r] = run_tls()
    io.stderr:write(("  round %d: a %.0f  b %.0f  c %.0f  d %.0f  e %.0f  f %.0f req/s\n")
        :format(r, a[r], b[r], c[r], d[r], e[r], f[r]))
end
local sa, sb, sc, sd = util.stats(a), util.stats(b), util.stats(c), util.stats(d)
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
    figure = "3b. enom call_many, 8 in flight, req/s",
    ours = util.rate(sb.median), baseline = util.rate(sd.median) .. " (3d wrk -t2 -c8)",
    ratio = ("%.2f"):format(sb.median / sd.median), target = ">= 0.5",
    met = util.met(sb.median / sd.median, 0.5), spread = "b " .. spread(sb) .. ", d " .. spread(sd),
}
util.row {
    figure = "3e. enom call over HTTPS, sequential keep-alive",
    ours = util.rate(se.median), baseline = util.rate(sf.median) .. " (3f LuaSec ssl.https)",
    ratio = ("%.1fx"):format(se.median / sf.median), target = ">= 3x",
    met = util.met(se.median / sf.median, 3), spread = "e " .. spread(se) .. ", f " .. spread(sf),
}
