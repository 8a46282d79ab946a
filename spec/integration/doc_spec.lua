-- The reference manual keeps complete: `make doc` builds it without a
-- warning (and leaves nothing in /tmp); LDoc finds a doc comment for every
-- public function of `enom` and `enom.provision` (a plan's methods
-- included) and for every method of a client (the typed methods made from
-- the command table included), and a description for every parameter of
-- every function it documents; the index lists the topics; no page shows a
-- raw backtick or hides an example behind a scrollbar; the man page's
-- DESCRIPTION is a paragraph and its SEE ALSO names files `make install`
-- installs.
local enom = require "enom"
local provision = require "enom.provision"

local ROOT = os.getenv("PWD")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("a")
    p:close()
    return tonumber(out:match("rc=(%d+)%s*$")), out:gsub("rc=%d+%s*$", "")
end

local function read(path)
    local f = io.open(path)
    if not f then return nil end
    local t = f:read("a")
    f:close()
    return t
end

local function tmpdir()
    local p = io.popen("mktemp -d")
    local d = p:read("l")
    p:close()
    return d
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

-- LDoc's own reading of the sources, one record per item.
local function items()
    assert.equal(0, (sh(("cd %s && make -s build/doc/src/methods.lua"):format(ROOT))))
    local rc, out = sh(("cd %s/doc && LUA_PATH='%s/doc/?.lua;;' ldoc -c config.ld --filter ldoc_items.print . 2>/dev/null")
        :format(ROOT, ROOT))
    assert.equal(0, rc, out)
    local list = {}
    for line in out:gmatch("[^\n]+") do
        local mod, name, kind, summary, args = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
        if mod then
            list[#list + 1] = { mod = mod, name = name, kind = kind, summary = summary, args = args }
        end
    end
    assert.truthy(#list > 50, out)
    return list
end

-- module -> { [short name] = summary }
local function documented()
    local mods = {}
    for _, it in ipairs(items()) do
        mods[it.mod] = mods[it.mod] or {}
        mods[it.mod][it.name:match("([%w_]+)$")] = it.summary
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

local TOPICS = {
    ["getting-started.md"] = "Getting started",
    ["provisioning.md"] = "Provisioning",
    ["leases.md"] = "Leases",
    ["errors.md"] = "Errors",
    ["security.md"] = "Secrets",
    ["nginx.md"] = "In nginx and OpenResty",
    ["cli.md"] = "The command line",
}

describe("reference manual", function()
    -- One build for the checks on its output; ldoc is told a HOME of its
    -- own so that a folder it would leave in /tmp can be looked for.
    local built, home
    local function build()
        if built then return built end
        home = tmpdir()
        local rc, out = sh(("cd %s && HOME=%s make -s doc"):format(ROOT, home))
        built = { rc = rc, out = out }
        return built
    end

    it("make doc writes the HTML reference and the man page without a warning, and nothing in /tmp", function()
        local b = build()
        assert.equal(0, b.rc, b.out)
        for line in b.out:gmatch("[^\n]+") do
            local expected = line:find("^reading configuration") or line:find("^output written")
            assert.truthy(expected, "make doc: " .. line)
        end
        assert.truthy((read(ROOT .. "/build/doc/index.html") or ""):find("enom.provision", 1, true))
        local man = read(ROOT .. "/build/doc/man/enom.1")
        assert.truthy(man, "no man page")
        assert.truthy(man:find(".TH ENOM 1", 1, true))
        -- The same help texts as the command: every subcommand with its example.
        for _, c in ipairs { "enom mailboxes add", "enom paks buy", "enom apply", "enom sandbox start" } do
            assert.truthy(man:find('.SS "' .. c .. '"', 1, true), c)
        end
        local rc2, warn = sh("man --warnings -l " .. ROOT .. "/build/doc/man/enom.1 >/dev/null")
        assert.equal(0, rc2)
        assert.equal("", warn)
        -- ldoc writes its built-in template to /tmp/ldoc<HOME, '/' as '_'>
        -- unless it is given one: make gives it one.
        local left = "/tmp/ldoc" .. home:gsub("[/\\: ]", "_")
        assert.falsy(read(left .. "/ldoc.ltp"), left .. " was left behind")
        os.execute("rm -rf " .. home)
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

    it("describes every parameter of every documented function", function()
        local undescribed, functions = {}, 0
        for _, it in ipairs(items()) do
            if it.kind == "function" or it.kind == "lfunction" then
                functions = functions + 1
                for arg in it.args:gmatch("[^,]+") do
                    local name, d = arg:match("^(.-)=(.*)$")
                    if d == "" then
                        undescribed[#undescribed + 1] = it.mod .. "." .. it.name .. ": " .. name
                    end
                end
            end
        end
        assert.truthy(functions > 50, functions)
        table.sort(undescribed)
        assert.same({}, undescribed)
    end)

    it("says what each typed method is for, from the command table or doc/methods.lua", function()
        local lacking = {}
        for _, it in ipairs(items()) do
            if it.mod == "enom.methods" and it.kind == "function" then
                if it.summary:find("(no summary)", 1, true) or not it.summary:find("%S") then
                    lacking[#lacking + 1] = it.name
                end
            end
        end
        assert.same({}, lacking)
    end)

    it("lists the topics on the index, each a page with its title", function()
        assert.equal(0, build().rc)
        local index = read(ROOT .. "/build/doc/index.html")
        for file, title in pairs(TOPICS) do
            assert.truthy(read(ROOT .. "/doc/" .. file), "doc/" .. file)
            assert.truthy(index:find('href="topics/' .. file .. '.html">' .. title .. "</a>", 1, true), file)
            local page = read(ROOT .. "/build/doc/topics/" .. file .. ".html")
            assert.truthy(page and page:find("<h1>" .. title .. "</h1>", 1, true), file)
        end
        -- Links between topics go to their pages.
        local start = read(ROOT .. "/build/doc/topics/getting-started.md.html")
        assert.truthy(start:find('href="provisioning.md.html"', 1, true))
        assert.falsy(start:find('href="provisioning.md"', 1, true))
    end)

    it("shows no raw backtick and no raw Markdown heading in any page", function()
        assert.equal(0, build().rc)
        local p = io.popen("find " .. ROOT .. "/build/doc -name '*.html'")
        local found, pages = {}, 0
        for path in p:lines() do
            pages = pages + 1
            -- Examples may hold any character; the text around them may not.
            local text = read(path):gsub("<pre.-</pre>", "")
            local n = select(2, text:gsub("`", ""))
            if n > 0 then
                found[#found + 1] = path:sub(#ROOT + 2) .. ": " .. n .. " backtick(s)"
            end
            if text:find("\n##? %a") then
                found[#found + 1] = path:sub(#ROOT + 2) .. ": a Markdown heading"
            end
        end
        p:close()
        assert.truthy(pages >= 20, pages)
        assert.same({}, found)
    end)

    it("wraps examples and code instead of cutting them behind a scrollbar", function()
        assert.equal(0, build().rc)
        local css = read(ROOT .. "/build/doc/ldoc.css")
        assert.truthy(css, "no style sheet")
        local base
        for selectors, body in css:gsub("/%*.-%*/", ""):gmatch("([^{}]+){([^}]*)}") do
            for sel in selectors:gmatch("[^,]+") do
                sel = sel:gsub("^%s+", ""):gsub("%s+$", "")
                if sel:find("^pre") then
                    assert.falsy(body:find("overflow[%w-]*%s*:%s*[as][uc][tr]"), sel .. " scrolls: " .. body)
                    assert.falsy(body:find("white%-space%s*:%s*n?o?w?r?a?p?pre%s*;"), sel .. " does not wrap: " .. body)
                    assert.falsy(body:find("white%-space%s*:%s*nowrap"), sel .. " does not wrap: " .. body)
                end
                if sel == "pre" then base = body end
            end
        end
        assert.truthy(base and base:find("white%-space%s*:%s*pre%-wrap"), "pre does not wrap")
        -- The client's page holds its examples in such blocks.
        local client = read(ROOT .. "/build/doc/modules/enom.client.html")
        assert.truthy(client:find('<pre class="example">', 1, true))
    end)

    it("man page: DESCRIPTION is a paragraph, SEE ALSO names what make install installs", function()
        assert.equal(0, build().rc)
        local man = read(ROOT .. "/build/doc/man/enom.1")
        local desc = man:match("\n%.SH DESCRIPTION\n(.-)\n%.SH ")
        assert.truthy(desc, "no DESCRIPTION")
        assert.falsy(desc:find("\n"), "DESCRIPTION is more than one paragraph:\n" .. desc)
        assert.truthy(#desc > 200 and #desc < 1500, desc)
        assert.falsy(desc:find("Usage:", 1, true))
        -- Install with a PREFIX of its own; the man page it installs names
        -- files that are there.
        local dest = tmpdir()
        local rc, out = sh(("cd %s && make -s install DESTDIR=%s PREFIX=/opt/enomtest"):format(ROOT, dest))
        assert.equal(0, rc, out)
        local installed = read(dest .. "/opt/enomtest/share/man/man1/enom.1")
        assert.truthy(installed, out)
        local see = installed:match("\n%.SH SEE ALSO\n(.-)$")
        assert.truthy(see)
        local named = 0
        for path in see:gmatch("(/[%w_./-]+)") do
            named = named + 1
            assert.truthy(path:find("^/opt/enomtest/"), path)
            assert.truthy(read(dest .. path), path .. " is named in SEE ALSO but not installed")
        end
        assert.truthy(named >= 3, see)
        os.execute("rm -rf " .. dest)
        -- The build's own page again for this PREFIX's default.
        assert.equal(0, (sh("cd " .. ROOT .. " && make -s -B build/doc/man/enom.1")))
    end)

    it("README's first script is the one in doc/getting-started.md", function()
        local function first(text)
            return text:match("```sh\n(bin/enom sandbox start.-)```.-```lua\n(%-%- first%.lua.-)```")
        end
        local rsh, rlua = first(read(ROOT .. "/README.md"))
        local gsh, glua = first(read(ROOT .. "/doc/getting-started.md"))
        assert.truthy(rsh and rlua, "README.md has no first script")
        assert.equal(rsh, gsh)
        assert.equal(rlua, glua)
    end)
end)
