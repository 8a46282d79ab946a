--- Operator metrics in Prometheus' text format.
--
-- The metric families enom counts are data (`FAMILIES`: name, type, help,
-- label names, histogram buckets), named by Prometheus' rules: base units
-- (seconds), counters ending in `_total`, and never a domain, mailbox or
-- user as a label (one series per customer would grow without end and
-- put customers' names in the monitoring system).
--
-- A registry counts into one of two stores:
--
--   * a plain Lua table: a process, a cron job, the command line; its
--     `write_textfile` hands the counts to node_exporter's textfile
--     collector, replacing the file whole;
--   * an nginx `lua_shared_dict`: every worker adds into the dict, so one
--     `/metrics` answer, from whichever worker, shows the sum of all.
--     Updates never evict other entries: an update that finds the dict
--     full is dropped and counted in `enom_metrics_errors_total`.
--
-- Adapters that need no change elsewhere: `logger` makes the client's
-- `logger` option count requests and their durations, `record` counts a
-- provisioning report's records (pass it as `progress`).
--
-- @usage
-- local metrics = require "enom.metrics"
-- local reg = metrics.new()                          -- or metrics.new{ dict = "enom_metrics" } in nginx
-- local client = enom.new{ uid = uid, pw = pw, logger = metrics.logger(reg) }
-- local report = provision.ensure(client, desired, { progress = function(rec) reg:record(rec) end })
-- reg:record{ type = "summary", ok = report.ok }
-- assert(reg:write_textfile("/var/lib/prometheus/node-exporter/enom.prom"))
-- luacheck: read globals ngx
local core = require "enom.core"
local errors = require "enom.errors"
local commands = require "enom.commands"

local _M = {}
local mt = { __index = _M, __name = "enom.metrics" }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local error = error
local setmetatable = setmetatable
local getmetatable = getmetatable
local concat = table.concat
local sort = table.sort
local format = string.format
local find = string.find
local gsub = string.gsub
local floor = math.floor
local huge = math.huge
local os_time = os.time

--- The Content-Type of `expose`'s text (exposition format 0.0.4).
_M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

local DURATION_BUCKETS = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180 }

--- The families enom counts. Who counts what:
-- `logger` counts `enom_api_requests_total` (outcome `ok` or the error's
-- kind) and `enom_api_request_duration_seconds`; `record` counts
-- `enom_provision_actions_total` (action: create, keep, modify, delete
-- for mailboxes, paks for purchases; result: the report's outcome) and
-- `enom_paks_bought_total` as the records come, and from a run's summary
-- `enom_api_retries_total`, `enom_spend_total`,
-- `enom_lease_acquire_total`, `enom_rate_limit_wait_seconds_total` and,
-- for a summary that is ok, `enom_ensure_last_success_timestamp_seconds`.
_M.FAMILIES = {
    { name = "enom_api_requests_total", type = "counter", labels = { "command", "outcome" },
      help = "eNom API requests that got an outcome, by command and outcome (ok, or the error kind)." },
    { name = "enom_api_request_duration_seconds", type = "histogram", labels = { "command" },
      buckets = DURATION_BUCKETS,
      help = "Time from sending an eNom API request to its whole answer or its failure." },
    { name = "enom_api_retries_total", type = "counter",
      help = "eNom API requests sent again after a failure that allowed it." },
    { name = "enom_paks_bought_total", type = "counter",
      help = "POP paks bought (10 mailboxes each), purchases confirmed after a doubt included." },
    { name = "enom_spend_total", type = "counter",
      help = "Money spent on POP paks, in the eNom account's currency." },
    { name = "enom_lease_acquire_total", type = "counter", labels = { "backend", "result" },
      help = "Domain lease acquisitions, by lease backend and result (granted, busy, error)." },
    { name = "enom_provision_actions_total", type = "counter", labels = { "action", "result" },
      help = "Provisioning outcomes, by action (create, keep, modify, delete, paks) and result." },
    { name = "enom_rate_limit_wait_seconds_total", type = "counter",
      help = "Time requests waited for the request rate limiter." },
    { name = "enom_ensure_last_success_timestamp_seconds", type = "gauge",
      help = "Unix time at which a provisioning run last reached the desired state." },
    { name = "enom_metrics_errors_total", type = "counter",
      help = "Metric updates the store could not keep (a full lua_shared_dict: make it larger)." },
}

local ERRORS_FAMILY = "enom_metrics_errors_total"

-- Labels that would name a customer: one series each, and their names in
-- the monitoring system. Refused in any family.
local FORBIDDEN_LABELS = {
    domain = true, sld = true, tld = true, user = true, username = true, mailbox = true,
    owner = true, email = true, address = true,
}
_M.FORBIDDEN_LABELS = FORBIDDEN_LABELS

local TYPES = { counter = true, gauge = true, histogram = true }

-- new's options and their types; neither has a default (no dict: the
-- table store; no families: FAMILIES only).
local OPTIONS = {
    dict = "string",       -- name of a lua_shared_dict: the nginx store
    families = "table",    -- more families, in FAMILIES' shape
}

