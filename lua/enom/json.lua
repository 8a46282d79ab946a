--- A small JSON encoder for plans and reports (objects with sorted keys,
-- so the same report gives the same bytes). Decoding uses lua-cjson when
-- it is installed.
local _M = {}

local type = type
local pairs = pairs
local concat = table.concat
local sort = table.sort
local format = string.format
local tostring = tostring

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
    ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function string_literal(s)
    return '"' .. s:gsub('[%c"\\]', function(c)
        return ESC[c] or format("\\u%04x", c:byte())
    end) .. '"'
end

--- The metatable of a list that may be empty: written as [] when it is
-- (any other empty table is written as {}). The answers' lists carry it
-- (enom.results), so `--json` gives `"paks":[]`, never `"paks":{}`.
_M.array_mt = { __name = "enom.json.array" }
local array_mt = _M.array_mt

--- Mark `t` as a list (see array_mt); returns it.
function _M.array(t)
    return setmetatable(t or {}, array_mt)
end

local function is_array(t)
    local n = #t
    if n == 0 then
        return getmetatable(t) == array_mt
    end
    for k in pairs(t) do
        if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then
            return false
        end
    end
    return true
end

local function encode(v, out, depth)
    local t = type(v)
    if depth > 64 then
        error("json: nesting too deep", 0)
    end
    if t == "nil" then
        out[#out + 1] = "null"
    elseif t == "boolean" then
        out[#out + 1] = v and "true" or "false"
    elseif t == "number" then
        if v ~= v or v == 1 / 0 or v == -1 / 0 then
            out[#out + 1] = "null"
        elseif v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 then
            out[#out + 1] = format("%d", v)
        else
            out[#out + 1] = format("%.14g", v)
        end
    elseif t == "string" then
        out[#out + 1] = string_literal(v)
    elseif t == "table" then
        if is_array(v) then
            out[#out + 1] = "["
            for i = 1, #v do
                if i > 1 then
                    out[#out + 1] = ","
                end
                encode(v[i], out, depth + 1)
            end
            out[#out + 1] = "]"
        else
            local keys = {}
            for k in pairs(v) do
                keys[#keys + 1] = tostring(k)
            end
            sort(keys)
            out[#out + 1] = "{"
            for i, k in ipairs(keys) do
                if i > 1 then
                    out[#out + 1] = ","
                end
                out[#out + 1] = string_literal(k)
                out[#out + 1] = ":"
                local val = v[k]
                if val == nil then
                    val = v[tonumber(k)]
                end
                encode(val, out, depth + 1)
            end
            out[#out + 1] = "}"
        end
    else
        out[#out + 1] = "null"
    end
end

--- Encode a Lua value as one line of JSON.
function _M.encode(v)
    local out = {}
    encode(v, out, 0)
    return concat(out)
end

--- Decode JSON text (needs lua-cjson).
function _M.decode(s)
    local ok, cjson = pcall(require, "cjson.safe")
    if not ok then
        return nil, "reading JSON needs lua-cjson"
    end
    return cjson.decode(s)
end

return _M
