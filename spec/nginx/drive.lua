-- Drives the example nginx (NGX_BASE) and its test server (NGX_TEST_BASE)
-- from outside: lua5.4 spec/nginx/drive.lua. Prints "ok - ..." /
-- "not ok - ..." lines (spec/nginx/run numbers them) and "# ..." details.
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"
local socket = require "socket"

local function env(name)
    return assert(os.getenv(name), name .. " is not set")
end

local BASE = env("NGX_BASE")
local TEST = env("NGX_TEST_BASE")
local ADMIN = env("ENOM_SANDBOX_ADMIN")
local SB_BASE = env("ENOM_SANDBOX_BASE")
local SB_HTTPS = env("ENOM_SANDBOX_HTTPS_BASE")
local PASSWORD = env("ENOM_PW")
local TOKEN = env("ENOM_ADMIN_TOKEN")

local function tap(ok, name, detail)
    print((ok and "ok - " or "not ok - ") .. name)
    if detail and detail ~= "" then
        print("# " .. tostring(detail):gsub("\n", "\n# "))
    end
    io.stdout:flush()
end

local function check(name, fn)
    local ok, err = pcall(fn)
    tap(ok, name, not ok and err or nil)
end

-- One HTTP request: status, body, headers.
-- Requests to the example's /mailboxes carry its bearer token unless
-- `auth` says otherwise (false: none; a string: that header).
local function request(method, url, body, ctype, timeout, auth)
    local out = {}
    http.TIMEOUT = timeout or 30
    local headers = body and { ["content-type"] = ctype or "application/json", ["content-length"] = #body } or {}
    if url:find(BASE .. "/mailboxes", 1, true) == 1 and auth ~= false then
        headers.authorization = auth or ("Bearer " .. TOKEN)
    end
    local _, code, rheaders = http.request {
        url = url, method = method,
        source = body and ltn12.source.string(body) or nil,
        headers = headers,
        sink = ltn12.sink.table(out),
    }
    return code, table.concat(out), rheaders
end

local function admin(method, path, body)
    -- the admin API takes a POST only as JSON, an empty body included
    local data = body and cjson.encode(body) or (method == "POST" and "" or nil)
    local code, text = request(method, ADMIN .. path, data)
    assert(code == 200, "admin " .. path .. " -> " .. tostring(code) .. ": " .. text)
    return cjson.decode(text)
end

local function find_domain(st, name)
    for _, d in ipairs(st.domains) do
        if d.name == name then
            return d
        end
    end
end

-- A port nothing listens on: bound, then closed.
local function closed_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return port
end

-- Forward the TAP lines of an in-nginx check location.
local function forward(path)
    local code, text = request("GET", TEST .. path, nil, nil, 120)
    if code ~= 200 then
        tap(false, "in-nginx checks at " .. path .. " answer", "HTTP " .. tostring(code) .. ": " .. text:sub(1, 500))
        return
    end
    if not text:find("ok - ", 1, true) then
        tap(false, "in-nginx checks at " .. path .. " report something", text:sub(1, 500))
        return
    end
    io.write(text)
    io.stdout:flush()
end

local query = ("?http_port=%s&https_port=%s&closed_port=%d"):format(
    SB_BASE:match(":(%d+)$"), SB_HTTPS:match(":(%d+)$"), closed_port())

admin("POST", "/reset")

forward("/t/core")
forward("/t/cases" .. query)
forward("/t/cases_wrong_ca" .. query)
forward("/t/concurrency" .. query)

check("GET /health answers 200 ok", function()
    local code, body = request("GET", BASE .. "/health")
    assert(code == 200 and body:match("^ok"), tostring(code) .. " " .. body)
end)

check("/mailboxes answers 401 without the bearer token or with a wrong one, and changes nothing", function()
    admin("POST", "/reset")
    local before = admin("GET", "/counters").totals.received or 0
    local body = cjson.encode { domain = "shop01.com", buy_paks = true, mailboxes = { { username = "eve" } } }
    for _, auth in ipairs { false, "Bearer wrong-token-0123456789abcdef", "Basic " .. TOKEN, "Bearer " .. TOKEN .. "x",
        "Bearer " .. TOKEN:sub(1, -2) } do
        local code, text, h = request("POST", BASE .. "/mailboxes", body, nil, nil, auth)
        assert(code == 401, tostring(auth) .. ": HTTP " .. tostring(code) .. ": " .. text)
        assert(not text:find(TOKEN, 1, true), "the token is echoed")
        assert(h["www-authenticate"], "no WWW-Authenticate")
        code = request("GET", BASE .. "/mailboxes?domain=shop01.com", nil, nil, nil, auth)
        assert(code == 401, "GET: HTTP " .. tostring(code))
    end
    assert((admin("GET", "/counters").totals.received or 0) == before, "a request reached eNom")
end)

-- POST /mailboxes through enom.provision, checked in the sandbox state.
local created
check("POST /mailboxes creates the mailboxes (buying a pak), verified in the sandbox state", function()
    admin("POST", "/reset")
    local code, text = request("POST", BASE .. "/mailboxes", cjson.encode {
        domain = "shop01.com", buy_paks = true,
        mailboxes = { { username = "ann", display_name = "Ann Lee" }, { username = "bob", admin = true } },
    })
    assert(code == 200, "HTTP " .. tostring(code) .. ": " .. text)
    local r = cjson.decode(text)
    assert(r.ok == true, text)
    assert(r.counts.created == 2, "created " .. tostring(r.counts.created))
    assert(r.paks_bought == 1, "paks bought " .. tostring(r.paks_bought))
    local d = assert(find_domain(admin("GET", "/state"), "shop01.com"), "shop01.com missing")
    local have = {}
    for _, m in ipairs(d.mailboxes or {}) do
        have[m.username] = m
    end
    assert(have.ann and have.bob, "mailboxes missing from the sandbox")
    assert(have.ann.display_name == "Ann Lee", "display name " .. tostring(have.ann.display_name))
    assert(have.bob.admin == true, "bob is not admin")
    assert(#(d.paks or {}) == 1, "paks " .. #(d.paks or {}))
    -- Generated passwords come back once, and they are the real ones.
    for _, m in ipairs(r.mailboxes) do
        assert(m.outcome == "created", m.username .. " " .. tostring(m.outcome))
        assert(type(m.password) == "string" and m.password == have[m.username].password,
            "password of " .. m.username .. " missing or wrong")
    end
    created = have
end)

check("POST /mailboxes again changes nothing and returns no password", function()
    local code, text = request("POST", BASE .. "/mailboxes", cjson.encode {
        domain = "shop01.com", buy_paks = true,
        mailboxes = { { username = "ann" }, { username = "bob", admin = true } },
    })
    assert(code == 200, "HTTP " .. tostring(code) .. ": " .. text)
    local r = cjson.decode(text)
    assert(r.counts.already_present == 2 and not r.counts.created, text)
    assert(not text:find('"password"', 1, true), "a password came back")
    assert(r.paks_bought == 0, "bought again")
end)

check("the report's seconds inside nginx covers the time eNom took (200 ms per command)", function()
    admin("POST", "/faults", { rules = { { kind = "delay", ms = 200 } } })
    local ok, err = pcall(function()
        local code, text = request("POST", BASE .. "/mailboxes", cjson.encode {
            domain = "shop01.com", mailboxes = { { username = "ann" }, { username = "bob", admin = true } },
        })
        assert(code == 200, "HTTP " .. tostring(code) .. ": " .. text)
        local r = cjson.decode(text)
        assert(type(r.requests) == "number" and r.requests >= 1, "requests " .. tostring(r.requests))
        -- Apply re-reads the domain first, and that read waited 200 ms.
        assert(type(r.seconds) == "number" and r.seconds >= 0.2,
            ("seconds %s for %d requests of 200 ms each"):format(tostring(r.seconds), r.requests))
    end)
    admin("DELETE", "/faults")
    assert(ok, err)
end)

check("POST /mailboxes refuses bad input with 400", function()
    local code = request("POST", BASE .. "/mailboxes", '{"domain":"nodot","mailboxes":[{"username":"x"}]}')
    assert(code == 400, "HTTP " .. tostring(code))
    code = request("POST", BASE .. "/mailboxes", "not json")
    assert(code == 400, "HTTP " .. tostring(code))
end)

check("GET /mailboxes lists the domain's mailboxes, without passwords", function()
    local code, text = request("GET", BASE .. "/mailboxes?domain=shop01.com")
    assert(code == 200, "HTTP " .. tostring(code) .. ": " .. text)
    local r = cjson.decode(text)
    local names = {}
    for _, m in ipairs(r.mailboxes) do
        names[#names + 1] = m.username
    end
    table.sort(names)
    assert(table.concat(names, ",") == "ann,bob", table.concat(names, ","))
    assert(#r.paks == 1, "paks")
    assert(not text:lower():find("password", 1, true), "the answer mentions a password")
    for _, m in pairs(created or {}) do
        assert(not text:find(m.password, 1, true), "a mailbox password leaked")
    end
end)

check("GET /mailboxes of an unknown domain answers 404 with eNom's error", function()
    local code, text = request("GET", BASE .. "/mailboxes?domain=nosuchdomain.com")
    assert(code == 404, "HTTP " .. tostring(code) .. ": " .. text)
    assert(not text:find(PASSWORD, 1, true), "password in the answer")
end)

-- Non-blocking: 20 concurrent GETs while eNom takes 2 s per command. If
-- the worker blocked while waiting on eNom, /health would come back only
-- after a GET did, and 20 GETs one after another (40 s) would run into
-- curl's 20 s limit.
check("20 concurrent GET /mailboxes with 2 s per eNom command all answer on one worker; "
    .. "/health answers while they all still wait", function()
    admin("POST", "/faults", { rules = { { kind = "delay", ms = 2000 } } })
    local ok, err = pcall(function()
        local done = os.tmpname()
        local script = ([[
for i in $(seq 1 20); do
  ( code=$(curl -s -o /dev/null -w '%%{http_code}' --max-time 20 -H 'Authorization: Bearer %s' \
      '%s/mailboxes?domain=shop01.com'); echo "$code" >> '%s' ) &
done
wait
]]):format(TOKEN, BASE, done)
        local path = os.tmpname()
        local f = assert(io.open(path, "w"))
        f:write(script)
        f:close()
        local function received()
            local c = admin("GET", "/counters").commands.GetPOP3
            return c and c.received or 0
        end
        local before = received()
        local p = assert(io.popen("bash " .. path, "r"))
        -- Ask for /health once the sandbox holds all 20 GETs, or after about
        -- 1 s, which is still before any of them can have its answer.
        for _ = 1, 100 do
            if received() >= before + 20 then break end
            socket.sleep(0.01)
        end
        local code, body = request("GET", BASE .. "/health", nil, nil, 5)
        local fh = assert(io.open(done))
        local finished_before = fh:read("a")
        fh:close()
        p:read("a")
        p:close()
        fh = assert(io.open(done))
        local codes = fh:read("a")
        fh:close()
        os.remove(path)
        os.remove(done)
        assert(code == 200 and body:match("^ok"), "health: " .. tostring(code))
        assert(finished_before == "", "a GET finished before /health answered: " .. finished_before)
        local ok200 = select(2, codes:gsub("200\n", ""))
        assert(ok200 == 20, "only " .. ok200 .. " of 20 answered 200:\n" .. codes)
    end)
    admin("DELETE", "/faults")
    assert(ok, err)
end)

check("the sandbox saw the commands from nginx (GetPOP3, PurchasePOPBundle, SetUpPOP3User)", function()
    local c = admin("GET", "/counters").commands
    for _, name in ipairs { "GetPOP3", "PurchasePOPBundle", "SetUpPOP3User" } do
        assert(c[name] and c[name].received > 0, name .. " never received")
    end
end)

check("GET /metrics sums the workers' counts in Prometheus' text, which promtool accepts, naming no domain", function()
    local code, text, headers = request("GET", BASE .. "/metrics")
    assert(code == 200, "HTTP " .. tostring(code) .. ": " .. text)
    assert(headers["content-type"]:find("version=0.0.4", 1, true), headers["content-type"])
    local values = {}
    for series, v in text:gmatch("\n([^#\n][^\n]-) (%S+)") do
        values[series] = tonumber(v)
    end
    assert((values['enom_api_requests_total{command="SetUpPOP3User",outcome="ok"}'] or 0) >= 1, text)
    assert(values['enom_provision_actions_total{action="create",result="created"}'] == 2, text)
    assert((values['enom_provision_actions_total{action="keep",result="already_present"}'] or 0) >= 2, text)
    assert(values.enom_paks_bought_total == 1, text)
    assert(values['enom_api_requests_total{command="GetPOP3",outcome="api"}'] == 1, text)
    assert(not text:find("shop01", 1, true) and not text:find(PASSWORD, 1, true), "a name or a secret in /metrics")
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    local p = io.popen("promtool check metrics < " .. path .. " 2>&1")
    local out = p:read("a")
    local ok = p:close()
    os.remove(path)
    assert(ok, "promtool: " .. out)
end)

check("a caller that gives up during a slow purchase gets the same answer, passwords included, "
    .. "by sending the request again with its Idempotency-Key", function()
    admin("POST", "/reset")
    admin("POST", "/settings", { purchase_delay_ms = 2000 })
    local body = cjson.encode { domain = "shop03.com", buy_paks = true,
        mailboxes = { { username = "ann" }, { username = "bob" } } }
    local function post(key, b, timeout)
        local out = {}
        http.TIMEOUT = timeout
        local _, code = http.request {
            url = BASE .. "/mailboxes", method = "POST", source = ltn12.source.string(b),
            headers = { ["content-type"] = "application/json", ["content-length"] = #b,
                authorization = "Bearer " .. TOKEN, ["idempotency-key"] = key },
            sink = ltn12.sink.table(out),
        }
        return code, table.concat(out)
    end
    -- The first caller times out while eNom takes its time.
    local code = post("order-7f3a", body, 0.5)
    assert(code ~= 200, "the first request answered in time: " .. tostring(code))
    local text
    code, text = post("order-7f3a", body, 30)
    admin("POST", "/settings", { purchase_delay_ms = 0 })
    assert(code == 200, "HTTP " .. tostring(code) .. ": " .. text)
    local r = cjson.decode(text)
    local have = {}
    for _, m in ipairs(find_domain(admin("GET", "/state"), "shop03.com").mailboxes or {}) do
        have[m.username] = m.password
    end
    for _, m in ipairs(r.mailboxes) do
        assert(m.outcome == "created", text)
        assert(m.password and m.password == have[m.username], "no password, or not eNom's, for " .. m.username)
    end
    local counters = admin("GET", "/counters").commands
    assert(counters.PurchasePOPBundle.applied == 1, "bought " .. counters.PurchasePOPBundle.applied .. " times")
    assert(counters.SetUpPOP3User.applied == 1, "made the mailboxes " .. counters.SetUpPOP3User.applied .. " times")
    -- Again: the same answer, not a new run.
    local code3, text3 = post("order-7f3a", body, 30)
    assert(code3 == 200 and text3 == text, "a third try got another answer")
    assert(admin("GET", "/counters").commands.GetPOP3.received == counters.GetPOP3.received, "it ran again")
    -- The same key with another body is refused.
    local code4, text4 = post("order-7f3a", cjson.encode { domain = "shop04.com", mailboxes = { { username = "x" } } },
        30)
    assert(code4 == 422, "HTTP " .. tostring(code4) .. ": " .. text4)
    -- spec/nginx/run looks for them in every log of the test nginx.
    local f = assert(io.open(env("NGX_SEEN"), "a"))
    for _, pw in pairs(have) do f:write(pw, "\n") end
    f:close()
end)
