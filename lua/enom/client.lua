--- The eNom client: any command by name, typed methods for the POP3
-- family, and batches of concurrent requests.
--
-- The account password lives in a weak table keyed by the client, never
-- in the client table itself, so neither `tostring` nor a table dump of a
-- client shows it; it is scrubbed from every error and log event.
local core = require "enom.core"
local errors = require "enom.errors"
local commands = require "enom.commands"
local validate = require "enom.validate"
local results = require "enom.results"

local _M = { _VERSION = "0.1.0" }
local mt = { __index = _M, __name = "enom.client" }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local encode = core.encode
local parse = core.parse
local lower = string.lower

local ENDPOINTS = {
    live = "https://reseller.enom.com/interface.asp",
    test = "https://resellertest.enom.com/interface.asp",
}
_M.ENDPOINTS = ENDPOINTS

local DEFAULTS = {
    endpoint = "live",
    response_type = "xml",
    method = "POST",
    timeout = 60,          -- PurchasePOPBundle can take 12 s on eNom's side
    connect_timeout = 10,
    max_response = 8 * 1024 * 1024,
    max_connections = 8,
    allow_http = false,
    user_agent = "lua-enom/" .. _M._VERSION,
}
_M.DEFAULTS = DEFAULTS

local OPTION_TYPES = {
    uid = "string", pw = "string", endpoint = "string", response_type = "string",
    method = "string", timeout = "number", connect_timeout = "number",
    max_response = "number", max_connections = "number", allow_http = "boolean",
    cainfo = "string", logger = "function", user_agent = "string",
    transport = "table",
}

local RESPONSE_TYPES = { xml = "XML", text = "Text", html = "HTML" }

local TRANSPORT_OPTIONS = {
    "allow_http", "cainfo", "timeout", "connect_timeout", "max_response", "user_agent", "max_connections",
}

-- eNom's answer when the caller's address is not on the account's allow list.
local IP_NOT_PERMITTED = 713254

-- Names the client sets itself; a caller's parameter must not replace them.
local RESERVED = { command = true, uid = true, pw = true, responsetype = true }

local SECRETS = setmetatable({}, { __mode = "k" })

local function invalid(msg)
    return nil, errors.new("invalid", msg, { maybe_delivered = false })
end

local function is_loopback(host)
    return host == "localhost" or host == "[::1]" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- scheme, host[:port] and path of a URL, never its query string.
local function split_url(url)
    local scheme, hostport, path = url:match("^(%a[%w+.-]*)://([^/?#]+)([^?#]*)")
    if not scheme then
        return nil
    end
    local host = hostport:match("^(%[[^%]]+%])") or hostport:match("^([^:]+)")
    return lower(scheme), lower(host), path ~= "" and path or "/"
end

-- nginx phases where cosockets and light threads are available.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true }

local function default_transport()
    if type(ngx) == "table" and ngx.socket and ngx.get_phase and COSOCKET_PHASES[ngx.get_phase()] then
        local ok, t = pcall(require, "enom.transport.ngx")
        if ok then
            return t
        end
    end
    return require "enom.transport.curl"
end

--- Create a client.
-- @param opts { uid, pw, endpoint = "live"|"test"|URL, response_type =
--   "xml"|"text"|"html", method = "POST"|"GET", timeout, connect_timeout,
--   max_response, max_connections, allow_http (loopback only), cainfo,
--   logger = function(event), user_agent, transport }
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
        if type(v) ~= want then
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
    local o = {}
    for k, v in pairs(DEFAULTS) do
        o[k] = v
    end
    for k, v in pairs(opts) do
        o[k] = v
    end
    local url = ENDPOINTS[o.endpoint] or o.endpoint
    local scheme, host = split_url(url)
    if not scheme then
        return invalid("endpoint must be 'live', 'test' or an http(s) URL")
    end
    if scheme == "http" then
        if not o.allow_http then
            return invalid("plain http is not allowed (pass allow_http = true for a loopback sandbox)")
        end
        if not is_loopback(host) then
            return invalid("plain http is allowed only to a loopback address")
        end
    elseif scheme ~= "https" then
        return invalid("endpoint scheme must be https")
    end
    local rt = RESPONSE_TYPES[lower(o.response_type)]
    if not rt then
        return invalid("response_type must be xml, text or html")
    end
    local method = o.method:upper()
    if method ~= "POST" and method ~= "GET" then
        return invalid("method must be POST or GET")
    end
    local transport_mod = o.transport or default_transport()
    -- The transport sees its own settings only, never the credentials.
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
        url = url,
        response_type = lower(o.response_type),
        method = method,
        logger = o.logger,
        transport = transport,
        transport_name = transport_mod.name,
        max_connections = o.max_connections,
    }, mt)
    SECRETS[self] = o.pw
    return self
