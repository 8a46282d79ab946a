--- Owner accounts: the domain owners the reseller lets into the panel,
-- each with a salted, slow password hash, the domains they manage and
-- what the reseller allows them to spend.
--
-- The file is JSON, written whole (temp file, fsync, rename) with mode
-- 0600 by `owners.lua add`, and read by nginx's master in init_by_lua,
-- before it drops privileges: `nginx -s reload` picks up a change.
--
--   { "owners": { "ann": { "hash": "pbkdf2-sha256$600000$<salt hex>$<key hex>",
--       "domains": ["example.com"], "buy_paks": false,
--       "max_paks_per_run": 1, "max_spend": 11.9 } } }
local cjson = require "cjson.safe"
local core = require "enom.core"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local byte = string.byte
local char = string.char
local format = string.format
local lower = string.lower
local find = string.find

--- PBKDF2-HMAC-SHA256 iterations for new hashes: OWASP's Password
-- Storage Cheat Sheet asks for 600,000.
_M.ITERATIONS = 600000
local SALT_BYTES = 16
local MIN_PASSWORD = 12     -- an owner's password; NIST SP 800-63B asks for 8 at least
local MAX_PASSWORD = 128    -- PBKDF2 hashes any length; a bound keeps a login cheap to refuse

_M.MIN_PASSWORD = MIN_PASSWORD
_M.MAX_PASSWORD = MAX_PASSWORD

--- An owner's name: what they type to log in.
_M.NAME_PATTERN = "^[a-z0-9][a-z0-9._-]*$"
local NAME_MAX = 64

local function hex(s)
    return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

local function unhex(s)
    if #s % 2 == 1 or find(s, "[^%x]") then
        return nil
    end
    return (s:gsub("%x%x", function(h) return char(tonumber(h, 16)) end))
end

--- Is `name` a valid owner name?
function _M.valid_name(name)
    return type(name) == "string" and #name <= NAME_MAX and find(name, _M.NAME_PATTERN) ~= nil
end

--- Is `domain` like example.com? Returns its sld and tld.
function _M.split_domain(domain)
    if type(domain) ~= "string" or #domain > 253 then
        return nil
    end
    local sld, tld = domain:match("^([%w][%w-]*)%.([%a][%w.-]*)$")
    if not sld or #sld > 63 or #tld > 15 then
        return nil
    end
    return sld, tld
end

--- A new hash of `password`: random salt, `ITERATIONS` rounds.
-- @param derive function(password, salt, iterations) -> key (panel.kdf's pbkdf2)
function _M.hash(password, derive)
    local salt = assert(core.random_bytes(SALT_BYTES))
    local key = derive(password, salt, _M.ITERATIONS)
    return format("pbkdf2-sha256$%d$%s$%s", _M.ITERATIONS, hex(salt), hex(key))
end

-- The parts of a stored hash, or nil when it is not one.
local function parse_hash(stored)
    if type(stored) ~= "string" then
        return nil
    end
    local iter, salt, key = stored:match("^pbkdf2%-sha256%$(%d+)%$(%x+)%$(%x+)$")
    iter = tonumber(iter)
    if not iter or iter < 1000 or iter > 10000000 then
        return nil
    end
    salt, key = unhex(salt), unhex(key)
    if not salt or not key or #key ~= 32 then
        return nil
    end
    return iter, salt, key
end

-- Equal strings, in time that does not depend on where they differ.
local function same(a, b)
    if #a ~= #b then
        return false
    end
    local diff = 0
    for i = 1, #a do
        if byte(a, i) ~= byte(b, i) then
            diff = diff + 1
        end
    end
    return diff == 0
end
_M.same = same

--- Does `password` match the stored hash?
-- @param derive as for `hash`
-- @return true or false; nil and a reason when the hash is unreadable
function _M.verify(stored, password, derive)
    local iter, salt, key = parse_hash(stored)
    if not iter then
        return nil, "not a pbkdf2-sha256 hash"
    end
    local got = derive(password, salt, iter)
    return got ~= nil and same(got, key)
end

-- What the reseller may set per owner, and their checks.
local POLICY = {
    buy_paks = function(v) return type(v) == "boolean" end,
    max_paks_per_run = function(v) return type(v) == "number" and v >= 0 and v <= 100 and v % 1 == 0 end,
    max_spend = function(v) return type(v) == "number" and v >= 0 end,
}
_M.POLICY = POLICY

-- One owner's record checked; the record, or nil and why.
local function check_owner(name, o)
    if not _M.valid_name(name) then
        return nil, "owner name " .. tostring(name) .. " must match " .. _M.NAME_PATTERN
    end
    if type(o) ~= "table" or not parse_hash(o.hash) then
        return nil, "owner " .. name .. ": no valid hash"
    end
    if type(o.domains) ~= "table" or #o.domains == 0 then
        return nil, "owner " .. name .. ": no domains"
    end
    local domains = {}
    for i, d in ipairs(o.domains) do
        if not _M.split_domain(d) then
            return nil, "owner " .. name .. ": domain " .. tostring(d) .. " is not like example.com"
        end
        domains[i] = lower(d)
    end
    local rec = { name = name, hash = o.hash, domains = domains, buy_paks = false, max_paks_per_run = 0 }
    for k, check in pairs(POLICY) do
        if o[k] ~= nil then
            if not check(o[k]) then
                return nil, "owner " .. name .. ": " .. k .. " has a value it cannot take"
            end
            rec[k] = o[k]
        end
    end
    return rec
end

--- Read an owners file.
-- @return { [name] = record }, or nil and a reason
function _M.load(path)
    local f, err = io.open(path, "r")
    if not f then
        return nil, err
    end
    local text = f:read("*a")
    f:close()
    local doc = cjson.decode(text)
    if type(doc) ~= "table" or type(doc.owners) ~= "table" then
        return nil, path .. ": not an owners file ({\"owners\": {...}})"
    end
    local out = {}
    for name, o in pairs(doc.owners) do
        local rec, why = check_owner(name, o)
        if not rec then
            return nil, path .. ": " .. why
        end
        out[name] = rec
    end
    return out
end

--- Write owners (as `load` returns them) to `path`, whole, mode 0600.
-- @return true, or nil and a reason
function _M.save(path, owners)
    local doc = { owners = {} }
    for name, o in pairs(owners) do
        local rec = { hash = o.hash, domains = o.domains }
        for k in pairs(POLICY) do
            rec[k] = o[k]
        end
        doc.owners[name] = rec
    end
    return core.replace_file(path, cjson.encode(doc) .. "\n", 384) -- 0600
end

--- Which of `owner`'s domains `domain` is, or nil: the one check that
-- keeps an owner to their own domains.
function _M.owns(owner, domain)
    if type(domain) ~= "string" then
        return nil
    end
    domain = lower(domain)
    for _, d in ipairs(owner.domains) do
        if d == domain then
            return d
        end
    end
    return nil
end


return _M
