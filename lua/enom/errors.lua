--- Error values returned by enom.
--
-- Every failure of the world comes back as `nil, err`, where `err` is a
-- table with a `kind` a program can branch on and a `__tostring` that
-- reads well. No error ever carries the account password or a mailbox
-- password: messages are scrubbed of every secret the request held.
--
-- Kinds:
--   transport  the connection failed or broke (see maybe_delivered)
--   timeout    the request took longer than allowed
--   tls        certificate or handshake failure (never delivered)
--   http       the server answered with a status other than 200
--   parse      the body is not a response in the expected format
--   incomplete the response parsed but has no Done=true: it was cut
--   api        eNom reported errors (ErrCount > 0)
--   invalid    the request was refused before sending (bad input)
local _M = { _VERSION = "0.1.0" }

local setmetatable = setmetatable
local concat = table.concat
local tostring = tostring
local type = type
local pairs = pairs
local getmetatable = getmetatable

local Error = {}
Error.__index = Error
Error.__name = "enom.error"

--- Is `v` an enom error value?
function _M.is(v)
    return type(v) == "table" and getmetatable(v) == Error
end

function Error.__tostring(self)
    local parts = { "enom: ", self.kind, " error" }
    if self.command then
        parts[#parts + 1] = " in " .. self.command
    end
    parts[#parts + 1] = ": "
    parts[#parts + 1] = self.message or "unknown"
    if self.kind == "api" and self.errors and #self.errors > 1 then
        parts[#parts + 1] = " (and " .. (#self.errors - 1) .. " more)"
    end
    if self.status and self.kind == "http" then
        parts[#parts + 1] = " [HTTP " .. tostring(self.status) .. "]"
    end
    if self.code then
        parts[#parts + 1] = " [curl " .. tostring(self.code) .. "]"
    end
    if self.maybe_delivered == false then
        parts[#parts + 1] = " (not sent)"
    end
    if self.hint then
        parts[#parts + 1] = "; " .. self.hint
    end
    return concat(parts)
end

-- Replace every occurrence of each secret in `s` with "***". Plain
-- find, not patterns: a password may hold any character.
local function scrub(s, secrets)
    if type(s) ~= "string" or not secrets then
        return s
    end
    for i = 1, #secrets do
        local secret = secrets[i]
        if type(secret) == "string" and #secret > 0 then
            local out, pos = {}, 1
            while true do
                local a, b = s:find(secret, pos, true)
                if not a then
                    break
                end
                out[#out + 1] = s:sub(pos, a - 1)
                out[#out + 1] = "***"
                pos = b + 1
            end
            if pos > 1 then
                out[#out + 1] = s:sub(pos)
                s = concat(out)
            end
        end
    end
    return s
end
_M.scrub = scrub

--- Make an error value.
-- @param kind one of the kinds above
-- @param message human-readable text (scrubbed of `secrets`)
-- @param fields optional table of extra fields (code, status, errors,
--   responses, command, maybe_delivered, result, reason)
-- @param secrets optional array of strings that must never show
function _M.new(kind, message, fields, secrets)
    local e = {}
    if fields then
        for k, v in pairs(fields) do
            e[k] = v
        end
    end
    e.kind = kind
    e.message = scrub(message, secrets)
    if e.errors then
        local errs = {}
        for i = 1, #e.errors do
            errs[i] = scrub(e.errors[i], secrets)
        end
        e.errors = errs
    end
    if e.maybe_delivered == nil then
        -- Everything but a refused or unsent request may have reached eNom.
        e.maybe_delivered = kind ~= "invalid"
    end
    return setmetatable(e, Error)
end

return _M
