--- Checks a typed call against its command spec and builds the request.
--
-- Nothing is sent for a call that fails here. Messages name the argument,
-- the record's position and the field, and never echo a value: a value
-- may be a password. A password field (`password_rule` in enom.commands)
-- must also pass the client's password rule (enom.password), with the
-- record's user name, the domain and the account id as its context.
local errors = require "enom.errors"
local password = require "enom.password"

local _M = {}

local type = type
local pairs = pairs
local tostring = tostring
local math_type = math.type
local floor = math.floor
local lower = string.lower
local ipairs = ipairs

-- Arguments every typed method accepts besides its command's own.
local COMMON_ARGS = {
    response_type = true, batch_size = true, include_passwords = true,
    allow_empty = true, timeout = true, connect_timeout = true,
}

-- Records per request when a typed call is split: eNom's own limit for
-- indexed groups is far below this.
local BATCH_SIZE_MAX = 100
_M.BATCH_SIZE_MAX = BATCH_SIZE_MAX

-- Longest time limit a single request may ask for, in seconds.
local MAX_SECONDS = require("enom.core").MAX_SECONDS

local RESPONSE_TYPES = { xml = "XML", text = "Text", html = "HTML" }
_M.RESPONSE_TYPES = RESPONSE_TYPES

-- Parameter names eNom uses: letters, digits and "_", ".", "-". Nothing
-- else can reach the wire as a name (no "=", "&", CR, LF or NUL).
local NAME_PATTERN = "^[%w_%.%-]+$"

-- eNom's command names: an ASCII letter, then ASCII letters, digits and
-- "_" (GetPOP3, PE_GetPOPPrice, TP_CreateOrder, Queue_GetInfo), spelt
-- out rather than %a/%w, which follow the process's locale. Nothing that could
-- change the request (=, &, %, space, CR, LF, NUL, non-ASCII) fits.
local COMMAND_PATTERN = "^[A-Za-z][A-Za-z0-9_]*$"
local COMMAND_MAX = 64

