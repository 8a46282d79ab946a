--- The nginx transport: HTTP/1.1 over cosockets, for use inside
-- OpenResty / lua-nginx-module. Every wait (connect, TLS, send, read)
-- yields to nginx's event loop, so a request never blocks the worker.
--
-- enom.client picks it by itself when `ngx` is present and the phase
-- allows cosockets (rewrite, access, content, ngx.timer). It keeps the
-- interface and the error values of the curl transport.
--
-- Certificates are checked against the CA file of nginx's
-- `lua_ssl_trusted_certificate` directive (with `lua_ssl_verify_depth`),
-- not against the `cainfo` option: cosockets take their trust store from
-- the nginx configuration only. nginx matches the certificate against
-- the URL's host name (DNS names, not IP addresses), and host names other
-- than `localhost` are resolved by nginx's `resolver` directive.
--
-- Redirects are not followed; a 3xx is a result like any other.
--
-- A request is four steps on one connection: connect, handshake (TLS on
-- a new https connection), send, read. The HTTP/1.1 framing is
-- enom.transport.http1; submit/poll's light threads are
-- enom.transport.ngx_threads.
--
-- @usage
-- -- nginx.conf: lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
-- --             lua_ssl_verify_depth 3; resolver 127.0.0.53;
-- local enom = require "enom"
-- local client = assert(enom.new{ uid = "resellid", pw = os.getenv("ENOM_PW"), endpoint = "test" })
-- local res, err = client:get_pop3{ sld = "resellerdocs", tld = "com" }
local http1 = require "enom.transport.http1"
local threads = require "enom.transport.ngx_threads"
-- Deadlines and timings on the core's monotonic clock, not nginx's
-- cached wall clock.
local now = require("enom.clock").now

local _M = { name = "ngx" }
local mt = { __index = _M }

local type = type
local error = error
local pairs = pairs
local pcall = pcall
local tostring = tostring
local setmetatable = setmetatable
local find = string.find
local sub = string.sub
local floor = math.floor
local min = math.min
local max = math.max

local tcp = ngx.socket.tcp

local core = require "enom.core"

-- The client's defaults (enom.defaults), for a transport made directly;
-- the options are the C core's list, which every transport takes (this
-- one ignores `cainfo`: cosockets trust what nginx's configuration says).
local DEFAULTS = {}
for _, k in ipairs(core.client_options) do
    DEFAULTS[k] = require("enom.defaults")[k]
end
_M.DEFAULTS = DEFAULTS

local KEEPALIVE_IDLE_MS = 30 * 1000 -- idle pooled connections are closed after this
local MAX_SECONDS = core.MAX_SECONDS

local HTTP_NOT_ALLOWED = core.HTTP_NOT_ALLOWED
local REQUEST_FIELDS = { url = true, body = true, fresh = true, once = true, timeout = true, connect_timeout = true }

local function _seconds(opts, name)
    local v = opts[name]
    if v == nil then
        return DEFAULTS[name]
    end
    if type(v) ~= "number" or not (v > 0 and v <= MAX_SECONDS) then
        error("option '" .. name .. "' must be > 0 and <= 1e6 seconds", 3)
    end
    return v
end

local function _count(opts, name, limit)
    local v = opts[name]
    if v == nil then
        return DEFAULTS[name]
    end
    if type(v) ~= "number" or v < 1 or v > limit or v ~= floor(v) then
        error("option '" .. name .. "' must be an integer from 1 to " .. limit, 3)
    end
    return v
end

local function _fail(kind, message, delivered, reason)
    return nil, { kind = kind, message = message, maybe_delivered = delivered, reason = reason,
        sends = delivered and 1 or 0 }
end

