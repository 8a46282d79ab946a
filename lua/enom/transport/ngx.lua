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
-- @usage
-- -- nginx.conf: lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
-- --             lua_ssl_verify_depth 3; resolver 127.0.0.53;
-- local enom = require "enom"
-- local client = assert(enom.new{ uid = "resellid", pw = os.getenv("ENOM_PW"), endpoint = "test" })
-- local res, err = client:get_pop3{ sld = "resellerdocs", tld = "com" }
local _M = { _VERSION = "0.1.0", name = "ngx" }
local mt = { __index = _M }

local type = type
local error = error
local pairs = pairs
local pcall = pcall
local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable
local unpack = table.unpack or unpack
local co_status = coroutine.status
local concat = table.concat
local lower = string.lower
local find = string.find
local sub = string.sub
local match = string.match
local gmatch = string.gmatch
local floor = math.floor
local min = math.min
local max = math.max

local tcp = ngx.socket.tcp
local ngx_now = ngx.now
local update_time = ngx.update_time
local spawn = ngx.thread.spawn
local wait = ngx.thread.wait
local kill = ngx.thread.kill
local sleep = ngx.sleep

local DEFAULTS = {
    allow_http = false,
    timeout = 60,
    connect_timeout = 10,
    max_response = 8 * 1024 * 1024,
    user_agent = "lua-enom/" .. _M._VERSION,
    max_connections = 8,
}
_M.DEFAULTS = DEFAULTS

local KEEPALIVE_IDLE_MS = 30 * 1000 -- idle pooled connections are closed after this
local CHUNK = 64 * 1024             -- bytes asked of the socket per read
local MAX_HEAD = 64 * 1024          -- status line and headers together
local MAX_LINE = 8 * 1024           -- a chunk-size or trailer line
local MAX_SECONDS = 1e6

local HTTP_NOT_ALLOWED = "plain http is not allowed (pass allow_http = true for a loopback sandbox)"
local REQUEST_FIELDS = { url = true, body = true, fresh = true }

local function now()
    update_time()
    return ngx_now()
end

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
    return setmetatable({
        allow_http = opts.allow_http or false,
        timeout = _seconds(opts, "timeout"),
        connect_timeout = _seconds(opts, "connect_timeout"),
        max_response = _count(opts, "max_response", 2 ^ 53),
        user_agent = ua,
        max_connections = _count(opts, "max_connections", 1000),
        sessions = {},  -- pool key -> TLS session, for resumption
        threads = {},   -- id -> light thread, submitted and not yet reaped
        nthreads = 0,
        done = {},      -- completions not yet handed out by poll
        last_id = 0,
        closed = false,
    }, mt)
end

-- Scheme, host, port, request target of a URL; nil for a URL we cannot use.
local function _split_url(url)
    local scheme, authority, rest = match(url, "^(%a[%w+.-]*)://([^/?#]*)(.*)$")
    if not scheme then
        return nil
    end
    scheme = lower(scheme)
    local host, port = match(authority, "^(%[[%x:.]+%]):?(%d*)$")
    if not host then
        host, port = match(authority, "^([^:@%[%]]+):?(%d*)$")
    end
    if not host or host == "" then
        return nil
    end
    port = tonumber(port) or (scheme == "https" and 443 or 80)
    if port < 1 or port > 65535 then
        return nil
    end
    local target = match(rest, "^[^#]*")
    if target == "" or sub(target, 1, 1) == "?" then
        target = "/" .. target
    end
    return scheme, lower(host), port, target
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

local function _fail(kind, message, delivered, reason)
    return nil, { kind = kind, message = message, maybe_delivered = delivered, reason = reason,
        sends = delivered and 1 or 0 }
end

local function _ms(seconds)
    return max(1, floor(seconds * 1000 + 0.5))
end

-- A read buffer over the socket: every wait is one receiveany bounded by
-- what is left of the request's deadline, so a server that trickles bytes
-- cannot stretch a request past `timeout`.
local function _fill(st)
    local left = st.deadline - now()
    if left <= 0 then
        return nil, "timeout"
    end
    local ms = _ms(left)
    st.sock:settimeouts(ms, ms, ms)
    local data, err = st.sock:receiveany(CHUNK)
    if not data then
        return nil, err
    end
    st.got = st.got + #data
    if st.pos > #st.buf then
        st.buf, st.pos = data, 1
    else
        st.buf, st.pos = sub(st.buf, st.pos) .. data, 1
    end
    return true
