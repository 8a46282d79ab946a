-- The secrets sweep: against a server that echoes every request back (raw
-- and decoded, in eNom's fields, errors and response texts, in XML, Text
-- and HTML), every string reachable from every result, error, log event
-- and plan holds no secret, as given or URL-encoded, for single calls,
-- typed calls, batches and call_many. The server (spec/support/echo_server.lua)
-- runs as a process of its own on 127.0.0.1, on a free port, and is
-- stopped at the end, also when a test fails.
local enom = require "enom"
local errors = require "enom.errors"

local ROOT = os.getenv("PWD")

-- Secrets with every character class the encoder escapes, one holding
-- another, and a one-character one.
local ACCOUNT_PW = "Acct&Pw=Secret 42+%x"
local WRAPPED = "Wrap-" .. ACCOUNT_PW .. "-Wrap"
local MBX = { "Mbx/One?#;Secret", "Mbx Two+Secret=2", "Mbx%Three&Secret" }
local SHORT = "q"
local SECRETS = { ACCOUNT_PW, WRAPPED, MBX[1], MBX[2], MBX[3], SHORT }

local function encoded_forms(s)
    local enc = s:gsub("[^%w%-%._~ ]", function(c) return ("%%%02X"):format(c:byte()) end)
    local forms = { s, (enc:gsub(" ", "+")), (enc:gsub(" ", "%%20")) }
    forms[4] = forms[2]:gsub("%%%x%x", string.lower)
    forms[5] = forms[3]:gsub("%%%x%x", string.lower)
    return forms
end

-- Every string reachable from v: values, keys, tostring of tables.
local function strings(v, out, seen)
    out, seen = out or {}, seen or {}
    if type(v) == "string" then
        out[#out + 1] = v
    elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        local mt = getmetatable(v)
        if mt and mt.__tostring then
            out[#out + 1] = tostring(v)
        end
        for k, x in next, v do
            strings(k, out, seen)
            strings(x, out, seen)
        end
    end
    return out
end

-- The first secret found in v (in any form), with where; nil if clean.
local function leak(v)
    local all = strings(v)
    for _, secret in ipairs(SECRETS) do
        for _, form in ipairs(encoded_forms(secret)) do
            for _, s in ipairs(all) do
                local found
                if #form < (errors.SHORT_SECRET or 6) then
                    -- A short secret counts where it stands as a token.
                    local from = 1
                    while true do
                        local a, b = s:find(form, from, true)
                        if not a then break end
                        local before, after = s:sub(a - 1, a - 1), s:sub(b + 1, b + 1)
                        if not before:find("%w") and not after:find("%w") then
                            found = true
                            break
                        end
                        from = a + 1
                    end
                else
                    found = s:find(form, 1, true) ~= nil
                end
                if found then
                    return ("%q in %q"):format(form, s:sub(1, 300))
                end
            end
        end
    end
end

local server = {}

local function start_server()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. dir))
    server.dir = dir
    local portfile = dir .. "/port"
    -- Without the sanitizer preload of the ASan run: the server is plain Lua.
    assert(os.execute(("cd %s && env -u LD_PRELOAD lua5.4 spec/support/echo_server.lua %s > %s/log 2>&1 & echo $! > %s/pid")
        :format(ROOT, portfile, dir, dir)))
    for _ = 1, 100 do
        local f = io.open(portfile)
        if f then
            server.port = tonumber(f:read("l"))
            f:close()
            break
        end
        os.execute("sleep 0.05")
    end
    local f = assert(io.open(dir .. "/pid"))
    server.pid = tonumber(f:read("l"))
    f:close()
    assert(server.port, "the echo server did not start")
end

local function stop_server()
    if server.pid then
        os.execute("kill " .. server.pid .. " 2>/dev/null")
        server.pid = nil
    end
    if server.dir then
        os.execute("rm -rf " .. server.dir)
        server.dir = nil
    end
end

local events = {}
local function client(path, response_type, ctor)
    local new = ctor or enom.new
    return assert(new {
        uid = "resellid", pw = ACCOUNT_PW, allow_http = true, response_type = response_type,
        endpoint = ("http://127.0.0.1:%d/%s/interface.asp"):format(server.port, path),
        logger = function(ev) events[#events + 1] = ev end,
        -- The sweep's mailbox passwords are hostile on purpose (spaces, '&',
        -- '%', one character): no password rule would let them through.
        password_rule = false,
    })
end

