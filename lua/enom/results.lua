--- Shapes parsed eNom responses into plain Lua tables.
--
-- eNom's three formats carry the same data in different shapes and with
-- inconsistent key case (`Successful`, `success`, `UserName`, `username`,
-- `admin1`). The C parser normalises the envelope; this module reads each
-- command's declared result shape (`result` in `enom.commands`: where its
-- records live, which key names eNom may use, value types) and maps the
-- answer onto snake_case names and Lua types, so a typed method gives the
-- same table whichever ResponseType was used.
--
-- Tolerant rules (see doc/enom-responses.md for why):
--
-- * Key names are matched in any case; a field or column may name aliases,
--   tried in order when the first key is absent.
-- * A declared record column is an index in Text/HTML whatever else the
--   answer says, read from the parser's `indexed` or, when the parser kept
--   the keys as fields (no count field vouched for the list), from
--   `fields` by name; a `single` record may come un-indexed.
-- * A `within` field is read at the top level or inside that XML element.
-- * A scalar field's value wholly in double quotes loses them (eNom's Text
--   format prints XML attribute values with their quotes).
--
-- Every shaped result carries eNom's TrackingKey, ExecTime and Server
-- (`tracking_key`, `exec_time`, `server`: `envelope`), whatever the
-- command: eNom's support asks for the tracking key.
--
-- Records are built by functions generated from the column specs and
-- load()ed once per spec: see `compile` for why and for the figures.
local commands = require "enom.commands"
local array = require("enom.json").array

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tonumber = tonumber
local lower = string.lower
local sub = string.sub
local byte = string.byte
local sort = table.sort
local tointeger = math.tointeger or function(n) return n end

local QUOTE = byte('"')

local function convert(v, t)
    if v == nil or v == false then -- false: a Text/HTML column the answer lacks
        return nil
    end
    if type(v) == "table" then -- a repeated XML leaf: keep the first
        v = v[1]
        if v == nil then
            return nil
        end
    end
    if t == "integer" then
        local x = tonumber(v)
        return x and (tointeger(x) or x)
    elseif t == "number" then
        return tonumber((v:gsub(",", ""))) -- eNom writes 1,000.00
    elseif t == "boolean" then
        local l = lower(v)
        if l == "1" or l == "true" or l == "yes" or l == "on" then
            return true
        elseif l == "0" or l == "false" or l == "no" or l == "off" or l == "" then
            return false
        end
        return nil
    end
    return v
end
_M.convert = convert

local function unquote(v)
    if type(v) == "string" then
        local n = #v
        if n >= 2 and byte(v, 1) == QUOTE and byte(v, n) == QUOTE then
            return sub(v, 2, n - 1)
        end
    end
    return v
end

--- The parsed fields with lower-cased names (cached on the parse).
local function lowered(parsed)
    local lf = parsed._lower
    if not lf then
        lf = {}
        for k, v in pairs(parsed.fields or {}) do
            lf[lower(k)] = v
        end
        parsed._lower = lf
    end
    return lf
end
_M.lowered = lowered

--- What eNom says of every answer, for results, errors and log events:
-- { tracking_key, exec_time (seconds, a number), server }, each nil
-- when the answer lacks it.
function _M.envelope(parsed)
    local lf = lowered(parsed)
    return {
        tracking_key = convert(lf.trackingkey),
        exec_time = convert(lf.exectime, "number"),
        server = convert(lf.server),
    }
end

-- Converters by type, for the generated record builders below; a string
-- column keeps its value as it is.
local CONVERT = {
    integer = function(v) return convert(v, "integer") end,
    number = function(v) return convert(v, "number") end,
    boolean = function(v) return convert(v, "boolean") end,
}

-- The lower-cased key and aliases of a declared field or column.
local function keys_of(spec)
    local ks = { lower(spec[1]) }
    for i, a in ipairs(spec.aliases or {}) do
        ks[i + 1] = lower(a)
    end
    return ks
end

local concat = table.concat
local format = string.format
local UNPACK = table.unpack or unpack -- luacheck: ignore unpack
local load = load

