--- HTTP/1.1 framing for the nginx transport: the URL split, the request
-- head it sends, and a reader for the answer (status line, headers, a body
-- framed by Content-Length, chunked encoding or the end of the connection),
-- with caps on the head and the body and a deadline on every wait.
--
-- The reader needs only a socket with cosocket's `receiveany(max)` and
-- `settimeouts(connect, send, read)` (milliseconds) and a clock passed in,
-- so it runs, and is tested, outside nginx as well.
--
-- @usage
-- local http1 = require "enom.transport.http1"
-- local r = http1.reader(sock, { deadline = now() + 60, max_response = 8 * 1024 * 1024, now = now })
-- local status, headers, version = r:head()
-- if status then assert(r:body(status, headers)) print(r:text()) end
local _M = {}

local Reader = {}
local reader_mt = { __index = Reader }

local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable
local concat = table.concat
local lower = string.lower
local find = string.find
local sub = string.sub
local match = string.match
local gmatch = string.gmatch
local floor = math.floor
local min = math.min
local max = math.max

local CHUNK = 64 * 1024    -- bytes asked of the socket per read
local MAX_HEAD = 64 * 1024 -- status line and headers together; trailers too
local MAX_LINE = 8 * 1024  -- a chunk-size or trailer line
_M.MAX_HEAD = MAX_HEAD

--- Scheme (lower-cased), host (lower-cased; an IPv6 literal keeps its
-- brackets), port and request target of a URL; nil for a URL without a
-- scheme, a host or a valid port. The fragment is dropped.
function _M.split_url(url)
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

