-- What an attacker or a careless caller tries: endpoints that are not what
-- they seem, header and parameter injection, files that are not private,
-- absurd arguments. And the shape that keeps them closed: one request
-- pipeline, whatever drives it.
local H = require "helper"
local enom = require "enom"
local core = require "enom.core"
local password = require "enom.password"

local ROOT = os.getenv("PWD")

local function sh(cmd)
    local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
    local out = p:read("a")
    p:close()
    return out
end

describe("endpoints, read by libcurl's URL parser", function()
    before_each(function()
        H.reset()
        H.admin("DELETE", "/faults")
    end)

    it("refuses a user name or password in the endpoint, whatever the scheme", function()
        for _, url in ipairs {
            "http://127.0.0.1:x@10.1.2.3/interface.asp",
            "http://127.0.0.1:80@10.1.2.3/",
            "https://user:secret@reseller.enom.com/interface.asp",
            "https://user@reseller.enom.com/interface.asp",
            "http://127.0.0.1%3A1@10.1.2.3/",
        } do
            local c, err = enom.new { uid = H.UID, pw = H.PW, endpoint = url, allow_http = true }
            assert.is_nil(c, url)
            assert.equal("invalid", err.kind)
            assert.truthy(err.message:find("user name or password", 1, true), err.message)
            assert.falsy(H.contains(err, "secret"), url)
        end
    end)

    it("allows plain http only to a host that is really loopback", function()
        for _, url in ipairs {
            "http://10.1.2.3/", "http://localhost.example.com/", "http://127.0.0.1.example.com/",
            "http://[::ffff:10.0.0.1]/", "http://example.com/#127.0.0.1",
        } do
            local c, err = enom.new { uid = H.UID, pw = H.PW, endpoint = url, allow_http = true }
            assert.is_nil(c, url)
            assert.equal("invalid", err.kind, url)
        end
        local port = H.URL:match(":(%d+)/")
        -- 0x7f.1 is 127.0.0.1 to libcurl: the address checked is the one used.
        for _, url in ipairs { "http://0x7f.1:" .. port .. "/interface.asp", "http://LOCALHOST:" .. port .. "/interface.asp" } do
            local c = assert(enom.new { uid = H.UID, pw = H.PW, endpoint = url, allow_http = true })
            assert(c:get_balance {})
            c:close()
        end
        assert(enom.new { uid = H.UID, pw = H.PW, endpoint = "http://[::1]:1/interface.asp", allow_http = true })
    end)

    it("gives the parts of a URL, or why it cannot be used", function()
        local u = assert(core.parse_url("https://Reseller.enom.com/interface.asp?x=1"))
        assert.equal("https", u.scheme)
        assert.equal(443, u.port)
        assert.equal("/interface.asp", u.path)
        assert.equal("x=1", u.query)
        assert.is_false(u.loopback)
        assert.is_true(core.parse_url("http://127.8.9.10:5/").loopback)
        assert.is_true(core.parse_url("http://[::1]/").loopback)
        for _, bad in ipairs { "reseller.enom.com/interface.asp", "https://a/#frag", "https://u:p@a/", "https://a\0b/" } do
            local none, why = core.parse_url(bad)
            assert.is_nil(none, bad)
            assert.equal("string", type(why))
        end
    end)

    it("the C core refuses the same, without connecting", function()
        local c = core.client { allow_http = true }
        local ok, msg = pcall(c.request, c, { url = "http://192.0.2.1/interface.asp", body = "a=1" })
        assert.is_false(ok)
        assert.truthy(tostring(msg):find("loopback", 1, true), msg)
        ok, msg = pcall(c.request, c, { url = "http://127.0.0.1:x@10.1.2.3/", body = "a=1" })
        assert.is_false(ok)
        assert.truthy(tostring(msg):find("user name or password", 1, true), msg)
        c:close()
    end)
end)

