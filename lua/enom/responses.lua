--- eNom's response numbers and e-mail error codes, as data, and the one
-- place that turns an eNom error answer into a category.
--
-- eNom reports a failure with `ErrCount`, the texts `Err1..n` and often
-- six-digit response numbers (`ResponseNumber1..n`): the first digit is
-- the system (3 validation, 4 authentication, 5 payment, 6 system, 7
-- policy), the next two the kind of error (x02 duplicate, x18 down for
-- maintenance, x24 insufficient reseller balance, ...), the last three the
-- parameter (xxx286 a POP mailbox's user name). Its e-mail platform has
-- its own small codes (20 try again later, 48 password contains the user
-- name, ...). Texts vary between commands and over time; numbers do not.
-- So a category comes from the number when there is one, and from a short
-- table of known texts otherwise (or to refine a bare "validation" into
-- "duplicate" or "password", which the number's kind does not always
-- say). Every entry names its source; `doc/enom-responses.md` is the
-- readable form of this file.
--
-- Categories (`CATEGORIES`), each with whether a request that failed so
-- may be sent again: maintenance and system (yes); balance, auth,
-- ip_not_permitted, duplicate, not_found, validation, password, policy,
-- registry, unknown (no). `enom.errors.retryable` is the one retry rule of
-- the library and reads `retry` from here.
local _M = {}

local type = type
local ipairs = ipairs
local tonumber = tonumber
local floor = math.floor
local lower = string.lower
local find = string.find

-- Where the facts come from (doc/enom-responses.md quotes them).
local SOURCES = {
    codes = "eNom API reference, API Error Codes (api.enom.com/docs/api-error-codes; "
        .. "mirrored in hazzakins/go-enomapi docs/api-error-codes.md)",
    troubleshooting = "eNom support article 201000065294, Troubleshooting the Enom API",
    email_update = "eNom blog, Email API update: stronger email password requirements "
        .. "in effect November 23, 2018",
}
_M.SOURCES = SOURCES

--- The categories: `retry` says whether the failure is passing (the same
-- request may succeed later), `hint` what an operator can do about it.
local CATEGORIES = {
    maintenance = { retry = true, hint = "eNom is down for maintenance: the request may be sent again later" },
    system = { retry = true },
    balance = { retry = false, hint = "the reseller account's balance does not cover the order: add funds" },
    auth = { retry = false,
        hint = "check the login id and the password or API token (live and test have different ones)" },
    ip_not_permitted = { retry = false,
        hint = "add the address eNom names to the account's API IP allow list (live and test have separate lists)" },
    duplicate = { retry = false },
    not_found = { retry = false },
    validation = { retry = false },
    password = { retry = false, hint = "the password breaks eNom's password rule (see enom.password)" },
    policy = { retry = false },
    registry = { retry = false },
    unknown = { retry = false },
}
_M.CATEGORIES = CATEGORIES

--- The system digit (the first of six).
local SYSTEMS = {
    [0] = { name = "unknown", category = "unknown" },
    [1] = { name = "success", category = "unknown" },
    [2] = { name = "registry error", category = "registry" },
    [3] = { name = "validation error", category = "validation" },
    [4] = { name = "authentication error", category = "auth" },
    [5] = { name = "payment error", category = "balance" },
    [6] = { name = "system error", category = "system" },
    [7] = { name = "policy error", category = "policy" },
}
_M.SYSTEMS = SYSTEMS

--- The kind of error (digits 2-3), with the category it decides where it
-- decides one whatever the system digit says.
local KINDS = {
    [0] = { name = "does not apply" },
    [1] = { name = "missing" },
    [2] = { name = "duplicate", category = "duplicate" },
    [3] = { name = "out of range" },
    [4] = { name = "invalid" },
    [5] = { name = "type mismatch" },
    [6] = { name = "policy violation" },
    [7] = { name = "connection failed", category = "system" },
    [8] = { name = "failed to retrieve" },
    [9] = { name = "failed to add" },
    [10] = { name = "failed to update" },
    [11] = { name = "failed to delete" },
    [12] = { name = "disabled" },
    [13] = { name = "unauthorized", category = "auth" },
    [14] = { name = "declined" },
    [15] = { name = "not available" },
    [16] = { name = "not found", category = "not_found" },
    [17] = { name = "expired" },
    [18] = { name = "down for maintenance", category = "maintenance" },
    [19] = { name = "failed to deduct" },
    [20] = { name = "failed to send" },
    [21] = { name = "failed to process" },
    [22] = { name = "failed to downgrade" },
    [23] = { name = "failed to upgrade" },
    [24] = { name = "insufficient reseller balance", category = "balance" },
    [99] = { name = "unknown" },
}
_M.KINDS = KINDS

--- The parameters (last three digits) this library meets, with the
-- category a parameter decides when the kind does not: a time-out is
-- passing, except in a validation error (a time-out value refused), and a
-- problem with the login id is one of authentication.
local PARAMETERS = {
    [150] = { name = "command" },
    [153] = { name = "domain name" },
    [155] = { name = "login id", category = "auth" },
    [156] = { name = "password" },
    [166] = { name = "connection time-out", category = "system", not_for = { [3] = true } },
    [167] = { name = "session time-out", category = "system", not_for = { [3] = true } },
    [181] = { name = "account balance" },
    [183] = { name = "quantity" },
    [254] = { name = "user(s)" },
    [269] = { name = "POP pak id" },
    [271] = { name = "POP pak" },
    [286] = { name = "POP mailbox user name" },
    [391] = { name = "bundle id" },
}
_M.PARAMETERS = PARAMETERS

--- Whole numbers recorded with their text, which decide alone.
local NUMBERS = {
    [304155] = { category = "auth", text = "Bad User name or Password", source = SOURCES.troubleshooting },
    [713254] = { category = "ip_not_permitted", text = "User not permitted from this IP address - <address>",
        source = SOURCES.troubleshooting },
}
_M.NUMBERS = NUMBERS

--- eNom's e-mail error codes (its e-mail platform's API; the codes this
-- library acts on). The text is eNom's; `match` is the lower-case part of
-- it looked for in an Err text, since the reseller interface's way of
-- passing these on (a code, a text or both) is not published. Code 21's
-- text is found by the allow-list entry of TEXTS.
local EMAIL = {
    [7] = { category = "duplicate", text = "An object with this name already exists.", match = "already exists" },
    [20] = { category = "system", text = "Try again later", match = "try again later" },
    [21] = { category = "ip_not_permitted", text = "Requestor not permitted from this IP address" },
    [22] = { category = "system", text = "Requested object temporarily unavailable, try again later",
        match = "temporarily unavailable" },
    [23] = { category = "duplicate", text = "Object already exists", match = "already exists" },
    [25] = { category = "system", text = "Failed to obtain provisioning lock",
        match = "failed to obtain provisioning lock" },
    [38] = { category = "policy", text = "maximum number of forward recipients reached",
        match = "maximum number of forward recipients" },
    [40] = { category = "password", text = "Password not strong enough", match = "password not strong enough" },
    [48] = { category = "password", text = "Password rejected - contains username or other account info",
        match = "other account info", source = SOURCES.email_update },
}
_M.EMAIL = EMAIL