-- ---- families ------------------------------------------------------------

local function bad_family(f, why)
    error("enom.metrics: family " .. tostring(f.name) .. ": " .. why, 4)
end

-- Prometheus' naming rules, checked once when a registry is made.
local function check_family(f)
    if type(f.name) ~= "string" or not find(f.name, "^[a-zA-Z_:][a-zA-Z0-9_:]*$") then
        bad_family(f, "the name must match [a-zA-Z_:][a-zA-Z0-9_:]*")
    end
    if not TYPES[f.type] then
        bad_family(f, "type must be counter, gauge or histogram")
    end
    if type(f.help) ~= "string" or f.help == "" then
        bad_family(f, "help text is missing")
    end
    local total = find(f.name, "_total$") ~= nil
    if (f.type == "counter") ~= total then
        bad_family(f, "a counter's name, and only a counter's, ends in _total")
    end
    if f.type == "histogram" and (find(f.name, "_bucket$") or find(f.name, "_sum$") or find(f.name, "_count$")) then
        bad_family(f, "a histogram's name must not end in _bucket, _sum or _count")
    end
    local seen = {}
    for _, l in ipairs(f.labels or {}) do
        if type(l) ~= "string" or not find(l, "^[a-zA-Z_][a-zA-Z0-9_]*$") or find(l, "^__") then
            bad_family(f, "label " .. tostring(l) .. " is not a valid label name")
        end
        if FORBIDDEN_LABELS[l] then
            bad_family(f, "label " .. l .. " would name a customer: one series each, names in the monitoring system")
        end
        if seen[l] or (f.type == "histogram" and l == "le") then
            bad_family(f, "label " .. l .. " is repeated or reserved")
        end
        seen[l] = true
    end
    if f.type == "histogram" then
        local b = f.buckets
        if type(b) ~= "table" or #b == 0 then
            bad_family(f, "a histogram needs buckets")
        end
        for i, v in ipairs(b) do
            if type(v) ~= "number" or v ~= v or v == huge or (i > 1 and v <= b[i - 1]) then
                bad_family(f, "buckets must be finite numbers in increasing order (+Inf is implied)")
            end
        end
    elseif f.buckets ~= nil then
        bad_family(f, "only a histogram has buckets")
    end
end

-- ---- text ----------------------------------------------------------------

local LABEL_ESC = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }
local HELP_ESC = { ["\\"] = "\\\\", ["\n"] = "\\n" }

--- A label value as the exposition format writes it between quotes.
-- @param v the label value (any value; it is written as text)
-- @return the escaped text
function _M.escape_label(v)
    return (gsub(v, '[\\"\n]', LABEL_ESC))
end

local function escape_help(s)
    return (gsub(s, "[\\\n]", HELP_ESC))
end

--- A sample value as the exposition format writes it: integers without
-- a fraction, others in the fewest digits that read back the same,
-- `+Inf`, `-Inf`, `NaN`.
-- @param v the sample value, a number
-- @return the text
function _M.format_value(v)
    if v ~= v then
        return "NaN"
    elseif v == huge then
        return "+Inf"
    elseif v == -huge then
        return "-Inf"
    elseif v == floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then
        return format("%.0f", v)
    end
    local s = format("%.15g", v)
    if tonumber(s) ~= v then
        s = format("%.17g", v)
    end
    return s
end
local format_value = _M.format_value

-- ---- stores --------------------------------------------------------------
--
-- A store keeps numbers under keys "family\tlabels\tpart": labels as the
-- exposition writes them (`command="GetPOP3"`), part "" for a counter or
-- gauge, "b<i>" for a histogram's bucket i (not cumulative: one update
-- per observation; +Inf is bucket #buckets + 1), "sum" or "count".

local TableStore = {}
TableStore.__index = TableStore

function TableStore.new()
    return setmetatable({ values = {} }, TableStore)
end

function TableStore.add(self, key, v)
    local values = self.values
    values[key] = (values[key] or 0) + v
    return true
end

function TableStore.set(self, key, v)
    self.values[key] = v
    return true
end

function TableStore.each(self)
    return pairs(self.values)
end

local DictStore = {}
DictStore.__index = DictStore

