--- Error values returned by enom.
--
-- Every failure of the world comes back as `nil, err`, where `err` is a
-- table with a `kind` a program can branch on and a `__tostring` that
-- reads well. No error ever carries the account password or a mailbox
-- password: messages are scrubbed of every secret the request held.
-- The kinds are listed once, in `KINDS` below; `new` refuses any other.
-- An error that eNom answered carries eNom's `tracking_key` (shown by
-- `tostring`: eNom's support asks for it), `exec_time` and `server`, and
-- an api error its `category` (enom.responses: maintenance, balance,
-- auth, ...). `retryable` is the library's one rule for whether a failed
-- request may be sent again.
local responses = require "enom.responses"
local _M = {}

local setmetatable = setmetatable
local concat = table.concat
local tostring = tostring
local type = type
local pairs = pairs
local getmetatable = getmetatable
local ipairs = ipairs
local next = next
local rawget = rawget
local rawset = rawset
local find = string.find
local sub = string.sub
local lower = string.lower
local byte = string.byte
local sort = table.sort

-- Every kind of error value enom makes, and what it means (`errors.KINDS`).
_M.KINDS = {
    -- a request
    transport = "the connection failed or broke (see maybe_delivered)",
    timeout = "the request took longer than allowed (it may have been carried out)",
    tls = "certificate or TLS handshake failure (never delivered)",
    http = "the server answered with an HTTP status other than 200",
    parse = "the body is not a response in the expected format",
    incomplete = "the response parsed but has no Done=true: it was cut",
    api = "eNom reported errors (ErrCount > 0); see category and response_number",
    invalid = "refused before sending: bad input or options (field, option name it)",
    stopped = "not sent: the run stopped (Ctrl-C, a signal, its time budget, its circuit breaker)",
    -- provisioning
    callback = "a caller's hook raised an error",
    io = "a local file could not be read or written (report, plan, password file)",
    -- leases
    busy = "another holder kept the lease all through the wait",
    lost = "the lease expired or another holder took it",
    lease = "the lease backend failed; `reason` says how (transport, server, auth, dir, io)",
    -- the account's rate limit and the job queue
    rate_limit = "the rate limit's backend failed, so the request was not sent; `reason` says how",
    queue = "the job queue's Redis failed; `reason` says how (transport, server, auth)",
    -- operators' metrics
    metrics = "the metrics store could not keep an update (a full lua_shared_dict)",
}

local Error = {}
Error.__index = Error
Error.__name = "enom.error"

