-- enom.metrics: the families' naming rules, the text exposition (labels
-- escaped, histogram buckets cumulative), the two stores (a Lua table and
-- a lua_shared_dict, here a stand-in with nginx's API and a size limit),
-- the atomic textfile, and the adapters for the client's logger and the
-- provisioning report.
local metrics = require "enom.metrics"
local enom = require "enom"
local fake = require "fake_transport"

-- The sample lines of `text` as { ["name{labels}"] = "value" }.
local function samples(text)
    local out = {}
    for line in text:gmatch("[^\n]+") do
        if line:sub(1, 1) ~= "#" then
            local series, value = line:match("^(.-) (%S+)$")
            assert.truthy(series, "a sample line: " .. line)
            out[series] = value
        end
    end
    return out
end

-- A lua_shared_dict with the calls the dict store makes, holding at most
-- `capacity` keys: safe_add and safe_set fail with "no memory" past it,
-- as nginx's do when the zone is full (they never evict).
local function fake_dict(capacity)
    local d = { data = {}, n = 0 }
    function d.get(self, k) return self.data[k] end
    function d.incr(self, k, v, init)
        local cur = self.data[k]
        if cur == nil then
            if init == nil then return nil, "not found" end
            if self.n >= capacity then return nil, "no memory" end
            self.n = self.n + 1
            cur = init
        end
        self.data[k] = cur + v
        return self.data[k]
    end
    function d.safe_add(self, k, v)
        if self.data[k] ~= nil then return false, "exists" end
        if self.n >= capacity then return false, "no memory" end
        self.n = self.n + 1
        self.data[k] = v
        return true
    end
    function d.safe_set(self, k, v)
        if self.data[k] == nil then
            if self.n >= capacity then return false, "no memory" end
            self.n = self.n + 1
        end
        self.data[k] = v
        return true
    end
    function d.get_keys(self)
        local keys = {}
        for k in pairs(self.data) do keys[#keys + 1] = k end
        return keys
    end
    return d
end

describe("metrics", function()
    describe("families", function()
        it("follow Prometheus' naming rules: base units, _total counters, no customer labels", function()
            local names = {}
            for _, f in ipairs(metrics.FAMILIES) do
                names[f.name] = f
                assert.truthy(f.name:find("^enom_[a-z_]+$"), f.name)
                assert.equal(f.type == "counter", f.name:find("_total$") ~= nil, f.name)
                for _, l in ipairs(f.labels or {}) do
                    assert.is_nil(metrics.FORBIDDEN_LABELS[l], f.name .. " has a customer label")
                end
                assert.is_nil(f.name:find("millis"), "base units: seconds, not milliseconds")
            end
            for _, n in ipairs { "enom_api_requests_total", "enom_api_request_duration_seconds",
                "enom_api_retries_total", "enom_paks_bought_total", "enom_spend_total",
                "enom_lease_acquire_total", "enom_provision_actions_total",
                "enom_rate_limit_wait_seconds_total", "enom_ensure_last_success_timestamp_seconds",
                "enom_metrics_errors_total" } do
                assert.truthy(names[n], n)
            end
            assert.same({ "command", "outcome" }, names.enom_api_requests_total.labels)
            assert.same({ "command" }, names.enom_api_request_duration_seconds.labels)
            assert.same({ "backend", "result" }, names.enom_lease_acquire_total.labels)
            assert.same({ "action", "result" }, names.enom_provision_actions_total.labels)
            assert.equal("histogram", names.enom_api_request_duration_seconds.type)
            assert.equal("gauge", names.enom_ensure_last_success_timestamp_seconds.type)
        end)

        it("refuses extra families that break the rules", function()
            local function with(f) return function() metrics.new { families = { f } } end end
            assert.has_error(with { name = "x_requests", type = "counter", help = "h" }, nil)
            assert.has_error(with { name = "x_open_total", type = "gauge", help = "h" })
            assert.has_error(with { name = "x_logins_total", type = "counter", help = "h", labels = { "domain" } })
            assert.has_error(with { name = "x_logins_total", type = "counter", help = "h", labels = { "username" } })
            assert.has_error(with { name = "x_logins_total", type = "counter", help = "h", labels = { "a-b" } })
            assert.has_error(with { name = "x_seconds", type = "histogram", help = "h", buckets = { 1, 0.5 } })
            assert.has_error(with { name = "x_seconds", type = "histogram", help = "h", buckets = { 1 }, labels = { "le" } })
            assert.has_error(with { name = "enom_api_retries_total", type = "counter", help = "twice" })
            assert.has_error(with { name = "x_logins_total", type = "counter" })
            local reg = metrics.new { families = {
                { name = "x_logins_total", type = "counter", help = "Logins.", labels = { "result" } },
            } }
            assert.truthy(reg:inc("x_logins_total", { result = "ok" }))
            assert.equal("1", samples(reg:expose())['x_logins_total{result="ok"}'])
        end)

        it("raises on a caller's mistakes: unknown family, wrong update, labels missing or unknown", function()
            local reg = metrics.new()
            assert.has_error(function() reg:inc("nope_total") end)
            assert.has_error(function() reg:inc("enom_api_requests_total", { command = "GetPOP3" }) end)
            assert.has_error(function()
                reg:inc("enom_api_requests_total", { command = "GetPOP3", outcome = "ok", domain = "x.com" })
            end)
            assert.has_error(function() reg:inc("enom_api_retries_total", nil, -1) end)
            assert.has_error(function() reg:set("enom_api_retries_total", nil, 3) end)
            assert.has_error(function() reg:inc("enom_api_request_duration_seconds", { command = "x" }) end)
            assert.has_error(function() reg:observe("enom_api_retries_total", nil, 1) end)
            assert.has_error(function() reg:inc("enom_api_retries_total", nil, 0 / 0) end)
            assert.has_error(function() metrics.new { colour = "red" } end)
        end)
    end)

    describe("exposition", function()
        it("writes HELP and TYPE for every family, unlabelled counters from 0, gauges only once set", function()
            local text = metrics.new():expose()
            for _, f in ipairs(metrics.FAMILIES) do
                assert.truthy(text:find("# HELP " .. f.name .. " ", 1, true), f.name)
                assert.truthy(text:find("# TYPE " .. f.name .. " " .. f.type .. "\n", 1, true), f.name)
            end
            local s = samples(text)
            assert.equal("0", s.enom_api_retries_total)
            assert.equal("0", s.enom_metrics_errors_total)
            assert.is_nil(s.enom_ensure_last_success_timestamp_seconds)
            assert.equal("\n", text:sub(-1))
        end)

        it("escapes label values (backslash, double quote, newline) and help texts", function()
            local reg = metrics.new { families = {
                { name = "x_seen_total", type = "counter", help = "back\\slash and\nnew line", labels = { "what" } },
            } }
            reg:inc("x_seen_total", { what = 'a\\b"c\nd' })
            local text = reg:expose()
            assert.truthy(text:find('x_seen_total{what="a\\\\b\\"c\\nd"} 1\n', 1, true), text)
            assert.truthy(text:find("# HELP x_seen_total back\\\\slash and\\nnew line\n", 1, true), text)
            assert.equal('a\\\\b\\"c\\nd', metrics.escape_label('a\\b"c\nd'))
        end)

        it("sorts series by labels and sums what is added", function()
            local reg = metrics.new()
            reg:inc("enom_api_requests_total", { command = "SetUpPOP3User", outcome = "ok" }, 2)
            reg:inc("enom_api_requests_total", { command = "GetPOP3", outcome = "timeout" })
            reg:inc("enom_api_requests_total", { command = "GetPOP3", outcome = "ok" })
            reg:inc("enom_api_requests_total", { command = "GetPOP3", outcome = "ok" }, 3)
            reg:inc("enom_spend_total", nil, 5.95)
            reg:inc("enom_spend_total", nil, 5.95)
            local text = reg:expose()
            local a = text:find('command="GetPOP3",outcome="ok"} 4', 1, true)
            local b = text:find('command="GetPOP3",outcome="timeout"} 1', 1, true)
            local c = text:find('command="SetUpPOP3User",outcome="ok"} 2', 1, true)
            assert.truthy(a and b and c, text)
            assert.truthy(a < b and b < c)
            assert.equal("11.9", samples(text).enom_spend_total)
        end)

        it("writes histogram buckets cumulatively with +Inf, _sum and _count", function()
            local reg = metrics.new()
            for _, v in ipairs { 0.01, 0.05, 0.07, 0.3, 2, 400 } do
                reg:observe("enom_api_request_duration_seconds", { command = "GetPOP3" }, v)
            end
            local s = samples(reg:expose())
            local function bucket(le)
                return s['enom_api_request_duration_seconds_bucket{command="GetPOP3",le="' .. le .. '"}']
            end
            assert.equal("2", bucket("0.05"))   -- le is inclusive: 0.05 counts
            assert.equal("3", bucket("0.1"))
            assert.equal("3", bucket("0.25"))
            assert.equal("4", bucket("0.5"))
            assert.equal("5", bucket("2.5"))
            assert.equal("5", bucket("180"))
            assert.equal("6", bucket("+Inf"))
            assert.equal("6", s['enom_api_request_duration_seconds_count{command="GetPOP3"}'])
            assert.equal(402.43, tonumber(s['enom_api_request_duration_seconds_sum{command="GetPOP3"}']))
            -- Buckets in increasing order of le, each line once.
            local text = reg:expose()
            local last = 0
            for _, le in ipairs { "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "180", "+Inf" } do
                local at = text:find('le="' .. le .. '"', 1, true)
                assert.truthy(at and at > last, le)
                last = at
            end
        end)

        it("formats values: integers bare, fractions short and exact, infinities and NaN", function()
            local f = metrics.format_value
            assert.equal("3", f(3))
            assert.equal("3", f(3.0))
            assert.equal("0.1", f(0.1))
            assert.equal("1796220014", f(1796220014))
            assert.equal("+Inf", f(math.huge))
            assert.equal("-Inf", f(-math.huge))
            assert.equal("NaN", f(0 / 0))
            assert.equal(0.1 + 0.2, tonumber(f(0.1 + 0.2)))
            assert.equal(1e300, tonumber(f(1e300)))
        end)
    end)

    describe("the lua_shared_dict store", function()
        local saved
        before_each(function() saved = rawget(_G, "ngx") end)
        after_each(function() rawset(_G, "ngx", saved) end)

        it("adds every worker's updates into the dict and exposes the sum", function()
            local dict = fake_dict(100)
            rawset(_G, "ngx", { shared = { enom_metrics = dict } })
            -- Two registries over one dict stand for two workers.
            local w1 = metrics.new { dict = "enom_metrics" }
            local w2 = metrics.new { dict = "enom_metrics" }
            w1:inc("enom_api_requests_total", { command = "GetPOP3", outcome = "ok" })
            w2:inc("enom_api_requests_total", { command = "GetPOP3", outcome = "ok" }, 2)
            w1:observe("enom_api_request_duration_seconds", { command = "GetPOP3" }, 0.2)
            w2:observe("enom_api_request_duration_seconds", { command = "GetPOP3" }, 3)
            w2:set("enom_ensure_last_success_timestamp_seconds", nil, 1700000000)
            local s1, s2 = samples(w1:expose()), samples(w2:expose())
            assert.same(s1, s2)
            assert.equal("3", s1['enom_api_requests_total{command="GetPOP3",outcome="ok"}'])
            assert.equal("2", s1['enom_api_request_duration_seconds_count{command="GetPOP3"}'])
            assert.equal("1", s1['enom_api_request_duration_seconds_bucket{command="GetPOP3",le="0.25"}'])
            assert.equal("2", s1['enom_api_request_duration_seconds_bucket{command="GetPOP3",le="5"}'])
            assert.equal("1700000000", s1.enom_ensure_last_success_timestamp_seconds)
            assert.equal("enom.metrics (lua_shared_dict enom_metrics)", tostring(w1))
        end)

        it("counts an update a full dict cannot keep in enom_metrics_errors_total, and evicts nothing", function()
            local dict = fake_dict(3)
            rawset(_G, "ngx", { shared = { enom_metrics = dict } })
            local reg = metrics.new { dict = "enom_metrics" }
            assert.truthy(reg:inc("enom_api_retries_total"))
            assert.truthy(reg:inc("enom_paks_bought_total"))
            local ok, err = reg:inc("enom_spend_total", nil, 5.95)
            assert.is_nil(ok)
            assert.equal("metrics", err.kind)
            assert.truthy(tostring(err):find("no memory", 1, true))
            ok = reg:set("enom_ensure_last_success_timestamp_seconds", nil, 1)
            assert.is_nil(ok)
            -- Existing series still count.
            assert.truthy(reg:inc("enom_api_retries_total"))
            local s = samples(reg:expose())
            assert.equal("2", s.enom_metrics_errors_total)
            assert.equal("2", s.enom_api_retries_total)
            assert.equal("1", s.enom_paks_bought_total)
            assert.equal("0", s.enom_spend_total)
        end)

        it("refuses a dict the configuration lacks, and runs only inside nginx", function()
            rawset(_G, "ngx", { shared = {} })
            assert.has_error(function() metrics.new { dict = "enom_metrics" } end)
            rawset(_G, "ngx", nil)
            assert.has_error(function() metrics.new { dict = "enom_metrics" } end)
        end)
    end)

    describe("textfile", function()
        local dir
        before_each(function()
            dir = os.tmpname()
            os.remove(dir)
            assert(os.execute("mkdir -m 700 " .. dir))
        end)
        after_each(function()
            os.execute("rm -rf " .. dir)
        end)

        local function entries(path)
            local p = io.popen("ls -A " .. path)
            local list = {}
            for line in p:lines() do list[#list + 1] = line end
            p:close()
            table.sort(list)
            return list
        end

        it("replaces the file whole: a reader of the old one keeps it, no temp file is left", function()
            local path = dir .. "/enom.prom"
            local reg = metrics.new()
            reg:inc("enom_paks_bought_total", nil, 1)
            assert.is_true(reg:write_textfile(path))
            local before = io.open(path, "r")
            reg:inc("enom_paks_bought_total", nil, 2)
            assert.is_true(reg:write_textfile(path))
            -- The open file is the old one: the new text came by rename,
            -- never by rewriting the file a reader may hold.
            assert.equal("1", samples(before:read("a")).enom_paks_bought_total)
            before:close()
            local f = assert(io.open(path, "r"))
            local text = f:read("a")
            f:close()
            assert.equal(reg:expose(), text)
            assert.equal("3", samples(text).enom_paks_bought_total)
            assert.same({ "enom.prom" }, entries(dir))
            local p = io.popen("stat -c %a " .. path)
            assert.equal("644", p:read("l"))
            p:close()
        end)

        it("returns an io error for a folder that does not exist", function()
            local ok, err = metrics.new():write_textfile(dir .. "/missing/enom.prom")
            assert.is_nil(ok)
            assert.equal("io", err.kind)
            assert.truthy(tostring(err):find("missing", 1, true))
            assert.has_error(function() metrics.new():write_textfile(dir .. "/") end)
        end)
    end)

    describe("adapters", function()
        it("logger counts each request's outcome and duration and hands events on", function()
            local reg = metrics.new()
            local seen = {}
            local answers = {
                "Command=GETBALANCE\r\nBalance=10.00\r\nErrCount=0\r\nDone=true\r\n",
                "Command=GETPOP3\r\nErrCount=1\r\nErr1=Domain name not found\r\nDone=true\r\n",
            }
            local t = fake.with(function(_, n)
                if n > #answers then
                    return nil, { kind = "timeout", message = "timed out", maybe_delivered = true }
                end
                return { status = 200, body = answers[n], total_time = 0.2 }
            end)
            local client = assert(enom.new { uid = "resellid", pw = "Acct-Secret-123", endpoint = "test",
                response_type = "text", transport = t,
                logger = metrics.logger(reg, function(ev) seen[#seen + 1] = ev.event end) })
            assert.truthy(client:get_balance {})
            assert.is_nil(client:call("getpop3", { sld = "x", tld = "com" }))
            assert.is_nil(client:get_pop3 { sld = "x", tld = "com" })
            client:close()
            local text = reg:expose()
            local s = samples(text)
            assert.equal("1", s['enom_api_requests_total{command="GetBalance",outcome="ok"}'])
            -- A free-form call in another case is the same series.
            assert.equal("1", s['enom_api_requests_total{command="GetPOP3",outcome="api"}'])
            assert.equal("1", s['enom_api_requests_total{command="GetPOP3",outcome="timeout"}'])
            assert.equal("1", s['enom_api_request_duration_seconds_count{command="GetBalance"}'])
            assert.equal("1", s['enom_api_request_duration_seconds_bucket{command="GetBalance",le="0.25"}'])
            assert.same({ "request", "response", "request", "error", "request", "error" }, seen)
            assert.is_nil(text:find("Acct-Secret-123", 1, true))
        end)

        it("record counts a report's mailbox outcomes, pak purchases and a successful run", function()
            local reg = metrics.new()
            reg:record { type = "mailbox", domain = "x.com", username = "ann", intended = "create", outcome = "created" }
            reg:record { type = "mailbox", domain = "x.com", username = "bob", intended = "create", outcome = "created" }
            reg:record { type = "mailbox", domain = "x.com", username = "cy", intended = "create", outcome = "blocked" }
            reg:record { type = "mailbox", domain = "x.com", username = "di", intended = "delete", outcome = "deleted" }
            reg:record { type = "event", domain = "x.com", action = "paks", outcome = "bought", detail = "2" }
            reg:record { type = "event", domain = "x.com", action = "paks", outcome = "failed", detail = "cap" }
            reg:record { type = "summary", ok = false }
            local s = samples(reg:expose())
            assert.equal("2", s['enom_provision_actions_total{action="create",result="created"}'])
            assert.equal("1", s['enom_provision_actions_total{action="create",result="blocked"}'])
            assert.equal("1", s['enom_provision_actions_total{action="delete",result="deleted"}'])
            assert.equal("1", s['enom_provision_actions_total{action="paks",result="bought"}'])
            assert.equal("1", s['enom_provision_actions_total{action="paks",result="failed"}'])
            assert.equal("2", s.enom_paks_bought_total)
            assert.is_nil(s.enom_ensure_last_success_timestamp_seconds)
            local before = os.time()
            reg:record { type = "summary", ok = true }
            local at = tonumber(samples(reg:expose()).enom_ensure_last_success_timestamp_seconds)
            assert.truthy(at >= before and at <= os.time())
            -- No customer's name reaches the text.
            assert.is_nil(reg:expose():find("x.com", 1, true))
        end)
    end)
end)
