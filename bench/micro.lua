--- Figures 1 and 2: encoding a 100-user SetUpPOP3User request and
-- parsing a 1,000-mailbox GetPOP3 answer (XML and Text), the C core
-- against plain-Lua and LuaExpat baselines that produce the same bytes
-- and the same typed tables (checked once before timing).
--
--   lua5.4 bench/micro.lua GETPOP3.xml GETPOP3.txt [runs]
local enom = require "enom"
local results = require "enom.results"
local util = require "util"
local fixtures = require "fixtures"
local lua_encode = require "lua_encode"
local expat_pop3 = require "expat_pop3"
local lua_text_pop3 = require "lua_text_pop3"

local xml_path, text_path = arg[1], arg[2]
local RUNS = tonumber(arg[3]) or 5
assert(xml_path and text_path, "usage: micro.lua GETPOP3.xml GETPOP3.txt [runs]")

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local function report(figure, name, ours, base, target)
    local ratio = base.median / ours.median
    util.row {
        figure = figure,
        ours = util.us(ours.median),
        baseline = util.us(base.median) .. " (" .. name .. ")",
        ratio = ("%.1fx"):format(ratio),
        target = (">= %gx"):format(target),
        met = util.met(ratio, target),
        spread = ("ours %s..%s, base %s..%s"):format(util.us(ours.min), util.us(ours.max),
            util.us(base.min), util.us(base.max)),
    }
end

-- 1. Encode.
do
    local params, group = fixtures.setup_request(100)
    local groups = { group }
    local a, b = enom.encode(params, groups), lua_encode.encode(params, groups)
    assert(a == b, "the Lua encoder's bytes differ from enom.encode's")
    assert(#group.records == 100 and a:find("DisplayName100=Ren%C3%A9e+", 1, true))
    local encode = enom.encode
    local base_encode = lua_encode.encode
    local ours, base = util.compare(function() return encode(params, groups) end,
        function() return base_encode(params, groups) end, RUNS)
    report(("1. encode SetUpPOP3User, 100 users (%d B)"):format(#a), "plain Lua", ours, base, 10)
end

-- 2. Parse GetPOP3, 1,000 mailboxes.
local function parse_figure(figure, body, format, baseline, name, target)
    local parse, shape = enom.parse, results.shape
    local function ours_fn()
        return shape("GetPOP3", assert(parse(body, format)))
    end
    local function base_fn()
        return assert(baseline(body))
    end
    local a, b = ours_fn(), base_fn()
    assert(#a.mailboxes == 1000 and #a.paks == 100, "expected 1,000 mailboxes in 100 paks")
    local ok, why = util.equal(a, b)
    assert(ok, name .. " builds a different table: " .. tostring(why))
    local ours, base, iters = util.compare(ours_fn, base_fn, RUNS)
    report(("%s (%d KB)"):format(figure, #body // 1024), name, ours, base, target)
    -- Where ours spends its time: the C parser, then the Lua shaping.
    local parsed = parse(body, format)
    local p = util.measure(function() return parse(body, format) end, iters, RUNS)
    local s = util.measure(function()
        parsed._lower = nil -- shape caches lower-cased fields on the parse
        return shape("GetPOP3", parsed)
    end, iters, RUNS)
    util.row {
        figure = "   " .. format:upper() .. " split: enom.parse (C) / results.shape (Lua)",
        ours = util.us(p.median) .. " / " .. util.us(s.median),
        spread = ("parse %s..%s, shape %s..%s"):format(util.us(p.min), util.us(p.max), util.us(s.min), util.us(s.max)),
    }
end

parse_figure("2. parse GetPOP3 XML, 1,000 mailboxes", slurp(xml_path), "xml", expat_pop3.parse, "LuaExpat", 3)
parse_figure("2. parse GetPOP3 Text, 1,000 mailboxes", slurp(text_path), "text", lua_text_pop3.parse,
    "Lua gmatch", 5)
