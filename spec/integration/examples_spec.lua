-- The examples run, against the sandbox, as a user would run them.
local H = require "helper"

local ROOT = os.getenv("PWD")

-- Run a Lua 5.4 script with the repository's modules and the sandbox's
-- settings; returns exit status and everything it printed.
local function run(script, args, env)
    local out = os.tmpname()
    local vars = {
        ("LUA_PATH='%s/lua/?.lua;%s/lua/?/init.lua;;'"):format(ROOT, ROOT),
        ("LUA_CPATH='%s/build/5.4/?.so;;'"):format(ROOT),
        ("ENOM_ENDPOINT='%s'"):format(H.HTTPS_URL),
        ("ENOM_CA='%s'"):format(H.CA),
        ("ENOM_UID='%s'"):format(H.UID),
        ("ENOM_PW='%s'"):format(H.PW),
    }
    for k, v in pairs(env or {}) do
        vars[#vars + 1] = ("%s='%s'"):format(k, v)
    end
    local cmd = ("cd %s && env %s lua5.4 %s %s > %s 2>&1"):format(ROOT, table.concat(vars, " "), script,
        table.concat(args or {}, " "), out)
    local ok, _, code = os.execute(cmd)
    local f = io.open(out)
    local text = f:read("a")
    f:close()
    os.remove(out)
    return ok and 0 or code, text
end

local function read(path)
    local f = io.open(path)
    if not f then return nil end
    local t = f:read("a")
    f:close()
    return t
end

describe("examples", function()
    before_each(function()
        H.reset()
    end)

    it("setup_users.lua creates the two mailboxes", function()
        local code, out = run("examples/setup_users.lua")
        assert.equal(0, code, out)
        assert.truthy(out:find("created 2 mailboxes"), out)
        local m = H.mailboxes("resellerdocs.com")
        assert.equal("Tern@Gull/42", m.ann.password)
        assert.falsy(out:find(H.PW, 1, true))
        assert.falsy(out:find("Quill-Harbor-27", 1, true))
    end)

    it("pop3_family.lua walks through every command", function()
        local code, out = run("examples/pop3_family.lua")
        assert.equal(0, code, out)
        assert.truthy(out:find("mailbox james"), out)
        assert.truthy(out:find("example.name forwards to"), out)
        assert.falsy(out:find("Mbx-Jx4-Secret1", 1, true))
    end)

    it("provision_domain.lua provisions the demo domain, passwords only in a 0600 file", function()
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir -m 700 " .. dir))
        local pwfile = dir .. "/passwords.txt"
        local code, out = run("examples/provision_domain.lua", { "examples/people.csv", "emptydomain.com", pwfile })
        assert.equal(0, code, out)
        assert.truthy(out:find("== plan"), out)
        assert.truthy(out:find("buy      4 pak"), out)
        assert.truthy(out:find("created 36"), out)
        local mode = io.popen("stat -c %a " .. pwfile):read("l")
        assert.equal("600", mode)
        local lines = {}
        for line in read(pwfile):gmatch("[^\n]+") do
            lines[#lines + 1] = line
        end
        assert.equal(36, #lines)
        for _, line in ipairs(lines) do
            local pw = line:match(" (%S+)$")
            assert.falsy(out:find(pw, 1, true), "a generated password was printed")
        end
        local n = 0
        for _ in pairs(H.mailboxes("emptydomain.com")) do n = n + 1 end
        assert.equal(36, n)
        -- Again: nothing to do, nothing bought.
        local code2, out2 = run("examples/provision_domain.lua", { "examples/people.csv", "emptydomain.com", pwfile })
        assert.equal(0, code2, out2)
        assert.truthy(out2:find("already right 36"), out2)
        assert.equal(4, #H.domain("emptydomain.com").paks)
        os.execute("rm -rf " .. dir)
    end)

    it("make demo's script provisions, then finds nothing to do, and stops its sandbox", function()
        local p = io.popen("cd " .. ROOT .. " && bash examples/run_demo 2>&1; echo rc=$?")
        local out = p:read("a")
        p:close()
        assert.truthy(out:find("rc=0%s*$"), out)
        assert.truthy(out:find("== plan"), out)
        assert.truthy(out:find("created 36"), out)
        assert.truthy(out:find("already_present 36"), out)
        assert.falsy(out:find("S4ndbox-Acct-Pass", 1, true))
        local dir = out:match("(/tmp/enom%-demo%.[%w]+)/passwords%.txt")
        assert.truthy(dir, out)
        assert.is_nil(io.open(dir .. "/sandbox/env"), "the demo's sandbox directory was left behind")
        -- The passwords stay for the user to read, and the demo says where.
        assert.truthy(out:find("kept in " .. dir .. "/passwords.txt (mode 0600)", 1, true), out)
        assert.equal("600", io.popen("stat -c %a " .. dir .. "/passwords.txt"):read("l"))
        assert.truthy(out:find("enom paks list emptydomain.com", 1, true), out)
        os.execute("rm -rf " .. dir)
    end)

    it("with_policy.lua: four policies, dry run sends nothing that changes state", function()
        for _, p in ipairs { "conservative", "budgeted", "offboarding", "renewing" } do
            local before = H.total_received()
            local code, out = run("examples/with_policy.lua", { "examples/policies/" .. p .. ".lua",
                "examples/people.csv", "resellerdocs.com" })
            assert.equal(0, code, out)
            assert.truthy(out:find("total: 1 domains"), out)
            assert.equal(before + 1, H.total_received())
            assert.equal(H.received("GetPOP3"), H.total_received())
        end
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir -m 700 " .. dir))
        local code, out = run("examples/with_policy.lua", { "examples/policies/budgeted.lua", "examples/people.csv",
            "shop05.com", "--apply" }, { ENOM_PASSWORD_FILE = dir .. "/pw.txt" })
        -- 36 people, 5 paks allowed by a 30.00 cap at 5.95: 36 fit in 4 paks... the cap allows 5.
        assert.equal(0, code, out)
        assert.equal(4, #H.domain("shop05.com").paks)
        os.execute("rm -rf " .. dir)
    end)
end)
