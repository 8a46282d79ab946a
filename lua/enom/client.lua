--- The eNom client: any command by name, typed methods for the POP3
-- family, and batches of concurrent requests.
--
-- A client holds its settings and its transport; every request it makes
-- goes through `enom.request`, whether alone (`call`, the typed methods)
-- or many at once (`batch`, `call_many`). The account password lives
-- there, in a weak table keyed by the client, never in the client table
-- itself, so neither `tostring` nor a table dump of a client shows it.
local core = require "enom.core"
local errors = require "enom.errors"
local commands = require "enom.commands"
local request = require "enom.request"
local batch = require "enom.batch"
local ratelimit = require "enom.ratelimit"
local password = require "enom.password"
local DEFAULTS = require "enom.defaults"

local _M = {}
local mt = { __index = _M, __name = "enom.client" }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local lower = string.lower
local find = string.find

local ENDPOINTS = {
    live = "https://reseller.enom.com/interface.asp",
    test = "https://resellertest.enom.com/interface.asp",
}
_M.ENDPOINTS = ENDPOINTS
_M.DEFAULTS = DEFAULTS

local OPTION_TYPES = {
    uid = "string", pw = "string", endpoint = "string", response_type = "string",
    method = "string", timeout = "number", connect_timeout = "number",
    max_response = "number", max_connections = "number", allow_http = "boolean",
    cainfo = "string", logger = "function", user_agent = "string",
    transport = "table", rate_limit = "table", password_rule = { string = true, table = true, boolean = true },
}

local RESPONSE_TYPES = { xml = "XML", text = "Text", html = "HTML" }

-- A transport's settings: the C core's list, which every transport takes.
local TRANSPORT_OPTIONS = core.client_options

local function invalid(msg)
    return nil, errors.new("invalid", msg, { maybe_delivered = false })
end

-- nginx phases where cosockets and light threads are available.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true }

-- Inside nginx, in a phase with cosockets, the transport is
-- enom.transport.ngx: a libcurl transfer there would stop the worker's
-- every request while it waits. When that module does not load, the
-- reason is the answer, not a fallback: the usual one is a worker user
-- (nobody, www-data) that cannot read a checkout the master (root) could.
local function default_transport()
    if type(ngx) == "table" and ngx.socket and ngx.get_phase and COSOCKET_PHASES[ngx.get_phase()] then
        local ok, t = pcall(require, "enom.transport.ngx")
        if ok then
            return t
        end
        local why = tostring(t)
        local here = debug.getinfo(1, "S").source:match("^@(.*)/client%.lua$")
        if here then
            local f, oerr = io.open(here .. "/transport/ngx.lua", "r")
            if f then
                f:close()
            else
                why = why .. "\n" .. oerr .. " (this worker's user cannot read the module's files: "
                    .. "install them, make install-luajit, or run the workers as a user who can read them)"
            end
        end
        error("enom: cannot load enom.transport.ngx inside nginx: " .. why, 3)
    end
    return require "enom.transport.curl"
end

-- The endpoint, read by libcurl's URL parser (the one the curl transport
-- connects with): its normalised URL and host, or nil and a reason.
local function check_endpoint(endpoint, allow_http)
    local u, why = core.parse_url(ENDPOINTS[endpoint] or endpoint)
    if not u then
        return nil, "endpoint must be 'live', 'test' or an https URL: " .. why
    end
    local scheme = lower(u.scheme or "")
    if scheme == "http" then
        if not allow_http then
            return nil, core.HTTP_NOT_ALLOWED
        end
        if not u.loopback then
            return nil, "plain http is allowed only to a loopback address (127.0.0.0/8, ::1, localhost)"
        end
    elseif scheme ~= "https" then
        return nil, "endpoint scheme must be https"
    end
    return u
end