local function users()
    return {
        { username = "ann", password = WRAPPED }, { username = "bob", password = SHORT },
        { username = "cyd", password = MBX[3], display_name = "Cyd" },
    }
end

local FREE = {
    { "GetBalance", {} },
    { "SetUpPOP3User", { SLD = "shop01", TLD = "com", BundleID = 1, UserName = { "a", "b" }, Password = { MBX[1], MBX[2] } } },
    { "ModifyPOP3", { SLD = "shop01", TLD = "com", UserName1 = "a", NewPassword = MBX[3], Password1 = SHORT } },
}

describe("secrets sweep against an echoing server", function()
    setup(start_server)
    teardown(stop_server)

    before_each(function()
        events = {}
    end)

    local function check(what, ...)
        local got = { ... }
        local where = leak(got)
        assert.is_nil(where, what .. ": secret found: " .. tostring(where))
        local ev = leak(events)
        assert.is_nil(ev, what .. " (log events): secret found: " .. tostring(ev))
    end

    for _, path in ipairs { "ok", "err" } do
        for _, rt in ipairs { "xml", "text", "html" } do
            local label = path .. "/" .. rt

            it("single calls, " .. label, function()
                local c = client(path, rt)
                for _, f in ipairs(FREE) do
                    local res, err = c:call(f[1], f[2])
                    assert.truthy(res or err)
                    if path == "err" then
                        assert.equal("api", err.kind, tostring(err))
                        assert.truthy(err.parsed and err.responses and err.errors)
                    else
                        assert.truthy(res.done)
                    end
                    check(label .. " call " .. f[1], res, err, tostring(err))
                end
                check(label .. " client", c, tostring(c))
                c:close()
            end)

            it("typed calls, split and whole, " .. label, function()
                local c = client(path, rt)
                local res, err = c:setup_pop3_users { sld = "shop01", tld = "com", bundle_id = 1, users = users() }
                check(label .. " setup_pop3_users", res, err, tostring(err))
                res, err = c:setup_pop3_users { sld = "shop01", tld = "com", bundle_id = 1, users = users(), batch_size = 1 }
                check(label .. " setup_pop3_users split", res, err, tostring(err))
                if path == "err" then
                    assert.truthy(err.result)
                end
                res, err = c:modify_pop3 { sld = "shop01", tld = "com", users = { { username = "ann", password = MBX[1] } } }
                check(label .. " modify_pop3", res, err, tostring(err))
                res, err = c:get_pop3 { sld = "shop01", tld = "com", include_passwords = true }
                check(label .. " get_pop3", res, err, tostring(err))
                c:close()
            end)

            it("batches and call_many, " .. label, function()
                local c = client(path, rt)
                local b = c:batch { concurrency = 3 }
                for _, f in ipairs(FREE) do
                    b:add(f[1], f[2])
                end
                b:add_method("setup_pop3_users", { sld = "shop01", tld = "com", bundle_id = 1, users = users() })
                local seen = 0
                for i, res, err in b:each() do
                    seen = seen + 1
                    check(label .. " batch slot " .. i, res, err, tostring(err))
                end
                assert.equal(4, seen)
                local reqs = {}
                for i, f in ipairs(FREE) do
                    reqs[i] = { command = f[1], params = f[2] }
                end
                reqs[#reqs + 1] = { method = "modify_pop3", args = { sld = "shop01", tld = "com",
                    users = { { username = "ann", password = MBX[2] } } } }
                local res, errs = c:call_many(reqs, { concurrency = 2 })
                check(label .. " call_many", res, errs)
                c:close()
            end)
        end
    end

    it("a plan made with a client from enom.client alone holds no secret", function()
        local provision = require "enom.provision"
        local c = client("ok", "xml", require("enom.client").new)
        local plan, err = provision.plan(c, { { domain = "shop01.com", mailboxes = { { username = "ann" } } } }, {})
        assert.truthy(plan or err)
        check("plan", plan, err, plan and plan:format())
        c:close()
    end)

    it("a one-character secret leaves the rest of a message alone", function()
        local c = client("err", "text")
        local _, err = c:call("ModifyPOP3", { SLD = "shop01", TLD = "com", Password1 = SHORT })
        assert.equal("api", err.kind)
        -- Every "q" that is part of a word is still there.
        assert.truthy(tostring(err):find("api error in ModifyPOP3", 1, true), tostring(err))
        assert.equal("scrubbed quickly", errors.scrub("scrubbed quickly", { SHORT }))
        assert.equal("Password1=*** q2", errors.scrub("Password1=q q2", { SHORT }))
        c:close()
    end)
end)