--- Is `name` an eNom command name (the one check `client:call` and the
-- command line's `enom call` use)?
function _M.is_command_name(name)
    return type(name) == "string" and #name <= COMMAND_MAX and name:find(COMMAND_PATTERN) ~= nil
end

-- Free-form parameters whose values are secrets (Password, Password1,
-- NewPassword, AuthQuestionAnswer, ...), compared lower-cased.
local SECRET_NAMES = { "pass", "^newpw", "^pw", "authquestionanswer", "secret" }

local function invalid(command, msg)
    return nil, errors.new("invalid", msg, { command = command, maybe_delivered = false })
end

local function is_integer(v)
    if type(v) ~= "number" then
        return false
    end
    if math_type then
        return math_type(v) == "integer" or (v == floor(v) and v == v and v ~= 1 / 0 and v ~= -1 / 0)
    end
    return v == floor(v) and v ~= 1 / 0 and v ~= -1 / 0
end

-- Check one value against a field spec. Returns the value to send, or
-- nil and a reason (which never includes the value).
local function check_value(field, v)
    local t = field.type or "string"
    if t == "boolean" then
        if type(v) == "boolean" then
            return v
        end
        if v == 0 or v == 1 or v == "0" or v == "1" then
            return v == 1 or v == "1"
        end
        return nil, "must be a boolean"
    elseif t == "integer" then
        if type(v) == "string" and v:match("^%d+$") then
            v = tonumber(v)
        end
        if not is_integer(v) then
            return nil, "must be an integer"
        end
        if field.min and v < field.min then
            return nil, "must be at least " .. field.min
        end
        if field.max and v > field.max then
            return nil, "must be at most " .. field.max
        end
        return v
    end
    if type(v) == "number" then
        v = tostring(v)
    end
    if type(v) ~= "string" then
        return nil, "must be a string"
    end
    if v:find("[%z\r\n]") then
        return nil, "contains a CR, LF or NUL character"
    end
    if field.required and v == "" then
        return nil, "must not be empty"
    end
    if field.max and #v > field.max then
        return nil, "is longer than " .. field.max .. " characters"
    end
    if field.pattern and not v:find(field.pattern) then
        return nil, "has characters eNom does not accept (letters, digits, '.', '_', '-'; starting with a letter or digit)"
    end
    return v
end

-- A name safe to show in a message whatever it holds.
local function shown(name)
    return (tostring(name):gsub("[^%w_%.%-]", "?"))
end

-- The record's password fields against the client's rule: nil, or the
-- "invalid" error naming the record, the field and the rule.
local function check_passwords(command, group, i, clean, params, ctx, given)
    for _, f in ipairs(group.fields) do
        local pw = f.password_rule and clean[f.key]
        if pw then
            local why, code = password.check(pw, ctx.password_rule, {
                username = clean.username, sld = params.SLD, tld = params.TLD, uid = ctx.uid, others = given,
            })
            if why then
                local at = ("%s[%d].%s"):format(group.arg, i, f.key)
                local who = clean.username and (" (user " .. shown(clean.username) .. ")") or ""
                local rule = ctx.password_rule
                return errors.new("invalid", at .. who .. " " .. why, {
                    command = command, maybe_delivered = false, field = at, check = code,
                    password_rule = type(rule) == "table" and (rule.name or "custom") or rule,
                })
            end
            given[#given + 1] = pw
        end
    end
    return nil
end

-- Per group spec (static data), worked out once: its fields by key, and
-- the encoder's field list.
local KNOWN = setmetatable({}, { __mode = "k" })
local FIELDS = setmetatable({}, { __mode = "k" })

local function known_of(group)
    local known = KNOWN[group]
    if not known then
        known = {}
        for _, f in ipairs(group.fields) do
            known[f.key] = f
        end
        KNOWN[group] = known
    end
    return known
end

local function fields_of(group)
    local fields = FIELDS[group]
    if not fields then
        fields = {}
        for i, f in ipairs(group.fields) do
            fields[i] = { f.key, f.name }
        end
        FIELDS[group] = fields
    end
    return fields
end

-- Check record `i` of a group's fields: the clean record, or nil and the
-- error. Its secrets are added to `secrets`.
local function check_record(command, group, i, rec, secrets)
    if type(rec) ~= "table" then
        if group.scalar and type(rec) == "string" then
            rec = { [group.scalar] = rec }
        else
            return invalid(command, ("%s[%d] must be a table"):format(group.arg, i))
        end
    end
    local known = known_of(group)
    for k in pairs(rec) do
        if not known[k] then
            return invalid(command, ("%s[%d]: unknown field '%s'"):format(group.arg, i, tostring(k)))
        end
    end
    local clean = {}
    for _, f in ipairs(group.fields) do
        local v = rec[f.key]
        if v == nil then
            if f.required then
                return invalid(command, ("%s[%d].%s is missing"):format(group.arg, i, f.key))
            end
        else
            local val, why = check_value(f, v)
            if val == nil then
                return invalid(command, ("%s[%d].%s %s"):format(group.arg, i, f.key, why))
            end
            if f.secret then
                secrets[#secrets + 1] = val
            end
            clean[f.key] = val
        end
    end
    if group.one_of then
        local any = false
        for _, k in ipairs(group.one_of) do
            any = any or clean[k] ~= nil
        end
        if not any then
            return invalid(command, ("%s[%d] needs one of: %s"):format(group.arg, i, table.concat(group.one_of, ", ")))
        end
    end
    return clean
end

local function check_group(command, group, records, args, secrets, params, ctx)
    if records == nil then
        records = {}
    end
    if type(records) ~= "table" then
        return invalid(command, group.arg .. " must be an array")
    end
    local n = #records
    for k in pairs(records) do
        if type(k) ~= "number" or k < 1 or k > n or k ~= floor(k) then
            return invalid(command, group.arg .. " must be an array without holes")
        end
    end
    if n == 0 then
        if not (group.allow_empty_flag and args.allow_empty == true) then
            local extra = group.allow_empty_flag
                and " (this replaces the whole set; pass allow_empty = true to delete every entry)" or ""
            return invalid(command, group.arg .. " must not be empty" .. extra)
        end
    end
    local out, seen, given = {}, {}, {}
    for i = 1, n do
        local clean, err = check_record(command, group, i, records[i], secrets)
        if not clean then
            return nil, err
        end
        if group.unique then
            local key = clean[group.unique]:lower()
            if seen[key] then
                return invalid(command, ("%s[%d].%s repeats %s[%d]"):format(group.arg, i, group.unique, group.arg, seen[key]))
            end
            seen[key] = i
        end
        if ctx and ctx.password_rule then
            err = check_passwords(command, group, i, clean, params, ctx, given)
            if err then
                return nil, err
            end
        end
        out[i] = clean
    end
    return out
end

--- Check one record of a command's group (a mailbox of SetUpPOP3User)
-- alone, as `build` checks each: its fields, and its password against
-- the rule of `ctx` (the domain in `params`: { SLD, TLD }).
-- @param spec the command's entry in enom.commands (with a group)
-- @param rec the record
-- @param params { SLD = sld, TLD = tld }, what the password rule looks at
-- @param ctx optional, as for `build`
-- @return the clean record, or nil and an error of kind "invalid" (its
--   message names the record as `<group>[1]`)
function _M.record(spec, rec, params, ctx)
    local clean, err = check_record(spec.command, spec.group, 1, rec, {})
    if clean and ctx and ctx.password_rule then
        err = check_passwords(spec.command, spec.group, 1, clean, params, ctx, {})
        if err then
            return nil, err
        end
    end
    return clean, err
end

--- Validate `args` for the command `spec`.
-- @param spec the command's entry in enom.commands
-- @param args the typed method's arguments
-- @param ctx optional { password_rule = a rule name or table of
--   enom.password (false or nil: passwords are not checked against a
--   rule), uid = the account id }: what the client knows
-- @return request { command, params (eNom names), group (encode spec or
--   nil), records, secrets } or nil, err (kind "invalid"; a password the
--   rule refuses also sets `field`, `password_rule` and `check`)
function _M.build(spec, args, ctx)
    local command = spec.command
    if type(args) ~= "table" then
        error("bad argument to " .. spec.method .. " (a table expected, got " .. type(args) .. ")", 3)
    end
    for k in pairs(args) do
        if not (spec.params[k] or COMMON_ARGS[k] or (spec.group and spec.group.arg == k)) then
            return invalid(command, "unknown argument '" .. tostring(k) .. "'")
        end
    end
    local params, secrets = {}, {}
    for key, p in pairs(spec.params) do
        local v = args[key]
        if v == nil then
            v = p.default
        end
        if v == nil then
            if p.required then
                return invalid(command, key .. " is missing")
            end
        else
            local val, why = check_value(p, v)
            if val == nil then
                return invalid(command, key .. " " .. why)
            end
            params[p.name] = val
        end
    end
    local req = { command = command, params = params, secrets = secrets }
    local group = spec.group
    if group then
        local records, err = check_group(command, group, args[group.arg], args, secrets, params, ctx)
        if not records then
            return nil, err
        end
        req.records = records
        req.group = { name = group.arg, fields = fields_of(group), records = records }
        if group.count then
            params[group.count] = #records
        end
    end
    return req
end

--- Is `name` (an eNom parameter or answer key, any case) one whose
-- values are secrets? The one list of such names: the request pipeline
-- scrubs their values, the command line refuses them as arguments and
-- leaves them out of what it prints.
local function is_secret_name(name)
    if type(name) ~= "string" then
        return false
    end
    local l = lower(name)
    for _, p in ipairs(SECRET_NAMES) do
        if l:find(p) then
            return true
        end
    end
    return false
end
_M.is_secret_name = is_secret_name

--- Check the options every request accepts (a typed method's common
-- arguments, or `call`'s third argument): response_type, method,
-- timeout, connect_timeout. Returns a table of the given ones, or nil
-- and an "invalid" error.
function _M.options(command, opts)
    local out = {}
    if opts == nil then
        return out
    end
    if opts.response_type ~= nil then
        local rt = type(opts.response_type) == "string" and lower(opts.response_type)
        if not RESPONSE_TYPES[rt] then
            return invalid(command, "response_type must be xml, text or html")
        end
        out.response_type = rt
    end
    if opts.method ~= nil then
        local m = type(opts.method) == "string" and opts.method:upper()
        if m ~= "POST" and m ~= "GET" then
            return invalid(command, "method must be POST or GET")
        end
        out.method = m
    end
    for _, k in ipairs { "timeout", "connect_timeout" } do
        local v = opts[k]
        if v ~= nil then
            if type(v) ~= "number" or not (v > 0 and v <= MAX_SECONDS) then
                return invalid(command, k .. " must be a number of seconds above 0 and at most 1e6")
            end
            out[k] = v
        end
    end
    return out
end

--- Check `batch_size` of a typed call: nil, or an integer from 1 to 100.
function _M.batch_size(command, v)
    if v == nil then
        return true
    end
    if not is_integer(v) or v < 1 or v > BATCH_SIZE_MAX then
        return invalid(command, "batch_size must be an integer from 1 to " .. BATCH_SIZE_MAX)
    end
    return true
end

--- Check a free-form parameter table for `client:call` and `batch:add`.
-- Names must be strings (else it raises: a bug in the caller) made of
-- letters, digits, "_", "." and "-"; values must be scalars or arrays of
-- scalars, strings without CR, LF or NUL; no two parameters may reach
-- the wire under one name, as eNom reads names without regard to case
-- (`{ X = { "a" }, X1 = "b" }` would send X1 twice).
-- @return the secrets among the values (password-like names), or nil and
--   an "invalid" error
function _M.free(command, params, level)
    level = (level or 2) + 1
    local names, keys = {}, {}
    for k in pairs(params) do
        if type(k) ~= "string" or k == "" then
            error("bad argument #2 to 'call' (parameter names must be non-empty strings)", level)
        end
        keys[#keys + 1] = k
    end
    table.sort(keys)
    local secrets = {}
    local function claim(wire, from)
        local l = lower(wire)
        local other = names[l]
        if other then
            return invalid(command, ("parameters %s and %s are both sent as %s"):format(other, from, shown(wire)))
        end
        names[l] = from
        return true
    end
    for _, k in ipairs(keys) do
        if not k:find(NAME_PATTERN) then
            return invalid(command, "parameter name '" .. shown(k) .. "' may hold only letters, digits, '_', '.' and '-'")
        end
        local v = params[k]
        local secret = is_secret_name(k)
        local values
        if type(v) == "table" then
            values = v
        else
            values = { v }
        end
        for i, x in ipairs(values) do
            local at = type(v) == "table" and (k .. "[" .. i .. "]") or k
            if type(x) == "string" and x:find("[%z\r\n]") then
                return invalid(command, "parameter " .. at .. " contains a CR, LF or NUL character")
            end
            if secret and (type(x) == "string" or type(x) == "number") then
                secrets[#secrets + 1] = tostring(x)
            end
            local ok, err = claim(type(v) == "table" and (k .. i) or k, at)
            if not ok then
                return nil, err
            end
        end
    end
    return secrets
end

return _M
