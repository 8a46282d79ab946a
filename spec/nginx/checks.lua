-- Checks that run inside the test nginx (spec/nginx/test.conf.in); each
-- handler answers TAP-style lines, "ok - ..." / "not ok - ..." and
-- "# detail", which spec/nginx/run numbers and forwards.
-- luacheck: read globals ngx
local cases = require "transport_cases"
local transport = require "enom.transport.ngx"

local _M = {}

local function now()
    ngx.update_time()
    return ngx.now()
end

local function tap(ok, name, detail)
    ngx.say((ok and "ok - " or "not ok - ") .. name)
    if not ok and detail then
        ngx.say("# " .. tostring(detail):gsub("\n", "\n# "))
    end
    ngx.flush(true)
end

-- Runs fn; a raised error fails the check with its message.
local function check(name, fn)
    local ok, err = pcall(fn)
    tap(ok, name, err)
end

local function args()
    local a = ngx.req.get_uri_args()
    local https_port = assert(tonumber(a.https_port), "https_port missing")
    local http_port = assert(tonumber(a.http_port), "http_port missing")
    return {
        base = "http://127.0.0.1:" .. http_port,
        -- nginx matches certificates against DNS names only: the sandbox's
        -- certificate holds DNS:localhost.
        https = "https://localhost:" .. https_port,
        https_port = https_port,
        http_port = http_port,
        closed_port = assert(tonumber(a.closed_port), "closed_port missing"),
        secret = assert(os.getenv("ENOM_PW"), "ENOM_PW missing"),
    }
end

--- The shared cases: which = "sandbox" (every case but ca = "wrong"),
-- or "wrong" (only those, in a location trusting another CA).
function _M.cases(which)
    local B = args()
    for _, case in ipairs(cases) do
        if (case.ca == "wrong") == (which == "wrong") then
            local ok, why = cases.run(transport, case, B, {}, {}, now)
            tap(ok, "ngx transport: " .. case.name, why)
        end
    end
    if which ~= "sandbox" then
        return
    end
    -- Behaviour of the ngx transport alone.
    check("ngx transport: an IP-literal https URL fails verification (nginx checks DNS names): kind tls", function()
        local t = transport.new {}
        local res, err = t:request { url = "https://127.0.0.1:" .. B.https_port .. "/test/echo?pw=" .. B.secret }
        t:close()
        assert(res == nil and err.kind == "tls" and err.maybe_delivered == false, err and err.message)
        assert(not err.message:find(B.secret, 1, true), "message shows the password")
    end)
    check("ngx transport: a fresh request never takes a pooled connection", function()
        local t = transport.new {}
        assert(t:request { url = B.https .. "/test/echo?a=1" })
        local res = assert(t:request { url = B.https .. "/test/echo?a=2", fresh = true })
        assert(res.reused == false, "fresh request reused a connection")
        res = assert(t:request { url = B.https .. "/test/echo?a=3" })
        assert(res.reused == true, "the pooled connection was lost")
        t:close()
    end)
    check("ngx transport: raises on bad options and bad request tables, like curl", function()
        assert(not pcall(transport.new, { timeout = -1 }), "timeout -1 accepted")
        assert(not pcall(transport.new, { max_response = 1.5 }), "max_response 1.5 accepted")
        local t = transport.new {}
        assert(not pcall(t.request, t, { url = B.https, bogus = 1 }), "unknown field accepted")
        assert(not pcall(t.request, t, { url = 1 }), "url 1 accepted")
        t:close()
        assert(not pcall(t.request, t, { url = B.https }), "request after close accepted")
    end)
end

