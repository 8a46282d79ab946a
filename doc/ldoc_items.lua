-- An LDoc filter for spec/integration/doc_spec.lua: prints one line per
-- documented item, "module<TAB>name<TAB>kind<TAB>summary<TAB>args", from
-- LDoc's own reading of the sources; args lists each formal parameter as
-- "name=described" or "name=" (no description), comma-separated.
-- Run: ldoc -c doc/config.ld --filter ldoc_items.print doc
local _M = {}

-- The formal parameters of a function item, "(a, b)" -> { "a", "b" }.
local function formal(item)
    local names = {}
    for name in tostring(item.args or ""):gmatch("[%w_]+") do
        names[#names + 1] = name
    end
    return names
end

function _M.print(modules)
    for _, m in ipairs(modules) do
        for _, item in ipairs(m.items) do
            local summary = (item.summary or ""):gsub("%s+", " ")
            local args = {}
            if item.type == "function" or item.type == "lfunction" then
                local map = item.params and item.params.map or {}
                for _, name in ipairs(formal(item)) do
                    local d = map[name]
                    args[#args + 1] = name .. "=" .. ((type(d) == "string" and d:find("%S")) and "described" or "")
                end
            end
            io.write(m.name, "\t", item.name, "\t", tostring(item.type), "\t", summary, "\t",
                table.concat(args, ","), "\n")
        end
    end
end

return _M
