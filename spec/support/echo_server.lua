-- A server that answers every request with a valid eNom answer holding the
-- request itself: the raw body and query as received (form-encoded) and
-- every parameter decoded, in eNom's fields, errors and response texts,
-- in the format the request asked for (ResponseType XML, Text or HTML).
-- Used by spec/secrets_spec.lua to prove that nothing a server sends back
-- carries a secret to the caller.
--
--   lua5.4 spec/support/echo_server.lua PORTFILE
--
-- Listens on 127.0.0.1 on a free port, writes the port to PORTFILE, and
-- serves one connection at a time until killed, or until it has been idle
-- for IDLE seconds (so that a killed test run leaves nothing behind).
-- Paths: /ok/... answer ErrCount=0, /err/... answer ErrCount=1.
local socket = require "socket"

local IDLE = 120

local portfile = assert(arg[1], "usage: echo_server.lua PORTFILE")
local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
do
    local f = assert(io.open(portfile .. ".tmp", "w"))
    f:write(port, "\n")
    f:close()
    assert(os.rename(portfile .. ".tmp", portfile))
end

local function unescape(s)
    s = s:gsub("+", " ")
    return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function decode(form)
    local out = {}
    for pair in form:gmatch("[^&]+") do
        local k, v = pair:match("^([^=]*)=?(.*)$")
        out[#out + 1] = { unescape(k), unescape(v) }
    end
    return out
end

local function xml_escape(s)
    return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local function flat(s)
    return (s:gsub("[\r\n]", " "))
end

-- The answer: { {name, value}, ... } in eNom's order, rendered per format.
local function answer(params, raw_body, raw_query, failing)
    local command, format = "ECHO", "xml"
    local decoded = {}
    for _, kv in ipairs(params) do
        local k = kv[1]:lower()
        if k == "command" then
            command = kv[2]:upper()
        elseif k == "responsetype" then
            format = kv[2]:lower()
        end
        decoded[#decoded + 1] = kv[1] .. "=" .. kv[2]
    end
    decoded = table.concat(decoded, " ")
    local everything = raw_query .. " " .. raw_body
    local fields = {
        { "Command", command }, { "Echo", everything }, { "Decoded", decoded },
        { "ErrCount", failing and "1" or "0" },
    }
    local errs = failing and { decoded, everything } or {}
    local responses = failing and { { "304155", everything }, { "1", decoded } } or {}
    local tail = {
        { "Server", "echo" }, { "Done", "true" }, { "TrackingKey", everything },
    }
    if format == "xml" then
        local out = { '<?xml version="1.0" encoding="utf-8"?>', "<interface-response>" }
        for _, f in ipairs(fields) do
            out[#out + 1] = ("  <%s>%s</%s>"):format(f[1], xml_escape(f[2]), f[1])
        end
        if #errs > 0 then
            out[#out + 1] = "  <errors>"
            for i, e in ipairs(errs) do
                out[#out + 1] = ("    <Err%d>%s</Err%d>"):format(i, xml_escape(e), i)
            end
            out[#out + 1] = "  </errors>"
        end
        out[#out + 1] = ("  <ResponseCount>%d</ResponseCount>"):format(#responses)
        if #responses > 0 then
            out[#out + 1] = "  <responses>"
            for _, r in ipairs(responses) do
                out[#out + 1] = ("    <response><ResponseNumber>%s</ResponseNumber><ResponseString>%s</ResponseString></response>")
                    :format(r[1], xml_escape(r[2]))
            end
            out[#out + 1] = "  </responses>"
        end
        for _, f in ipairs(tail) do
            out[#out + 1] = ("  <%s>%s</%s>"):format(f[1], xml_escape(f[2]), f[1])
        end
        out[#out + 1] = "</interface-response>"
        return "text/xml; charset=utf-8", table.concat(out, "\r\n") .. "\r\n"
    end
    local lines = {}
    local function add(k, v)
        lines[#lines + 1] = { k, flat(v) }
    end
    for _, f in ipairs(fields) do
        add(f[1], f[2])
    end
    for i, e in ipairs(errs) do
        add("Err" .. i, e)
    end
    add("ResponseCount", tostring(#responses))
    for i, r in ipairs(responses) do
        add("ResponseNumber" .. i, r[1])
        add("ResponseString" .. i, r[2])
    end
    for _, f in ipairs(tail) do
        add(f[1], f[2])
    end
    local out = { ";URL Interface", ";Machine is ECHO", ";Encoding Type is utf-8" }
    if format == "html" then
        for i = 1, #out do
            out[i] = out[i] .. "<br>"
        end
        out[#out + 1] = "<HTML><BODY>"
        for _, l in ipairs(lines) do
            out[#out + 1] = ("<STRONG>%s: </ STRONG>%s<br>"):format(l[1], l[2])
        end
        out[#out + 1] = "</BODY></HTML>"
        return "text/html; charset=utf-8", table.concat(out, "\r\n") .. "\r\n"
    end
    for _, l in ipairs(lines) do
        out[#out + 1] = l[1] .. "=" .. l[2]
    end
    return "text/plain; charset=utf-8", table.concat(out, "\r\n") .. "\r\n"
end

local function serve(c)
    c:settimeout(5)
    local line = c:receive("*l")
    if not line then
        return
    end
    local _, target = line:match("^(%u+) (%S+)")
    local length = 0
    while true do
        local h = c:receive("*l")
        if not h or h == "" then
            break
        end
        local n = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
        if n then
            length = tonumber(n)
        end
    end
    local body = length > 0 and (c:receive(length) or "") or ""
    target = target or "/"
    local path, query = target:match("^([^?]*)%??(.*)$")
    local params = decode(query)
    for _, kv in ipairs(decode(body)) do
        params[#params + 1] = kv
    end
    local ctype, out = answer(params, body, query, path:find("^/err") ~= nil)
    c:send(("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s")
        :format(ctype, #out, out))
end

server:settimeout(IDLE)
while true do
    local c = server:accept()
    if not c then
        break -- idle too long: the test run that started us is gone
    end
    pcall(serve, c)
    c:close()
end
