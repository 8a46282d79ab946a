-- What every transport must do, as data: spec/transport_cases_spec.lua
-- runs these cases with the curl transport, spec/nginx/run runs them
-- inside nginx with the ngx transport, so both answer alike.
--
-- A case: name; opts (transport options on top of the runner's base
-- ones); ca = "wrong" for a trust store without the sandbox's CA;
-- warmup = n requests sent first on the same transport; req(B) -> the
-- request; expect(res, err, info) raises when the outcome is wrong
-- (info.seconds: how long the request took, for lower bounds only: an
-- upper bound on time fails on a busy machine and proves nothing a
-- result cannot).
--
-- B (given by the runner): base = "http://127.0.0.1:P", https =
-- "https://HOST:P2" (a name the sandbox's certificate holds), http_port,
-- closed_port (refuses connections), secret (a password that the request
-- carries and no error message may show).
local cjson = require "cjson"

local char = string.char
local format = string.format

-- Every byte 1..255, and its percent-encoding.
local ALL_BYTES, ALL_BYTES_PCT
do
    local raw, pct = {}, {}
    for b = 1, 255 do
        raw[b] = char(b)
        pct[b] = format("%%%02X", b)
    end
    ALL_BYTES, ALL_BYTES_PCT = table.concat(raw), table.concat(pct)
end

local function check(cond, msg, ...)
    if not cond then
        error(format(msg, ...), 2)
    end
end

local function ok_res(res, err)
    check(res, "expected a result, got error %s: %s", err and err.kind, err and err.message)
    return res
end

local function echo(res, err)
    ok_res(res, err)
    check(res.status == 200, "status %s", res.status)
    check(res.content_type and res.content_type:find("^application/json"), "content type %s", res.content_type)
    return cjson.decode(res.body)
end

local function failed(res, err, kind, delivered)
    check(res == nil, "expected an error, got status %s", res and res.status)
    check(type(err) == "table", "err is a %s", type(err))
    check(err.kind == kind, "kind %s (want %s): %s", err.kind, kind, err.message)
    check(err.maybe_delivered == delivered, "maybe_delivered %s (want %s)", err.maybe_delivered, delivered)
    check(type(err.message) == "string" and err.message ~= "", "no message")
    return err
end

local function pw(B)
    return "pw=" .. B.secret
end

local cases = {
    {
        name = "GET round trip: every byte 1..255 of a query value arrives exactly",
        req = function(B)
            return { url = B.https .. "/test/echo?v=" .. ALL_BYTES_PCT .. "&" .. pw(B) }
        end,
        expect = function(res, err)
            local e = echo(res, err)
            check(e.method == "GET", "method %s", e.method)
            check(e.args.v == ALL_BYTES, "value differs (%d bytes back)", #tostring(e.args.v))
            check(type(res.total_time) == "number", "total_time")
        end,
    },
    {
        name = "POST round trip: a form body with every byte 1..255 arrives byte for byte",
        req = function(B)
            return { url = B.https .. "/test/echo", body = "v=" .. ALL_BYTES_PCT .. "&" .. pw(B) }
        end,
        expect = function(res, err)
            local e = echo(res, err)
            check(e.method == "POST", "method %s", e.method)
            check(tostring(e.content_type):find("^application/x%-www%-form%-urlencoded"), "content type %s",
                e.content_type)
            check(e.post_args.v == ALL_BYTES, "value differs")
            check(e.raw_body == "v=" .. ALL_BYTES_PCT .. "&pw=" .. e.post_args.pw, "raw body differs")
        end,
    },
    {
        name = "an empty body is still a POST",
        req = function(B)
            return { url = B.https .. "/test/echo", body = "" }
        end,
        expect = function(res, err)
            check(echo(res, err).method == "POST", "not a POST")
        end,
    },
    {
        name = "plain http round trip with allow_http",
        opts = { allow_http = true },
        req = function(B)
            return { url = B.base .. "/test/echo?a=1", body = "b=2" }
        end,
        expect = function(res, err)
            local e = echo(res, err)
            check(e.args.a == "1" and e.args.b == "2", "args differ")
            check(e.scheme == "http", "scheme %s", e.scheme)
        end,
    },
    {
        name = "sends the configured User-Agent",
        opts = { user_agent = "spec-agent/1" },
        req = function(B)
            return { url = B.https .. "/test/echo" }
        end,
        expect = function(res, err)
            local h = echo(res, err).headers
            local ua = h["user-agent"] or h["User-Agent"]
            check(ua == "spec-agent/1", "user agent %s", ua)
        end,
    },
    {
        name = "keep-alive: the second https request reuses the connection",
        warmup = 1,
        req = function(B)
            return { url = B.https .. "/test/echo?n=2" }
        end,
        expect = function(res, err)
            ok_res(res, err)
            check(res.reused == true, "reused is %s", res.reused)
        end,
    },
    {
        name = "keep-alive: the second http request reuses the connection",
        opts = { allow_http = true },
        warmup = 1,
        req = function(B)
            return { url = B.base .. "/test/echo?n=2" }
        end,
        expect = function(res, err)
            ok_res(res, err)
            check(res.reused == true, "reused is %s", res.reused)
        end,
    },
    {
        name = "a first request is not reused",
        req = function(B)
            return { url = B.https .. "/test/echo?first=1", fresh = true }
        end,
        expect = function(res, err)
            ok_res(res, err)
            check(res.reused == false, "reused is %s", res.reused)
        end,
    },
    {
        -- The first request warms a connection; the second (once) rides it
        -- and the server closes it unanswered: no layer may send it again.
        name = "once: a kept-alive connection closed unanswered fails maybe delivered, never resent",
        warmup = 1,
        req = function(B)
            B.once_calls = (B.once_calls or 0) + 1
            if B.once_calls == 1 then
                return { url = B.https .. "/test/echo?warm=1" }
            end
            return { url = B.https .. "/test/close?" .. pw(B), body = pw(B), once = true }
        end,
        expect = function(res, err)
            failed(res, err, "transport", true)
            check((err.sends or 1) == 1, "sent %s times", err.sends)
        end,
    },
    {
        name = "slow answer with timeout 0.3: kind timeout, maybe delivered, not before the deadline",
        opts = { timeout = 0.3 },
        req = function(B)
            return { url = B.https .. "/test/slow?ms=2000&" .. pw(B) }
        end,
        expect = function(res, err, info)
            -- An error rather than the answer due at 2 s: it gave up first.
            failed(res, err, "timeout", true)
            check(info.seconds >= 0.25, "gave up after %.3f s", info.seconds)
        end,
    },
    {
        -- 4 GiB cannot cross TLS here within the 5 s time-out: a transport
        -- that read on past the cap would end with kind timeout instead.
        name = "streamed 4 GiB body with max_response 1 MB: reason too_large, reading stops",
        opts = { max_response = 1024 * 1024, timeout = 5 },
        req = function(B)
            return { url = B.https .. "/test/big?bytes=4294967296&" .. pw(B) }
        end,
        expect = function(res, err)
            failed(res, err, "transport", true)
            check(err.reason == "too_large", "reason %s", err.reason)
        end,
    },
    {
        name = "declared Content-Length over max_response: reason too_large",
        opts = { max_response = 1024 * 1024 },
        req = function(B)
            return { url = B.https .. "/test/big?bytes=20000000&length=1" }
        end,
        expect = function(res, err)
            failed(res, err, "transport", true)
            check(err.reason == "too_large", "reason %s", err.reason)
        end,
    },
    {
        name = "a body of exactly max_response bytes is accepted",
        opts = { max_response = 1024 * 1024 },
        req = function(B)
            return { url = B.https .. "/test/big?bytes=1048576" }
        end,
        expect = function(res, err)
            ok_res(res, err)
            check(res.status == 200 and #res.body == 1048576, "status %s, %d bytes", res.status, #res.body)
        end,
    },
    {
        name = "HTTP 500 is a result with status 500",
        req = function(B)
            return { url = B.https .. "/test/status/500" }
        end,
        expect = function(res, err)
            check(ok_res(res, err).status == 500, "status %s", res.status)
        end,
    },
    {
        name = "a redirect is not followed: status 302",
        req = function(B)
            return { url = B.https .. "/test/redirect?a=1" }
        end,
        expect = function(res, err)
            check(ok_res(res, err).status == 302, "status %s", res.status)
        end,
    },
    {
        name = "connection closed without an answer: kind transport, maybe delivered",
        req = function(B)
            return { url = B.https .. "/test/close", body = "a=1&" .. pw(B) }
        end,
        expect = function(res, err)
            failed(res, err, "transport", true)
        end,
    },
    {
        name = "refused connection: kind transport, never delivered",
        req = function(B)
            return { url = "https://127.0.0.1:" .. B.closed_port .. "/x?" .. pw(B) }
        end,
        expect = function(res, err)
            failed(res, err, "transport", false)
            check(err.reason == nil, "reason %s", err.reason)
        end,
    },
    {
        name = "https with a trust store that lacks the sandbox CA: kind tls, never delivered",
        ca = "wrong",
        req = function(B)
            -- fresh: inside nginx, kept-alive connections are shared by
            -- every location of the worker, whatever its trust store.
            return { url = B.https .. "/test/echo?" .. pw(B), body = pw(B), fresh = true }
        end,
        expect = function(res, err)
            failed(res, err, "tls", false)
        end,
    },
    {
        name = "https to the plain http port: kind tls, never delivered",
        req = function(B)
            return { url = "https://127.0.0.1:" .. B.http_port .. "/test/static?" .. pw(B) }
        end,
        expect = function(res, err)
            failed(res, err, "tls", false)
        end,
    },
    {
        name = "plain http without allow_http: refused before sending",
        req = function(B)
            return { url = B.base .. "/test/echo?" .. pw(B) }
        end,
        expect = function(res, err)
            failed(res, err, "transport", false)
            check(err.message:find("allow_http", 1, true), "message %s", err.message)
        end,
    },
}

--- Run one case with transport module `mod`. base_opts: the runner's
-- transport options (cainfo, ...); wrong_ca_opts replace them for
-- ca = "wrong" cases. `clock` returns seconds. Returns true, or false
-- and why.
local function run(mod, case, B, base_opts, wrong_ca_opts, clock)
    local opts = {}
    for k, v in pairs(case.ca == "wrong" and wrong_ca_opts or base_opts) do
        opts[k] = v
    end
    for k, v in pairs(case.opts or {}) do
        opts[k] = v
    end
    local t = mod.new(opts)
    local ok, why = pcall(function()
        for _ = 1, case.warmup or 0 do
            ok_res(t:request(case.req(B)))
        end
        local t0 = clock()
        local res, err = t:request(case.req(B))
        local info = { seconds = clock() - t0 }
        if err then
            -- No error field may carry the password the request held.
            for k, v in pairs(err) do
                check(not tostring(v):find(B.secret, 1, true), "err.%s shows the password", k)
            end
        end
        case.expect(res, err, info)
    end)
    t:close()
    if ok then
        return true
    end
    return false, tostring(why)
end

return setmetatable(cases, { __index = { run = run, ALL_BYTES = ALL_BYTES } })