--- The request as an array of strings for `sock:send`: POST with a form
-- body when `body` is a string, GET otherwise. `u` = { scheme, host, port,
-- target } from split_url; `user_agent` holds no CR, LF or NUL (checked
-- when the transport is made).
function _M.request(u, body, user_agent)
    local hostport = u.host
    if (u.scheme == "https" and u.port ~= 443) or (u.scheme == "http" and u.port ~= 80) then
        hostport = hostport .. ":" .. u.port
    end
    local out = {
        body and "POST " or "GET ", u.target, " HTTP/1.1\r\nHost: ", hostport,
        "\r\nUser-Agent: ", user_agent,
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
    return out
end

--- Whether a comma-separated header value holds `token` (case-insensitive).
function _M.has_token(value, token)
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
local has_token = _M.has_token

--- A reader of one answer on `sock`. opts: deadline (on the clock `now`),
-- max_response (bytes of body), now (a function returning seconds).
-- `reader.got` counts the bytes received, so a caller can tell a connection
-- that died before answering anything from one cut mid-answer.
function _M.reader(sock, opts)
    return setmetatable({
        sock = sock, now = opts.now, deadline = opts.deadline, max_response = opts.max_response,
        buf = "", pos = 1, got = 0, parts = {}, size = 0, framed = true,
    }, reader_mt)
end

-- One wait on the socket: a receiveany bounded by what is left of the
-- deadline, so a server that trickles bytes cannot stretch the request.
function Reader._fill(self)
    local left = self.deadline - self.now()
    if left <= 0 then
        return nil, "timeout"
    end
    local ms = max(1, floor(left * 1000 + 0.5))
    self.sock:settimeouts(ms, ms, ms)
    local data, err = self.sock:receiveany(CHUNK)
    if not data then
        return nil, err
    end
    self.got = self.got + #data
    if self.pos > #self.buf then
        self.buf, self.pos = data, 1
    else
        self.buf, self.pos = sub(self.buf, self.pos) .. data, 1
    end
    return true
end

-- The next CRLF-terminated line, without its CRLF; nil, err past `limit`.
function Reader._line(self, limit)
    while true do
        local i = find(self.buf, "\r\n", self.pos, true)
        if i then
            local line = sub(self.buf, self.pos, i - 1)
            self.pos = i + 2
            return line
        end
        if #self.buf - self.pos + 1 > limit then
            return nil, "line too long"
        end
        local ok, err = self:_fill()
        if not ok then
            return nil, err
        end
    end
end

-- Move n bytes (all until the peer closes when n is nil) into the body,
-- keeping the total under max_response.
function Reader._take(self, n)
    local parts, cap = self.parts, self.max_response
    while n == nil or n > 0 do
        if self.pos > #self.buf then
            local ok, err = self:_fill()
            if not ok then
                if n == nil and err == "closed" then
                    return true
                end
                return nil, err
            end
        end
        local avail = #self.buf - self.pos + 1
        local k = n and min(n, avail) or avail
        if self.size + k > cap then
            return nil, "too_large"
        end
        parts[#parts + 1] = sub(self.buf, self.pos, self.pos + k - 1)
        self.pos = self.pos + k
        self.size = self.size + k
        if n then
            n = n - k
        end
    end
    return true
end

-- Trailer fields after the last chunk, up to the empty line.
function Reader._trailer(self)
    local total = 0
    while true do
        local line, err = self:_line(MAX_LINE)
        if not line then
            return nil, err
        end
        if line == "" then
            return true
        end
        total = total + #line
        if total > MAX_HEAD then
            return nil, "trailer too large"
        end
    end
end

function Reader._chunked(self)
    while true do
        local line, err = self:_line(MAX_LINE)
        if not line then
            return nil, err
        end
        local hex = match(line, "^%s*(%x+)")
        local size = hex and tonumber(hex, 16)
        if not size then
            return nil, "bad chunk size"
        end
        if size == 0 then
            return self:_trailer()
        end
        if self.size + size > self.max_response then
            return nil, "too_large"
        end
        local ok
        ok, err = self:_take(size)
        if not ok then
            return nil, err
        end
        line, err = self:_line(MAX_LINE)
        if line ~= "" then
            return nil, err or "bad chunk end"
        end
    end
end

-- Header lines up to the empty one: a table of lower-cased names (repeated
-- fields joined with ", "), or nil, err. `total` is what the head used.
function Reader._fields(self, total)
    local headers = {}
    while true do
        local line, err = self:_line(MAX_HEAD)
        if not line then
            return nil, err
        end
        if line == "" then
            return headers
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
end

--- Status line and headers of the final answer (interim 1xx answers are
-- skipped): status, headers (lower-cased names), version ("1.1"), or nil,
-- err ("timeout", "closed", "malformed status line", "line too long",
-- "response headers too large" or the socket's own error).
function Reader.head(self)
    while true do
        local line, err = self:_line(MAX_HEAD)
        if not line then
            return nil, err
        end
        local version, status = match(line, "^HTTP/(%d%.%d) (%d%d%d)")
        if not status then
            return nil, "malformed status line"
        end
        status = tonumber(status)
        local headers
        headers, err = self:_fields(#line)
        if not headers then
            return nil, err
        end
        if status >= 200 or status == 101 then
            self.keep = version == "1.1" and not has_token(headers.connection, "close")
                or has_token(headers.connection, "keep-alive")
            return status, headers, version
        end
    end
end

--- The body that follows head(): true, or nil, err ("too_large" over
-- max_response, "bad Content-Length", "timeout", "closed" for a body cut
-- short, "bad chunk size", "bad chunk end", "trailer too large", ...).
function Reader.body(self, status, headers)
    local length = headers["content-length"]
    if length and not match(length, "^%d+$") then
        return nil, "bad Content-Length"
    end
    length = tonumber(length)
    if status == 204 or status == 304 or status < 200 then
        return true
    elseif has_token(headers["transfer-encoding"], "chunked") then
        return self:_chunked()
    elseif length then
        if length > self.max_response then
            return nil, "too_large"
        end
        return self:_take(length)
    end
    -- No framing: the body ends when the server closes.
    self.framed = false
    return self:_take(nil)
end

--- Whether the connection can carry another request after this answer:
-- the server keeps it alive, the body was framed, and no byte beyond the
-- answer arrived (that would put the connection out of step).
function Reader.reusable(self)
    return self.keep == true and self.framed and self.pos > #self.buf
end

--- The body read so far, as one string.
function Reader.text(self)
    return concat(self.parts)
end

_M.Reader = Reader
return _M
