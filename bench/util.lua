--- Measuring helpers shared by the benchmark scripts: medians of
-- interleaved runs, deep equality, and the rows bench/run prints.
local _M = {}

local clock = os.clock
local sort = table.sort
local format = string.format

--- Median, min and max of an array of numbers.
function _M.stats(xs)
    local s = {}
    for i = 1, #xs do s[i] = xs[i] end
    sort(s)
    local n = #s
    local med = n % 2 == 1 and s[(n + 1) / 2] or (s[n / 2] + s[n / 2 + 1]) / 2
    return { median = med, min = s[1], max = s[n], n = n }
end

-- CPU seconds for `iters` calls of fn, after a full collection so one
-- side's garbage is not billed to the other.
local function time_once(fn, iters)
    collectgarbage("collect")
    local t0 = clock()
    for _ = 1, iters do
        fn()
    end
    return clock() - t0
end

--- Compare two CPU-bound functions: iterations calibrated so one run of
-- the slower takes about `target` seconds, then `runs` runs of each,
-- interleaved (ours, base, ours, base, ...) so that a noisy neighbour
-- hits both. Returns per-call seconds as stats for ours and base.
function _M.compare(ours, base, runs, target)
    runs, target = runs or 5, target or 0.4
    ours()
    base()
    local iters = 1
    while true do
        local t = math.max(time_once(ours, iters), time_once(base, iters))
        if t >= 0.05 then
            iters = math.max(1, math.floor(iters * target / t))
            break
        end
        iters = iters * 4
    end
    local a, b = {}, {}
    for r = 1, runs do
        a[r] = time_once(ours, iters) / iters
        b[r] = time_once(base, iters) / iters
    end
    return _M.stats(a), _M.stats(b), iters
end

--- Per-call CPU seconds of one function: `runs` runs of `iters` calls.
function _M.measure(fn, iters, runs)
    fn()
    local xs = {}
    for r = 1, runs or 5 do
        xs[r] = time_once(fn, iters) / iters
    end
    return _M.stats(xs)
end

--- Deep equality of plain tables (numbers compare by value and subtype).
function _M.equal(x, y, path)
    path = path or "result"
    if type(x) ~= type(y) then
        return false, path .. ": " .. type(x) .. " vs " .. type(y)
    end
    if type(x) ~= "table" then
        if x ~= y or math.type(x) ~= math.type(y) then
            return false, path .. ": " .. tostring(x) .. " vs " .. tostring(y)
        end
        return true
    end
    for k, v in pairs(x) do
        local ok, why = _M.equal(v, y[k], path .. "." .. tostring(k))
        if not ok then return false, why end
    end
    for k in pairs(y) do
        if x[k] == nil then
            return false, path .. "." .. tostring(k) .. ": missing on the left"
        end
    end
    return true
end

--- Human units.
function _M.us(sec)
    if sec >= 1e-3 then
        return format("%.2f ms", sec * 1e3)
    end
    return format("%.1f us", sec * 1e6)
end

function _M.rate(n)
    return format("%.0f/s", n)
end

--- One row of the results table, tab-separated for bench/table.lua:
-- figure, ours, baseline, ratio, target, met, spread.
function _M.row(t)
    io.write(table.concat({ "ROW", t.figure, t.ours or "", t.baseline or "", t.ratio or "",
        t.target or "", t.met or "", t.spread or "" }, "\t"), "\n")
    io.flush()
end

--- "yes" / "NO" for a ratio against a minimum.
function _M.met(value, min)
    return value >= min and "yes" or "NO"
end

-- Converters the hand-written baselines share: the same typing rules as
-- enom.results (integers stay integers; 1/0/true/false/yes/no/on/off).
local tointeger = math.tointeger
function _M.int(v)
    local n = tonumber(v)
    return n and (tointeger(n) or n)
end

local BOOL = { ["1"] = true, ["true"] = true, yes = true, on = true,
    ["0"] = false, ["false"] = false, no = false, off = false, [""] = false }
local lower = string.lower
function _M.bool(v)
    if v == nil then return nil end
    return BOOL[lower(v)]
end

return _M
