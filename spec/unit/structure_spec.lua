-- How the code is laid out, checked: dependencies point one way, and each
-- rule that must not drift (secret names, the version, error kinds, who
-- writes a run's failure) is defined in one place.
local errors = require "enom.errors"

local function files(dir, pattern)
    local out = {}
    local p = assert(io.popen("find " .. dir .. " -name '" .. pattern .. "' | sort"))
    for f in p:lines() do out[#out + 1] = f end
    p:close()
    return out
end

local function read(path)
    local f = assert(io.open(path, "r"))
    local s = f:read("a")
    f:close()
    return s
end

-- Code without comments (a "--" comment to the end of its line): what a
-- rule forbids in code may be named in prose.
local function code_of(src)
    return (src:gsub("%-%-[^\n]*", ""))
end

local function module_of(path)
    return (path:gsub("^lua/", ""):gsub("/init%.lua$", ""):gsub("%.lua$", ""):gsub("/", "."))
end

describe("structure", function()
    it("has no require cycle in lua/, lazy requires inside functions included", function()
        local deps = {}
        for _, f in ipairs(files("lua", "*.lua")) do
            local m = module_of(f)
            deps[m] = {}
            for name in code_of(read(f)):gmatch("require%s*%(?%s*[\"']([%w_%.]+)[\"']") do
                if name:find("^enom") then deps[m][name] = true end
            end
        end
        local state, path, cycles = {}, {}, {}
        local function visit(m)
            if state[m] == "done" then return end
            if state[m] == "open" then
                local from
                for i, n in ipairs(path) do if n == m then from = i end end
                local c = {}
                for i = from, #path do c[#c + 1] = path[i] end
                c[#c + 1] = m
                cycles[#cycles + 1] = table.concat(c, " -> ")
                return
            end
            state[m] = "open"
            path[#path + 1] = m
            for d in pairs(deps[m] or {}) do visit(d) end
            path[#path] = nil
            state[m] = "done"
        end
        for m in pairs(deps) do visit(m) end
        assert.same({}, cycles)
    end)

    it("lets no module of the command line require the dispatcher, and no sibling of a domain reach up", function()
        for _, f in ipairs(files("lua/enom/cli", "*.lua")) do
            assert.falsy(code_of(read(f)):find('require%s*%(?%s*"enom%.cli"'), f)
        end
        for _, name in ipairs { "buy", "create", "delete", "modify", "orders", "planner", "report", "scheduler", "renew",
            "forwards" } do
            local src = code_of(read("lua/enom/provision/" .. name .. ".lua"))
            for _, up in ipairs { "enom.provision.domain", "enom.provision.run", '"enom.provision"', '"enom"' } do
                assert.falsy(src:find(up, 1, true), name .. " requires " .. up)
            end
        end
    end)

    it("knows secret parameter names in one table", function()
        local holders = {}
        for _, f in ipairs(files("lua", "*.lua")) do
            local src = code_of(read(f))
            if src:find("authquestionanswer", 1, true) or src:find('"^newpw"', 1, true)
                or src:find('find%(%s*"password"') or src:find('find%("pass', 1, false) then
                holders[#holders + 1] = f
            end
        end
        assert.same({ "lua/enom/validate.lua" }, holders)
        local validate = require "enom.validate"
        for _, name in ipairs { "Password", "PW", "NewPW", "AuthQuestionAnswer", "password3", "ClientSecret" } do
            assert.is_true(validate.is_secret_name(name), name)
        end
        assert.is_false(validate.is_secret_name("UserName"))
    end)

    it("keeps the version in enom.lua, csrc/enom.h and the rockspec only", function()
        local where = {}
        for _, f in ipairs(files("lua", "*.lua")) do
            if read(f):find('"0.1.0"', 1, true) then where[#where + 1] = f end
        end
        for _, f in ipairs(files("csrc", "*.[ch]")) do
            if read(f):find('"0.1.0"', 1, true) then where[#where + 1] = f end
        end
        assert.same({ "lua/enom.lua", "csrc/enom.h" }, where)
        assert.equal(require("enom")._VERSION, require("enom.core")._VERSION)
        assert.truthy(read("enom-0.1.0-1.rockspec"):find('version = "' .. require("enom")._VERSION .. "-1", 1, true))
    end)

    it("makes errors only of the kinds errors.KINDS lists", function()
        for _, f in ipairs(files("lua", "*.lua")) do
            for kind in code_of(read(f)):gmatch('errors%.new%(%s*"([%w_]+)"') do
                assert.truthy(errors.KINDS[kind], f .. ": kind " .. kind)
            end
        end
        assert.has_error(function() errors.new("made_up", "x") end)
    end)

    it("writes a run's failure in one place", function()
        local writers = {}
        for _, f in ipairs(files("lua/enom/provision", "*.lua")) do
            if code_of(read(f)):find("%.failure%s*=[^=]") then writers[#writers + 1] = f end
        end
        assert.same({ "lua/enom/provision/run.lua" }, writers)
    end)

    it("runs no shell from the library, the config and the terminal check included", function()
        local shells = {}
        for _, f in ipairs(files("lua", "*.lua")) do
            local src = code_of(read(f))
            if src:find("io%.popen") or src:find("os%.execute") then shells[#shells + 1] = f end
        end
        -- The sandbox front starts the sandbox's own script.
        assert.same({ "lua/enom/cli/sandbox.lua" }, shells)
    end)
end)