describe("header and parameter injection", function()
    before_each(function()
        H.reset()
    end)

    it("refuses a user_agent with CR, LF or NUL", function()
        for _, ua in ipairs { "x\r\nX-Injected: 1", "x\nX-Injected: 1", "x\0y" } do
            local c, err = enom.new { uid = H.UID, pw = H.PW, endpoint = H.HTTPS_URL, user_agent = ua }
            assert.is_nil(c)
            assert.equal("invalid", err.kind)
            assert.truthy(err.message:find("user_agent", 1, true))
            assert.has_error(function() core.client { user_agent = ua } end)
        end
        assert.has_error(function() enom.new { uid = H.UID, pw = H.PW, user_agent = 5 } end)
    end)

    it("sends one User-Agent, the default of enom.DEFAULTS, from the client and the C core alike", function()
        local function ua(res)
            for k, v in pairs(H.json.decode(res.body).headers) do
                if k:lower() == "user-agent" then
                    return v
                end
            end
        end
        local c = H.client()
        local res = assert(c.transport:request { url = H.HTTPS_BASE .. "/test/echo" })
        assert.equal(enom.DEFAULTS.user_agent, ua(res))
        assert.equal(require("enom.defaults").user_agent, enom.DEFAULTS.user_agent)
        local raw = core.client { cainfo = H.CA }
        res = assert(raw:request { url = H.HTTPS_BASE .. "/test/echo" })
        assert.equal(enom.DEFAULTS.user_agent, ua(res))
        raw:close()
        c:close()
    end)

    it("refuses parameter names eNom does not use, sending nothing", function()
        local c = H.client()
        local before = H.total_received()
        for _, name in ipairs { "a\r\nb", "a\0b", "a=b", "a&b", "a b", "a%26", "é" } do
            local res, err = c:call("GetBalance", { [name] = "1" })
            assert.is_nil(res)
            assert.equal("invalid", err.kind, name)
            assert.is_false(err.maybe_delivered)
            assert.falsy(err.message:find("[\r\n%z]"))
        end
        assert.equal(before, H.total_received())
    end)

    it("refuses an indexed array that collides with a parameter of its own, naming both", function()
        local c = H.client()
        local before = H.total_received()
        local cases = {
            { { X = { "a", "b" }, X1 = "c" }, "X1", "X%[1%]" },
            { { X = { "a", "b" }, x2 = "c" }, "x2", "X%[2%]" },
            { { UserName = "a", username = "b" }, "UserName", "username" },
        }
        for _, case in ipairs(cases) do
            local res, err = c:call("GetBalance", case[1])
            assert.is_nil(res)
            assert.equal("invalid", err.kind)
            assert.truthy(err.message:find(case[2]) and err.message:find(case[3]), err.message)
        end
        local b = c:batch()
        b:add("GetBalance", cases[1][1])
        local _, errs = b:wait()
        assert.equal("invalid", errs[1].kind)
        assert.equal(before, H.total_received())
        assert.has_error(function() enom.encode { X = { "a" }, X1 = "b" } end)
    end)
end)

