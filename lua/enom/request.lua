--- The one path of a request: describe, validate, collect secrets,
-- encode, send, parse, shape, scrub.
--
-- A request is a plain table made by `command` (a free-form call) or
-- `method` (a typed call, described by its entry in `enom.commands`).
-- `prepare` turns it into what a transport sends, `finish` turns what the
-- transport returned into a result or an error. Two drivers use them:
-- `run` here (one request: prepare, `transport:request`, finish) and
-- `enom.batch` (many: prepare each, the transport's submit/poll, finish
-- each). Whatever the driver, every result, error and log event has
-- passed through the same scrub of every secret the request held.
--
-- What eNom answered is kept with what comes out: an error answer's
-- category (enom.responses), and eNom's TrackingKey, ExecTime and Server
-- in the result, the error and the log event alike.
local core = require "enom.core"
local errors = require "enom.errors"
local commands = require "enom.commands"
local validate = require "enom.validate"
local results = require "enom.results"
local responses = require "enom.responses"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local pcall = pcall
local encode = core.encode
local parse = core.parse
local lower = string.lower
local find = string.find
local sort = table.sort
local min = math.min

local RESPONSE_TYPES = validate.RESPONSE_TYPES

-- Names the client sets itself; a caller's parameter must not replace them.
local RESERVED = { command = true, uid = true, pw = true, responsetype = true }

-- client -> account password. Weak keys: the password lives exactly as
-- long as its client, and never in the client table itself.
local CREDENTIALS = setmetatable({}, { __mode = "k" })

-- client -> the scrub set of its password alone (errors.secrets).
local PW_SECRETS = setmetatable({}, { __mode = "k" })

--- Give `client` its account password (enom.client.new does this once).
function _M.bind(client, pw)
    CREDENTIALS[client] = pw
    PW_SECRETS[client] = nil
end

local function invalid(command, msg)
    return nil, errors.new("invalid", msg, { command = command, maybe_delivered = false })
end

-- ---- describe ------------------------------------------------------------

--- Describe a free-form call. Raises on arguments of the wrong type (a
-- bug in the caller); returns nil and an "invalid" error for values that
-- cannot be sent.
-- @param command eNom's command name (letters, digits and "_", starting
--   with a letter: `validate.is_command_name`)
-- @param params eNom parameter names to scalars or arrays of scalars
-- @param opts { response_type, method, timeout, connect_timeout }
-- @param level stack level for raised errors, as `error`'s
function _M.command(command, params, opts, level)
    level = (level or 1) + 1
    if not validate.is_command_name(command) then
        error("bad argument #1 (an eNom command name expected: letters, digits and '_', starting with a letter)",
            level)
    end
    params = params or {}
    if type(params) ~= "table" then
        error("bad argument #2 (table expected, got " .. type(params) .. ")", level)
    end
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #3 (table expected, got " .. type(opts) .. ")", level)
    end
    for k in pairs(params) do
        if type(k) == "string" and RESERVED[lower(k)] then
            return invalid(command, "parameter " .. k .. " is set by the client itself")
        end
    end
    local secrets, err = validate.free(command, params, level)
    if not secrets then
        return nil, err
    end
    local o
    o, err = validate.options(command, opts)
    if not o then
        return nil, err
    end
    return {
        command = command, params = params, secrets = secrets,
        format = o.response_type, method = o.method, timeout = o.timeout, connect_timeout = o.connect_timeout,
    }
end