--- Create a client.
-- @param opts { uid, pw, endpoint = "live"|"test"|URL, response_type =
--   "xml"|"text"|"html", method = "POST"|"GET", timeout, connect_timeout,
--   max_response, max_connections, allow_http (loopback only), cainfo,
--   logger = function(event), user_agent, transport, password_rule, rate_limit }
--   `rate_limit`: the account's requests per second, for every call and
--   batch of this client: `{ rate = 20, burst = 1, backend = "process"
--   | "shdict" | "redis", redis = {...} }` or a limiter of
--   `enom.ratelimit` shared with other clients (see doc/queue.md)
--   `password_rule`: the rule mailbox passwords must pass before
--   setup_pop3_users or modify_pop3 sends them, a name of
--   `enom.password.rules` ("email_basic", "pop_m2w") or a rule table
--   (default `enom.password.DEFAULT_RULE`); `false` sends passwords
--   unchecked, for an account whose mail runs on a platform with another
--   rule
-- @return client, or nil and an error of kind "invalid" (a missing uid or
--   pw, an unusable endpoint); unknown options and wrong types raise
-- @usage local client = assert(enom.new{ uid = "resellid", pw = os.getenv("ENOM_PW"), endpoint = "test" })
function _M.new(opts)
    if type(opts) ~= "table" then
        error("bad argument #1 to 'new' (table expected, got " .. type(opts) .. ")", 2)
    end
    -- A misspelt option or a wrong type is a bug in the caller: raise.
    -- A value that is merely unusable (no password, plain http to a
    -- remote host) is a configuration failure: nil, err.
    for k, v in pairs(opts) do
        local want = OPTION_TYPES[k]
        if not want then
            error("bad argument #1 to 'new' (unknown option '" .. tostring(k) .. "')", 2)
        end
        if k == "password_rule" then
            if not want[type(v)] or v == true then
                error("bad argument #1 to 'new' (option password_rule must be a rule name, a rule table or false)", 2)
            end
        elseif type(v) ~= want then
            error("bad argument #1 to 'new' (option " .. k .. " must be a " .. want .. ", got " .. type(v) .. ")", 2)
        end
    end
    if not opts.uid or opts.uid == "" then
        return invalid("uid is missing")
    end
    if not opts.pw or opts.pw == "" then
        return invalid("pw is missing (the account password or API token)")
    end
    if opts.uid:find("[%z\r\n]") or opts.pw:find("[%z\r\n]") then
        return invalid("uid and pw must not contain CR, LF or NUL")
    end
    if find(opts.user_agent or "", "[%z\r\n]") then
        return invalid("user_agent must not contain CR, LF or NUL")
    end
    local o = {}
    for k, v in pairs(DEFAULTS) do
        o[k] = v
    end
    for k, v in pairs(opts) do
        o[k] = v
    end
    local u, why = check_endpoint(o.endpoint, o.allow_http)
    if not u then
        return invalid(why)
    end
    local rt = RESPONSE_TYPES[lower(o.response_type)]
    if not rt then
        return invalid("response_type must be xml, text or html")
    end
    local method = o.method:upper()
    if method ~= "POST" and method ~= "GET" then
        return invalid("method must be POST or GET")
    end
    local rule = false
    if o.password_rule ~= false then
        rule, why = password.rule(o.password_rule)
        if not rule then
            return invalid("password_rule: " .. why)
        end
    end
    local limiter
    if o.rate_limit then
        limiter, why = ratelimit.of(o.rate_limit, o.uid)
        if not limiter then
            return invalid("rate_limit: " .. why)
        end
    end
    local transport_mod = o.transport or default_transport()
    -- The transport gets the complete set of its own settings (defaults
    -- included), never the credentials.
    local topts = {}
    for _, k in ipairs(TRANSPORT_OPTIONS) do
        topts[k] = o[k]
    end
    local ok, transport = pcall(transport_mod.new, topts)
    if not ok then
        return invalid("transport: " .. tostring(transport))
    end
    local self = setmetatable({
        uid = o.uid,
        url = u.url,
        host = u.host,
        response_type = lower(o.response_type),
        method = method,
        logger = o.logger,
        transport = transport,
        transport_name = transport_mod.name,
        max_connections = o.max_connections,
        password_rule = rule,
        -- The account's rate limit (enom.ratelimit), honoured by every
        -- call and batch; closed with the client when made from options.
        limiter = limiter,
        own_limiter = limiter ~= nil and not ratelimit.is(o.rate_limit),
    }, mt)
    request.bind(self, o.pw)
    return self
end

function mt.__tostring(self)
    return "enom.client (" .. self.uid .. " @ " .. self.host .. ")"
end

function mt.__close(self)
    self:close()
end

--- Release the transport (connections, handles). Safe to call twice.
-- @param self the client
function _M.close(self)
    if self.transport then
        self.transport:close()
        self.transport = nil
    end
    if self.own_limiter then
        self.limiter:close()
    end
end

--- Call any eNom command by name.
-- @param self the client
-- @param command eNom's command name, e.g. "GetBalance"
-- @param params table of eNom parameter names (letters, digits, "_", ".",
--   "-") to scalars; an array value becomes indexed parameters (Name1,
--   Name2, ...). Values of password-like names are scrubbed from
--   everything returned.
-- @param opts { response_type = "xml"|"text"|"html", method = "POST"|"GET",
--   timeout, connect_timeout } (seconds, for this request only)
-- @return the parsed response (command, err_count, errors, done,
--   responses, fields, indexed, records), or nil and an error
-- @usage local res, err = client:call("GetBalance", {})
function _M.call(self, command, params, opts)
    local req, err = request.command(command, params, opts, 2)
    if not req then
        return nil, err
    end
    return request.send(self, req)
end

-- Typed methods, one per command entry: client:setup_pop3_users{...} etc.
for _, spec in pairs(commands.list) do
    local method = spec.method
    _M[method] = function(self, args)
        local reqs, err = request.method(self, method, args, false, 2)
        if not reqs then
            return nil, err
        end
        return request.run(self, reqs)
    end
end

--- A batch of concurrent requests on this client; see `enom.batch`.
-- @param self the client
-- @param opts { concurrency = 8, progress = function(done, total, i, res, err), rate_limit = a limiter
--   (default: the client's own, `rate_limit` of `new`; false for none) }
function _M.batch(self, opts)
    return batch.new(self, opts)
end

--- Many requests at once; results and errors indexed like `requests`.
-- requests[i] is { command = "GetPOP3", params = {...}, opts = {...} }
-- or { method = "get_pop3", args = {...} }.
-- @param self the client
-- @param requests the array of requests described above
-- @param opts optional: { concurrency = 8, progress = function(done, total, i, res, err) }
function _M.call_many(self, requests, opts)
    return batch.call_many(self, requests, opts)
end

return _M
