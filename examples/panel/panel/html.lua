--- The panel's HTML: escaping and the page templates.
--
-- Templates are files under templates/ in a small subset of Mustache:
--
--   {{name}}                the value, HTML-escaped (always, whatever it is)
--   {{&name}}               the value as it is: only for HTML this module
--                           rendered itself (a page's body inside the layout)
--   {{#name}}...{{/name}}   a list: once per item (its fields come first in
--                           lookups); a table: once, inside it; else once
--                           when the value is truthy
--   {{^name}}...{{/name}}   once when the value is falsy or an empty list
--
-- Every value that comes from outside (eNom's answers, what a user typed)
-- goes through {{name}}: there is no other way into a page.
local _M = {}

local type = type
local tostring = tostring
local ipairs = ipairs
local concat = table.concat
local find = string.find
local sub = string.sub
local gsub = string.gsub
local next = next

local ESCAPES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

--- `v` as text safe in an element's content and in a quoted attribute.
function _M.escape(v)
    return (gsub(tostring(v), "[&<>\"']", ESCAPES))
end
local escape = _M.escape

-- Parse `text` from `pos` into a list of parts until `{{/closing}}`.
local function parse(text, pos, closing, name)
    local parts = {}
    while true do
        local a, b = find(text, "{{", pos, true)
        if not a then
            if closing then
                error("template " .. name .. ": {{#" .. closing .. "}} is never closed", 0)
            end
            parts[#parts + 1] = sub(text, pos)
            return parts, #text + 1
        end
        if a > pos then
            parts[#parts + 1] = sub(text, pos, a - 1)
        end
        local c, d = find(text, "}}", b + 1, true)
        if not c then
            error("template " .. name .. ": {{ without }}", 0)
        end
        local tag = sub(text, b + 1, c - 1)
        local kind, key = tag:match("^([#%^/&]?)%s*([%w_]+)%s*$")
        if not key then
            error("template " .. name .. ": bad tag {{" .. tag .. "}}", 0)
        end
        pos = d + 1
        if kind == "/" then
            if key ~= closing then
                error("template " .. name .. ": {{/" .. key .. "}} closes nothing open", 0)
            end
            return parts, pos
        elseif kind == "#" or kind == "^" then
            local inner
            inner, pos = parse(text, pos, key, name)
            parts[#parts + 1] = { section = key, inverted = kind == "^", parts = inner }
        else
            parts[#parts + 1] = { var = key, raw = kind == "&" }
        end
    end
end

local function lookup(stack, key)
    for i = #stack, 1, -1 do
        local ctx = stack[i]
        if type(ctx) == "table" then
            local v = ctx[key]
            if v ~= nil then
                return v
            end
        end
    end
    return nil
end

local function is_list(v)
    return type(v) == "table" and (v[1] ~= nil or next(v) == nil)
end

local function render(parts, stack, out)
    for _, p in ipairs(parts) do
        if type(p) == "string" then
            out[#out + 1] = p
        elseif p.var then
            local v = lookup(stack, p.var)
            if v ~= nil and v ~= false then
                out[#out + 1] = p.raw and tostring(v) or escape(v)
            end
        else
            local v = lookup(stack, p.section)
            local empty = v == nil or v == false or (is_list(v) and v[1] == nil)
            if p.inverted then
                if empty then
                    render(p.parts, stack, out)
                end
            elseif not empty then
                if is_list(v) then
                    for _, item in ipairs(v) do
                        stack[#stack + 1] = item
                        render(p.parts, stack, out)
                        stack[#stack] = nil
                    end
                elseif type(v) == "table" then
                    stack[#stack + 1] = v
                    render(p.parts, stack, out)
                    stack[#stack] = nil
                else
                    render(p.parts, stack, out)
                end
            end
        end
    end
end

--- Compile a template's text; raises on a malformed template.
-- @return a function(view) -> HTML
function _M.compile(text, name)
    local parts = parse(text, 1, nil, name or "?")
    return function(view)
        local out = {}
        render(parts, { view }, out)
        return concat(out)
    end
end

local TEMPLATES = {}

--- Read and compile every template of `dir` named in `names`; done once,
-- in nginx's master (init_by_lua), so a broken template stops startup.
function _M.load(dir, names)
    for _, name in ipairs(names) do
        local f = assert(io.open(dir .. "/" .. name .. ".html", "r"))
        local text = f:read("*a")
        f:close()
        TEMPLATES[name] = _M.compile(text, name)
    end
end

--- Render the template `name` with `view`.
function _M.render(name, view)
    local t = TEMPLATES[name]
    if not t then
        error("no template " .. tostring(name), 2)
    end
    return t(view)
end

return _M
