-- enom.core.client driven directly against the sandbox's /test/* locations:
-- round-trips, connection reuse, the https-only rule, every error kind and
-- its maybe_delivered, and the size cap (submit/poll, closing and argument
-- checks: spec/transport_core_poll_spec.lua).
-- Every case asserts what happened, never how fast: a time appears only as
-- a lower bound (a client cannot give up before its time-out).
local core = require "enom.core"
local T = require "transport_core"

local BASE, HTTPS_BASE, CA, now = T.BASE, T.HTTPS_BASE, T.CA, T.now
local closed_port, silent_listener = T.closed_port, T.silent_listener
local https_client, http_client = T.https_client, T.http_client
local ok_result, echo_args = T.ok_result, T.echo_args

describe("core.client", function()
    describe("round trips", function()
        it("does a GET with the query as given", function()
            local c = https_client()
            local res = ok_result(c:request { url = HTTPS_BASE .. "/test/echo?a=1&b=x%20y" })
            local e = echo_args(res)
            assert.are.equal("GET", e.method)
            assert.are.equal("1", e.args.a)
            assert.are.equal("x y", e.args.b)
            assert.matches("^application/json", res.content_type)
            assert.is_number(res.total_time)
            assert.is_number(res.connect_time)
            assert.is_false(res.reused)
            c:close()
        end)

        it("POSTs the body byte for byte as a form", function()
            local c = https_client()
            local body = "x=1&y=a%20b&pw=p%26q%3D&utf=%C3%A9"
            local res = ok_result(c:request { url = HTTPS_BASE .. "/test/echo", body = body })
            local e = echo_args(res)
            assert.are.equal("POST", e.method)
            assert.are.equal(body, e.raw_body)
            assert.matches("^application/x%-www%-form%-urlencoded", e.content_type)
            assert.are.equal("a b", e.args.y)
            assert.are.equal("p&q=", e.args.pw)
            assert.are.equal("\195\169", e.args.utf)
            c:close()
        end)

        it("sends an empty body as a POST, and no body as a GET", function()
            local c = https_client()
            assert.are.equal("POST", echo_args(ok_result(c:request { url = HTTPS_BASE .. "/test/echo", body = "" })).method)
            assert.are.equal("GET", echo_args(ok_result(c:request { url = HTTPS_BASE .. "/test/echo" })).method)
            c:close()
        end)

        it("keeps the body alive after the Lua string is gone", function()
            local c = https_client()
            local id = c:submit { url = HTTPS_BASE .. "/test/echo", body = ("k=" .. string.rep("v", 5000)) }
            collectgarbage()
            collectgarbage()
            local done = {}
            while #done == 0 do
                done = c:poll(5)
            end
            assert.are.equal(id, done[1].id)
            assert.are.equal(5000, #echo_args(done[1].res).args.k)
            c:close()
        end)

        it("sends the user agent", function()
            local c = https_client { user_agent = "spec-agent/1" }
            local e = echo_args(ok_result(c:request { url = HTTPS_BASE .. "/test/echo" }))
            local ua = e.headers and (e.headers["user-agent"] or e.headers["User-Agent"])
            assert.are.equal("spec-agent/1", ua)
            c:close()
        end)

        it("returns any HTTP status as a result", function()
            local c = https_client()
            local res = ok_result(c:request { url = HTTPS_BASE .. "/test/status/500" })
            assert.are.equal(500, res.status)
            c:close()
        end)

        it("does not follow redirects", function()
            local c = https_client()
            local res = ok_result(c:request { url = HTTPS_BASE .. "/test/redirect" })
            assert.are.equal(302, res.status)
            c:close()
        end)
    end)

    describe("connection reuse", function()
        it("reuses the connection for the next request, over http and https", function()
            for _, base in ipairs { BASE, HTTPS_BASE } do
                local c = https_client { allow_http = true }
                local first = ok_result(c:request { url = base .. "/test/static" })
                local second = ok_result(c:request { url = base .. "/test/static" })
                local third = ok_result(c:request { url = base .. "/test/echo", body = "a=1" })
                assert.is_false(first.reused)
                assert.is_true(second.reused)
                assert.is_true(third.reused)
                c:close()
            end
        end)

        it("spends no time connecting on a reused https connection", function()
            local c = https_client()
            local first = ok_result(c:request { url = HTTPS_BASE .. "/test/static" })
            local second = ok_result(c:request { url = HTTPS_BASE .. "/test/static" })
            assert.is_true(first.connect_time > 0, "the first request did not connect")
            assert.is_true(second.reused)
            assert.are.equal(0, second.connect_time)
            c:close()
        end)
    end)

    describe("CA store and TLS sessions", function()
        -- The system bundle plus the sandbox CA: big enough that parsing it
        -- dominates a handshake, as it does with a real system store.
        local function big_bundle()
            local sys = assert(io.open("/etc/ssl/certs/ca-certificates.crt", "rb"),
                "needs the system CA bundle (Debian package ca-certificates)")
            local sandbox = assert(io.open(CA, "rb"))
            local name = os.tmpname()
            local out = assert(io.open(name, "wb"))
            out:write(sys:read("*a"), "\n", sandbox:read("*a"))
            sys:close()
            sandbox:close()
            out:close()
            return name
        end

        it("opens new connections on a warm client without reading the CA file again", function()
            local bundle = big_bundle()
            local c = https_client { cainfo = bundle }
            ok_result(c:request { url = HTTPS_BASE .. "/test/static" })
            -- From here on the file is gone: only a store kept in memory
            -- can verify a new connection.
            os.remove(bundle)
            for _ = 1, 3 do
                assert.is_nil(c:request { url = HTTPS_BASE .. "/test/close" }) -- drops the connection
                local res = ok_result(c:request { url = HTTPS_BASE .. "/test/static" })
                assert.is_false(res.reused)
            end
            c:close()
            -- A new client has no such store: the missing file fails it.
            local cold = https_client { cainfo = bundle }
            local res, err = cold:request { url = HTTPS_BASE .. "/test/static" }
            assert.is_nil(res)
            assert.are.equal("tls", err.kind)
            assert.is_false(err.maybe_delivered)
            cold:close()
        end)
    end)

    describe("https only", function()
        it("refuses plain http unless allow_http", function()
            local c = core.client { cainfo = CA }
            local res, err = c:request { url = BASE .. "/test/static?pw=hunter22" }
            assert.is_nil(res)
            assert.are.equal("transport", err.kind)
            assert.is_false(err.maybe_delivered)
            assert.is_number(err.code)
            assert.matches("plain http is not allowed", err.message, 1, true)
            assert.matches("allow_http = true", err.message, 1, true)
            assert.is_nil(err.message:find("hunter22", 1, true))
            c:close()

            local h = http_client()
            assert.are.equal(200, ok_result(h:request { url = BASE .. "/test/static" }).status)
            h:close()
        end)

        it("fails verification against the system store with kind tls", function()
            local c = core.client {}
            local res, err = c:request { url = HTTPS_BASE .. "/test/echo?pw=hunter22" }
            assert.is_nil(res)
            assert.are.equal("tls", err.kind)
            assert.are.equal(60, err.code) -- CURLE_PEER_FAILED_VERIFICATION: the store itself loaded
            assert.is_false(err.maybe_delivered)
            assert.is_nil(err.message:find("hunter22", 1, true))
            c:close()
        end)

        it("reports a failed handshake (https to the http port) as tls, never delivered", function()
            local port = BASE:match(":(%d+)$")
            local c = https_client()
            local res, err = c:request { url = "https://127.0.0.1:" .. port .. "/test/static" }
            assert.is_nil(res)
            assert.are.equal("tls", err.kind)
            assert.is_false(err.maybe_delivered)
            c:close()
        end)
    end)

    describe("failures of the world", function()
        it("reports a refused connection as transport, never delivered", function()
            local c = https_client()
            local res, err = c:request { url = "https://127.0.0.1:" .. closed_port() .. "/x?pw=hunter22" }
            assert.is_nil(res)
            assert.are.equal("transport", err.kind)
            assert.are.equal(7, err.code) -- CURLE_COULDNT_CONNECT
            assert.is_false(err.maybe_delivered)
            assert.is_string(err.message)
            assert.is_nil(err.message:find("hunter22", 1, true))
            assert.is_nil(err.reason)
            c:close()
        end)

        it("times out a slow answer after sending: kind timeout, maybe delivered", function()
            local c = https_client { timeout = 0.3 }
            local t0 = now()
            local res, err = c:request { url = HTTPS_BASE .. "/test/slow?ms=3000" }
            local took = now() - t0
            -- An error, not the answer that comes at 3 s: it gave up first;
            -- and not before its time-out.
            assert.is_nil(res)
            assert.are.equal("timeout", err.kind)
            assert.are.equal(28, err.code) -- CURLE_OPERATION_TIMEDOUT
            assert.is_true(err.maybe_delivered)
            assert.is_true(took >= 0.25, "gave up after " .. took .. " s")
            c:close()
        end)

        it("times out before any request byte left: never delivered", function()
            local listener, port = silent_listener()
            local c = https_client { timeout = 0.3 }
            local res, err = c:request { url = "https://127.0.0.1:" .. port .. "/x", body = "a=1" }
            assert.is_nil(res)
            assert.are.equal("timeout", err.kind)
            assert.is_false(err.maybe_delivered)
            c:close()

            -- Over plain http the request is written at once, so it may have arrived.
            local h = http_client { timeout = 0.3 }
            res, err = h:request { url = "http://127.0.0.1:" .. port .. "/x", body = "a=1" }
            assert.is_nil(res)
            assert.are.equal("timeout", err.kind)
            assert.is_true(err.maybe_delivered)
            h:close()
            listener:close()
        end)

        it("reports a connection closed with no answer as transport, maybe delivered", function()
            local c = https_client()
            local res, err = c:request { url = HTTPS_BASE .. "/test/close", body = "a=1" }
            assert.is_nil(res)
            assert.are.equal("transport", err.kind)
            assert.is_true(err.maybe_delivered)
            c:close()
        end)
    end)

    describe("max_response", function()
        it("accepts a body of exactly max_response bytes", function()
            local c = https_client { max_response = 1000 }
            local res = ok_result(c:request { url = HTTPS_BASE .. "/test/big?bytes=1000" })
            assert.are.equal(1000, #res.body)
            c:close()
        end)

        it("stops a streamed body one byte over, and a declared length over", function()
            local c = https_client { max_response = 1000 }
            for _, q in ipairs { "bytes=1001", "bytes=1001&length=1" } do
                local res, err = c:request { url = HTTPS_BASE .. "/test/big?" .. q }
                assert.is_nil(res)
                assert.are.equal("too_large", err.reason)
                assert.are.equal("transport", err.kind)
                assert.is_true(err.maybe_delivered)
                assert.matches("max_response", err.message, 1, true)
            end
            -- The client goes on working after an aborted transfer.
            assert.are.equal(200, ok_result(c:request { url = HTTPS_BASE .. "/test/static" }).status)
            c:close()
        end)

        it("aborts the download instead of reading the rest", function()
            -- 4 GiB cannot cross TLS on this machine within the 5 s
            -- time-out: a client that read on would end with kind timeout.
            local capped = https_client { max_response = 65536, timeout = 5 }
            local res, err = capped:request { url = HTTPS_BASE .. "/test/big?bytes=4294967296" }
            assert.is_nil(res)
            assert.are.equal("transport", err.kind)
            assert.are.equal("too_large", err.reason)
            capped:close()
        end)
    end)
end)