-- Looked up in this order: the most specific text first (22's text
-- ends in "try again later", 20's whole text).
local EMAIL_ORDER = { 48, 40, 25, 22, 20, 38, 7, 23 }

--- Other known texts, lower-case parts of an Err text or of a
-- ResponseString (eNom writes the number's meaning there: "Policy error;
-- unauthorized; user(s)"), in the order they are tried.
local TEXTS = {
    { match = "not permitted from this ip", category = "ip_not_permitted", source = SOURCES.troubleshooting },
    { match = "bad user name or password", category = "auth", source = SOURCES.troubleshooting },
    { match = "down for maintenance", category = "maintenance", source = SOURCES.codes },
    { match = "insufficient reseller balance", category = "balance", source = SOURCES.codes },
}
_M.TEXTS = TEXTS

-- Categories a known text may put in place of the number's bare
-- "validation" (eNom's x04 "invalid" says nothing more precise).
local REFINES = { duplicate = true, password = true }

--- The parts of a six-digit response number: system, kind, parameter
-- digits, or nil when `n` is not one.
-- @param n the response number
-- @return system, kind and parameter digits, or nil
function _M.split(n)
    n = tonumber(n)
    if not n or n ~= floor(n) or n < 0 or n > 999999 then
        return nil
    end
    return floor(n / 100000), floor(n / 1000) % 100, n % 1000
end

--- The category of one response number, or nil for a number that says
-- nothing (a small number not among the e-mail codes); and the e-mail
-- code when the number is one.
-- @param n a response number (eNom's six digits, or an e-mail error code)
-- @return the category or nil, and the e-mail code or nil
function _M.of_number(n)
    n = tonumber(n)
    if not n then
        return nil
    end
    local known = NUMBERS[n]
    if known then
        return known.category
    end
    if n < 100 then -- no six-digit number is this small: an e-mail code
        local e = EMAIL[n]
        return e and e.category, e and n
    end
    local sys, kind, param = _M.split(n)
    if not sys then
        return nil
    end
    local k, p = KINDS[kind], PARAMETERS[param]
    if p and p.not_for and p.not_for[sys] then
        p = nil
    end
    return (k and k.category) or (p and p.category) or (SYSTEMS[sys] and SYSTEMS[sys].category) or "unknown"
end

--- The category of an error text, or nil.
-- @param s the text of one of eNom's errors
-- @return the category, or nil
function _M.of_text(s)
    if type(s) ~= "string" or s == "" then
        return nil
    end
    local l = lower(s)
    for _, code in ipairs(EMAIL_ORDER) do
        local e = EMAIL[code]
        if find(l, e.match, 1, true) then
            return e.category
        end
    end
    for _, t in ipairs(TEXTS) do
        if find(l, t.match, 1, true) then
            return t.category
        end
    end
    return nil
end

--- Classify an eNom error answer.
-- @param errors the Err texts, in order
-- @param responses the responses, { number =, string = }, in order
-- @return category (a key of CATEGORIES), the e-mail code when a
--   response number was one (or nil), and the category's hint (or nil)
function _M.classify(errors, responses)
    local category, code
    for _, r in ipairs(responses or {}) do
        category, code = _M.of_number(r.number)
        if category then
            break
        end
    end
    if not category or category == "validation" then
        local by_text
        for _, s in ipairs(errors or {}) do
            by_text = by_text or _M.of_text(s)
        end
        for _, r in ipairs(responses or {}) do
            by_text = by_text or _M.of_text(r.string)
        end
        if by_text and (not category or REFINES[by_text]) then
            category = by_text
        end
    end
    category = category or "unknown"
    return category, code, CATEGORIES[category].hint
end

return _M