end

function mt.__tostring(self)
    return "enom.client (" .. self.uid .. " @ " .. (select(2, split_url(self.url)) or "?") .. ")"
end

function mt.__close(self)
    self:close()
end

--- Release the transport (connections, handles). Safe to call twice.
function _M.close(self)
    if self.transport then
        self.transport:close()
        self.transport = nil
    end
end

-- Logger events never carry a password: parameter values are dropped,
-- only names travel, and every text is scrubbed.
local function log(self, event)
    local logger = self.logger
    if logger then
        pcall(logger, event)
    end
end

local function param_names(params, group)
    local names = {}
    for k in pairs(params) do
        names[#names + 1] = k
    end
    table.sort(names)
    if group then
        names[#names + 1] = group.name .. "[" .. #group.records .. "]"
    end
    return names
end

-- Build the wire request. Returns a request record or nil, err.
local function prepare(self, command, params, group, secrets, opts)
    if not self.transport then
        error("enom client is closed", 3)
    end
    opts = opts or {}
    local rt = self.response_type
    if opts.response_type then
        rt = lower(opts.response_type)
        if not RESPONSE_TYPES[rt] then
            return invalid("response_type must be xml, text or html")
        end
    end
    local method = (opts.method or self.method):upper()
    if method ~= "POST" and method ~= "GET" then
        return invalid("method must be POST or GET")
    end
    local all = { command = command, uid = self.uid, pw = SECRETS[self], responsetype = RESPONSE_TYPES[rt] }
    for k, v in pairs(params) do
        if RESERVED[lower(k)] then
            return invalid("parameter " .. k .. " is set by the client itself")
        end
        all[k] = v
    end
    local body = encode(all, group and { group } or nil)
    local s = { SECRETS[self] }
    for i = 1, #secrets do
        s[#s + 1] = secrets[i]
    end
    local req = {
        command = command, format = rt, secrets = s, method = method,
    }
    if method == "POST" then
        req.wire = { url = self.url, body = body }
    else
        req.wire = { url = self.url .. "?" .. body }
    end
    -- A command that changes state goes on a connection of its own, so
    -- that no layer below resends it on its own after a dead keep-alive.
    local spec = commands.get(command)
    local read_only = spec and spec.read_only or (not spec and lower(command):find("^get") ~= nil)
    if not read_only then
        req.wire.fresh = true
    end
    if self.logger then
        log(self, {
            event = "request", command = command, method = method, format = rt,
            url = self.url, params = param_names(params, group),
        })
    end
    return req
end

-- Turn a transport outcome into a parsed response or an error value.
local function finish(self, req, res, terr)
    local command, secrets = req.command, req.secrets
    local err
    if not res then
        local t = terr or {}
        err = errors.new(t.kind or "transport", t.message or "request failed", {
            command = command, code = t.code, reason = t.reason,
            maybe_delivered = t.maybe_delivered ~= false,
        }, secrets)
    elseif res.status ~= 200 then
        err = errors.new("http", "unexpected HTTP status " .. tostring(res.status), {
            command = command, status = res.status, maybe_delivered = true,
        }, secrets)
    else
        local parsed, perr = parse(res.body, req.format)
        if not parsed then
            err = errors.new("parse", perr, { command = command, status = res.status, maybe_delivered = true }, secrets)
        elseif not parsed.done then
            err = errors.new("incomplete", "response ended before Done=true", {
                command = command, status = res.status, maybe_delivered = true,
            }, secrets)
        elseif (parsed.err_count or 0) > 0 or #parsed.errors > 0 then
            local first = parsed.errors[1] or ("ErrCount=" .. tostring(parsed.err_count))
            local resp = parsed.responses[1]
            err = errors.new("api", first, {
                command = command, errors = parsed.errors, responses = parsed.responses,
                response_number = resp and resp.number, err_count = parsed.err_count,
                maybe_delivered = true, parsed = parsed,
            }, secrets)
            if err.response_number == IP_NOT_PERMITTED or first:find("not permitted from this IP", 1, true) then
                err.hint = "add the address eNom names to the account's API IP allow list (live and test have separate lists)"
            end
        else
            if self.logger then
                log(self, {
                    event = "response", command = command, status = res.status,
                    bytes = #res.body, seconds = res.total_time, reused = res.reused,
                })
            end
            return parsed
        end
    end
    log(self, {
        event = "error", command = command, kind = err.kind, message = err.message,
        status = err.status, code = err.code, maybe_delivered = err.maybe_delivered,
        seconds = res and res.total_time,
    })
    return nil, err
end

--- Call any eNom command by name.
-- @param command eNom's command name, e.g. "GetBalance"
-- @param params table of eNom parameter names to scalars; an array value
--   becomes indexed parameters (Name1, Name2, ...)
-- @param opts { response_type = "xml"|"text"|"html", method = "POST"|"GET" }
-- @return the parsed response (command, err_count, errors, done,
--   responses, fields, indexed, records), or nil and an error
-- @usage local res, err = client:call("GetBalance", {})
function _M.call(self, command, params, opts)
    if type(command) ~= "string" or not command:match("^%w+$") then
        error("bad argument #1 to 'call' (an eNom command name expected)", 2)
    end
    params = params or {}
    if type(params) ~= "table" then
        error("bad argument #2 to 'call' (table expected, got " .. type(params) .. ")", 2)
    end
    local ok, err = validate.check_free(command, params)
    if not ok then
        return nil, err
    end
    -- Password-like parameters of a free-form call are secrets too.
    local secrets = {}
    for k, v in pairs(params) do
        local l = lower(k)
        if type(v) == "string" and (l:find("^password") or l:find("^newpw") or l == "authquestionanswer") then
            secrets[#secrets + 1] = v
        end
    end
    local req
    req, err = prepare(self, command, params, nil, secrets, opts)
    if not req then
        return nil, err
    end
    return finish(self, req, self.transport:request(req.wire))
end

-- Send one validated request of a typed method and shape its answer.
local function send_typed(self, spec, req, args)
    local opts = { response_type = args.response_type }
    local wire, err = prepare(self, req.command, req.params, req.group, req.secrets, opts)
    if not wire then
        return nil, err
    end
    local parsed
    parsed, err = finish(self, wire, self.transport:request(wire.wire))
    if parsed then
        return results.shape(spec.result, parsed, args)
    end
    if err.kind == "api" and err.parsed then
        -- Keep the partial answer (AccountsCreated=1, AccountsFailed=1).
        err.result = results.shape(spec.result, err.parsed, args)
        err.parsed = nil
    end
    return nil, err
end

-- Sum two shaped batch results of the same command.
local function merge(total, part)
    for k, v in pairs(part) do
        if type(v) == "number" and type(total[k]) == "number" then
            total[k] = total[k] + v
        elseif k == "errors" then
            for _, e in ipairs(v) do
                total.errors[#total.errors + 1] = e
            end
        elseif total[k] == nil then
            total[k] = v
        end
    end
    return total
end

--- Run a typed method: validate, split into batches, send, shape.
function _M.run(self, method, args)
    local spec = commands.by_method[method]
    if not spec then
        error("unknown method '" .. tostring(method) .. "'", 2)
    end
    local req, err = validate.build(spec, args)
    if not req then
        return nil, err
    end
    local group = spec.group
    local size = group and (args.batch_size or group.batch)
    if not size or #req.records <= size then
        return send_typed(self, spec, req, args)
    end
    -- Split the records into requests of at most `size` records each.
    local total, failed
    local all = req.records
    for first = 1, #all, size do
        local part = {}
        for i = first, math.min(first + size - 1, #all) do
            part[#part + 1] = all[i]
        end
        local sub = {
            command = req.command, secrets = req.secrets, records = part,
            group = { name = req.group.name, fields = req.group.fields, records = part },
            params = {},
        }
        for k, v in pairs(req.params) do
            sub.params[k] = v
        end
        if group.count then
            sub.params[group.count] = #part
        end
        local res, perr = send_typed(self, spec, sub, args)
        local partial = res or (perr and perr.result)
        if partial then
            total = total and merge(total, partial) or partial
        end
        if not res then
            failed = perr
            failed.batch_first = first
            if perr.kind ~= "api" then
                -- Not known what happened: stop, report what is left.
                local left = {}
                for i = first, #all do
                    left[#left + 1] = all[i][group.unique or "username"]
                end
                failed.not_done = left
                break
            end
        end
    end
    if failed then
        failed.result = total
        return nil, failed
    end
    return total
end

-- Typed methods, one per command entry: client:setup_pop3_users{...} etc.
for _, spec in pairs(commands.list) do
    local method = spec.method
    _M[method] = function(self, args)
        return _M.run(self, method, args)
    end
end

-- For enom.batch, which drives many requests of one client at once.
_M._prepare = prepare
_M._finish = finish

return _M
