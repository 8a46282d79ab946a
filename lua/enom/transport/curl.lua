--- The libcurl transport: the default outside nginx.
--
-- A thin shell over `enom.core.client`: one curl multi handle per client,
-- so connections, TLS sessions and the parsed CA store are reused by
-- sequential requests and by concurrent batches alike.
local core = require "enom.core"

local _M = { _VERSION = "0.1.0", name = "curl" }
local mt = { __index = _M }

--- Open a transport. `opts` takes allow_http, cainfo, timeout,
-- connect_timeout, max_response, user_agent, max_connections.
function _M.new(opts)
    local c = core.client {
        allow_http = opts.allow_http,
        cainfo = opts.cainfo,
        timeout = opts.timeout,
        connect_timeout = opts.connect_timeout,
        max_response = opts.max_response,
        user_agent = opts.user_agent,
        max_connections = opts.max_connections,
    }
    return setmetatable({ c = c }, mt)
end

--- One request, blocking the caller until it completes.
-- req = { url = ..., body = ... (POST) or nil (GET) }
function _M.request(self, req)
    return self.c:request(req)
end

--- Start a request without waiting; returns an id.
function _M.submit(self, req)
    return self.c:submit(req)
end

--- Wait up to `timeout` seconds for completions: an array of
-- { id = n, res = ... } or { id = n, err = ... }.
function _M.poll(self, timeout)
    return self.c:poll(timeout)
end

function _M.pending(self)
    return self.c:pending()
end

function _M.close(self)
    if self.c then
        self.c:close()
    end
end

return _M
