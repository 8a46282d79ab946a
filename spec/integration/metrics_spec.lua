-- enom.metrics against the sandbox: a provisioning run counted through
-- the client's logger and the report's progress gives the counts the
-- sandbox saw, and the text passes Prometheus' own checker (`promtool
-- check metrics`, Debian's prometheus package), also as a textfile.
local H = require "helper"
local R = require "cli_runner"
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
            buy_paks = true, max_paks_per_run = 1, lock = "process", pak_price = 29.95,
            on_password = function() end,
            progress = function(rec) reg:record(rec) end,
        }))
        reg:record(rep:summary())
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
        assert.equal(29.95, s.enom_spend_total)
        assert.equal(1, s['enom_lease_acquire_total{backend="process",result="granted"}'])
        assert.truthy(s.enom_ensure_last_success_timestamp_seconds >= os.time() - 60)
        assert.is_nil(text:find("shop01", 1, true))
        assert.is_nil(text:find(H.PW, 1, true))
    end)

    it("a run's retries and busy leases come from its summary", function()
        local reg = metrics.new()
        local c = H.client { logger = metrics.logger(reg) }
        -- The first GetPOP3 fails as a transport failure: read again.
        H.faults { rules = { { kind = "status503", command = "GetPOP3", times = 1 } } }
        local lease = require "enom.lease"
        local locker = lease.new { backend = "process" }
        local held = assert(locker:acquire(lease.key(c.uid, "shop02.com"), { ttl = 60 }))
        local rep = assert(provision.ensure(c, {
            { domain = "shop01.com", mailboxes = { { username = "ann" } } },
            { domain = "shop02.com", mailboxes = { { username = "bob" } } },
        }, { buy_paks = true, lock = locker, lease_wait = 0, on_password = function() end, backoff_base = 0.01,
            progress = function(rec) reg:record(rec) end }))
        held:release()
        reg:record(rep:summary())
        c:close()
        local s = samples(reg:expose())
        assert.equal(rep.retries, s.enom_api_retries_total)
        assert.truthy(rep.retries >= 1)
        assert.equal(1, s['enom_lease_acquire_total{backend="process",result="granted"}'])
        assert.equal(1, s['enom_lease_acquire_total{backend="process",result="busy"}'])
        assert.equal(1, s['enom_provision_actions_total{action="create",result="busy"}'])
        -- Not every mailbox was made: no success time.
        assert.is_nil(s.enom_ensure_last_success_timestamp_seconds)
    end)

    it("enom --metrics-file writes the run's metrics for the textfile collector, promtool-clean", function()
        local run = R.new(H, "metrics")
        local people = run.work .. "/people.csv"
        R.write(people, "first,last\nAnn,Lee\nBob,Ray\n")
        local prom = run.work .. "/enom.prom"
        local code, _, err = run { "--metrics-file", prom, "apply", people, "--domain", "shop03.com",
            "--buy-paks", "--pak-price", "12.5", "--passwords", run.work .. "/pw.txt" }
        assert.equal(0, code, err)
        local text = assert(R.read(prom))
        local ok, out = promtool(text)
        assert.is_true(ok, out .. "\n" .. text)
        local s = samples(text)
        assert.equal(2, s['enom_provision_actions_total{action="create",result="created"}'])
        assert.equal(1, s.enom_paks_bought_total)
        assert.equal(12.5, s.enom_spend_total)
        assert.equal(1, s['enom_api_requests_total{command="PurchasePOPBundle",outcome="ok"}'])
        assert.truthy(s.enom_ensure_last_success_timestamp_seconds >= os.time() - 60)
        assert.is_nil(text:find("shop03", 1, true))
        -- A command that fails still leaves its requests counted; an
        -- unwritable file is said, and the command's own status stands.
        code, _, err = run { "--metrics-file", run.work .. "/no/such/dir/enom.prom", "mailboxes", "list",
            "shop03.com" }
        assert.equal(0, code, err)
        assert.truthy(err:find("cannot write the metrics file", 1, true), err)
        R.assert_no_secret(assert, run, { H.PW })
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
