--- Output of the enom command: readable tables by default, one JSON
-- document (or JSON lines for streams) with --json. The fields are the
-- Lua API's; passwords are dropped unless the user asked for them.
local json = require "enom.json"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local sort = table.sort
local rep = string.rep

-- Keys that hold a secret in any answer (password, Password3, pw, ...).
local function secret_key(k)
    if type(k) ~= "string" then
        return false
    end
    local l = k:lower()
    return l == "pw" or l:find("password", 1, true) ~= nil or l:find("^newpw") ~= nil
end
_M.secret_key = secret_key

--- A deep copy of `v` without secret-named keys.
function _M.without_secrets(v, seen)
    if type(v) ~= "table" then
        return v
    end
    seen = seen or {}
    if seen[v] then
        return seen[v]
    end
    local out = {}
    seen[v] = out
    for k, x in pairs(v) do
        if not secret_key(k) then
            out[k] = _M.without_secrets(x, seen)
        end
    end
    return out
end

local function cell(v)
    if v == nil then
        return ""
    elseif type(v) == "boolean" then
        return v and "yes" or "no"
    elseif type(v) == "table" then
        local parts = {}
        for i, x in ipairs(v) do
            parts[i] = cell(x)
        end
        return concat(parts, ",")
    end
    return tostring(v)
end

--- Columns for `rows`: those of `preferred` that some row has, then any
-- other scalar key, sorted. A field eNom adds shows up without a change.
function _M.columns(rows, preferred)
    local seen, cols = {}, {}
    local present = {}
    for _, r in ipairs(rows) do
        for k, v in pairs(r) do
            if type(k) == "string" and type(v) ~= "table" then
                present[k] = true
            end
        end
    end
    for _, c in ipairs(preferred or {}) do
        if present[c] then
            cols[#cols + 1] = c
            seen[c] = true
        end
    end
    local rest = {}
    for k in pairs(present) do
        if not seen[k] then
            rest[#rest + 1] = k
        end
    end
    sort(rest)
    for _, k in ipairs(rest) do
        cols[#cols + 1] = k
    end
    return cols
end

--- Rows as an aligned text table with upper-case headers.
function _M.table(rows, cols)
    local width, lines = {}, {}
    local head = {}
    for i, c in ipairs(cols) do
        head[i] = c:upper()
        width[i] = #head[i]
    end
    local cells = {}
    for r, row in ipairs(rows) do
        cells[r] = {}
        for i, c in ipairs(cols) do
            local s = cell(row[c])
            cells[r][i] = s
            if #s > width[i] then
                width[i] = #s
            end
        end
    end
    local function line(t)
        local parts = {}
        for i = 1, #cols do
            parts[i] = i < #cols and (t[i] .. rep(" ", width[i] - #t[i])) or t[i]
        end
        return (concat(parts, "  "):gsub("%s+$", ""))
    end
    lines[1] = line(head)
    for r = 1, #rows do
        lines[#lines + 1] = line(cells[r])
    end
    return concat(lines, "\n")
end

--- `key: value` lines for the scalar fields of a record.
function _M.fields(rec, order)
    local keys = _M.columns({ rec }, order)
    local w = 0
    for _, k in ipairs(keys) do
        if #k > w then
            w = #k
        end
    end
    local lines = {}
    for _, k in ipairs(keys) do
        lines[#lines + 1] = k .. ":" .. rep(" ", w - #k + 1) .. cell(rec[k])
    end
    return concat(lines, "\n")
end

--- A writer bound to a stream and a mode: w:json(v), w:line(text),
-- w:jsonl(v) (one line per record, flushed: a stream for scripts).
function _M.new(stream, as_json)
    local w = { stream = stream or io.stdout, json = as_json }
    function w.doc(_, v)
        w.stream:write(json.encode(v), "\n")
    end
    function w.jsonl(_, v)
        w.stream:write(json.encode(v), "\n")
        w.stream:flush()
    end
    function w.text(_, s)
        if s and s ~= "" then
            w.stream:write(s, "\n")
        end
    end
    return w
end

return _M
