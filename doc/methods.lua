-- Writes the reference of the typed client methods (one per entry of
-- lua/enom/commands.lua) as an LDoc source, so that a new command, which
-- is a new table entry, is documented by that entry alone.
--   lua5.4 doc/methods.lua > build/doc/src/methods.lua   (make doc does it)
local commands = require "enom.commands"

local function sorted_keys(t)
    local keys = {}
    for k in pairs(t or {}) do
        keys[#keys + 1] = k
    end
    table.sort(keys)
    return keys
end

local function args_of(spec)
    local args = {}
    for _, k in ipairs(sorted_keys(spec.params)) do
        local p = spec.params[k]
        args[#args + 1] = ("%s%s (%s)"):format(k, p.required and "" or "?", p.name)
    end
    local g = spec.group
    if g then
        local fields = {}
        for _, f in ipairs(g.fields) do
            fields[#fields + 1] = f.key .. (f.required and "" or "?")
        end
        args[#args + 1] = ("%s = { { %s }, ... } (%s1..N)"):format(g.arg, table.concat(fields, ", "),
            g.fields[1].name)
        if g.batch then
            args[#args + 1] = ("batch_size? (records per request, default %d)"):format(g.batch)
        end
    end
    args[#args + 1] = "response_type?, timeout?, connect_timeout? (this call only)"
    return args
end

local function result_of(spec)
    local r = spec.result or {}
    local out = {}
    for _, k in ipairs(sorted_keys(r.fields)) do out[#out + 1] = k end
    for _, k in ipairs(sorted_keys(r.records)) do out[#out + 1] = k .. " (records)" end
    for _, k in ipairs(sorted_keys(r.lists)) do out[#out + 1] = k .. " (list)" end
    return out
end

local w = io.write
w("--- The typed methods of a client, one per eNom command enom describes\n")
w("-- (lua/enom/commands.lua). Each validates its arguments before sending,\n")
w("-- and returns the shaped answer, or nil and an error.\n")
w("-- @module enom.methods\n\n")
for _, name in ipairs(sorted_keys(commands.list)) do
    local spec = commands.list[name]
    w(("--- Send eNom's %s%s.\n"):format(name, spec.read_only and " (reads only)" or " (changes state)"))
    w(("-- @function %s\n"):format(spec.method))
    w("-- @param self the client\n")
    w(("-- @param args { %s }\n"):format(table.concat(args_of(spec), ", ")))
    local res = result_of(spec)
    w(("-- @return a table with %s, or nil and an error\n"):format(#res > 0 and table.concat(res, ", ") or "eNom's fields"))
    w(("-- @usage local res, err = client:%s{ ... }\n\n"):format(spec.method))
end