function DictStore.new(name)
    if type(ngx) ~= "table" or not ngx.shared then
        error("enom.metrics: the dict store runs only inside nginx", 3)
    end
    local dict = ngx.shared[name]
    if not dict then
        error("enom.metrics: no lua_shared_dict " .. name .. " in the nginx configuration", 3)
    end
    return setmetatable({ dict = dict, name = name }, DictStore)
end

-- An update the dict could not keep: counted where it needs no new
-- memory when it can be (the key exists from the registry's start).
function DictStore.failed(self, err)
    self.dict:incr(ERRORS_FAMILY .. "\t\t", 1, 0)
    return nil, errors.new("metrics", "lua_shared_dict " .. self.name .. ": " .. tostring(err),
        { dict = self.name, maybe_delivered = false })
end

-- incr when the key exists; a new key only through safe_add, which
-- never evicts: metrics must not push out each other (or leases).
function DictStore.add(self, key, v)
    local dict = self.dict
    local n, err = dict:incr(key, v)
    if n then
        return true
    end
    if err == "not found" then
        local ok
        ok, err = dict:safe_add(key, v)
        if ok then
            return true
        end
        if err == "exists" then
            -- Another worker made it meanwhile.
            n, err = dict:incr(key, v)
            if n then
                return true
            end
        end
    end
    return self:failed(err)
end

function DictStore.set(self, key, v)
    local ok, err = self.dict:safe_set(key, v)
    if ok then
        return true
    end
    return self:failed(err)
end

function DictStore.each(self)
    local dict = self.dict
    -- get_keys(0): every key; the dict holds a bounded number of series.
    local keys = dict:get_keys(0)
    local i = 0
    return function()
        while true do
            i = i + 1
            local k = keys[i]
            if k == nil then
                return nil
            end
            local v = dict:get(k)
            if type(v) == "number" then
                return k, v
            end
        end
    end
end

-- ---- the registry --------------------------------------------------------

--- A registry.
-- @param opts { dict = name of a lua_shared_dict (inside nginx; without
--   it, a Lua table of this process), families = more families in
--   FAMILIES' shape (checked by the same naming rules) }
-- @return the registry; a family that breaks the naming rules, or a dict
--   that does not exist, raises
function _M.new(opts)
    if opts ~= nil and type(opts) ~= "table" then
        error("bad argument #1 to 'new' (table expected, got " .. type(opts) .. ")", 2)
    end
    local o = opts or {}
    for k, v in pairs(o) do
        local want = OPTIONS[k]
        if not want then
            error("bad argument #1 to 'new' (unknown option '" .. tostring(k) .. "')", 2)
        end
        if type(v) ~= want then
            error("bad argument #1 to 'new' (option " .. k .. " must be a " .. want .. ")", 2)
        end
    end
    local order, by_name = {}, {}
    local function add(list)
        for _, f in ipairs(list) do
            check_family(f)
            if by_name[f.name] then
                error("enom.metrics: family " .. f.name .. " is defined twice", 3)
            end
            local fam = { name = f.name, type = f.type, help = f.help, labels = f.labels or {}, buckets = f.buckets }
            by_name[f.name] = fam
            order[#order + 1] = fam
        end
    end
    add(_M.FAMILIES)
    add(o.families or {})
    local store = o.dict and DictStore.new(o.dict) or TableStore.new()
    local self = setmetatable({ store = store, order = order, families = by_name }, mt)
    -- The error counter exists from the start: counting a failure then
    -- needs no new memory in a full dict.
    store:add(ERRORS_FAMILY .. "\t\t", 0)
    return self
end

function mt.__tostring(self)
    return "enom.metrics (" .. (self.store.name and ("lua_shared_dict " .. self.store.name) or "table") .. ")"
end

-- The family `name` of type `want`, and its labels as text. Raises on a
-- caller's mistake: an unknown family, the wrong kind of update, a label
-- missing or unknown.
local function series(self, name, want, labels)
    local f = self.families[name]
    if not f then
        error("enom.metrics: unknown family " .. tostring(name), 3)
    end
    if want and f.type ~= want then
        error("enom.metrics: " .. name .. " is a " .. f.type, 3)
    end
    local names = f.labels
    if labels == nil then
        if #names > 0 then
            error("enom.metrics: " .. name .. " needs labels " .. concat(names, ", "), 3)
        end
        return f, ""
    end
    if type(labels) ~= "table" then
        error("enom.metrics: labels must be a table", 3)
    end
    local parts, given = {}, 0
    for i, l in ipairs(names) do
        local v = labels[l]
        if v == nil then
            error("enom.metrics: " .. name .. " needs label " .. l, 3)
        end
        parts[i] = l .. '="' .. _M.escape_label(tostring(v)) .. '"'
    end
    for _ in pairs(labels) do
        given = given + 1
    end
    if given ~= #names then
        error("enom.metrics: " .. name .. " takes the labels " .. concat(names, ", ") .. " only", 3)
    end
    return f, concat(parts, ",")
end

local function check_number(v, what)
    if type(v) ~= "number" or v ~= v then
        error("enom.metrics: " .. what .. " must be a number", 3)
    end
end

--- Add `value` (default 1) to a counter or a gauge.
-- @param self the registry
-- @param name the family's name
-- @param labels { label = value } for each of the family's labels, or nil
-- @param value a number; not negative for a counter
-- @return true, or nil and an error (kind "metrics": a full dict; the
--   update is counted in enom_metrics_errors_total)
function _M.inc(self, name, labels, value)
    local f, text = series(self, name, nil, labels)
    value = value or 1
    check_number(value, "the value")
    if f.type == "histogram" then
        error("enom.metrics: " .. name .. " is a histogram: use observe", 2)
    end
    if f.type == "counter" and value < 0 then
        error("enom.metrics: a counter only goes up (" .. name .. ")", 2)
    end
    return self.store:add(name .. "\t" .. text .. "\t", value)
end

--- Set a gauge.
-- @param self the registry
-- @param name the family's name
-- @param labels { label = value }, or nil
-- @param value a number
-- @return true, or nil and an error (as `inc`)
function _M.set(self, name, labels, value)
    local _, text = series(self, name, "gauge", labels)
    check_number(value, "the value")
    return self.store:set(name .. "\t" .. text .. "\t", value)
end

--- Count one observation of a histogram (e.g. a duration in seconds).
-- @param self the registry
-- @param name the family's name
-- @param labels { label = value }, or nil
-- @param value the observation
-- @return true, or nil and an error (as `inc`)
function _M.observe(self, name, labels, value)
    local f, text = series(self, name, "histogram", labels)
    check_number(value, "the observation")
    local b = f.buckets
    local i = #b + 1
    for j = 1, #b do
        if value <= b[j] then
            i = j
            break
        end
    end
    local prefix = name .. "\t" .. text .. "\t"
    local store = self.store
    local ok, err = store:add(prefix .. "b" .. i, 1)
    if ok then
        ok, err = store:add(prefix .. "sum", value)
    end
    if ok then
        ok, err = store:add(prefix .. "count", 1)
    end
    return ok, err
end

local function braces(labels, extra)
    if labels == "" then
        return extra and ("{" .. extra .. "}") or ""
    end
    return "{" .. labels .. (extra and ("," .. extra) or "") .. "}"
end

--- Every family in the text exposition format 0.0.4, in `FAMILIES`'
-- order, each series of a family sorted by its labels, for `/metrics`
-- (serve it with `CONTENT_TYPE`) or a textfile. A counter without labels
-- shows 0 before its first update; a gauge shows nothing until set.
-- @param self the registry
-- @return the text
function _M.expose(self)
    local by_family = {}
    for key, v in self.store:each() do
        local name, labels, part = key:match("^([^\t]+)\t([^\t]*)\t(.*)$")
        if name and self.families[name] then
            local t = by_family[name]
            if not t then
                t = {}
                by_family[name] = t
            end
            local s = t[labels]
            if not s then
                s = {}
                t[labels] = s
            end
            s[part] = v
        end
    end
    local out = {}
    for _, f in ipairs(self.order) do
        local name = f.name
        out[#out + 1] = "# HELP " .. name .. " " .. escape_help(f.help)
        out[#out + 1] = "# TYPE " .. name .. " " .. f.type
        local t = by_family[name] or {}
        local keys = {}
        for labels in pairs(t) do
            keys[#keys + 1] = labels
        end
        sort(keys)
        if #keys == 0 and #f.labels == 0 and f.type == "counter" then
            out[#out + 1] = name .. " 0"
        end
        for _, labels in ipairs(keys) do
            local s = t[labels]
            if f.type == "histogram" then
                local b, cum = f.buckets, 0
                for i = 1, #b + 1 do
                    cum = cum + (s["b" .. i] or 0)
                    local le = i <= #b and format_value(b[i]) or "+Inf"
                    out[#out + 1] = name .. "_bucket" .. braces(labels, 'le="' .. le .. '"') .. " " .. format_value(cum)
                end
                out[#out + 1] = name .. "_sum" .. braces(labels) .. " " .. format_value(s.sum or 0)
                out[#out + 1] = name .. "_count" .. braces(labels) .. " " .. format_value(s.count or 0)
            else
                out[#out + 1] = name .. braces(labels) .. " " .. format_value(s[""] or 0)
            end
        end
    end
    out[#out + 1] = ""
    return concat(out, "\n")
end

--- Write `expose()` to `path` for node_exporter's textfile collector,
-- atomically: a temp file in the same folder (not named *.prom), flushed
-- to disk, then renamed over `path`. A reader sees the old file or the
-- new one, never a part.
-- @param self the registry
-- @param path the file, e.g. /var/lib/prometheus/node-exporter/enom.prom
-- @return true, or nil and an error of kind "io"
function _M.write_textfile(self, path)
    if type(path) ~= "string" or path == "" then
        error("bad argument #1 to 'write_textfile' (a path expected)", 2)
    end
    local ok, err = core.replace_file(path, self:expose(), 420) -- 0644
    if not ok then
        return nil, errors.new("io", err, { path = path, maybe_delivered = false })
    end
    return true
end

-- ---- adapters ------------------------------------------------------------

-- The command's name as the command table spells it (a free-form call
-- may use any case), so one command is one series.
local function command_label(command)
    local spec = command and commands.get(command)
    return spec and spec.command or tostring(command or "unknown")
end

--- A function for the client's `logger` option: counts each request's
-- outcome (`enom_api_requests_total`) and its duration
-- (`enom_api_request_duration_seconds`), then hands the event on to
-- `next_logger` when one is given.
-- @param registry a registry
-- @param next_logger (optional) the logger that gets every event after
-- @usage local client = enom.new{ uid = uid, pw = pw, logger = metrics.logger(reg, print_event) }
function _M.logger(registry, next_logger)
    if getmetatable(registry) ~= mt then
        error("bad argument #1 to 'logger' (a registry expected)", 2)
    end
    if next_logger ~= nil and type(next_logger) ~= "function" then
        error("bad argument #2 to 'logger' (a function expected)", 2)
    end
    return function(ev)
        local what = ev.event
        if what == "response" or what == "error" then
            local command = command_label(ev.command)
            registry:inc("enom_api_requests_total",
                { command = command, outcome = what == "response" and "ok" or tostring(ev.kind or "unknown") })
            if type(ev.seconds) == "number" then
                registry:observe("enom_api_request_duration_seconds", { command = command }, ev.seconds)
            end
        end
        if next_logger then
            return next_logger(ev)
        end
    end
end

-- The counts a run's summary carries, added to their families.
local function summary(self, rec)
    local ok, err = true, nil
    local function add(name, labels, v)
        if ok and type(v) == "number" and v > 0 then
            ok, err = self:inc(name, labels, v)
        end
    end
    add("enom_api_retries_total", nil, rec.retries)
    add("enom_spend_total", nil, rec.spend)
    add("enom_rate_limit_wait_seconds_total", nil, rec.rate_limit_wait)
    local leases = type(rec.leases) == "table" and rec.leases or {}
    for _, result in ipairs { "granted", "busy", "error" } do
        add("enom_lease_acquire_total", { backend = tostring(leases.backend or "unknown"), result = result },
            leases[result])
    end
    if ok and rec.ok then
        ok, err = self:set("enom_ensure_last_success_timestamp_seconds", nil, os_time())
    end
    return ok, err
end

--- Count a provisioning report's record (pass `function(rec)
-- reg:record(rec) end` as the `progress` option, or feed it a report
-- file's lines): a mailbox's outcome, a pak purchase, or a run's summary.
-- The summary brings what the run counted as a whole: retries, money
-- spent (when the pak's price was known), lease acquisitions, time
-- waited for the rate limit, and, when the run reached the desired
-- state, `enom_ensure_last_success_timestamp_seconds`.
-- @param self the registry
-- @param rec { type = "mailbox", intended, outcome } | { type = "event",
--   action, outcome, detail } (paks bought: detail is their number) |
--   { type = "summary", ok, retries, spend, leases, rate_limit_wait }
-- @return true, or nil and an error (as `inc`)
function _M.record(self, rec)
    local t = rec.type
    if t == "mailbox" then
        return self:inc("enom_provision_actions_total",
            { action = tostring(rec.intended), result = tostring(rec.outcome) })
    elseif t == "event" then
        local ok, err = self:inc("enom_provision_actions_total",
            { action = tostring(rec.action), result = tostring(rec.outcome) })
        if ok and rec.action == "paks" and rec.outcome == "bought" then
            ok, err = self:inc("enom_paks_bought_total", nil, tonumber(rec.detail) or 0)
        end
        return ok, err
    elseif t == "summary" then
        return summary(self, rec)
    end
    return true
end
return _M
