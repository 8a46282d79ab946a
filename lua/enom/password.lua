--- eNom's mailbox password rules, as data: check a password against a
-- rule, generate one a rule accepts.
--
-- A rule is a table (`rules` holds eNom's, by name): a length range,
-- character classes whose union is the allowed alphabet, the classes a
-- password needs at least once, and forbidden content (the user name, the
-- domain, the account id; another password of the same request, or a
-- "root" shared with one). A rule eNom changes is a change of data here.
--
-- eNom's published rules:
--
-- * `pop_m2w`: eNom KB 1691, "Password Protocol M2W for Email" (updated
--   January 2016), for mailboxes on the M2W mail platform: 6 to 30
--   characters; an upper-case letter, a lower-case letter and a digit;
--   no special characters; not the same as another password or account
--   name of the account; no "root" shared with another password
--   (Me12345 and Pe12345, Potato45 and Potato67 are refused together).
-- * `email_basic`: eNom support article 201000065374, "Reset your Enom
--   email password" (Basic email, the current product): 10 to 20
--   characters, no spaces; an upper-case letter, a digit and one of
--   `* @ - _ / .`; different from the password of any other Enom service.
-- * Both: the contains check. eNom's e-mail platform refuses a password
--   that contains the user name or the domain name, case ignored (eNom's
--   API error-code page; in force since 23 November 2018, eNom blog
--   "Email API update: stronger email password requirements", e-mail
--   error 48 "Password rejected - contains username or other account
--   info"). "Other account info" is not listed: this library also refuses
--   the domain's SLD and the account id (uid), from 3 characters, so that
--   a short SLD such as "me" does not forbid every "me" in a password.
--
-- The default rule, `DEFAULT_RULE`, is `email_basic`. The two rules
-- cannot both be met (M2W forbids the special character Basic email
-- requires), so one must be chosen, and the evidence points to the
-- current platform: KB 1691 names the M2W platform and was last updated in
-- 2016; the POP paks this library sells are what eNom's account pages now
-- call Basic email (Email & Apps, Basic email, per domain), whose current
-- article gives the email_basic rule; eNom's API error-code page lists the
-- e-mail platform's codes (40 "password not strong enough", 48 the
-- contains check) beside the reseller API's numbers; and eNom forces a
-- reset, and after 30 days suspends sending, for mailboxes whose password
-- is weak by its current measure (at least ten characters, a number, a
-- capital letter and a symbol: support article 360044563291, "Required
-- email password update"), which an M2W password, having no symbol,
-- fails. An account whose mail still runs on M2W chooses `pop_m2w`
-- (`enom.new{ password_rule = "pop_m2w" }`). eNom does not publish the
-- text SetUpPOP3User or ModifyPOP3 answer for a refused password.
--
-- Generated passwords come from the system's CSPRNG through the C core,
-- one byte per character with rejection sampling (a byte at or above the
-- largest multiple of the alphabet's size that fits in a byte is dropped:
-- no modulo bias), and a whole password the rule refuses is drawn again,
-- so a password is uniform over those of its length the rule accepts.
local core = require "enom.core"
local commands = require "enom.commands"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local setmetatable = setmetatable
local error = error
local byte = string.byte
local char = string.char
local sub = string.sub
local gsub = string.gsub
local find = string.find
local lower = string.lower
local concat = table.concat
local sort = table.sort
local floor = math.floor
local unpack = table.unpack or unpack -- luacheck: ignore unpack

local UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
local LOWER = "abcdefghijklmnopqrstuvwxyz"
local DIGIT = "0123456789"

-- Context fields the contains check may read; `domain` is sld.tld.
local CONTAINS_FIELDS = { username = "the user name", domain = "the domain name", sld = "the domain's SLD",
    uid = "the account id" }

-- The contains check of both rules: the user name and the domain name
-- from their first character (eNom's check), the SLD and the account id
-- from 3 (this library's reading of "other account info").
local CONTAINS = { username = 1, domain = 1, sld = 3, uid = 3 }

--- eNom's rules by name. Fields: `min`, `max` (length), `length` (what
-- `generate` makes), `classes` (name -> characters; their union is the
-- alphabet), `required` (class names needed at least once), `contains`
-- (context field -> the shortest value checked), `distinct` (not the same
-- as another password of the context), `root` (no run of this many
-- characters shared with another password, case ignored), `source`.
local rules = {
    pop_m2w = {
        name = "pop_m2w",
        source = "eNom KB 1691, Password Protocol M2W for Email (January 2016)",
        min = 6, max = 30, length = 16,
        classes = { upper = UPPER, lower = LOWER, digit = DIGIT },
        required = { "upper", "lower", "digit" },
        contains = CONTAINS,
        distinct = true,
        -- The shortest root in eNom's examples: "12345" of Me12345/Pe12345.
        root = 5,
    },
    email_basic = {
        name = "email_basic",
        source = "eNom support article 201000065374, Reset your Enom email password",
        min = 10, max = 20, length = 16,
        classes = { upper = UPPER, lower = LOWER, digit = DIGIT, symbol = "*@-_/." },
        required = { "upper", "digit", "symbol" },
        contains = CONTAINS,
        -- "Differ from the password used for any other Enom-related
        -- service": of those, the library knows the request's others.
        distinct = true,
    },
}
_M.rules = rules

--- The rule eNom accepts for the POP paks this library sells (see the
-- opening comment for why).
_M.DEFAULT_RULE = "email_basic"

-- The longest password any rule may allow: what eNom's commands take.
local MAX_LENGTH = commands.PASSWORD_MAX

-- Whole passwords drawn before `generate` gives up: a context that
-- excludes nearly every password (a one-character alphabet and that
-- character as the user name) is a caller's mistake, not a reason to spin.
local MAX_DRAWS = 10000

-- The classes eNom's rules are made of, with words for messages.
local STANDARD = {
    upper = { UPPER, "one upper-case letter", "upper-case letters", 1 },
    lower = { LOWER, "one lower-case letter", "lower-case letters", 2 },
    digit = { DIGIT, "one digit", "digits", 3 },
}

-- Standard classes first, in that order, then the others by name.
local function class_order(a, b)
    local x, y = STANDARD[a], STANDARD[b]
    if x and y then
        return x[4] < y[4]
    elseif x or y then
        return x ~= nil
    end
    return a < b
end

local function spaced(chars)
    local out = {}
    for i = 1, #chars do
        out[i] = sub(chars, i, i)
    end
    return concat(out, " ")
end

-- "one upper-case letter" / "one of * @ -" (one == true), or
-- "upper-case letters" / "* @ -".
local function words(cname, chars, one)
    local std = STANDARD[cname]
    if std and std[1] == chars then
        return one and std[2] or std[3]
    end
    return one and ("one of " .. spaced(chars)) or spaced(chars)
end

-- A Lua pattern set matching exactly the characters of `chars`: runs of
-- three or more consecutive letters or digits as ranges (a set is matched
-- by a scan, and "A-Z" is one step, not 26), every other character but a
-- letter or digit escaped, so "%" and "]" are plain.
local function pattern_set(chars)
    local bytes = { byte(chars, 1, -1) }
    sort(bytes)
    local out, i = {}, 1
    while i <= #bytes do
        local j = i
        while find(char(bytes[i]), "%w") and j < #bytes and bytes[j + 1] == bytes[j] + 1
                and find(char(bytes[j + 1]), "%w") do
            j = j + 1
        end
        if j - i >= 2 then
            out[#out + 1] = char(bytes[i]) .. "-" .. char(bytes[j])
        else
            for k = i, j do
                out[#out + 1] = gsub(char(bytes[k]), "[^%w]", "%%%0")
            end
        end
        i = j + 1
    end
    return "[" .. concat(out) .. "]"
end

local function is_integer(v)
    return type(v) == "number" and v == floor(v) and v > -1e15 and v < 1e15
end

-- A checked, compiled copy of a rule table, or nil and the reason.
local function compile(t)
    if type(t) ~= "table" then
        return nil, "a rule must be a table"
    end
    local name = t.name == nil and "custom" or t.name
    if type(name) ~= "string" or not find(name, "^[%w_%-]+$") then
        return nil, "rule name must be a word (letters, digits, '_', '-')"
    end
    local function bad(why)
        return nil, "rule " .. name .. ": " .. why
    end
    local min, max = t.min, t.max
    if not (is_integer(min) and is_integer(max) and min >= 1 and min <= max and max <= MAX_LENGTH) then
        return bad("min and max must be whole numbers, 1 <= min <= max <= " .. MAX_LENGTH)
    end
    local length = t.length
    if length == nil then
        length = 16 < min and min or (16 > max and max or 16)
    end
    if not (is_integer(length) and length >= min and length <= max) then
        return bad("length must be a whole number from min to max")
    end
    if type(t.classes) ~= "table" then
        return bad("classes must be a table of class name -> characters")
    end
    local names = {}
    for cname, chars in pairs(t.classes) do
        if type(cname) ~= "string" or type(chars) ~= "string" or chars == "" then
            return bad("each class is a name and a non-empty string of characters")
        end
        names[#names + 1] = cname
    end
    sort(names, class_order)
    local class_of, alphabet, allowed, sets = {}, {}, {}, {}
    for _, cname in ipairs(names) do
        local chars = t.classes[cname]
        sets[cname] = pattern_set(chars)
        for i = 1, #chars do
            local b = byte(chars, i)
            if b < 0x20 or b > 0x7e then
                return bad("class " .. cname .. " holds a byte that is not printable ASCII")
            end
            if class_of[b] then
                return bad("a character is in class " .. class_of[b] .. " and again in " .. cname)
            end
            class_of[b] = cname
            alphabet[#alphabet + 1] = b
        end
        allowed[#allowed + 1] = words(cname, chars, false)
    end
    if #alphabet == 0 then
        return bad("no characters allowed")
    end
    if t.required ~= nil and type(t.required) ~= "table" then
        return bad("required must be an array of class names")
    end
    local required = {}
    for i, cname in ipairs(t.required or {}) do
        local chars = t.classes[cname]
        if not chars then
            return bad("required class '" .. tostring(cname) .. "' is not among its classes")
        end
        required[i] = { sets[cname], words(cname, chars, true) }
    end
    if #required > min then
        return bad("more required classes than min characters")
    end
    if t.contains ~= nil and type(t.contains) ~= "table" then
        return bad("contains must be a table of context field -> shortest length")
    end
    local contains = {}
    for field, n in pairs(t.contains or {}) do
        if not CONTAINS_FIELDS[field] or not (is_integer(n) and n >= 1) then
            return bad("contains takes username, domain, sld, uid, each a whole number >= 1")
        end
        contains[field] = n
    end
    if t.root ~= nil and not (is_integer(t.root) and t.root >= 2) then
        return bad("root must be a whole number >= 2")
    end
    if t.distinct ~= nil and type(t.distinct) ~= "boolean" then
        return bad("distinct must be a boolean")
    end
    local last = table.remove(allowed)
    -- Each byte drawn maps to its character, or to nothing when it is at
    -- or above the largest multiple of the alphabet's size (no modulo bias).
    local n = #alphabet
    local limit = 256 - 256 % n
    local map = {}
    for b = 0, 255 do
        map[char(b)] = b < limit and char(alphabet[b % n + 1]) or ""
    end
    return {
        map = map, pool = "", pos = 1,
        name = name, min = min, max = max, length = length,
        outside = "[^" .. sub(pattern_set(char(unpack(alphabet))), 2),
        alphabet = alphabet, required = required, contains = contains,
        distinct = t.distinct == true, root = t.root,
        allowed = #allowed > 0 and (concat(allowed, ", ") .. " and " .. last) or last,
    }
end

local COMPILED = setmetatable({}, { __mode = "k" })

-- The compiled rule for a name, a table, or nil/false (the default), or
-- nil and the reason.
local function compiled(rule)
    if rule == nil or rule == false then
        rule = _M.DEFAULT_RULE
    end
    if type(rule) == "string" then
        local t = rules[rule]
        if not t then
            local known = {}
            for name in pairs(rules) do
                known[#known + 1] = name
            end
            sort(known)
            return nil, "unknown password rule '" .. rule .. "' (known: " .. concat(known, ", ") .. ")"
        end
        rule = t
    end
    if type(rule) ~= "table" then
        return nil, "a password rule is a name or a table"
    end
    local c = COMPILED[rule]
    if not c then
        local why
        c, why = compile(rule)
        if not c then
            return nil, why
        end
        COMPILED[rule] = c
    end
    return c
end

--- The rule table for `rule` (a name, a table, or nil for the default),
-- checked; or nil and the reason it is no usable rule.
-- @usage local r = assert(password.rule("pop_m2w"))
-- @param rule a rule name ("email_basic", "pop_m2w"), a rule table, or nil
-- @return the rule table, or nil and the reason
function _M.rule(rule)
    if rule == nil or rule == false then
        rule = _M.DEFAULT_RULE
    end
    local c, why = compiled(rule)
    if not c then
        return nil, why
    end
    return type(rule) == "string" and rules[rule] or rule
end

-- The context's fields the contains check looks at, in order.
local FORBIDDEN_FIELDS = { "username", "domain", "sld", "uid" }

-- What the contains check looks for under the compiled rule `r`: a flat
-- array of lower-cased values, each followed by what it is. `strict`
-- (generation) looks for every field from its first character, whatever
-- the rule says.
local function forbidden(r, context, strict)
    local out = {}
    if type(context) ~= "table" then
        return out
    end
    local sld, tld = context.sld, context.tld
    local values = {
        context.username,
        sld ~= nil and tld ~= nil and (tostring(sld) .. "." .. tostring(tld)) or nil,
        sld,
        context.uid,
    }
    for i = 1, #FORBIDDEN_FIELDS do
        local field, v = FORBIDDEN_FIELDS[i], values[i]
        local shortest = strict and 1 or r.contains[field]
        if shortest and v ~= nil then
            v = lower(tostring(v))
            if #v >= shortest then
                out[#out + 1] = v
                out[#out + 1] = CONTAINS_FIELDS[field]
            end
        end
    end
    return out
end

-- The first problem of `pw` under the compiled rule `r`, or nil: its
-- length, its characters (unless `drawn` from the rule's alphabet), then
-- what `forbid` (from `forbidden`) and the other passwords of the context
-- rule out.
local function problem(r, pw, forbid, others, drawn)
    local n = #pw
    if n < r.min or n > r.max then
        return ("must be %d to %d characters"):format(r.min, r.max), "length"
    end
    if not drawn and find(pw, r.outside) then
        return "has a character the rule does not allow (it allows " .. r.allowed .. ")", "alphabet"
    end
    for _, req in ipairs(r.required) do
        if not find(pw, req[1]) then
            return "needs at least " .. req[2], "class"
        end
    end
    local l = (#forbid > 0 or others) and lower(pw)
    for i = 1, #forbid, 2 do
        if find(l, forbid[i], 1, true) then
            return "contains " .. forbid[i + 1] .. " (eNom e-mail error 48)", "contains"
        end
    end
    if type(others) == "table" and (r.distinct or r.root) then
        for _, o in ipairs(others) do
            if type(o) == "string" then
                if r.distinct and o == pw then
                    return "is the same as another password given with it", "same"
                end
                local k = r.root
                if k and #o >= k then
                    local lo = lower(o)
                    for i = 1, n - k + 1 do
                        if find(lo, sub(l, i, i + k - 1), 1, true) then
                            return ("shares %d characters in a row with another password (no shared root)"):format(k),
                                "root"
                        end
                    end
                end
            end
        end
    end
    return nil
end

--- The rule in one sentence for the people who type a password: its
-- length, its characters, what it needs, what it may not contain, from
-- the rule's own data (so the words follow the rule).
-- @param rule a rule name, a rule table, or nil for `DEFAULT_RULE`
-- @return the sentence; raises on an unusable rule
-- @usage password.describe("email_basic")
--   --> "10 to 20 characters: upper-case letters, lower-case letters, digits and * @ - _ / .; at least one
--   --   upper-case letter, one digit and one of * @ - _ / .; not the user name or the domain name"
function _M.describe(rule)
    local r, why = compiled(rule)
    if not r then
        error(why, 2)
    end
    local needs = {}
    for i, req in ipairs(r.required) do
        needs[i] = req[2]
    end
    local text = ("%d to %d characters: %s"):format(r.min, r.max, r.allowed)
    if #needs > 0 then
        local last = table.remove(needs)
        text = text .. "; at least " .. (#needs > 0 and (concat(needs, ", ") .. " and " .. last) or last)
    end
    local names = {}
    for _, field in ipairs { "username", "domain" } do
        if r.contains[field] then
            names[#names + 1] = CONTAINS_FIELDS[field]
        end
    end
    if #names > 0 then
        text = text .. "; not " .. concat(names, " or ")
    end
    return text
end

--- Check a password against a rule.
-- @param pw the password
-- @param rule a rule name, a rule table, or nil for `DEFAULT_RULE`
-- @param context optional { username, sld, tld, uid, others = { other
--   passwords of the same account or request } }
-- @return nil when the rule accepts it; else a reason naming the rule
--   ("breaks rule email_basic: needs at least one of * @ - _ / ."), which
--   never quotes the password, and a short code (length, alphabet, class,
--   contains, same, root). Raises on an unusable rule.
-- @usage assert(password.check("Tr4ck-Gull.92x", "email_basic", { username = "ann" }) == nil)
function _M.check(pw, rule, context)
    local r, why = compiled(rule)
    if not r then
        error(why, 2)
    end
    if type(pw) ~= "string" then
        return "breaks rule " .. r.name .. ": a password must be a string", "type"
    end
    local reason, code = problem(r, pw, forbidden(r, context, false), type(context) == "table" and context.others)
    if reason then
        return "breaks rule " .. r.name .. ": " .. reason, code
    end
    return nil
end

-- Random bytes come from the C core 256 at a time, mapped at once to
-- characters of the rule's alphabet (a rejected byte to nothing); a
-- password is the next `length` characters. What is left waits in the
-- compiled rule for the next password.
local POOL = 256

local function draw(r, length)
    local pool, pos = r.pool, r.pos
    local have = #pool - pos + 1
    if have >= length then
        r.pos = pos + length
        return sub(pool, pos, pos + length - 1)
    end
    local parts = { sub(pool, pos) }
    while true do
        local fresh = gsub(assert(core.random_bytes(POOL)), ".", r.map)
        if have + #fresh >= length then
            local take = length - have
            parts[#parts + 1] = sub(fresh, 1, take)
            r.pool, r.pos = fresh, take + 1
            return concat(parts)
        end
        parts[#parts + 1] = fresh
        have = have + #fresh
    end
end

--- A random password the rule accepts, containing neither the user name,
-- the domain, its SLD nor the account id (from their first character).
-- @param rule a rule name, a rule table, or nil/false for `DEFAULT_RULE`
-- @param context optional { username, sld, tld, uid, others = {...} }
-- @param length optional, within the rule's range (default: the rule's
--   `length`)
-- @return the password; raises on an unusable rule or length
-- @usage local pw = password.generate("email_basic", { username = "ann", sld = "example", tld = "com" })
function _M.generate(rule, context, length)
    local r, why = compiled(rule)
    if not r then
        error(why, 2)
    end
    length = length or r.length
    if not (is_integer(length) and length >= r.min and length <= r.max) then
        error(("password length must be a whole number from %d to %d for rule %s"):format(r.min, r.max, r.name), 2)
    end
    local forbid, others = forbidden(r, context, true), type(context) == "table" and context.others
    for _ = 1, MAX_DRAWS do
        local pw = draw(r, length)
        if not problem(r, pw, forbid, others, true) then
            return pw
        end
    end
    error("no password of rule " .. r.name .. " avoids what the context forbids", 2)
end

return _M