--- Is `v` an enom error value?
-- @param v any value
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
    if self.kind == "api" and self.category and self.category ~= "unknown" then
        parts[#parts + 1] = " [" .. self.category .. "]"
    end
    if self.maybe_delivered == false then
        parts[#parts + 1] = " (not sent)"
    end
    if self.tracking_key then
        parts[#parts + 1] = " [TrackingKey " .. tostring(self.tracking_key) .. "]"
    end
    if self.hint then
        parts[#parts + 1] = "; " .. self.hint
    end
    return concat(parts)
end

-- Failures of the way there or back: the same request may go again.
-- A rate limit that could not be asked held its request back: the same
-- request may go once it answers again.
local PASSING_KINDS = { transport = true, timeout = true, incomplete = true, parse = true, rate_limit = true }

--- May a request that failed with `err` be sent again, after a pause?
-- The library's one retry rule. Yes for a broken or timed-out
-- connection, a cut or unreadable answer, HTTP 5xx, 429 and 408, and
-- eNom's maintenance and system errors (including its e-mail codes 20,
-- 22 and 25); no for everything else: a refusal before sending, a
-- certificate failure, a stopped run, and eNom's validation, auth,
-- balance, duplicate, password and policy errors, which the same request
-- meets again. Whether a request that changes state may be repeated
-- without first reading back what happened is the caller's concern
-- (`err.maybe_delivered`).
-- @param err an error value of enom (anything else is not retryable)
-- @return true when the same request may be sent again after a pause
function _M.retryable(err)
    if type(err) ~= "table" then
        return false
    end
    local k = err.kind
    if PASSING_KINDS[k] then
        return true
    elseif k == "http" then
        local st = err.status
        return st == nil or st >= 500 or st == 429 or st == 408
    elseif k == "api" then
        local c = responses.CATEGORIES[err.category or responses.classify(err.errors, err.responses)]
        return c ~= nil and c.retry
    end
    return false
end

-- Secrets shorter than this are replaced only where they stand as a whole
-- token (no letter or digit right before or after): a one-character
-- password must not turn every "a" of a message into "***", and a token
-- that short hides little anyway. Longer secrets are replaced wherever
-- they occur.
local SHORT_SECRET = 6
_M.SHORT_SECRET = SHORT_SECRET

local Secrets = { __name = "enom.secrets" }
Secrets.__index = Secrets

-- The forms a secret may take in what comes back: as given, and as it
-- travels in a form body or query (space as "+" or "%20", hex in either
-- case), for a server that echoes what it received. A secret of letters,
-- digits and - . _ ~ only travels as it is.
local function forms(secret, add)
    add(secret)
    if not find(secret, "[^%w%-%._~]") then
        return
    end
    local enc = secret:gsub("[^%w%-%._~ ]", function(c)
        return ("%%%02X"):format(byte(c))
    end)
    local plus, pct = enc:gsub(" ", "+"), enc:gsub(" ", "%%20")
    add(plus)
    add(pct)
    add((plus:gsub("%%%x%x", lower)))
    add((pct:gsub("%%%x%x", lower)))
end

local function longest_first(a, b)
    if #a ~= #b then
        return #a > #b
    end
    return a < b
end

-- A secret a parser could change on its way in (an entity for & < > "
-- ', whitespace normalized, bytes transcoded) may hide in an answer where
-- no form of it stands as is.
local RISKY = "[&<>\"'%c\128-\255]"

--- A set of secrets ready for scrubbing: every form of each (put longest
-- first when it is first used to scrub, so that a secret holding another
-- is replaced whole).
-- @param list array of strings (numbers are taken as their text)
function _M.secrets(list)
    if getmetatable(list) == Secrets then
        return list
    end
    local all, seen = {}, {}
    local function add(x)
        if not seen[x] then
            seen[x] = true
            all[#all + 1] = x
        end
    end
    -- risky: `carries` always says yes; sorted: ready for `scrub`.
    all.risky, all.sorted = false, false
    for i = 1, list and #list or 0 do
        local v = list[i]
        if type(v) == "number" then
            v = tostring(v)
        end
        if type(v) == "string" and v ~= "" then
            forms(v, add)
            if not all.risky and find(v, RISKY) then
                all.risky = true
            end
        end
    end
    return setmetatable(all, Secrets)
end

--- May a parsed `text` hold one of `secrets` (a set from `secrets`)?
-- False only when no form of any stands in it as is, it has no numeric
-- character reference (`&#`), and no secret holds a character a parser
-- could spell otherwise: then nothing parsed from it can hold one, and
-- it need not be scrubbed field by field. Plain finds, in C.
-- @param text the raw answer
-- @param secrets a set from `secrets`
-- @return true when the parsed answer must be scrubbed
function _M.carries(text, secrets)
    if type(text) ~= "string" or not secrets or #secrets == 0 then
        return false
    end
    if secrets.risky or find(text, "&#", 1, true) then
        return true
    end
    for i = 1, #secrets do
        if find(text, secrets[i], 1, true) then
            return true
        end
    end
    return false
end

local function is_word(s, i)
    return i >= 1 and i <= #s and find(s, "^[%w]", i) ~= nil
end

local function replace(s, secret)
    local short = #secret < SHORT_SECRET
    local out, pos, from = nil, 1, 1
    while true do
        local a, b = find(s, secret, from, true)
        if not a then
            break
        end
        if short and (is_word(s, a - 1) or is_word(s, b + 1)) then
            from = a + 1
        else
            out = out or {}
            out[#out + 1] = sub(s, pos, a - 1)
            out[#out + 1] = "***"
            pos = b + 1
            from = pos
        end
    end
    if not out then
        return s
    end
    out[#out + 1] = sub(s, pos)
    return concat(out)
end

--- `s` with every secret replaced by "***". Plain find, not patterns:
-- a password may hold any character.
-- @param s any value; only strings change
-- @param secrets an array of strings or a set from `secrets`
function _M.scrub(s, secrets)
    if type(s) ~= "string" or not secrets then
        return s
    end
    secrets = _M.secrets(secrets)
    if not secrets.sorted then
        sort(secrets, longest_first)
        secrets.sorted = true
    end
    for i = 1, #secrets do
        s = replace(s, secrets[i])
    end
    return s
end
local scrub = _M.scrub

local function scrub_table(t, secrets, seen)
    if seen[t] then
        return
    end
    seen[t] = true
    local renamed
    local k, v = next(t)
    while k ~= nil do
        if type(v) == "string" then
            local c = scrub(v, secrets)
            if c ~= v then
                rawset(t, k, c)
            end
        elseif type(v) == "table" then
            scrub_table(v, secrets, seen)
        end
        if type(k) == "string" then
            local c = scrub(k, secrets)
            if c ~= k then
                renamed = renamed or {}
                renamed[#renamed + 1] = { k, c }
            end
        elseif type(k) == "table" then
            scrub_table(k, secrets, seen)
        end
        k, v = next(t, k)
    end
    for _, r in ipairs(renamed or {}) do
        local val = rawget(t, r[1])
        rawset(t, r[1], nil)
        rawset(t, r[2], val)
    end
end

--- Scrub every string reachable from `v` (values and keys, nested
-- tables, each table once), in place; returns `v` (a string: its
-- scrubbed copy). Metamethods are not run: tables are walked raw.
-- @param v a table (scrubbed in place) or a string
-- @param secrets an array of strings or a set from `secrets`
function _M.scrub_deep(v, secrets)
    if not secrets then
        return v
    end
    secrets = _M.secrets(secrets)
    if #secrets == 0 then
        return v
    end
    if type(v) == "string" then
        return scrub(v, secrets)
    elseif type(v) == "table" then
        scrub_table(v, secrets, {})
    end
    return v
end

--- Make an error value.
-- @param kind one of the kinds above
-- @param message human-readable text (scrubbed of `secrets`)
-- @param fields optional table of extra fields (code, status, errors,
--   responses, command, maybe_delivered, result, reason)
-- @param secrets optional array of strings that must never show (or a
--   set from `secrets`); every string reachable from the error is scrubbed
function _M.new(kind, message, fields, secrets)
    if not _M.KINDS[kind] then
        error("enom.errors: unknown error kind '" .. tostring(kind) .. "'", 2)
    end
    local e = {}
    if fields then
        for k, v in pairs(fields) do
            e[k] = v
        end
    end
    e.kind = kind
    e.message = message
    -- Every string the error carries, nested ones included (eNom's
    -- texts, an echoed request in a response record), not only the
    -- message.
    _M.scrub_deep(e, secrets)
    if e.maybe_delivered == nil then
        -- Everything but a refused or unsent request may have reached eNom.
        e.maybe_delivered = kind ~= "invalid"
    end
    return setmetatable(e, Error)
end

return _M
