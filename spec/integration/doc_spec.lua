-- The reference manual: `make doc` builds it without a warning, and LDoc
-- finds a doc comment for every public function of `enom` and
-- `enom.provision` (a plan's methods included) and for every method of a
-- client (the typed methods made from the command table included).
local enom = require "enom"
local provision = require "enom.provision"

local ROOT = os.getenv("PWD")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("a")
    p:close()
    return tonumber(out:match("rc=(%d+)%s*$")), out:gsub("rc=%d+%s*$", "")
end

-- Public functions of a table: name -> true (no leading underscore).
local function public(t)
    local out = {}
    for k, v in pairs(t) do
        if type(k) == "string" and type(v) == "function" and not k:find("^_") then
            out[k] = true
        end
    end
    return out
end

-- LDoc's own reading of the sources: module -> { [short name] = summary }.
local function documented()
    assert.equal(0, (sh(("cd %s && make -s build/doc/src/methods.lua"):format(ROOT))))
    local rc, out = sh(("cd %s/doc && LUA_PATH='%s/doc/?.lua;;' ldoc -c config.ld --filter ldoc_items.print . 2>/dev/null")
        :format(ROOT, ROOT))
    assert.equal(0, rc, out)
    local mods = {}
    for line in out:gmatch("[^\n]+") do
        local mod, name, _, summary = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
        if mod then
            mods[mod] = mods[mod] or {}
            mods[mod][name:match("([%w_]+)$")] = summary
        end
    end
    return mods
end

local function missing(names, docs, ...)
    local lacking = {}
    for name in pairs(names) do
        local found = false
        for _, mod in ipairs { ... } do
            local s = docs[mod] and docs[mod][name]
            if s and s:find("%S") then
                found = true
            end
        end
        if not found then
            lacking[#lacking + 1] = name
        end
    end
    table.sort(lacking)
    return lacking
end

describe("reference manual", function()
    it("make doc writes the HTML reference and the man page without a warning", function()
        local rc, out = sh("cd " .. ROOT .. " && make -s doc")
        assert.equal(0, rc, out)
        for line in out:gmatch("[^\n]+") do
            local expected = line:find("^reading configuration") or line:find("^output written")
                or line:find("^cd doc && ldoc") or line:find("^LUA_PATH=")
            assert.truthy(expected, "make doc: " .. line)
        end
        local f = io.open(ROOT .. "/build/doc/index.html")
        assert.truthy(f, "no build/doc/index.html")
        assert.truthy(f:read("a"):find("enom.provision", 1, true))
        f:close()
        f = io.open(ROOT .. "/build/doc/man/enom.1")
        assert.truthy(f, "no man page")
        local man = f:read("a")
        f:close()
        assert.truthy(man:find(".TH ENOM 1", 1, true))
        -- The same help texts as the command: every subcommand with its example.
        for _, c in ipairs { "enom mailboxes add", "enom paks buy", "enom apply", "enom sandbox start" } do
            assert.truthy(man:find('.SS "' .. c .. '"', 1, true), c)
        end
        local rc2, warn = sh("man --warnings -l " .. ROOT .. "/build/doc/man/enom.1 >/dev/null")
        assert.equal(0, rc2)
        assert.equal("", warn)
    end)

    it("documents every public function of enom, enom.provision and every client method", function()
        local docs = documented()
        assert.same({}, missing(public(enom), docs, "enom"))
        assert.same({}, missing(public(provision), docs, "enom.provision"))
        -- A plan's methods, from a plan loaded without any request.
        local path = os.tmpname()
        local f = assert(io.open(path, "w"))
        f:write('{"domains":[],"errors":[]}')
        f:close()
        local plan = assert(provision.load_plan(path))
        os.remove(path)
        local mt = getmetatable(plan)
        assert.same({}, missing(public(type(mt.__index) == "table" and mt.__index or mt), docs, "enom.provision", "enom.provision.plan"))
        -- A client's methods: the module's functions and the typed ones.
        local client = assert(enom.new { uid = "u", pw = "p", endpoint = "https://127.0.0.1:9/" })
        local methods = public(getmetatable(client).__index)
        for k, v in pairs(client) do
            if type(v) == "function" and not k:find("^_") then
                methods[k] = true
            end
        end
        client:close()
        assert.truthy(methods.get_pop3 and methods.call)
        assert.same({}, missing(methods, docs, "enom.client", "enom.batch", "enom.methods"))
    end)
end)
