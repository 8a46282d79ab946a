--- Names and passwords from people's records.
--
-- User names: a template such as "{first}.{last}" is filled from a
-- record, lower-cased, accents folded to ASCII, characters eNom does not
-- accept dropped, and cut to 30 characters. Clashes are resolved by
-- `unique`: the second "ann.lee" becomes "ann.lee2", the third "ann.lee3"
-- (the base is shortened if the number would pass the limit).
--
-- Passwords come from the system's CSPRNG through the C core, never from
-- math.random, with rejection sampling so that every character of a class
-- is equally likely.
local core = require "enom.core"
local commands = require "enom.commands"

local _M = {}

local type = type
local tostring = tostring
local concat = table.concat
local byte = string.byte
local lower = string.lower

local USERNAME_MAX = commands.USERNAME_MAX

-- UTF-8 Latin-1 Supplement and Latin Extended-A letters, folded to ASCII.
local FOLD = {
    ["à"] = "a", ["á"] = "a", ["â"] = "a", ["ã"] = "a", ["ä"] = "a", ["å"] = "a", ["æ"] = "ae",
    ["ç"] = "c", ["è"] = "e", ["é"] = "e", ["ê"] = "e", ["ë"] = "e", ["ì"] = "i", ["í"] = "i",
    ["î"] = "i", ["ï"] = "i", ["ð"] = "d", ["ñ"] = "n", ["ò"] = "o", ["ó"] = "o", ["ô"] = "o",
    ["õ"] = "o", ["ö"] = "o", ["ø"] = "o", ["ù"] = "u", ["ú"] = "u", ["û"] = "u", ["ü"] = "u",
    ["ý"] = "y", ["ÿ"] = "y", ["þ"] = "th", ["ß"] = "ss",
    ["À"] = "a", ["Á"] = "a", ["Â"] = "a", ["Ã"] = "a", ["Ä"] = "a", ["Å"] = "a", ["Æ"] = "ae",
    ["Ç"] = "c", ["È"] = "e", ["É"] = "e", ["Ê"] = "e", ["Ë"] = "e", ["Ì"] = "i", ["Í"] = "i",
    ["Î"] = "i", ["Ï"] = "i", ["Ð"] = "d", ["Ñ"] = "n", ["Ò"] = "o", ["Ó"] = "o", ["Ô"] = "o",
    ["Õ"] = "o", ["Ö"] = "o", ["Ø"] = "o", ["Ù"] = "u", ["Ú"] = "u", ["Û"] = "u", ["Ü"] = "u",
    ["Ý"] = "y", ["Þ"] = "th",
    ["ā"] = "a", ["ă"] = "a", ["ą"] = "a", ["ć"] = "c", ["č"] = "c", ["ď"] = "d", ["đ"] = "d",
    ["ē"] = "e", ["ė"] = "e", ["ę"] = "e", ["ě"] = "e", ["ğ"] = "g", ["ī"] = "i", ["į"] = "i",
    ["ı"] = "i", ["ł"] = "l", ["ń"] = "n", ["ň"] = "n", ["ō"] = "o", ["ő"] = "o", ["œ"] = "oe",
    ["ř"] = "r", ["ś"] = "s", ["ş"] = "s", ["š"] = "s", ["ť"] = "t", ["ţ"] = "t", ["ū"] = "u",
    ["ů"] = "u", ["ű"] = "u", ["ų"] = "u", ["ź"] = "z", ["ż"] = "z", ["ž"] = "z",
    ["Ā"] = "a", ["Ć"] = "c", ["Č"] = "c", ["Ď"] = "d", ["Đ"] = "d", ["Ē"] = "e", ["Ě"] = "e",
    ["Ł"] = "l", ["Ń"] = "n", ["Ň"] = "n", ["Ő"] = "o", ["Œ"] = "oe", ["Ř"] = "r", ["Ś"] = "s",
    ["Š"] = "s", ["Ť"] = "t", ["Ū"] = "u", ["Ů"] = "u", ["Ű"] = "u", ["Ź"] = "z", ["Ż"] = "z",
    ["Ž"] = "z",
}

--- Fold accented Latin letters to ASCII; other non-ASCII characters go.
-- @param s a UTF-8 string
function _M.fold(s)
    return (tostring(s):gsub("[\xC2-\xF4][\x80-\xBF]*", function(c)
        return FOLD[c] or ""
    end))
end

--- Fill "{field}" placeholders from `record`. Unknown fields are errors.
-- @param template a string with {field} placeholders
-- @param record a table with the fields
function _M.fill(template, record)
    return (template:gsub("{([%w_]+)}", function(k)
        local v = record[k]
        if v == nil then
            error("template field '" .. k .. "' is missing from the record", 0)
        end
        return tostring(v)
    end))