--- Open a transport. `opts` takes allow_http, cainfo, timeout,
-- connect_timeout, max_response, user_agent, max_connections; other
-- fields (the client's own options) are ignored. `cainfo` is only
-- type-checked: the trust store is nginx's `lua_ssl_trusted_certificate`.
-- Raises on a bad option value.
function _M.new(opts)
    opts = opts or {}
    if type(opts) ~= "table" then
        error("bad argument #1 to 'new' (table expected, got " .. type(opts) .. ")", 2)
    end
    if opts.allow_http ~= nil and type(opts.allow_http) ~= "boolean" then
        error("option 'allow_http' must be a boolean", 2)
    end
    if opts.cainfo ~= nil and type(opts.cainfo) ~= "string" then
        error("option 'cainfo' must be a string", 2)
    end
    local ua = opts.user_agent
    if ua == nil then
        ua = DEFAULTS.user_agent
    elseif type(ua) ~= "string" or find(ua, "[%z\r\n]") then
        error("option 'user_agent' must be a string without CR, LF or NUL", 2)
    end
    local self = setmetatable({
        allow_http = opts.allow_http or false,
        timeout = _seconds(opts, "timeout"),
        connect_timeout = _seconds(opts, "connect_timeout"),
        max_response = _count(opts, "max_response", 2 ^ 53),
        user_agent = ua,
        max_connections = _count(opts, "max_connections", 1000),
        sessions = {},  -- pool key -> TLS session, for resumption
        closed = false,
    }, mt)
    -- submit/poll's light threads; a request that raises may have left.
    self.threads = threads.new(function(req) return _M.request(self, req) end,
        function(message) return _fail("transport", message, true) end)
    return self
end

local function _check_request(req, level)
    if type(req) ~= "table" then
        error("bad argument #1 (request table expected, got " .. type(req) .. ")", level)
    end
    for k in pairs(req) do
        if not REQUEST_FIELDS[k] then
            error("bad argument #1 (unknown request field '" .. tostring(k) .. "')", level)
        end
    end
    if type(req.url) ~= "string" then
        error("bad argument #1 (request field 'url' must be a string)", level)
    end
    if req.body ~= nil and type(req.body) ~= "string" then
        error("bad argument #1 (request field 'body' must be a string or nil)", level)
    end
end

local function _ms(seconds)
    return max(1, floor(seconds * 1000 + 0.5))
end

local function _fail_after(kind, message)
    return _fail(kind, message, true)
end

-- Connect, from the pool unless `fresh`: sock, reused, or nil, err.
local function _connect(self, u, deadline, fresh, connect_timeout)
    local sock = tcp()
    local cms = _ms(min(connect_timeout or self.connect_timeout, max(deadline - now(), 0.001)))
    sock:settimeouts(cms, cms, cms)
    local pool = u.key
    if fresh then
        -- A name no idle connection carries: connect opens a new one.
        self.last_fresh = (self.last_fresh or 0) + 1
        pool = u.key .. "#fresh" .. self.last_fresh
    end
    -- localhost is the one name resolved here; others go to nginx's resolver.
    local addr = u.host == "localhost" and "127.0.0.1" or u.host
    if sub(addr, 1, 1) == "[" then
        addr = sub(addr, 2, -2)
    end
    local ok, err = sock:connect(addr, u.port, { pool = pool })
    if not ok then
        local where = u.host .. ":" .. u.port
        if err == "timeout" then
            return _fail("timeout", "connection to " .. where .. " timed out", false)
        end
        return _fail("transport", "could not connect to " .. where .. ": " .. tostring(err), false)
    end
    return sock, (sock:getreusedtimes() or 0) > 0
end

-- TLS on a new connection, verified against nginx's trust store, resuming
-- the session of the last connection to the same place: true, or nil, err
-- (the socket closed). Nothing of the request has left yet.
local function _handshake(self, sock, u, deadline)
    local left = deadline - now()
    if left <= 0 then
        sock:close()
        return _fail("timeout", "TLS handshake with " .. u.host .. " timed out", false)
    end
    local ms = _ms(left)
    sock:settimeouts(ms, ms, ms)
    -- lua-resty-core asserts on some failed verifications instead of
    -- returning an error, hence the pcall.
    local pok, session, serr = pcall(sock.sslhandshake, sock, self.sessions[u.key], u.host, true)
    if not pok or not session then
        sock:close()
        if pok and serr == "timeout" then
            return _fail("timeout", "TLS handshake with " .. u.host .. " timed out", false)
        end
        local why = pok and tostring(serr) or "certificate verification failed"
        return _fail("tls", "TLS handshake with " .. u.host .. " failed: " .. why
            .. " (nginx checks against lua_ssl_trusted_certificate)", false)
    end
    if type(session) == "cdata" then
        self.sessions[u.key] = session
    end
    return true
end

-- Write the request: true, or nil, err, retry (the socket closed). retry:
-- a kept-alive connection that was already dead, when `retryable`.
local function _send(self, sock, u, body, deadline, retryable)
    local left = deadline - now()
    if left <= 0 then
        sock:close()
        return _fail("timeout", "request to " .. u.host .. " timed out before sending", false)
    end
    local ms = _ms(left)
    sock:settimeouts(ms, ms, ms)
    local sent, err = sock:send(http1.request(u, body, self.user_agent))
    if sent then
        return true
    end
    sock:close()
    if retryable then
        return nil, nil, true
    end
    if err == "timeout" then
        return _fail_after("timeout", "sending to " .. u.host .. " timed out")
    end
    return _fail_after("transport", "sending to " .. u.host .. " failed: " .. tostring(err))
end

-- The error of an answer that did not come (head) or came short (body).
local function _read_error(self, u, err, r, in_head)
    if err == "too_large" then
        return _fail("transport", "response larger than max_response (" .. self.max_response .. " bytes)",
            true, "too_large")
    elseif err == "timeout" then
        return _fail_after("timeout", in_head and ("no answer from " .. u.host .. " within " .. self.timeout .. " s")
            or ("the answer from " .. u.host .. " took longer than " .. self.timeout .. " s"))
    elseif err == "closed" and r.got == 0 then
        return _fail_after("transport", "the server closed the connection without answering")
    elseif err == "bad Content-Length" then
        return _fail_after("transport", "bad Content-Length from " .. u.host)
    elseif in_head then
        return _fail_after("transport", "bad response from " .. u.host .. ": " .. tostring(err))
    end
    return _fail_after("transport", "reading the answer from " .. u.host .. " failed: " .. tostring(err))
end

-- Read the answer: res { status, body, content_type }, or nil, err, retry
-- (retry: a kept-alive connection closed before a byte came, when
-- `retryable`). A connection goes back to the pool only when the answer
-- left it in step and it is not a fresh one.
local function _read(self, sock, u, deadline, retryable, fresh)
    local r = http1.reader(sock, { deadline = deadline, max_response = self.max_response, now = now })
    local status, headers = r:head()
    if not status then
        sock:close()
        if headers == "closed" and r.got == 0 and retryable then
            return nil, nil, true
        end
        return _read_error(self, u, headers, r, true)
    end
    local ok, err = r:body(status, headers)
    if not ok then
        sock:close()
        return _read_error(self, u, err, r, false)
    end
    if not fresh and r:reusable() then
        sock:setkeepalive(KEEPALIVE_IDLE_MS, self.max_connections)
    else
        sock:close()
    end
    return { status = status, body = r:text(), content_type = headers["content-type"] }
end

-- One attempt on one connection: connect, handshake, send, read. Returns
-- res, or nil, err, retry (retry: a reused connection that died before
-- any byte of an answer; only a request that may go again gets one).
local function _attempt(self, u, req, deadline, started, fresh)
    local sock, reused = _connect(self, u, deadline, fresh, req.connect_timeout)
    if not sock then
        return nil, reused
    end
    local connect_time = now() - started
    if u.scheme == "https" and not reused then
        local ok, err = _handshake(self, sock, u, deadline)
        if not ok then
            return nil, err
        end
    end
    -- A request that must go out once (state-changing) is never resent,
    -- even when the kept-alive connection it rode died unanswered.
    local retryable = reused and not fresh and not req.once
    local ok, err, retry = _send(self, sock, u, req.body, deadline, retryable)
    if not ok then
        return nil, err, retry
    end
    local res
    res, err, retry = _read(self, sock, u, deadline, retryable, fresh)
    if not res then
        return nil, err, retry
    end
    res.total_time = now() - started
    res.connect_time = connect_time
    res.reused = reused
    res.sends = 1
    return res
end

--- One request; yields to nginx while it waits, never blocks the worker.
-- req = { url = ..., body = ... (POST) or nil (GET), fresh = true to
-- use a new connection, once = true never to send it a second time
-- (state-changing commands) }
-- @return res { status, body, total_time, connect_time, reused,
--   content_type, sends } or nil, err { kind = "transport"|"timeout"|"tls",
--   message, maybe_delivered, reason = "too_large" }
function _M.request(self, req)
    _check_request(req, 2)
    if self.closed then
        error("enom transport is closed", 2)
    end
    local started = now()
    local deadline = started + (req.timeout or self.timeout)
    local scheme, host, port, target = http1.split_url(req.url)
    if not scheme or (scheme ~= "http" and scheme ~= "https") then
        return _fail("transport", "unsupported or malformed URL (http or https expected)", false)
    end
    if scheme == "http" and not self.allow_http then
        return _fail("transport", HTTP_NOT_ALLOWED, false)
    end
    local u = { scheme = scheme, host = host, port = port, target = target,
        key = scheme .. "://" .. host .. ":" .. port }
    local res, err, retry = _attempt(self, u, req, deadline, started, req.fresh)
    if retry then
        -- A kept-alive connection the server had closed, with nothing
        -- answered: a read-only request goes once more on a new one.
        res, err = _attempt(self, u, req, deadline, started, true)
        if res then
            res.sends = 2
        elseif err.maybe_delivered then
            err.sends = 2
        end
    end
    return res, err
end

--- Start a request in a light thread; returns its id, or nil, err.
function _M.submit(self, req)
    _check_request(req, 2)
    if self.closed then
        error("enom transport is closed", 2)
    end
    return self.threads:submit(req)
end

--- Wait up to `timeout` seconds (nil: until one completes) for
-- completions: an array of { id = n, res = ... } or { id = n, err = ... }.
-- Must be called from the coroutine that called submit (nginx lets only
-- a thread's parent wait for it).
function _M.poll(self, timeout)
    return self.threads:poll(timeout)
end

--- Requests submitted and not yet handed out by poll.
function _M.pending(self)
    return self.threads:pending()
end

--- Stop requests in flight and forget TLS sessions. Safe to call twice.
function _M.close(self)
    if self.closed then
        return
    end
    self.closed = true
    self.threads:stop()
    self.sessions = {}
end

return _M
