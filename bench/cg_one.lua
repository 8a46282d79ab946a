--- One side of one micro-benchmark, `iters` times, for callgrind.sh:
--   lua5.4 bench/cg_one.lua CASE ITERS GETPOP3.xml GETPOP3.txt
-- CASE: encode, encode-lua, xml, xml-expat, text, text-lua, request (a
-- kept-alive client:call of the sandbox's fixed /test/static answer over
-- plain HTTP, $ENOM_SANDBOX_BASE). With ITERS
-- = 0 it does the set-up (and one warm-up call) only, which callgrind.sh
-- subtracts.
local enom = require "enom"
local results = require "enom.results"
local fixtures = require "fixtures"

local case, iters, xml_path, text_path = arg[1], tonumber(arg[2]), arg[3], arg[4]

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local fn
if case == "request" then
    local base = assert(os.getenv("ENOM_SANDBOX_BASE"), "ENOM_SANDBOX_BASE is not set")
    assert(base:match("^http://127%.0%.0%.1:%d+$"), "the benchmark talks to 127.0.0.1 only")
    local client = assert(enom.new { uid = fixtures.UID, pw = fixtures.PW, endpoint = base .. "/test/static",
        allow_http = true, response_type = "text" })
    fn = function() return assert(client:call("GetBalance", {})) end
elseif case == "encode" or case == "encode-lua" then
    local params, group = fixtures.setup_request(100)
    local groups = { group }
    local encode = case == "encode" and enom.encode or require("lua_encode").encode
    fn = function() return encode(params, groups) end
else
    local fmt = case:match("^(%a+)")
    local body = slurp(fmt == "xml" and xml_path or text_path)
    if case == "xml-expat" then
        fn = require("expat_pop3").parse
    elseif case == "text-lua" then
        fn = require("lua_text_pop3").parse
    else
        local parse, shape = enom.parse, results.shape
        fn = function(b) return shape("GetPOP3", assert(parse(b, fmt))) end
    end
    local f = fn
    fn = function() return f(body) end
end
assert(fn, "unknown case " .. tostring(case))

fn()
collectgarbage("collect")
for _ = 1, iters do
    fn()
end