--- The LuaJIT core inside nginx: encode, parse, and the default transport.
function _M.core()
    check("enom and its LuaJIT core load inside nginx", function()
        assert(jit and jit.version, "not LuaJIT")
        local enom = require "enom"
        assert(type(enom.core_version) == "string")
        assert(package.loaded["enom.core"], "core not loaded")
    end)
    check("enom.encode works in a request", function()
        local enom = require "enom"
        local got = enom.encode { a = "x&y" }
        assert(got == "a=x%26y", got)
        got = enom.encode { pw = "p w+=%&", command = "GetPOP3" }
        assert(got:find("pw=p+w%2B%3D%25%26", 1, true) or got:find("pw=p%20w%2B%3D%25%26", 1, true), got)
    end)
    check("enom.parse works in a request (Text and XML)", function()
        local enom = require "enom"
        local text = table.concat({ ";URL Interface", "Balance=1,000.00", "Command=GETBALANCE", "ErrCount=0",
            "Done=true", "" }, "\r\n")
        local p = assert(enom.parse(text, "text"))
        assert(p.done == true and p.err_count == 0, "text parse")
        local xml = "<?xml version=\"1.0\"?><interface-response><Balance>1,000.00</Balance>"
            .. "<Command>GETBALANCE</Command><ErrCount>0</ErrCount><Done>true</Done></interface-response>"
        p = assert(enom.parse(xml, "xml"))
        assert(p.done == true and p.command and p.command:upper() == "GETBALANCE", "xml parse")
    end)
    check("enom.clock is the core's monotonic clock and moves while Lua works without yielding", function()
        local clock = require "enom.clock"
        assert(clock.now == require("enom.core").now, "enom.clock.now is not the core's clock")
        -- nginx's cached time would stand still here: nothing yields.
        local t0, n = clock.now(), 0
        repeat
            n = n + 1
        until clock.now() - t0 >= 0.01 or n > 5e7
        assert(clock.now() - t0 >= 0.01, "the clock did not move in " .. n .. " readings")
    end)
    check("enom.new picks the ngx transport in the content phase", function()
        local enom = require "enom"
        local c = assert(enom.new { uid = "u", pw = "p", endpoint = "test" })
        assert(c.transport_name == "ngx", c.transport_name)
        c:close()
    end)
end

--- submit / poll with light threads, and a batch through enom.
function _M.concurrency()
    local B = args()
    check("ngx transport: 8 submitted requests are in flight together, each id once", function()
        local t = transport.new {}
        -- The sandbox answers "together" only when all 8 are in at once.
        local gate = B.https .. "/test/gate?n=8&ms=20000&key=ngx-" .. ngx.worker.pid() .. "-" .. now()
        local ids = {}
        for i = 1, 8 do
            ids[assert(t:submit { url = gate .. "&i=" .. i })] = true
        end
        assert(t:pending() == 8, "pending " .. t:pending())
        local seen = 0
        while t:pending() > 0 do
            local got = t:poll(30)
            assert(#got > 0, "nothing completed within 30 s")
            for _, c in ipairs(got) do
                assert(ids[c.id], "unknown or repeated id " .. tostring(c.id))
                ids[c.id] = nil
                assert(c.res and c.res.status == 200 and c.res.body == "together\n",
                    c.err and c.err.message or (c.res.status .. " " .. c.res.body))
                seen = seen + 1
            end
        end
        assert(seen == 8, "saw " .. seen)
        t:close()
    end)
    check("ngx transport: poll returns an empty array when its timeout passes", function()
        local t = transport.new {}
        t:submit { url = B.https .. "/test/slow?ms=1500" }
        local t0 = now()
        -- Empty: it returned on its timeout, not on the answer 1.5 s away.
        local got = t:poll(0.1)
        local took = now() - t0
        assert(#got == 0, "got " .. #got)
        assert(took >= 0.09, ("returned after %.3f s"):format(took))
        got = t:poll(30)
        assert(#got == 1 and got[1].res, "the request did not complete")
        assert(#t:poll(0) == 0 and t:pending() == 0, "left over")
        t:close()
    end)
    check("enom client: call_many of 10 GetPOP3 runs concurrently in nginx", function()
        local enom = require "enom"
        local c = assert(enom.new { uid = "resellid", pw = B.secret, endpoint = B.https .. "/interface.asp" })
        local reqs = {}
        for i = 1, 10 do
            reqs[i] = { method = "get_pop3", args = { sld = ("shop%02d"):format(i), tld = "com" } }
        end
        local t0 = now()
        local res, errs = c:call_many(reqs, { concurrency = 10 })
        local took = now() - t0
        for i = 1, 10 do
            assert(res[i], tostring(errs[i]))
        end
        c:close()
        ngx.say("# call_many of 10: " .. ("%.3f"):format(took) .. " s")
    end)
end

return _M