describe("append_private", function()
    local dir
    before_each(function()
        dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir -m 700 " .. dir))
    end)
    after_each(function()
        os.execute("rm -rf " .. dir)
    end)

    local function mode(path)
        return io.popen("stat -c %a " .. path):read("l")
    end

    it("creates a file of mode 0600 whatever the umask, and appends to it", function()
        local path = dir .. "/pw.txt"
        local out = sh(("cd %s && umask 000 && env -u LD_PRELOAD LUA_CPATH='%s/build/5.4/?.so' lua5.4 -e "
            .. "'local c = require \"enom.core\"; assert(c.append_private(%q, \"a\\n\")); assert(c.append_private(%q, \"b\\n\"))'")
            :format(ROOT, ROOT, path, path))
        assert.truthy(out:find("rc=0"), out)
        assert.equal("600", mode(path))
        assert.equal("a\nb\n", io.open(path):read("a"))
    end)

    it("refuses a symbolic link, a file open to others, and a file with other mode bits", function()
        local target = dir .. "/target"
        assert(core.append_private(target, "x"))
        assert(os.execute(("env -u LD_PRELOAD ln -s %s %s/link"):format(target, dir)))
        local ok, err = core.append_private(dir .. "/link", "secret")
        assert.is_nil(ok)
        assert.truthy(err:find("symbolic link", 1, true), err)
        for _, m in ipairs { "640", "604", "4600", "700" } do
            assert(os.execute(("env -u LD_PRELOAD chmod %s %s"):format(m, target)))
            ok, err = core.append_private(target, "secret")
            assert.is_nil(ok, m)
            assert.truthy(err:find("mode", 1, true), err)
        end
        assert.equal("x", io.open(target):read("a"))
    end)

    it("refuses a FIFO without blocking, with and without a reader", function()
        local fifo = dir .. "/fifo"
        assert(os.execute("env -u LD_PRELOAD mkfifo -m 600 " .. fifo))
        local script = ("local c = require 'enom.core'; local ok, err = c.append_private(%q, 'secret'); "
            .. "print(ok, err)"):format(fifo)
        local run = ("cd %s && env -u LD_PRELOAD LUA_CPATH='%s/build/5.4/?.so' timeout 10 lua5.4 -e %q")
            :format(ROOT, ROOT, script)
        local out = sh(run)
        assert.truthy(out:find("rc=0"), out)
        assert.truthy(out:find("not a regular file", 1, true), out)
        -- A reader waiting on the FIFO: the open succeeds, fstat refuses.
        out = sh(("(timeout 5 cat %s > /dev/null &) ; sleep 0.2; %s"):format(fifo, run))
        assert.truthy(out:find("rc=0"), out)
        assert.truthy(out:find("not a regular file", 1, true), out)
    end)

    it("refuses a file of another user, even for root", function()
        local uid = tonumber(io.popen("id -u"):read("l"))
        local path = dir .. "/theirs"
        assert(core.append_private(path, "x"))
        if uid == 0 then
            assert(os.execute("env -u LD_PRELOAD chown nobody " .. path))
            local ok, err = core.append_private(path, "secret")
            assert.is_nil(ok)
            assert.truthy(err:find("another user", 1, true), err)
        else
            -- Not root: a file we cannot open is refused by the system.
            local ok = core.append_private("/etc/shadow", "secret")
            assert.is_nil(ok)
        end
        assert.equal("x", io.open(path):read("a"))
    end)
end)

