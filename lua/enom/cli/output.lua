--- Output of the enom command: readable tables by default, one JSON
-- document (or JSON lines for streams) with --json. The fields are the
-- Lua API's; passwords are dropped unless the user asked for them.
--
-- Text from outside (names from a file, eNom's answers) reaches the
-- terminal through `shown`: a control character is printed as its
-- escape (\x1b), never sent raw.
local json = require "enom.json"
local validate = require "enom.validate"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local sort = table.sort
local rep = string.rep

local secret_key = validate.is_secret_name

--- `s` as text safe for a terminal: control characters (C0, DEL and the
-- C1 range's UTF-8 forms) and bytes that are not UTF-8 become escapes.
function _M.shown(s)
    s = tostring(s)
    if not s:find("[%z\1-\31\127\128-\255]") then
        return s
    end
    local out, i, n = {}, 1, #s
    while i <= n do
        local c = s:byte(i)
        local len = c < 0x80 and 1 or (c >= 0xC2 and c <= 0xDF) and 2 or (c >= 0xE0 and c <= 0xEF) and 3
            or (c >= 0xF0 and c <= 0xF4) and 4 or 0
        local ch = len > 0 and s:sub(i, i + len - 1) or nil
        if ch and len > 1 and (#ch < len or ch:find("^.[^\128-\191]") or (len > 2 and ch:find("^..[^\128-\191]"))
            or (len > 3 and ch:find("^...[^\128-\191]"))) then
            ch = nil
        end
        if ch and len == 2 and c == 0xC2 and s:byte(i + 1) < 0xA0 then
            ch = nil -- U+0080..U+009F: C1 controls
        end
        if not ch then
            out[#out + 1] = ("\\x%02x"):format(c)
            i = i + 1
        elseif len == 1 and (c < 32 or c == 127) then
            out[#out + 1] = ("\\x%02x"):format(c)
            i = i + 1
        else
            out[#out + 1] = ch
            i = i + len
        end
    end
    return concat(out)
end
local shown = _M.shown

--- A deep copy of `v` without secret-named keys (a list stays a list).
function _M.without_secrets(v, seen)
    if type(v) ~= "table" then
        return v
    end
    seen = seen or {}
    if seen[v] then
        return seen[v]
    end
    local out = getmetatable(v) == json.array_mt and json.array() or {}
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
    return shown(v)
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
    -- (cells are already shown(), so the widths count what is printed)
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
        lines[#lines + 1] = shown(k) .. ":" .. rep(" ", w - #k + 1) .. cell(rec[k])
    end
    return concat(lines, "\n")
end

--- "1 pak", "2 paks": a count with its noun.
function _M.count(n, one, many)
    return n .. " " .. (n == 1 and one or (many or one .. "s"))
end

--- Money as eNom's accounts hold it: two decimals.
function _M.money(v)
    return type(v) == "number" and ("%.2f"):format(v) or v
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
    -- `s` is text the command composed; outside data in it went
    -- through `shown` already.
    function w.text(_, s)
        if s and s ~= "" then
            w.stream:write(s, "\n")
        end
    end
    return w
end

return _M
