-- The rockspec installs the module into a fresh tree and it loads from
-- outside the repository; it lists every source file there is.
local ROOT = os.getenv("PWD")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("a")
    p:close()
    local rc = tonumber(out:match("rc=(%d+)%s*$"))
    return rc, out
end

local function rockspec()
    local env = {}
    assert(loadfile(ROOT .. "/enom-0.1.0-1.rockspec", "t", env))()
    return env
end

describe("rockspec", function()
    it("lists every C source and every Lua module of the tree", function()
        local spec = rockspec()
        local listed = {}
        for _, src in ipairs(spec.build.modules["enom.core"].sources) do
            listed[src] = true
        end
        for name, path in pairs(spec.build.modules) do
            if type(path) == "string" then
                listed[path] = name
            end
        end
        local p = io.popen("cd " .. ROOT .. " && ls csrc/*.c && find lua -name '*.lua'")
        for file in p:lines() do
            assert.truthy(listed[file], file .. " is not in the rockspec")
            if file:match("%.lua$") then
                local mod = file:gsub("^lua/", ""):gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", ".")
                assert.equal(mod, listed[file])
            end
        end
        p:close()
    end)

    it("asks for the Lua versions the core builds for: 5.2 and later", function()
        -- csrc/compat.h bridges LuaJIT only; PUC 5.1 lacks luaL_setfuncs and friends.
        local lua
        for _, dep in ipairs(rockspec().dependencies) do
            if dep:match("^lua%s") then
                assert.is_nil(lua, "two Lua dependencies")
                lua = dep
            end
        end
        assert.are.equal("lua >= 5.2", lua)
        local f = assert(io.open(ROOT .. "/csrc/compat.h"))
        local compat = f:read("a")
        f:close()
        assert.truthy(compat:find("LUA_VERSION_NUM < 502", 1, true), "compat.h no longer tells 5.1 from 5.2")
    end)

    it("installs with luarocks and loads from any directory", function()
        local tmp = os.tmpname()
        os.remove(tmp)
        local rc, out = sh(("mkdir -p %s/src && cp -r %s/csrc %s/lua %s/bin %s/enom-0.1.0-1.rockspec %s/src/ && cd %s/src && "
            .. "luarocks --lua-version=5.4 make --tree %s/tree enom-0.1.0-1.rockspec")
            :format(tmp, ROOT, ROOT, ROOT, ROOT, tmp, tmp, tmp))
        assert.equal(0, rc, out)
        -- The command is installed too, and runs from the tree.
        rc, out = sh(("cd / && %s/tree/bin/enom --version"):format(tmp))
        assert.equal(0, rc, out)
        assert.truthy(out:find("^enom 0%.1%.0"), out)
        local share = tmp .. "/tree/share/lua/5.4"
        rc, out = sh(("cd / && LUA_PATH='%s/?.lua;%s/?/init.lua;;' LUA_CPATH='%s/tree/lib/lua/5.4/?.so;;' "
            .. "lua5.4 -e 'local e = require \"enom\"; "
            .. "assert(package.searchpath(\"enom.core\", package.cpath):find(\"%s\", 1, true)); "
            .. "io.write(e.encode{ a = \"b c\" }, \" \", e._VERSION, \" \", type(require(\"enom.provision\").ensure))'")
            :format(share, share, tmp, tmp))
        assert.equal(0, rc, out)
        assert.truthy(out:find("a=b%+c 0%.1%.0 function"), out)
        os.execute("rm -rf " .. tmp)
    end)

    it("make install honours DESTDIR", function()
        local tmp = os.tmpname()
        os.remove(tmp)
        local rc, out = sh(("cd %s && make -s install DESTDIR=%s PREFIX=/usr/local"):format(ROOT, tmp))
        assert.equal(0, rc, out)
        local f = io.open(tmp .. "/usr/local/lib/lua/5.4/enom/core.so")
        assert.truthy(f)
        f:close()
        f = io.open(tmp .. "/usr/local/share/lua/5.4/enom/provision/init.lua")
        assert.truthy(f)
        f:close()
        f = io.open(tmp .. "/usr/local/share/lua/5.4/enom.lua")
        assert.truthy(f)
        f:close()
        -- The command and its man page.
        f = io.open(tmp .. "/usr/local/bin/enom")
        assert.truthy(f)
        f:close()
        f = io.open(tmp .. "/usr/local/share/man/man1/enom.1")
        assert.truthy(f and f:read("a"):find(".TH ENOM 1", 1, true))
        f:close()
        os.execute("rm -rf " .. tmp)
    end)
end)