end

--- A user name from `template` and `record`, or nil and a reason when
-- nothing usable is left.
-- @param template a string with {field} placeholders, such as "{first}.{last}"
-- @param record a person's record
-- @usage templates.username("{first}.{last}", { first = "Zoë", last = "Ó Briain" }) --> "zoe.obriain"
function _M.username(template, record)
    local ok, s = pcall(_M.fill, template, record)
    if not ok then
        return nil, s
    end
    s = lower(_M.fold(s))
    s = s:gsub("%s+", ""):gsub("[^%w%._%-]", "")
    s = s:gsub("%.%.+", "."):gsub("^[^%w]+", ""):gsub("[%.%-_]+$", "")
    s = s:sub(1, USERNAME_MAX):gsub("[%.%-_]+$", "")
    if s == "" then
        return nil, "no usable characters left from template " .. template
    end
    return s
end

--- Resolve a clash: the first free name among name, name2, name3, ...
-- `taken` is a set of lower-cased names; the chosen one is added to it.
-- @param name the wanted user name
-- @param taken the set of names in use (lower-cased); updated
function _M.unique(name, taken)
    local base, n = name, 1
    local candidate = name
    while taken[lower(candidate)] do
        n = n + 1
        local suffix = tostring(n)
        candidate = base:sub(1, USERNAME_MAX - #suffix):gsub("[%.%-_]+$", "") .. suffix
    end
    taken[lower(candidate)] = true
    return candidate
end

local CLASSES = {
    lower = "abcdefghijkmnopqrstuvwxyz",     -- no l: it reads as 1
    upper = "ABCDEFGHJKLMNPQRSTUVWXYZ",      -- no I, O
    digit = "23456789",                      -- no 0, 1
    symbol = "!#%*+-=?@^_",
}
_M.CLASSES = CLASSES

local PASSWORD_DEFAULTS = { length = 16, classes = { "lower", "upper", "digit", "symbol" } }
_M.PASSWORD_DEFAULTS = PASSWORD_DEFAULTS

-- Uniform integer in [0, n) from the CSPRNG, without modulo bias
-- (1 <= n <= 256).
local pool, pool_pos = "", 1
local function uniform(n)
    local limit = 256 - 256 % n
    while true do
        if pool_pos > #pool then
            pool = assert(core.random_bytes(256))
            pool_pos = 1
        end
        local b = byte(pool, pool_pos)
        pool_pos = pool_pos + 1
        if b < limit then
            return b % n
        end
    end
end

--- A random password: `policy` = { length = 16, classes = { "lower",
-- "upper", "digit", "symbol" } } (each class at least once), or a string
-- of allowed characters as `policy.alphabet`.
-- @param policy optional: { length, classes } or { alphabet }
function _M.password(policy)
    policy = policy or PASSWORD_DEFAULTS
    local length = policy.length or PASSWORD_DEFAULTS.length
    if type(length) ~= "number" or length < 8 or length > commands.PASSWORD_MAX then
        error("password length must be between 8 and " .. commands.PASSWORD_MAX, 2)
    end
    local sets = {}
    if policy.alphabet ~= nil then
        local a = policy.alphabet
        -- One random byte picks a character: more than 256 could never
        -- all be reached (and the sampling below would never end).
        if type(a) ~= "string" or #a < 1 or #a > 256 then
            error("password alphabet must be a string of 1 to 256 distinct characters (bytes)", 2)
        end
        local seen = {}
        for i = 1, #a do
            local b = byte(a, i)
            if seen[b] then
                error("password alphabet repeats a character (at byte " .. i .. ")", 2)
            end
            seen[b] = true
        end
        sets[1] = a
    else
        for _, name in ipairs(policy.classes or PASSWORD_DEFAULTS.classes) do
            local set = CLASSES[name]
            if not set then
                error("unknown character class '" .. tostring(name) .. "'", 2)
            end
            sets[#sets + 1] = set
        end
    end
    if #sets > length then
        error("password length is shorter than the number of classes", 2)
    end
    local all = concat(sets)
    if #all > 256 then
        error("password classes hold more than 256 characters together", 2)
    end
    local out = {}
    -- One character of each class, the rest from all, then shuffled.
    for i = 1, #sets do
        local j = uniform(#sets[i]) + 1
        out[i] = sets[i]:sub(j, j)
    end
    for i = #sets + 1, length do
        local j = uniform(#all) + 1
        out[i] = all:sub(j, j)
    end
    for i = length, 2, -1 do
        local j = uniform(i) + 1
        out[i], out[j] = out[j], out[i]
    end
    return concat(out)
end

return _M
