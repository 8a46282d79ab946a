--- A plain-Lua form encoder: the baseline for `enom.encode`.
--
-- The same contract as the C encoder (csrc/encode.c): parameter names
-- sorted byte-wise, every byte outside A-Z a-z 0-9 - . _ ~ as upper-case
-- %XX and space as '+', integers as integers, other numbers as %.14g,
-- booleans as 1/0, arrays as Name1, Name2, ..., then each group's
-- records as Name<i> per { key, Name } field, absent fields skipped.
-- Written the way a Lua programmer would: gsub with a lookup table and
-- table.concat. Argument checking is left out, so the baseline does less
-- work than the C encoder, never more.
local _M = {}

local type = type
local pairs = pairs
local sort = table.sort
local concat = table.concat
local format = string.format
local gsub = string.gsub
local mtype = math.type

-- Every byte that needs escaping, mapped to its escape.
local ESCAPES = { [" "] = "+" }
for b = 0, 255 do
    local c = string.char(b)
    if c ~= " " and not c:find("^[%w%-%._~]$") then
        ESCAPES[c] = format("%%%02X", b)
    end
end

local function escape(s)
    return (gsub(s, "[^%w%-%._~]", ESCAPES))
end

local function scalar(v)
    local t = type(v)
    if t == "string" then
        return escape(v)
    elseif t == "number" then
        if mtype(v) == "integer" then
            return format("%d", v)
        elseif v == math.floor(v) and v >= math.mininteger and v <= math.maxinteger then
            return format("%d", math.tointeger(v))
        end
        return escape(format("%.14g", v))
    elseif t == "boolean" then
        return v and "1" or "0"
    end
    error("cannot encode a " .. t)
end

--- Encode `params` and optional `groups` (as enom.encode).
function _M.encode(params, groups)
    local out, n = {}, 0
    local names = {}
    for k in pairs(params) do
        names[#names + 1] = k
    end
    sort(names)
    for _, name in ipairs(names) do
        local v = params[name]
        local ename = escape(name)
        if type(v) == "table" then
            for i = 1, #v do
                n = n + 1
                out[n] = ename .. i .. "=" .. scalar(v[i])
            end
        else
            n = n + 1
            out[n] = ename .. "=" .. scalar(v)
        end
    end
    for _, g in ipairs(groups or {}) do
        local keys, enames = {}, {}
        for j, f in ipairs(g.fields) do
            keys[j], enames[j] = f[1], escape(f[2])
        end
        for i, rec in ipairs(g.records) do
            for j = 1, #keys do
                local v = rec[keys[j]]
                if v ~= nil then
                    n = n + 1
                    out[n] = enames[j] .. i .. "=" .. scalar(v)
                end
            end
        end
    end
    return concat(out, "&")
end

return _M
