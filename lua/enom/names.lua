--- The names eNom accepts, in one place: mailbox user names and domain
-- names. The typed methods (through `enom.commands`), the planner, the
-- command line and the nginx example all check names here, so a rule is
-- changed once.
--
-- Reasons never quote the name: it may come from a file and hold
-- anything, a terminal escape included.
local _M = {}

local type = type
local lower = string.lower
local find = string.find
local match = string.match
local gmatch = string.gmatch

--- Longest mailbox user name eNom takes (SetUpPOP3User's page; DeletePOP3's
-- says 16, an inconsistency of eNom's documentation: 30 is what it accepts).
_M.USERNAME_MAX = 30

--- A user name: letters, digits, ".", "_" and "-", starting with a letter
-- or a digit.
_M.USERNAME_PATTERN = "^[%w][%w%._%-]*$"

--- eNom's limits for a domain: SLD 63, TLD 15 characters (the command
-- reference), the whole name 253 and each label 63 (RFC 1035).
_M.SLD_MAX = 63
_M.TLD_MAX = 15
_M.DOMAIN_MAX = 253
_M.LABEL_MAX = 63

-- Bytes no name may hold: C0 controls and DEL (a terminal escape, a
-- carriage return that rewrites a line, a NUL).
local CONTROL = "[%z\1-\31\127]"

--- Does `s` hold a control character or bytes that are not UTF-8?
-- @return nil when clean, else the reason
function _M.unprintable(s)
    if find(s, CONTROL) then
        return "holds a control character"
    end
    if not find(s, "[\128-\255]") then
        return nil -- ASCII
    end
    -- UTF-8: the lead byte says how many continuation bytes follow.
    local i, n = 1, #s
    while i <= n do
        local c = s:byte(i)
        local more
        if c < 0x80 then
            more = 0
        elseif c >= 0xC2 and c <= 0xDF then
            more = 1
        elseif c >= 0xE0 and c <= 0xEF then
            more = 2
        elseif c >= 0xF0 and c <= 0xF4 then
            more = 3
        else
            return "is not valid UTF-8"
        end
        for j = i + 1, i + more do
            local b = s:byte(j)
            if not b or b < 0x80 or b > 0xBF then
                return "is not valid UTF-8"
            end
        end
        i = i + more + 1
    end
    return nil
end

-- What every name is checked for first: there, printable, and no longer
-- than `max` bytes. Returns the reason, or nil.
local function plain(s, max)
    if type(s) ~= "string" or s == "" then
        return "is missing"
    end
    local bad = _M.unprintable(s)
    if bad then
        return bad
    end
    if #s > max then
        return "is longer than " .. max .. " characters"
    end
    return nil
end

--- Check a mailbox user name (the part before the @).
-- @param s the name
-- @return nil when eNom would take it, else the reason
function _M.check_username(s)
    local bad = plain(s, _M.USERNAME_MAX)
    if bad then
        return bad
    end
    if not find(s, _M.USERNAME_PATTERN) then
        return "has characters eNom does not accept (letters, digits, '.', '_', '-'; starting with a letter or digit)"
    end
    return nil
end

-- What is wrong with the labels of a (lower-cased) host name, or nil.
local function bad_labels(name)
    for label in gmatch(name .. ".", "([^.]*)%.") do
        if label == "" then
            return "has an empty label (two dots, or a dot at an end)"
        end
        if #label > _M.LABEL_MAX then
            return "has a label longer than " .. _M.LABEL_MAX .. " characters"
        end
        if not find(label, "^[%w]") or not find(label, "[%w]$") or find(label, "[^%w%-]") then
            return "has a label that is not letters, digits and inner hyphens"
        end
    end
    return nil
end

--- Split and check a domain name: "Example.COM" gives "example", "com".
-- The first label is the SLD and the rest the TLD, as eNom reads them
-- ("example.co.uk" is SLD "example", TLD "co.uk").
-- @param name the domain, like example.com
-- @return sld, tld (lower case), or nil and the reason
function _M.split_domain(name)
    local bad = plain(name, _M.DOMAIN_MAX)
    if bad then
        return nil, bad
    end
    name = lower(name)
    local sld, tld = match(name, "^([^.]+)%.(.+)$")
    if not sld then
        return nil, "is not a domain name like example.com"
    end
    bad = bad_labels(name)
    if bad then
        return nil, bad
    end
    if #sld > _M.SLD_MAX then
        return nil, "has a second-level name longer than " .. _M.SLD_MAX .. " characters"
    end
    if #tld > _M.TLD_MAX then
        return nil, "has a top-level part longer than " .. _M.TLD_MAX .. " characters"
    end
    return sld, tld
end

--- Longest forwarding target eNom takes (ForwardTo of SetPOPForwarding,
-- Forwarding and SetCatchAll: 130).
_M.ADDRESS_MAX = 130

-- Characters of an address's local part: printable ASCII without space,
-- quotes, brackets, "@", "," ";" ":" and "\" (RFC 5322's dot-atom).
local LOCAL_PATTERN = "^[%w!#%$%%&'%*%+/=%?%^_`{|}~%-]+$"

--- Check an e-mail address a forward or a catch-all sends to.
-- @param s the address, like ann@example.net
-- @return nil when eNom would take it, else the reason
function _M.check_address(s)
    local bad = plain(s, _M.ADDRESS_MAX)
    if bad then
        return bad
    end
    local user, domain = match(s, "^([^@]+)@([^@]+)$")
    if not user then
        return "is not an e-mail address like ann@example.net"
    end
    if find(user, "^%.") or find(user, "%.$") or find(user, "%.%.") then
        return "has a misplaced dot before the @"
    end
    for part in gmatch(user, "[^.]+") do
        if not find(part, LOCAL_PATTERN) then
            return "has a character an address may not hold before the @"
        end
    end
    if not find(domain, "%.") then
        return "has no domain name like example.net after the @"
    end
    bad = bad_labels(lower(domain))
    if bad then
        return "has a domain that " .. bad
    end
    return nil
end

--- The canonical form of a domain name: lower case, no final dot.
function _M.canonical_domain(name)
    return (lower(name):gsub("%.$", ""))
end

--- The canonical form of an account id: eNom's login ids are not case
-- sensitive, so "ResellID" and "resellid" are one account (one lease,
-- one journal).
function _M.account(uid)
    return lower(uid)
end

return _M
