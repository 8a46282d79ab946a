-- The nginx transport's HTTP/1.1 framing (enom.transport.http1) over a
-- scripted socket: no nginx, no network. The same reader runs inside
-- nginx (spec/nginx/ drives it against the sandbox).
local http1 = require "enom.transport.http1"

-- A socket that hands out `chunks` one receiveany at a time (a chunk over
-- the size asked for in pieces), then the error `last` ("closed" unless
-- given); it counts reads in `i` and records every settimeouts.
local function socket(chunks, last)
    local s = { i = 0, timeouts = {} }
    local left -- what is left of a chunk bigger than a read asks for
    local next_chunk = 0
    function s.receiveany(_, max)
        s.i = s.i + 1 -- reads
        local c = left
        if not c then
            next_chunk = next_chunk + 1
            c = chunks[next_chunk]
        end
        if c == nil then
            return nil, last or "closed"
        end
        if #c > max then
            left = c:sub(max + 1)
            return c:sub(1, max)
        end
        left = nil
        return c
    end
    function s.settimeouts(_, a, b, c)
        s.timeouts[#s.timeouts + 1] = { a, b, c }
    end
    return s
end

local T = 1000 -- the clock stands still unless a case moves it
local function clock()
    return T
end

local function reader(chunks, opts, last)
    opts = opts or {}
    local sock = socket(chunks, last)
    return http1.reader(sock, {
        deadline = opts.deadline or T + 60, max_response = opts.max_response or 1000, now = clock,
    }), sock
end

-- head + body of a whole answer: status, headers, body text, reusable; or nil, err.
local function read(chunks, opts, last)
    local r = reader(chunks, opts, last)
    local status, headers = r:head()
    if not status then
        return nil, headers, r
    end
    local ok, err = r:body(status, headers)
    if not ok then
        return nil, err, r
    end
    return status, headers, r:text(), r:reusable()
end

describe("http1 reader", function()
    it("reads a Content-Length body split anywhere, and keeps the connection", function()
        local status, headers, body, reusable = read {
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Len", "gth: 11\r\n\r\nhello", " world",
        }
        assert.are.equal(200, status)
        assert.are.equal("text/plain", headers["content-type"])
        assert.are.equal("hello world", body)
        assert.is_true(reusable)
    end)

    it("lower-cases header names and joins repeated ones", function()
        local _, headers = read { "HTTP/1.1 204 No Content\r\nX-A: 1\r\nx-a: 2\r\nSET-Thing:  v  \r\n\r\n" }
        assert.are.equal("1, 2", headers["x-a"])
        assert.are.equal("v", headers["set-thing"])
    end)

    it("skips interim 1xx answers", function()
        local status, _, body = read { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok" }
        assert.are.equal(201, status)
        assert.are.equal("ok", body)
    end)

    it("decodes chunked bodies with extensions and trailers", function()
        local status, _, body, reusable = read {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n",
            "6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        }
        assert.are.equal(200, status)
        assert.are.equal("hello world", body)
        assert.is_true(reusable)
    end)

    it("reads to the close without framing, and then the connection is spent", function()
        local status, _, body, reusable = read { "HTTP/1.1 200 OK\r\n\r\nall of it", " until close" }
        assert.are.equal(200, status)
        assert.are.equal("all of it until close", body)
        assert.is_false(reusable)
    end)

    it("gives up the connection on Connection: close, HTTP/1.0, or bytes beyond the answer", function()
        local cases = {
            { "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false },
            { "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false },
            { "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true },
            { "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n", false },
        }
        for _, c in ipairs(cases) do
            local status, _, _, reusable = read { c[1] }
            assert.are.equal(200, status)
            assert.are.equal(c[2], reusable, c[1])
        end
    end)

    describe("the cap", function()
        it("accepts exactly max_response bytes", function()
            local _, _, body = read({ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789" }, { max_response = 10 })
            assert.are.equal("0123456789", body)
        end)

        it("refuses a declared length over it before reading any of the body", function()
            local _, err, r = read({ "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", "0123456789X" }, { max_response = 10 })
            assert.are.equal("too_large", err)
            assert.are.equal("", r:text())
        end)

        it("stops a chunked or unframed body one byte over", function()
            local _, err = read({ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789X\r\n0\r\n\r\n" },
                { max_response = 10 })
            assert.are.equal("too_large", err)
            _, err = read({ "HTTP/1.1 200 OK\r\n\r\n012345", "6789X" }, { max_response = 10 })
            assert.are.equal("too_large", err)
        end)

        it("caps the head and each chunk line", function()
            local _, err = read { "HTTP/1.1 200 OK\r\nX: " .. string.rep("a", http1.MAX_HEAD + 1) }
            assert.are.equal("line too long", err)
            local many = {}
            for i = 1, 20 do
                many[i] = "X-" .. i .. ": " .. string.rep("b", 4000)
            end
            _, err = read { "HTTP/1.1 200 OK\r\n" .. table.concat(many, "\r\n") .. "\r\n\r\n" }
            assert.are.equal("response headers too large", err)
            _, err = read { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. string.rep("0", 9000) }
            assert.are.equal("line too long", err)
        end)
    end)

    describe("broken answers", function()
        it("reports a body cut short as closed, after bytes came", function()
            local _, err, r = read { "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial" }
            assert.are.equal("closed", err)
            assert.is_true(r.got > 0)
            _, err = read { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel" }
            assert.are.equal("closed", err)
        end)

        it("tells a connection that never answered (got = 0) from one cut mid-head", function()
            local _, err, r = read {}
            assert.are.equal("closed", err)
            assert.are.equal(0, r.got)
            _, err, r = read { "HTTP/1.1 200" }
            assert.are.equal("closed", err)
            assert.are.equal(12, r.got)
        end)

        it("refuses a malformed status line, Content-Length or chunk", function()
            assert.are.equal("malformed status line", select(2, read { "HTTP/1.1 OK\r\n\r\n" }))
            assert.are.equal("malformed status line", select(2, read { "ICY 200 OK\r\n\r\n" }))
            assert.are.equal("bad Content-Length", select(2, read { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n" }))
            assert.are.equal("bad Content-Length", select(2, read { "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n" }))
            assert.are.equal("bad chunk size",
                select(2, read { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" }))
            assert.are.equal("bad chunk end",
                select(2, read { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n" }))
        end)

        it("passes the socket's own error on", function()
            assert.are.equal("connection reset by peer", select(2, read({ "HTTP/1.1 2" }, nil, "connection reset by peer")))
        end)
    end)

    describe("the deadline", function()
        it("bounds every wait by what is left of it", function()
            local r, sock = reader({ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" }, { deadline = T + 2.5 })
            assert.are.equal(200, (r:head()))
            assert.are.same({ 2500, 2500, 2500 }, sock.timeouts[1])
        end)

        it("stops with timeout once it has passed, without waiting again", function()
            local r, sock = reader({ "HTTP/1.1 200 OK\r\n" }, { deadline = T - 0.001 })
            local status, err = r:head()
            assert.is_nil(status)
            assert.are.equal("timeout", err)
            assert.are.equal(0, sock.i)
        end)
    end)
end)

describe("http1 requests", function()
    it("splits URLs: scheme and host lower-cased, default ports, target with query, no fragment", function()
        assert.are.same({ "https", "example.com", 443, "/x?a=1" }, { http1.split_url("HTTPS://Example.COM/x?a=1#frag") })
        assert.are.same({ "http", "127.0.0.1", 8080, "/?q" }, { http1.split_url("http://127.0.0.1:8080?q") })
        assert.are.same({ "https", "[::1]", 8443, "/" }, { http1.split_url("https://[::1]:8443") })
        for _, bad in ipairs { "example.com/x", "https://", "https://h:0/", "https://h:70000/", "https://u@h/",
            "https://h:x/" } do
            assert.is_nil(http1.split_url(bad), bad)
        end
    end)

    it("writes a POST with its length and a GET without a body", function()
        local u = { scheme = "https", host = "example.com", port = 8443, target = "/interface.asp" }
        local post = table.concat(http1.request(u, "a=1&b=2", "ua/1"))
        assert.are.equal("POST /interface.asp HTTP/1.1\r\nHost: example.com:8443\r\nUser-Agent: ua/1\r\n"
            .. "Accept: */*\r\nConnection: keep-alive\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            .. "Content-Length: 7\r\n\r\na=1&b=2", post)
        u.port = 443
        local get = table.concat(http1.request(u, nil, "ua/1"))
        assert.are.equal("GET /interface.asp HTTP/1.1\r\nHost: example.com\r\nUser-Agent: ua/1\r\n"
            .. "Accept: */*\r\nConnection: keep-alive\r\n\r\n", get)
    end)

    it("finds tokens in comma-separated header values", function()
        assert.is_true(http1.has_token("keep-alive, Upgrade", "upgrade"))
        assert.is_false(http1.has_token("keep-alive-ish", "keep-alive"))
        assert.is_false(http1.has_token(nil, "close"))
    end)
end)