--- Describe a typed call: the requests it takes, in order (several when
-- its records are more than one request carries), or nil and an
-- "invalid" error. With `whole`, the records all go in one request.
-- `client` gives what validation needs of the account: its password
-- rule and its uid.
function _M.method(client, method, args, whole, level)
    level = (level or 1) + 1
    local spec = commands.by_method[method]
    if not spec then
        error("unknown method '" .. tostring(method) .. "'", level)
    end
    if type(args) ~= "table" then
        error("bad argument to " .. method .. " (a table expected, got " .. type(args) .. ")", level)
    end
    local o, err = validate.options(spec.command, { response_type = args.response_type,
        timeout = args.timeout, connect_timeout = args.connect_timeout })
    if not o then
        return nil, err
    end
    local ok
    ok, err = validate.batch_size(spec.command, args.batch_size)
    if not ok then
        return nil, err
    end
    local req
    req, err = validate.build(spec, args, { password_rule = client.password_rule, uid = client.uid })
    if not req then
        return nil, err
    end
    local base = {
        command = spec.command, spec = spec, args = args, secrets = req.secrets,
        format = o.response_type, timeout = o.timeout, connect_timeout = o.connect_timeout,
    }
    local group = spec.group
    local size = group and (args.batch_size or group.batch)
    local all = req.records
    if whole or not size or #all <= size then
        base.params, base.group, base.records = req.params, req.group, all
        return { base }
    end
    local parts = {}
    for first = 1, #all, size do
        local part = {}
        for i = first, min(first + size - 1, #all) do
            part[#part + 1] = all[i]
        end
        local params = {}
        for k, v in pairs(req.params) do
            params[k] = v
        end
        if group.count then
            params[group.count] = #part
        end
        local r = {}
        for k, v in pairs(base) do
            r[k] = v
        end
        r.params, r.records, r.first = params, part, first
        r.group = { name = req.group.name, fields = req.group.fields, records = part }
        parts[#parts + 1] = r
    end
    return parts
end

-- ---- encode --------------------------------------------------------------

local function param_names(params, group)
    local names = {}
    for k in pairs(params) do
        names[#names + 1] = k
    end
    sort(names)
    if group then
        names[#names + 1] = group.name .. "[" .. #group.records .. "]"
    end
    return names
end

-- Log an event, scrubbed; a failing logger never breaks a request.
local function log(client, event, secrets)
    local logger = client.logger
    if logger then
        errors.scrub_deep(event, secrets)
        pcall(logger, event)
    end
end

--- What the transport sends for `req` on `client`: { url, body, once,
-- timeout, connect_timeout }. Raises when the client is closed; an
-- encoding error (a value that is no scalar) raises too.
function _M.prepare(client, req)
    if not client.transport then
        error("enom client is closed", 3)
    end
    local pw = CREDENTIALS[client]
    local format = req.format or client.response_type
    local method = req.method or client.method
    local all = { command = req.command, uid = client.uid, pw = pw, responsetype = RESPONSE_TYPES[format] }
    for k, v in pairs(req.params) do
        all[k] = v
    end
    local body = encode(all, req.group and { req.group } or nil)
    if #req.secrets == 0 then
        -- Most requests carry the account's password only: its forms are
        -- worked out once per client.
        local set = PW_SECRETS[client]
        if not set then
            set = errors.secrets { pw }
            PW_SECRETS[client] = set
        end
        req.scrub = set
    else
        local secrets = { pw }
        for i = 1, #req.secrets do
            secrets[#secrets + 1] = req.secrets[i]
        end
        req.scrub = errors.secrets(secrets)
    end
    req.format_used = format
    local wire = { timeout = req.timeout, connect_timeout = req.connect_timeout }
    if method == "POST" then
        wire.url, wire.body = client.url, body
    else
        wire.url = client.url .. (find(client.url, "?", 1, true) and "&" or "?") .. body
    end
    -- A command that changes state goes out at most once: it may ride a
    -- kept-alive connection, but if that dies the transport fails it as
    -- maybe delivered instead of resending it (eNom has no idempotency key).
    local spec = req.spec or commands.get(req.command)
    local read_only = spec and spec.read_only or (not spec and find(lower(req.command), "^get") ~= nil)
    if not read_only then
        wire.once = true
    end
    if client.logger then
        log(client, {
            event = "request", command = req.command, method = method, format = format,
            url = client.url, params = param_names(req.params, req.group),
        }, req.scrub)
    end
    return wire
end

-- ---- parse, shape, scrub -------------------------------------------------

-- The error for a parsed answer with ErrCount > 0: eNom's texts and
-- numbers, their category (and the hint that goes with it), the answer's
-- tracking fields.
local function api_error(req, parsed, status)
    local first = parsed.errors[1] or ("ErrCount=" .. tostring(parsed.err_count))
    local resp = parsed.responses[1]
    local category, email_code, hint = responses.classify(parsed.errors, parsed.responses)
    local env = results.envelope(parsed)
    local err = errors.new("api", first, {
        command = req.command, errors = parsed.errors, responses = parsed.responses,
        response_number = resp and resp.number, err_count = parsed.err_count,
        category = category, email_code = email_code, hint = hint,
        tracking_key = env.tracking_key, exec_time = env.exec_time, server = env.server,
        status = status, maybe_delivered = true,
    }, req.scrub)
    if req.spec then
        -- Keep the partial answer (AccountsCreated=1, AccountsFailed=1).
        err.result = results.shape(req.spec.result, parsed, req.args)
    else
        err.parsed = parsed
    end
    return err
end

--- Turn what the transport returned for `req` into the result (parsed,
-- or shaped for a typed call) or nil and an error. Every string either
-- carries has been scrubbed of the request's secrets.
function _M.finish(client, req, res, terr)
    local secrets = req.scrub
    local command = req.command
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
        local parsed, perr = parse(res.body, req.format_used)
        if not parsed then
            err = errors.new("parse", perr, { command = command, status = res.status, maybe_delivered = true }, secrets)
        else
            -- Before anything is taken from it: a server may echo the
            -- request. Scrubbed field by field only when the raw answer
            -- may hold a secret at all.
            if errors.carries(res.body, secrets) then
                errors.scrub_deep(parsed, secrets)
            end
            if not parsed.done then
                local env = results.envelope(parsed)
                err = errors.new("incomplete", "response ended before Done=true", {
                    command = command, status = res.status, maybe_delivered = true,
                    tracking_key = env.tracking_key, exec_time = env.exec_time, server = env.server,
                }, secrets)
            elseif (parsed.err_count or 0) > 0 or #parsed.errors > 0 then
                err = api_error(req, parsed, res.status)
            else
                if client.logger then
                    local env = results.envelope(parsed)
                    log(client, {
                        event = "response", command = command, status = res.status,
                        bytes = #res.body, seconds = res.total_time, reused = res.reused,
                        tracking_key = env.tracking_key, exec_time = env.exec_time, server = env.server,
                    }, secrets)
                end
                if req.spec then
                    return results.shape(req.spec.result, parsed, req.args)
                end
                return parsed
            end
        end
    end
    if client.logger then
        log(client, {
            event = "error", command = command, kind = err.kind, message = err.message,
            status = err.status, code = err.code, maybe_delivered = err.maybe_delivered,
            seconds = res and res.total_time, category = err.category,
            tracking_key = err.tracking_key, exec_time = err.exec_time, server = err.server,
        }, secrets)
    end
    return nil, err
end

-- ---- the single driver ---------------------------------------------------

--- Send one request and wait for its outcome (after the client's rate
-- limit lets it go: see enom.ratelimit).
function _M.send(client, req)
    if client.limiter then
        local waited, lerr = client.limiter:wait()
        if not waited then
            return nil, errors.new("rate_limit", lerr.message or tostring(lerr), { command = req.command,
                reason = lerr.reason, backend = lerr.backend, maybe_delivered = false })
        end
    end
    local wire = _M.prepare(client, req)
    return _M.finish(client, req, client.transport:request(wire))
end

-- Sum two shaped results of the same command.
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

--- Send the requests of one typed call in order, summing their results.
-- An api error (eNom refused some records) goes on to the next request;
-- any other stops, naming the records not sent (`err.not_done`).
function _M.run(client, reqs)
    if #reqs == 1 then
        return _M.send(client, reqs[1])
    end
    local total, failed
    for n, req in ipairs(reqs) do
        local res, err = _M.send(client, req)
        local partial = res or (err and err.result)
        if partial then
            total = total and merge(total, partial) or partial
        end
        if not res then
            failed = err
            failed.batch_first = req.first
            if err.kind ~= "api" then
                -- Not known what happened: stop, report what is left.
                local key = req.spec.group.unique or "username"
                local left = {}
                for i = n, #reqs do
                    for _, rec in ipairs(reqs[i].records) do
                        left[#left + 1] = rec[key]
                    end
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

return _M