-- A record spec compiles to two functions that build one typed record in
-- a single table constructor: from an XML record (`src[key]`, aliases
-- tried with `or`) and from Text/HTML columns (`cols[k][i]`).
--
-- Why generated source: a constructor sizes the table once, while a
-- generic loop that assigns the columns one by one rehashes each record
-- four times on the way to eight fields. Measured with bench/micro.lua
-- (1,000-mailbox GetPOP3, this machine, same run): the loop took shaping
-- from 1.10 to 1.54 ms (XML) and from 0.90 to 1.60 ms (Text), dropping
-- the ratios to 2.8x against LuaExpat and 3.5x against Lua gmatch, under
-- the 3x and 5x targets; the generated builders keep them. The source is
-- built only from the column specs in enom.commands (key names are
-- quoted with %q), never from response data.
local function compile(spec, want_secret)
    local names = {}
    for name, col in pairs(spec.columns) do
        if want_secret or not col.secret then
            names[#names + 1] = name
        end
    end
    sort(names)
    local prefix = lower(spec.prefix or "")
    local xml_parts, text_parts, convs, text_keys = {}, {}, {}, {}
    for i, name in ipairs(names) do
        local col = spec.columns[name]
        local ks = keys_of(col)
        local get = {}
        local tk = {}
        for j, k in ipairs(ks) do
            get[j] = format("src[%q]", k)
            tk[j] = prefix .. k
        end
        local get_xml = #get > 1 and "(" .. concat(get, " or ") .. ")" or get[1]
        local get_text = format("(c%d and c%d[i])", i, i)
        if col[2] and col[2] ~= "string" then
            convs[#convs + 1] = col[2]
            local cv = "cv" .. #convs
            get_xml = cv .. "(" .. get_xml .. ")"
            get_text = cv .. "(" .. get_text .. ")"
        end
        xml_parts[i] = format("[%q] = %s", name, get_xml)
        text_parts[i] = format("[%q] = %s", name, get_text)
        text_keys[i] = tk
    end
    local cv_args, c_args = {}, {}
    for i = 1, #convs do
        cv_args[i] = "cv" .. i
    end
    for i = 1, #names do
        c_args[i] = "c" .. i
    end
    local cvs = #cv_args > 0 and concat(cv_args, ", ") or "_"
    local src = format([[
local %s = ...
local function from_xml(src) return { %s } end
local function from_text(i, %s) return { %s } end
return from_xml, from_text
]], cvs, concat(xml_parts, ", "), concat(c_args, ", "), concat(text_parts, ", "))
    local chunk = assert(load(src, "=enom.results." .. tostring(spec.xml)))
    local args = {}
    for i, t in ipairs(convs) do
        args[i] = CONVERT[t]
    end
    local from_xml, from_text = chunk(UNPACK(args, 1, #convs))
    -- the key column, with its aliases: the column whose key spec.key names
    local key = { lower(spec.key) }
    for _, col in pairs(spec.columns) do
        if lower(col[1]) == key[1] then
            key = keys_of(col)
        end
    end
    for i, k in ipairs(key) do
        key[i] = prefix .. k
    end
    return {
        n = #names, name = names, from_xml = from_xml, from_text = from_text,
        text = text_keys, key = key, xml = lower(spec.xml), single = spec.single,
    }
end

local COMPILED = setmetatable({}, { __mode = "k" })

local function compiled(spec, want_secret)
    local cache = COMPILED[spec]
    if not cache then
        cache = {}
        COMPILED[spec] = cache
    end
    local k = want_secret and "secret" or "plain"
    local c = cache[k]
    if not c then
        c = compile(spec, want_secret)
        cache[k] = c
    end
    return c
end

-- The first of `names` that the table holds.
local function first_in(t, names)
    for i = 1, #names do
        local v = t[names[i]]
        if v ~= nil then
            return v, names[i]
        end
    end
end

-- Does `t` hold one of names .. i?
local function has_index(t, names, i)
    for k = 1, #names do
        if t[names[k] .. i] ~= nil then
            return true
        end
    end
    return false
end

-- Text/HTML columns: the parser's indexed list, or, when no count vouched
-- for the list and the parser kept the keys as fields, a list read from
-- the fields by name (Name1..Namen, lower-cased).
local function text_columns(c, idx, lf, n)
    local cols = {}
    for j = 1, c.n do
        local names = c.text[j]
        local list = first_in(idx, names)
        if not list then
            list = {}
            for i = 1, n do
                for k = 1, #names do
                    local v = lf[names[k] .. i]
                    if v ~= nil then
                        list[i] = v
                        break
                    end
                end
            end
        end
        cols[j] = list
    end
    return cols
end

-- Records of one kind, in order, as tables of output names.
local function records(parsed, spec, want_secret)
    local out = {}
    local c = compiled(spec, want_secret)
    local xml = parsed.records and parsed.records[c.xml]
    if xml and #xml > 0 then
        local from_xml = c.from_xml
        for i = 1, #xml do
            out[i] = from_xml(xml[i])
        end
        return out
    end
    local idx = parsed.indexed or {}
    local keycol = first_in(idx, c.key)
    local lf = lowered(parsed)
    local n = keycol and #keycol or 0
    if n == 0 then
        -- the parser kept the keys as fields: count them by the key column
        while has_index(lf, c.key, n + 1) do
            n = n + 1
        end
    end
    if n > 0 then
        local cols = text_columns(c, idx, lf, n)
        local from_text, m = c.from_text, c.n
        for i = 1, n do
            out[i] = from_text(i, UNPACK(cols, 1, m))
        end
    elseif type((first_in(lf, c.key))) == "table" then
        -- Records as repeated un-indexed keys (GetOrderList's Text:
        -- OrderID=, OrderDate= again for every order): the i-th value of
        -- each key makes the i-th record; a key given once belongs to
        -- the first.
        local keys = first_in(lf, c.key)
        local cols = {}
        for j = 1, c.n do
            local v = first_in(lf, c.text[j])
            cols[j] = type(v) == "table" and v or { v }
        end
        for i = 1, #keys do
            out[i] = c.from_text(i, UNPACK(cols, 1, c.n))
        end
    elseif c.single and first_in(lf, c.key) ~= nil then
        -- one record, un-indexed (Text: username=, forwardto=)
        local cols = {}
        for j = 1, c.n do
            cols[j] = { (first_in(lf, c.text[j])) }
        end
        out[1] = c.from_text(1, UNPACK(cols, 1, c.n))
    end
    return out
end
_M.records = records

-- A list of scalars: repeated leaves of one XML element, an indexed key
-- in Text/HTML (or fields by name).
local function list(parsed, spec)
    local out = {}
    local key, t = lower(spec.key), spec[1]
    local recs = parsed.records and parsed.records[lower(spec.xml)]
    if recs and recs[1] then
        local v = recs[1][key]
        if type(v) == "table" then
            for i = 1, #v do
                out[i] = convert(v[i], t)
            end
        elseif v ~= nil then
            out[1] = convert(v, t)
        end
        return out
    end
    local col = parsed.indexed and parsed.indexed[key]
    if col then
        for i = 1, #col do
            out[i] = convert(col[i], t)
        end
        return out
    end
    local lf = lowered(parsed)
    local i = 1
    while lf[key .. i] ~= nil do
        out[i] = convert(lf[key .. i], t)
        i = i + 1
    end
    return out
end

local FIELD_KEYS = setmetatable({}, { __mode = "k" })

local function shape_of(which)
    if type(which) == "table" then
        return which
    end
    local spec = commands.get(which)
    return spec and spec.result or {}
end
_M.shape_of = shape_of

--- Shape a parsed response.
-- @param which a command's result shape (`enom.commands` entry `result`),
--   or a command name
-- @param parsed the table `enom.parse` returned
-- @param opts { include_passwords = boolean }
function _M.shape(which, parsed, opts)
    local shape = shape_of(which)
    local lf = lowered(parsed)
    local env = _M.envelope(parsed)
    local out = {
        command = parsed.command,
        errors = array(parsed.errors or {}),
        tracking_key = env.tracking_key,
        exec_time = env.exec_time,
        server = env.server,
    }
    for name, f in pairs(shape.fields or {}) do
        local ks = FIELD_KEYS[f]
        if not ks then
            ks = keys_of(f)
            FIELD_KEYS[f] = ks
        end
        local v = first_in(lf, ks)
        if v == nil and f.within and parsed.records then
            local w = parsed.records[lower(f.within)]
            if w and w[1] then
                v = first_in(w[1], ks)
            end
        end
        out[name] = convert(unquote(v), f[2])
    end
    local secret = opts and opts.include_passwords
    for name, spec in pairs(shape.records or {}) do
        out[name] = array(records(parsed, spec, secret))
    end
    for name, spec in pairs(shape.lists or {}) do
        out[name] = array(list(parsed, spec))
    end
    for name, f in pairs(shape.fields or {}) do
        if out[name] == nil and f.count_of and out[f.count_of] then
            out[name] = #out[f.count_of]
        end
    end
    return out
end

return _M
