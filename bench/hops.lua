--- The module boundaries a cold CLI command crosses: every call from a
-- function of one lua/enom module into another's, counted once per
-- (caller, callee) pair, over every coroutine; "upward" when the
-- callee's module requires the caller's (directly or not): a callback,
-- or a method of an object a higher layer handed down.
--
--   lua5.4 bench/hops.lua apply examples/people.csv --domain shop30.com --buy-paks --passwords pw.txt
--   HOPS_ALL=1 ... also lists every pair
--
-- It runs the command in this process (ENOM_* as for bin/enom) and
-- prints the counts on stderr.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/5.4/?.so;" .. package.cpath
local function mod_of(src)
    local m = src:match("lua/(enom/.-)%.lua$") or src:match("lua/(enom)%.lua$")
    if not m then return nil end
    return (m:gsub("/init$", ""):gsub("/", "."))
end
local edges, mods, order = {}, {}, {}
local function hook()
    local callee = debug.getinfo(2, "S")
    local caller = debug.getinfo(3, "S")
    if not callee or not caller then return end
    local a, b = mod_of(caller.source), mod_of(callee.source)
    if a and b and a ~= b then
        local k = a .. " -> " .. b
        if not edges[k] then edges[k] = true; order[#order + 1] = { a, b } end
        mods[a] = true; mods[b] = true
    end
end
local create, wrap = coroutine.create, coroutine.wrap
-- luacheck: push ignore 122
coroutine.create = function(f) return create(function(...) debug.sethook(hook, "c"); return f(...) end) end
coroutine.wrap = function(f) return wrap(function(...) debug.sethook(hook, "c"); return f(...) end) end
-- luacheck: pop
local cli = require "enom.cli"
-- The requires of every enom module loaded so far, to tell up from down.
local requires = {}
local function read_requires()
    for name in pairs(package.loaded) do
        local path = name:match("^enom") and not requires[name] and package.searchpath(name, package.path)
        if path then
            local t = {}
            for r in io.open(path):read("a"):gmatch('require%s*%(?%s*"(enom[%w%._]*)"') do t[r] = true end
            requires[name] = t
        end
    end
end
read_requires()
debug.sethook(hook, "c")
local code = cli.main(arg)
debug.sethook()
-- and of those the run loaded
read_requires()
local function reaches(a, b, seen)
    seen = seen or {}
    if seen[a] then return false end
    seen[a] = true
    for r in pairs(requires[a] or {}) do
        if r == b or reaches(r, b, seen) then return true end
    end
    return false
end
local n, nm, up = 0, 0, {}
for _ in pairs(mods) do nm = nm + 1 end
for _, e in ipairs(order) do
    n = n + 1
    if reaches(e[2], e[1]) then up[#up + 1] = e[1] .. " -> " .. e[2] end
end
io.stderr:write(("exit %s; %d module boundaries (caller->callee pairs) over %d modules; %d upward:\n"):format(code, n, nm, #up))
for _, u in ipairs(up) do io.stderr:write("  " .. u .. "\n") end
if os.getenv("HOPS_ALL") then for _, e in ipairs(order) do io.stderr:write("    " .. e[1] .. " -> " .. e[2] .. "\n") end end
