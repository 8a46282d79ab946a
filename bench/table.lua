--- Formats the ROW lines of the benchmark scripts (stdin) as one table,
-- then the spread of each figure underneath.
local rows = {}
for line in io.lines() do
    if line:sub(1, 4) == "ROW\t" then
        local f = {}
        for x in (line:sub(5) .. "\t"):gmatch("([^\t]*)\t") do
            f[#f + 1] = x
        end
        rows[#rows + 1] = f
    end
end

local HEAD = { "figure", "ours", "baseline", "ratio", "target", "met?" }
local width = {}
for i, h in ipairs(HEAD) do
    width[i] = utf8.len(h)
end
for _, r in ipairs(rows) do
    for i = 1, #HEAD do
        width[i] = math.max(width[i], utf8.len(r[i] or "") or #(r[i] or ""))
    end
end

local function line(cells)
    local out = {}
    for i = 1, #HEAD do
        local c = cells[i] or ""
        out[i] = c .. string.rep(" ", width[i] - (utf8.len(c) or #c))
    end
    return (table.concat(out, "  "):gsub("%s+$", ""))
end

local rule = {}
for i = 1, #HEAD do
    rule[i] = string.rep("-", width[i])
end
print(line(HEAD))
print(line(rule))
for _, r in ipairs(rows) do
    print(line(r))
end
print()
print("median of the runs; min..max:")
for _, r in ipairs(rows) do
    if r[7] and r[7] ~= "" then
        print("  " .. r[1]:gsub("^%s+", "") .. ": " .. r[7])
    end
end
