-- An LDoc filter for spec/doc_spec.lua: prints one line per documented
-- item, "module<TAB>name<TAB>kind<TAB>summary", from LDoc's own reading
-- of the sources. Run: ldoc -c doc/config.ld --filter ldoc_items.print doc
local _M = {}

function _M.print(modules)
    for _, m in ipairs(modules) do
        for _, item in ipairs(m.items) do
            local summary = (item.summary or ""):gsub("%s+", " ")
            io.write(m.name, "\t", item.name, "\t", tostring(item.type), "\t", summary, "\n")
        end
    end
end

return _M
