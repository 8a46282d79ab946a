-- The Lua sources pass luacheck with the repository's .luacheckrc, the
-- library and the examples load in LuaJIT too (Lua 5.1 syntax: no `//`,
-- no `goto` where 5.1 has none), and the C core compiles without a
-- warning.
local ROOT = os.getenv("PWD")

describe("lint", function()
    it("luacheck finds nothing", function()
        local p = io.popen("cd " .. ROOT .. " && luacheck -q --no-color lua spec examples sandbox bench 2>&1")
        local out = p:read("a")
        p:close()
        assert.truthy(out:find("Total: 0 warnings / 0 errors", 1, true), out)
    end)

    it("every file of the library and the examples compiles in LuaJIT", function()
        local p = io.popen("cd " .. ROOT .. " && for f in $(find lua examples -name '*.lua'); do "
            .. "luajit -e \"local f, e = loadfile('$f') if not f then print(e) end\"; done 2>&1")
        local out = p:read("a")
        p:close()
        assert.equal("", out)
    end)

    for _, lua in ipairs { "lua5.4", "luajit" } do
        it("the C core compiles without warnings against " .. lua, function()
            -- Into a scratch file: the suite itself has build/ loaded.
            local out_so = os.tmpname()
            local cmd = ("cd %s && cc -std=gnu99 -fPIC -shared -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes "
                .. "-Wmissing-prototypes -Wno-unused-parameter -D_GNU_SOURCE $(pkg-config --cflags %s libcurl libxml-2.0) "
                .. "-o %s csrc/*.c $(pkg-config --libs libcurl libxml-2.0) 2>&1"):format(ROOT, lua, out_so)
            local p = io.popen(cmd)
            local out = p:read("a")
            p:close()
            os.remove(out_so)
            assert.equal("", out)
        end)
    end
end)