end

local function _line(st, limit)
    while true do
        local i = find(st.buf, "\r\n", st.pos, true)
        if i then
            local line = sub(st.buf, st.pos, i - 1)
            st.pos = i + 2
            return line
        end
        if #st.buf - st.pos + 1 > limit then
            return nil, "line too long"
        end
        local ok, err = _fill(st)
        if not ok then
            return nil, err
        end
    end
end

-- Move n bytes (all until close when n is nil) into st.body, keeping
-- the total under max_response.
local function _take(st, n)
    local body, cap = st.body, st.max_response
    while n == nil or n > 0 do
        if st.pos > #st.buf then
            local ok, err = _fill(st)
            if not ok then
                if n == nil and err == "closed" then
                    return true
                end
                return nil, err
            end
        end
        local avail = #st.buf - st.pos + 1
        local k = n and min(n, avail) or avail
        if st.size + k > cap then
            return nil, "too_large"
        end
        body[#body + 1] = sub(st.buf, st.pos, st.pos + k - 1)
        st.pos = st.pos + k
        st.size = st.size + k
        if n then
            n = n - k
        end
    end
    return true
end

local function _chunked(st)
    while true do
        local line, err = _line(st, MAX_LINE)
        if not line then
            return nil, err
        end
        local size = tonumber(match(line, "^%s*(%x+)"), 16)
        if not size then
            return nil, "bad chunk size"
        end
        if size == 0 then
            break
        end
        if st.size + size > st.max_response then
            return nil, "too_large"
        end
        local ok
        ok, err = _take(st, size)
        if not ok then
            return nil, err
        end
        line, err = _line(st, MAX_LINE)
        if line ~= "" then
            return nil, err or "bad chunk end"
        end
    end
    -- Trailer fields, up to the empty line.
    local head = 0
    while true do
        local line, err = _line(st, MAX_LINE)
        if not line then
            return nil, err
        end
        if line == "" then
            return true
        end
        head = head + #line
        if head > MAX_HEAD then
            return nil, "trailer too large"
        end
    end
end

-- Status line and headers: status, headers (lower-cased names), or nil, err.
local function _head(st)
    while true do
        local line, err = _line(st, MAX_HEAD)
        if not line then
            return nil, err
        end
        local version, status = match(line, "^HTTP/(%d%.%d) (%d%d%d)")
        if not status then
            return nil, "malformed status line"
        end
        status = tonumber(status)
        local headers, total = {}, #line
        while true do
            line, err = _line(st, MAX_HEAD)
            if not line then
                return nil, err
            end
            if line == "" then
                break
            end
            total = total + #line
            if total > MAX_HEAD then
                return nil, "response headers too large"
            end
            local name, value = match(line, "^([^:%s]+)%s*:%s*(.-)%s*$")
            if name then
                name = lower(name)
                local prev = headers[name]
                headers[name] = prev and (prev .. ", " .. value) or value
            end
        end
        -- 100 Continue and other interim answers precede the real one.
        if status >= 200 or status == 101 then
            return status, headers, version
        end
    end
end

local function _has_token(value, token)
    if not value then
        return false
    end
    for t in gmatch(lower(value), "[^,%s]+") do
        if t == token then
            return true
        end
    end
    return false
end

-- One attempt on one connection. Returns res, or nil, err-table, retry
-- (retry: a reused connection that died before any byte of an answer).
local function _attempt(self, u, req, deadline, started, fresh)
    local sock = tcp()
    local left = deadline - now()
    local cms = _ms(min(self.connect_timeout, max(left, 0.001)))
    sock:settimeouts(cms, cms, cms)
    local key = u.scheme .. "://" .. u.host .. ":" .. u.port
    local pool = key
    if fresh then
        -- A name no idle connection carries: connect opens a new one.
        self.last_fresh = (self.last_fresh or 0) + 1
        pool = key .. "#fresh" .. self.last_fresh
    end
    -- localhost is the one name resolved here; others go to nginx's resolver.
    local addr = u.host == "localhost" and "127.0.0.1" or u.host
    if sub(addr, 1, 1) == "[" then
        addr = sub(addr, 2, -2)
    end
    local ok, err = sock:connect(addr, u.port, { pool = pool })
    if not ok then
        if err == "timeout" then
            return _fail("timeout", "connection to " .. u.host .. ":" .. u.port .. " timed out", false)
        end
        return _fail("transport", "could not connect to " .. u.host .. ":" .. u.port .. ": " .. tostring(err), false)
    end
    local reused = (sock:getreusedtimes() or 0) > 0
    local connect_time = now() - started
    if u.scheme == "https" and not reused then
        left = deadline - now()
        if left <= 0 then
            sock:close()
            return _fail("timeout", "TLS handshake with " .. u.host .. " timed out", false)
        end
        local ms = _ms(left)
        sock:settimeouts(ms, ms, ms)
        -- lua-resty-core asserts on some failed verifications instead of
        -- returning an error, hence the pcall.
        local pok, session, serr = pcall(sock.sslhandshake, sock, self.sessions[key], u.host, true)
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
            self.sessions[key] = session
        end
    end
    local body = req.body
    local hostport = u.host
    if (u.scheme == "https" and u.port ~= 443) or (u.scheme == "http" and u.port ~= 80) then
        hostport = hostport .. ":" .. u.port
    end
    local out = {
        body and "POST " or "GET ", u.target, " HTTP/1.1\r\nHost: ", hostport,
        "\r\nUser-Agent: ", self.user_agent,
        "\r\nAccept: */*\r\nConnection: keep-alive\r\n",
    }
    if body then
        out[#out + 1] = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        out[#out + 1] = tostring(#body)
        out[#out + 1] = "\r\n\r\n"
        out[#out + 1] = body
    else
        out[#out + 1] = "\r\n"
    end
    left = deadline - now()
    if left <= 0 then
        sock:close()
        return _fail("timeout", "request to " .. u.host .. " timed out before sending", false)
    end
    local ms = _ms(left)
    sock:settimeouts(ms, ms, ms)
    local sent
    sent, err = sock:send(out)
    if not sent then
        sock:close()
        if reused and not fresh then
            return nil, nil, true
        end
        if err == "timeout" then
            return _fail("timeout", "sending to " .. u.host .. " timed out", true)
        end
        return _fail("transport", "sending to " .. u.host .. " failed: " .. tostring(err), true)
    end
    local st = {
        sock = sock, buf = "", pos = 1, got = 0, deadline = deadline,
        body = {}, size = 0, max_response = self.max_response,
    }
    local status, headers, version = _head(st)
    if not status then
        err = headers
        sock:close()
        if st.got == 0 and reused and not fresh and err == "closed" then
            return nil, nil, true
        end
        if err == "timeout" then
            return _fail("timeout", "no answer from " .. u.host .. " within " .. self.timeout .. " s", true)
        end
        if err == "closed" and st.got == 0 then
            return _fail("transport", "the server closed the connection without answering", true)
        end
        return _fail("transport", "bad response from " .. u.host .. ": " .. tostring(err), true)
    end
    local keep = version == "1.1" and not _has_token(headers.connection, "close")
        or _has_token(headers.connection, "keep-alive")
    local length = headers["content-length"]
    if length and not match(length, "^%d+$") then
        sock:close()
        return _fail("transport", "bad Content-Length from " .. u.host, true)
    end
    length = tonumber(length)
    if status == 204 or status == 304 or status < 200 then
        ok = true
    elseif _has_token(headers["transfer-encoding"], "chunked") then
        ok, err = _chunked(st)
    elseif length then
        if length > self.max_response then
            ok, err = nil, "too_large"
        else
            ok, err = _take(st, length)
        end
    else
        keep = false
        ok, err = _take(st, nil)
    end
    if not ok then
        sock:close()
        if err == "too_large" then
            return _fail("transport", "response larger than max_response (" .. self.max_response .. " bytes)",
                true, "too_large")
        end
        if err == "timeout" then
            return _fail("timeout", "the answer from " .. u.host .. " took longer than " .. self.timeout .. " s", true)
        end
        return _fail("transport", "reading the answer from " .. u.host .. " failed: " .. tostring(err), true)
    end
    -- Bytes beyond the answer mean the connection is out of step: drop it.
    if keep and not fresh and st.pos > #st.buf then
        sock:setkeepalive(KEEPALIVE_IDLE_MS, self.max_connections)
    else
        sock:close()
    end
    return {
        status = status,
        body = concat(st.body),
        total_time = now() - started,
        connect_time = connect_time,
        reused = reused,
        content_type = headers["content-type"],
        sends = 1,
    }
end

--- One request; yields to nginx while it waits, never blocks the worker.
-- req = { url = ..., body = ... (POST) or nil (GET), fresh = true to
-- use a new connection (state-changing commands) }
-- @return res { status, body, total_time, connect_time, reused,
--   content_type, sends } or nil, err { kind = "transport"|"timeout"|"tls",
--   message, maybe_delivered, reason = "too_large" }
function _M.request(self, req)
    _check_request(req, 2)
    if self.closed then
        error("enom transport is closed", 2)
    end
    local started = now()
    local deadline = started + self.timeout
    local scheme, host, port, target = _split_url(req.url)
    if not scheme or (scheme ~= "http" and scheme ~= "https") then
        return _fail("transport", "unsupported or malformed URL (http or https expected)", false)
    end
    if scheme == "http" and not self.allow_http then
        return _fail("transport", HTTP_NOT_ALLOWED, false)
    end
    local u = { scheme = scheme, host = host, port = port, target = target }
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

--- Start a request in a light thread; returns its id.
function _M.submit(self, req)
    _check_request(req, 2)
    if self.closed then
        error("enom transport is closed", 2)
    end
    local id = self.last_id + 1
    self.last_id = id
    local t, err = spawn(function()
        local ok, res, rerr = pcall(_M.request, self, req)
        if not ok then
            res, rerr = _fail("transport", "request failed: " .. tostring(res), true)
        end
        -- self.done, not a local: poll swaps in a new table as it hands out.
        local done = self.done
        done[#done + 1] = res and { id = id, res = res } or { id = id, err = rerr }
        return id
    end)
    if not t then
        return nil, "cannot start a light thread: " .. tostring(err)
    end
    self.threads[id] = t
    self.nthreads = self.nthreads + 1
    return id
end

local function _sleeper(seconds)
    sleep(seconds)
    return false
end

-- Collect the threads whose outcome is in self.done.
local function _reap(self)
    local out = self.done
    if #out == 0 then
        return out
    end
    self.done = {}
    for i = 1, #out do
        local t = self.threads[out[i].id]
        if t then
            self.threads[out[i].id] = nil
            self.nthreads = self.nthreads - 1
            wait(t) -- already finished: returns at once
        end
    end
    return out
end

--- Wait up to `timeout` seconds (nil: until one completes) for
-- completions: an array of { id = n, res = ... } or { id = n, err = ... }.
-- Must be called from the coroutine that called submit (nginx lets only
-- a thread's parent wait for it).
function _M.poll(self, timeout)
    if #self.done == 0 and self.nthreads > 0 and (timeout == nil or timeout > 0) then
        local args = {}
        local sleeper
        if timeout then
            sleeper = spawn(_sleeper, timeout)
            args[1] = sleeper
        end
        for _, t in pairs(self.threads) do
            args[#args + 1] = t
        end
        local ok, first = wait(unpack(args))
        if ok and first then
            -- A request thread ended and wait reaped it.
            local t = self.threads[first]
            if t then
                self.threads[first] = nil
                self.nthreads = self.nthreads - 1
            end
        elseif ok and first == false then
            sleeper = nil -- the sleeper ended: the timeout passed
        end
        if sleeper then
            if co_status(sleeper) == "dead" then
                wait(sleeper)
            else
                kill(sleeper)
            end
        end
    end
    return _reap(self)
end

--- Requests submitted and not yet handed out by poll.
function _M.pending(self)
    return self.nthreads + #self.done
end

--- Stop requests in flight and forget TLS sessions. Safe to call twice.
function _M.close(self)
    if self.closed then
        return
    end
    self.closed = true
    for id, t in pairs(self.threads) do
        pcall(kill, t)
        self.threads[id] = nil
    end
    self.nthreads = 0
    self.done = {}
    self.sessions = {}
end

return _M
