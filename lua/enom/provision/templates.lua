--- User names from people's records.
--
-- User names: a template such as "{first}.{last}" is filled from a
-- record, lower-cased, accents folded to ASCII, characters eNom does not
-- accept dropped, and cut to 30 characters. Clashes are resolved by
-- `unique`: the second "ann.lee" becomes "ann.lee2", the third "ann.lee3"
-- (the base is shortened if the number would pass the limit).
-- Passwords are made by enom.password, by eNom's rules.

local _M = {}

local pairs = pairs
local ipairs = ipairs
local pcall = pcall
local tostring = tostring
local lower = string.lower

local USERNAME_MAX = require("enom.names").USERNAME_MAX

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
-- `next` (optional, kept by the caller across calls) remembers where
-- each base name's numbering stands, so that naming n people with one
-- name takes n steps, not n*n/2.
-- @param name the name wanted
-- @param taken the set of lower-cased names in use; the chosen one is added
-- @param next optional: where each base name's numbering stands (keep it across calls)
-- @return the name: `name` itself, or `name` with the first free number
function _M.unique(name, taken, next)
    local key = lower(name)
    local n = next and next[key] or 1
    local candidate = n == 1 and name or nil
    while candidate == nil or taken[lower(candidate)] do
        n = n + 1
        local suffix = tostring(n)
        candidate = name:sub(1, USERNAME_MAX - #suffix):gsub("[%.%-_]+$", "") .. suffix
    end
    if next then
        next[key] = n
    end
    taken[lower(candidate)] = true
    return candidate
end

--- Desired mailboxes from people's records, through templates.
-- @param people an array of records (tables of strings: first, last, role, ...)
-- @param opts { username = "{first}.{last}", display_name = "{first} {last}",
--   admin = function(person) -> boolean, or nil to leave the flag as it
--   is; taken = set of names in use }
-- @return the mailboxes, and the people that could not be named
--   ({ index, reason })
function _M.people(people, opts)
    opts = opts or {}
    local utpl = opts.username or "{first}.{last}"
    local dtpl = opts.display_name or "{first} {last}"
    local taken, next, out, skipped = {}, {}, {}, {}
    for k in pairs(opts.taken or {}) do
        taken[lower(k)] = true
    end
    for i, person in ipairs(people) do
        local name, why = _M.username(utpl, person)
        if not name then
            skipped[#skipped + 1] = { index = i, reason = why }
        else
            name = _M.unique(name, taken, next)
            local ok, display = pcall(_M.fill, dtpl, person)
            local admin
            if opts.admin then
                admin = opts.admin(person)
            end
            out[#out + 1] = {
                username = name,
                display_name = ok and display:sub(1, 60) or nil,
                admin = admin,
                password = person.password,
            }
        end
    end
    return out, skipped
end

return _M
