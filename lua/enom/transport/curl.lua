--- The libcurl transport: the default outside nginx.
--
-- A thin shell over `enom.core.client`: one curl multi handle per client,
-- so connections, TLS sessions and the parsed CA store are reused by
-- sequential requests and by concurrent batches alike.
local core = require "enom.core"

local _M = { name = "curl" }
local mt = { __index = _M }

local OPTIONS = core.client_options

--- Open a transport. `opts` takes allow_http, cainfo, timeout,
-- connect_timeout, max_response, user_agent, max_connections: the
-- client hands over the complete set (its defaults included).
function _M.new(opts)
    local o = {}
    for _, k in ipairs(OPTIONS) do
        o[k] = opts[k]
    end
    return setmetatable({ c = core.client(o) }, mt)
end

--- One request, blocking the caller until it completes.
-- req = { url = ..., body = ... (POST) or nil (GET), fresh = bool,
-- timeout = s, connect_timeout = s (this request's own limits) }
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
