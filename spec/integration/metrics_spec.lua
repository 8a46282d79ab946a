-- enom.metrics against the sandbox: a provisioning run counted through
-- the client's logger and the report's progress gives the counts the
-- sandbox saw, and the text passes Prometheus' own checker (`promtool
-- check metrics`, Debian's prometheus package), also as a textfile.
local H = require "helper"
local metrics = require "enom.metrics"
local provision = require "enom.provision"

-- promtool's verdict on `text`: ok, and what it printed.
local function promtool(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    local p = assert(io.popen("promtool check metrics < " .. path .. " 2>&1; echo \"rc=$?\""))
    local out = p:read("a")
    p:close()
    os.remove(path)
    local rc = tonumber(out:match("rc=(%d+)%s*$"))
    return rc == 0, out
end

local function samples(text)
    local out = {}
    for line in text:gmatch("[^\n]+") do
        if line:sub(1, 1) ~= "#" then
            local series, value = line:match("^(.-) (%S+)$")
            out[series] = tonumber(value)
        end
    end
    return out
end

describe("metrics against the sandbox", function()
    before_each(function()
        H.reset()
    end)

    it("counts a provisioning run's requests and outcomes, and promtool accepts the text", function()
        local reg = metrics.new()
        local c = H.client { logger = metrics.logger(reg) }
        H.admin("DELETE", "/counters")
        local desired = { { domain = "shop01.com", mailboxes = {
            { username = "ann" }, { username = "bob" }, { username = "cy" },
        } } }
        local rep = assert(provision.ensure(c, desired, {
            buy_paks = true, max_paks_per_run = 1, lock = "process",
            on_password = function() end,
            progress = function(rec) reg:record(rec) end,
        }))
        reg:record { type = "summary", ok = rep.ok }
        c:close()
        assert.is_true(rep.ok, rep:format())
        local text = reg:expose()
        local ok, out = promtool(text)
        assert.is_true(ok, out .. "\n" .. text)
        local s = samples(text)
        -- What the sandbox received is what was counted.
        local seen = H.counters().commands
        for _, command in ipairs { "GetPOP3", "PurchasePOPBundle", "SetUpPOP3User" } do
            assert.equal(seen[command].received, s['enom_api_requests_total{command="' .. command .. '",outcome="ok"}'],
                command)
            assert.equal(seen[command].received,
                s['enom_api_request_duration_seconds_count{command="' .. command .. '"}'], command)
        end
        assert.equal(3, s['enom_provision_actions_total{action="create",result="created"}'])
        assert.equal(1, s['enom_provision_actions_total{action="paks",result="bought"}'])
        assert.equal(1, s.enom_paks_bought_total)
        assert.truthy(s.enom_ensure_last_success_timestamp_seconds >= os.time() - 60)
        assert.is_nil(text:find("shop01", 1, true))
        assert.is_nil(text:find(H.PW, 1, true))
    end)

    it("counts eNom's refusals by their kind, and the textfile passes promtool", function()
        local reg = metrics.new()
        local c = H.client { logger = metrics.logger(reg) }
        assert.is_nil(c:get_pop3 { sld = "nosuchdomain", tld = "com" })
        assert.truthy(c:get_pop3 { sld = "resellerdocs", tld = "com" })
        c:close()
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir -m 700 " .. dir))
        local path = dir .. "/enom.prom"
        assert.is_true(reg:write_textfile(path))
        local f = assert(io.open(path))
        local text = f:read("a")
        f:close()
        os.execute("rm -rf " .. dir)
        local ok, out = promtool(text)
        assert.is_true(ok, out)
        local s = samples(text)
        assert.equal(1, s['enom_api_requests_total{command="GetPOP3",outcome="api"}'])
        assert.equal(1, s['enom_api_requests_total{command="GetPOP3",outcome="ok"}'])
        assert.equal(2, s['enom_api_request_duration_seconds_count{command="GetPOP3"}'])
    end)
end)