describe("argument checks", function()
    before_each(function()
        H.reset()
    end)

    it("batch_size must be an integer from 1 to 100", function()
        local c = H.client()
        local before = H.total_received()
        for _, bad in ipairs { 0, -1, 1.5, 101, "2", 0 / 0, math.huge } do
            local res, err = c:setup_pop3_users {
                sld = "resellerdocs", tld = "com", bundle_id = 5134, batch_size = bad,
                users = { { username = "n1", password = "Pw-123456-ab" }, { username = "n2", password = "Pw-654321-ab" } },
            }
            assert.is_nil(res)
            assert.equal("invalid", err.kind, tostring(bad))
            assert.truthy(err.message:find("batch_size must be an integer from 1 to 100", 1, true), err.message)
        end
        assert.equal(before, H.total_received())
        local res = assert(c:setup_pop3_users {
            sld = "resellerdocs", tld = "com", bundle_id = 5134, batch_size = 1,
            users = { { username = "n1", password = "Pw-123456-ab" }, { username = "n2", password = "Pw-654321-ab" } },
        })
        assert.equal(2, res.accounts_created)
        assert.equal(before + 2, H.total_received())
    end)

    it("a password rule's alphabet is printable ASCII, each character once", function()
        local function rule(classes)
            return { min = 8, max = 20, classes = classes }
        end
        for _, classes in ipairs {
            { a = "abc\0" }, { a = "abc\r" }, { a = "\255x" }, { a = "" }, { a = 5 },
            { a = "abca", b = "x" }, { a = "abc", b = "cde" },
        } do
            local ok, why = password.rule(rule(classes))
            assert.is_nil(ok)
            assert.is_string(why)
            assert.has_error(function() password.generate(rule(classes)) end)
        end
        local all = {}
        for i = 0x20, 0x7e do
            all[#all + 1] = string.char(i)
        end
        assert.equal(20, #password.generate(rule { all = table.concat(all) }, nil, 20))
        assert.equal("aaaaaaaa", password.generate(rule { a = "a" }, nil, 8))
    end)

    it("core.sleep refuses absurd values with nil, err instead of raising", function()
        for _, v in ipairs { 1e300, math.huge, -1, 0 / 0, 86401 } do
            local ok, err = core.sleep(v)
            assert.is_nil(ok)
            assert.truthy(err:find("86400", 1, true))
        end
        assert.is_true(core.sleep(0))
        assert.has_error(function() core.sleep("x") end)
    end)

    it("honours a per-call timeout in typed methods, call and batches", function()
        H.faults { rules = { { kind = "delay", ms = 3000 } } }
        local c = H.client() -- the client's own timeout: 60 s
        local _, err = c:get_balance { timeout = 0.3 }
        assert.equal("timeout", err.kind)
        _, err = c:call("GetBalance", {}, { timeout = 0.3, connect_timeout = 2 })
        assert.equal("timeout", err.kind)
        local b = c:batch { concurrency = 2 }
        b:add_method("get_balance", { timeout = 0.3 })
        b:add("GetBalance", {}, { timeout = 0.3 })
        local _, errs = b:wait()
        assert.equal("timeout", errs[1].kind)
        assert.equal("timeout", errs[2].kind)
        for _, bad in ipairs { 0, -1, "1", 1e7 } do
            _, err = c:get_balance { timeout = bad }
            assert.equal("invalid", err.kind)
            _, err = c:call("GetBalance", {}, { connect_timeout = bad })
            assert.equal("invalid", err.kind)
        end
        c:close()
    end)
end)

describe("one request pipeline", function()
    before_each(function()
        H.reset()
        H.admin("DELETE", "/faults")
    end)

    it("require 'enom.client' alone gives batch and call_many, and provision.plan works with it", function()
        local script = [[
            local client = require "enom.client"
            assert(client.batch and client.call_many, "no batch methods")
            assert(client._prepare == nil and client._finish == nil, "pipeline internals exported")
            local c = assert(client.new { uid = "resellid", pw = os.getenv("PW"), endpoint = os.getenv("URL"),
                cainfo = os.getenv("CA") })
            local plan = assert(require("enom.provision").plan(c,
                { { domain = "resellerdocs.com", mailboxes = { { username = "james" } } } }, {}))
            print("domains", #plan.domains, #plan.errors)
        ]]
        local out = sh(("cd %s && env -u LD_PRELOAD LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;' LUA_CPATH='%s/build/5.4/?.so;;' "
            .. "PW='%s' URL='%s' CA='%s' lua5.4 -e %q"):format(ROOT, ROOT, ROOT, ROOT, H.PW, H.HTTPS_URL, H.CA, script))
        assert.truthy(out:find("domains\t1\t0"), out)
        assert.truthy(out:find("rc=0"), out)
    end)

    it("batch.lua drives enom.request, and no module patches the client", function()
        local src = io.open(ROOT .. "/lua/enom/batch.lua"):read("a")
        assert.falsy(src:find('require "enom.client"', 1, true))
        assert.falsy(src:find("client%.%w+%s*=%s*function"))
        assert.truthy(src:find('require "enom.request"', 1, true))
    end)

    it("the C client has its own type name, __tostring, __close, and a __gc safe twice", function()
        local c = core.client {}
        local mt = getmetatable(c)
        assert.equal("enom.core.client", mt.__name)
        assert.matches("^enom%.core%.client %(0x%x+%)$", tostring(c))
        assert.is_function(mt.__close)
        mt.__gc(c)
        mt.__gc(c)
        assert.has_error(function() c:pending() end)
        local lc = H.client()
        assert.matches("^enom%.client %(resellid @ 127%.0%.0%.1%)$", tostring(lc))
        lc:close()
    end)
end)
