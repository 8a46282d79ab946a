-- The sandbox at size: a pak order of any quantity eNom takes, and the
-- indexed lookups (by user name, by bundle id, mailboxes per pak) staying
-- right while mailboxes are added and deleted.
local H = require "helper"

local function call(params)
    local c = H.client()
    local res, err = c:call(params.command, params.args)
    c:close()
    return res, err
end

describe("sandbox at size", function()
    before_each(function()
        H.reset()
    end)

    it("sells more than 10 paks in one PurchasePOPBundle, as eNom documents no limit", function()
        local res = assert(call { command = "PurchasePOPBundle", args = { SLD = "emptydomain", TLD = "com", Quantity = 15 } })
        assert.equal("15", tostring(res.fields.BundleCount))
        assert.equal(15, #H.domain("emptydomain.com").paks)
    end)

    it("refuses a Quantity longer than eNom's 10-character field, and 0", function()
        for _, q in ipairs { "12345678901", "0", "2.5", "-1" } do
            local _, err = call { command = "PurchasePOPBundle", args = { SLD = "emptydomain", TLD = "com", Quantity = q } }
            assert.equal("api", err.kind, q)
            assert.equal(304183, tonumber(err.response_number), q)
        end
        assert.equal(0, #H.domain("emptydomain.com").paks)
    end)

    it("keeps lookups and free slots right through creates and deletes", function()
        local c = H.client()
        local bought = assert(c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 2 })
        local a, b = bought.bundle_ids[1], bought.bundle_ids[2]
        local function users(from, to)
            local out = {}
            for i = from, to do
                out[#out + 1] = { username = ("u%02d"):format(i), password = ("Pw-%02d-Secret@"):format(i) }
            end
            return out
        end
        assert(c:setup_pop3_users { sld = "emptydomain", tld = "com", bundle_id = a, users = users(1, 10) })
        assert(c:setup_pop3_users { sld = "emptydomain", tld = "com", bundle_id = b, users = users(11, 14) })
        -- A name already taken, in any case, is refused.
        local _, err = c:setup_pop3_users { sld = "emptydomain", tld = "com", bundle_id = b,
            users = { { username = "U03", password = "Pw-03-Again@" } } }
        assert.equal("api", err.kind)
        -- Delete from the middle, then add: free slots and names follow.
        assert(c:delete_pop3 { sld = "emptydomain", tld = "com", users = { "u05", "u12" } })
        local pop = assert(c:get_pop3 { sld = "emptydomain", tld = "com" })
        local free = {}
        for _, p in ipairs(pop.paks) do
            free[p.bundle_id] = p.free
        end
        assert.equal(1, free[a])
        assert.equal(7, free[b])
        assert(c:setup_pop3_users { sld = "emptydomain", tld = "com", bundle_id = a,
            users = { { username = "u05", password = "Pw-05-Again@" } } })
        _, err = c:setup_pop3_users { sld = "emptydomain", tld = "com", bundle_id = a,
            users = { { username = "u99", password = "Pw-99-Secret@" } } }
        assert.equal("api", err.kind)   -- pak a is full again
        pop = assert(c:get_pop3 { sld = "emptydomain", tld = "com" })
        assert.equal(13, #pop.mailboxes)
        local names = {}
        for _, m in ipairs(pop.mailboxes) do
            names[m.username] = true
        end
        assert.truthy(names.u05)
        assert.is_nil(names.u12)
        assert(c:delete_pop3 { sld = "emptydomain", tld = "com", users = { "u13" } })
        assert(c:modify_pop3 { sld = "emptydomain", tld = "com", users = { { username = "u14", admin = true } } })
        assert.is_true(H.mailboxes("emptydomain.com").u14.admin)
        c:close()
    end)
end)

describe("sandbox options for the latency benchmark", function()
    -- The exit status from the output: LuaJIT's close() does not give it.
    -- The sandbox's own programs (bash, sed, nginx) run without the
    -- sanitizer runtime the ASan suite preloads into this process.
    local function sh(cmd)
        local p = assert(io.popen("env -u LD_PRELOAD " .. cmd .. " 2>&1; echo \"exit=$?\""))
        local out = p:read("*a")
        p:close()
        return out:match("exit=(%d+)%s*$") == "0", out
    end

    it("refuses a malformed --address, and --address without --allow", function()
        local ok, out = sh("sandbox/sandbox start --dir /nonexistent/never --address 10.1.2 --allow 10.1.2.3")
        assert.is_false(ok)
        assert.truthy(out:find("invalid IPv4 address: 10.1.2", 1, true))
        ok, out = sh("sandbox/sandbox start --dir /nonexistent/never --address 10.1.2.3")
        assert.is_false(ok)
        assert.truthy(out:find("go together", 1, true))
    end)

    it("--conn-log logs connection facts and nothing of the request", function()
        local dir = os.tmpname()
        os.remove(dir)
        local ok, out = sh("sandbox/sandbox start --dir " .. dir .. " --conn-log")
        assert(ok, out)
        local env = {}
        for k, v in out:gmatch("(ENOM_SANDBOX_[%w_]+)=([^\n]*)") do
            env[k] = v
        end
        local c = assert(require("enom").new { uid = H.UID, pw = H.PW, endpoint = env.ENOM_SANDBOX_HTTPS_URL,
            cainfo = env.ENOM_SANDBOX_CA })
        assert(c:get_balance {})
        assert(c:get_balance {})
        c:close()
        sh("sandbox/sandbox stop --dir " .. dir)
        local f = assert(io.open(dir .. "/logs/conn.log"))
        local log = f:read("*a")
        f:close()
        sh("rm -rf " .. dir)
        assert.falsy(log:find(H.PW, 1, true))
        assert.falsy(log:find("GetBalance", 1, true))
        local tls = {}
        for line in log:gmatch("[^\n]+") do
            assert.truthy(line:match("^%d+ %d+ %S+ %S+$"), line)
            if line:find("TLS", 1, true) then
                tls[#tls + 1] = line
            end
        end
        -- The start-up check's request first, then the client's two.
        assert.equal(3, #tls)
        local c1, n1 = tls[2]:match("^(%d+) (%d+)")
        local c2, n2 = tls[3]:match("^(%d+) (%d+)")
        assert.equal(c1, c2)       -- the second request rode the first's connection
        assert.equal("1", n1)
        assert.equal("2", n2)
    end)
end)
