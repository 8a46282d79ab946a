-- The enom command's arguments, parsed without running anything: every
-- command has a handler and an example; bad words get one line that says
-- what is wrong and where help is.
local cli = require "enom.cli"

local function leaves(p, prefix, out)
    for _, c in ipairs(p._commands or {}) do
        local name = prefix .. " " .. c._name
        if c._commands and #c._commands > 0 then
            leaves(c, name, out)
        else
            out[#out + 1] = { name = name, cmd = c }
        end
    end
    return out
end

-- Run cli.main with stderr captured; nothing here reaches eNom.
local function main(argv)
    local err = {}
    local real = io.stderr
    local fake = { write = function(_, ...) for _, s in ipairs { ... } do err[#err + 1] = tostring(s) end end,
        flush = function() end }
    io.stderr = fake -- luacheck: ignore
    local ok, code = pcall(cli.main, argv)
    io.stderr = real -- luacheck: ignore
    assert(ok, code)
    return code, table.concat(err)
end

describe("enom's arguments", function()
    it("give every command a handler and an example that is one line each", function()
        local p = cli.parser()
        local all = leaves(p, "enom", {})
        assert.truthy(#all >= 16, #all)
        for _, l in ipairs(all) do
            local help = l.cmd:get_help()
            assert.truthy(help:find("Example:\n   enom ", 1, true), l.name)
            local words = {}
            for w in l.name:gmatch("%S+") do words[#words + 1] = w end
            table.remove(words, 1)
            -- Every required argument filled, the parse names the handler.
            local argv = {}
            for _, w in ipairs(words) do argv[#argv + 1] = w end
            for _, a in ipairs(l.cmd._arguments or {}) do
                if a._minargs and a._minargs > 0 then
                    for _ = 1, a._minargs do argv[#argv + 1] = "x" end
                end
            end
            local ok, args = cli.parser():pparse(argv)
            assert(ok, l.name .. ": " .. tostring(args))
            assert.equal("function", type(args.handler), l.name)
        end
    end)

    it("says what is wrong in one line, with a suggestion and where help is", function()
        local cases = {
            { { "mailboxes", "lst", "example.com" }, "did you mean 'list'?", "enom mailboxes --help" },
            { { "mailbox", "list" }, "did you mean 'mailboxes'?", "enom --help" },
            { { "--bogus", "balance" }, "unknown option '--bogus'", "(see: enom --help)" },
            { { "plan", "f.csv", "--max-paks", "abc" }, "--max-paks", "enom plan --help" },
        }
        for _, c in ipairs(cases) do
            local code, err = main(c[1])
            assert.equal(2, code, table.concat(c[1], " "))
            assert.truthy(err:find(c[2], 1, true), err)
            assert.truthy(err:find(c[3], 1, true), err)
            assert.equal(1, select(2, err:gsub("\n", "")), err)
        end
    end)
end)
