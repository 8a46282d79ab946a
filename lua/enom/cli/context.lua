--- What every command of `enom` shares: the exit statuses, turning an
-- enom error into a message and a status, the account's client (made on
-- first use), reads with retries, questions, domain names and leases.
--
-- A command handler gets a context and its parsed arguments and returns
-- `true`, or `nil, message, status` (message nil when it has already
-- said everything). Nothing here prints but `confirm`'s question.
local enom = require "enom"
local core = require "enom.core"
local errors = require "enom.errors"
local names = require "enom.names"
local lease = require "enom.lease"
local metrics = require "enom.metrics"
local config = require "enom.cli.config"
local output = require "enom.cli.output"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable

--- Exit statuses: 0 done, 1 partly done, 2 usage or bad input, 3
-- authentication or permission, 4 transport or time-out after retries,
-- 5 eNom refused, 70 internal error, 130 stopped (Ctrl-C, TERM, HUP).
local EXIT = { ok = 0, partial = 1, usage = 2, auth = 3, transport = 4, refused = 5, internal = 70,
    interrupted = 130 }
_M.EXIT = EXIT

-- eNom's answers that mean "who you are or where you call from": bad
-- user name or password, and the IP allow list.
local AUTH_NUMBERS = { [304155] = true, [713254] = true }
local AUTH_TEXTS = { "bad user name or password", "not permitted from this ip", "does not belong to this account" }

--- The exit status for an error value of the Lua API.
function _M.exit_code(err)
    if type(err) ~= "table" then
        return EXIT.refused
    end
    local kind = err.kind
    if kind == "invalid" then
        return EXIT.usage
    elseif kind == "api" then
        if err.hint or AUTH_NUMBERS[err.response_number] then
            return EXIT.auth
        end
        for _, e in ipairs(err.errors or {}) do
            local l = tostring(e):lower()
            for _, t in ipairs(AUTH_TEXTS) do
                if l:find(t, 1, true) then
                    return EXIT.auth
                end
            end
        end
        return EXIT.refused
    elseif kind == "stopped" or kind == "interrupted" then
        return EXIT.interrupted
    end
    -- transport, timeout, tls, http, parse, incomplete, lease, io
    return EXIT.transport
end

-- Advice for an error the command line can say more about.
local function advice(err)
    if type(err) == "table" and err.kind == "tls" then
        return "the endpoint's certificate could not be verified: for a sandbox or a private CA pass --ca FILE"
            .. " (or ca = in the config file)"
    end
end

--- A converter for a numeric argument that names it when the word is
-- not a number (argparse's own message would not).
function _M.number(name)
    return function(word)
        local n = tonumber(word)
        if n == nil or n ~= n then
            return nil, name .. " must be a number (got '" .. output.shown(word) .. "')"
        end
        return n
    end
end

--- A number of days from the command line: "30d", "4w" (weeks) or "30".
-- @return the days, or nil and a message naming the option `name`
function _M.days(word, name)
    local n, unit = tostring(word):match("^(%d+)([dw]?)$")
    n = tonumber(n)
    if not n then
        return nil, name .. " must be days like 30d, weeks like 4w, or a number of days (got '"
            .. output.shown(word) .. "')"
    end
    return unit == "w" and n * 7 or n
end

--- An enom error as the command's failure: nil, message, status. `what`
-- says what was being done, `after` adds advice. A failure of the
-- command line's own (`{ message, exit }`) keeps its status.
function _M.failed(err, what, after)
    if type(err) == "table" and err.exit then
        return nil, (what and (what .. ": ") or "") .. err.message, err.exit
    end
    local msg = tostring(err):gsub("^enom: ", "")
    if what then
        msg = what .. ": " .. msg
    end
    after = after or advice(err)
    if after then
        msg = msg .. "; " .. after
    end
    return nil, msg, _M.exit_code(err)
end

--- A domain name from the command line: sld, tld, or nil, message, status.
function _M.domain(name)
    local sld, tld = names.split_domain(name)
    if not sld then
        return nil, "the domain '" .. output.shown(name) .. "' " .. tld .. " (expected a name like example.com)",
            EXIT.usage
    end
    return sld, tld
end

--- A rate from the command line or the config file: "20", "20/s" or
-- "1200/min" (requests per second or per minute).
-- @return requests per second, or nil and a message naming `name`
function _M.rate(word, name)
    local n, per = tostring(word):match("^%s*(%d+%.?%d*)%s*/?%s*(%a*)%s*$")
    n = tonumber(n)
    local scale = ({ [""] = 1, s = 1, sec = 1, m = 60, min = 60 })[per or ""]
    if not n or not scale or n <= 0 then
        return nil, name .. " must be requests per second like 20 or 20/s, or per minute like 600/min (got '"
            .. output.shown(word) .. "')"
    end
    return n / scale
end

--- The Redis of the settings (`redis`: host:port, its password in
-- ENOM_REDIS_PASSWORD), as enom.redis options.
-- @return the options, or nil and a message
function _M.redis_options(settings)
    local host, port = tostring(settings.redis or "127.0.0.1:6379"):match("^(.-):(%d+)$")
    if not host then
        return nil, "redis must be host:port"
    end
    local opts = { host = host, port = tonumber(port) }
    if os.getenv("ENOM_REDIS_PASSWORD") then
        opts.password_env = "ENOM_REDIS_PASSWORD"
    end
    return opts
end

-- The account's rate limit of the settings and --rate-limit: client
-- options (enom.ratelimit), false for none, or nil and a message.
local function rate_limit(settings, flag)
    local word = flag or settings.rate_limit
    if word == nil or word == "" then
        return false
    end
    local rate, why = _M.rate(word, flag and "--rate-limit" or "rate_limit")
    if not rate then
        return nil, why
    end
    local backend = settings.rate_limit_backend or (settings.lock == "redis" and "redis" or "process")
    if backend ~= "process" and backend ~= "redis" then
        return nil, "rate_limit_backend must be process or redis (got '" .. output.shown(backend) .. "')"
    end
    local opts = { rate = rate, backend = backend }
    if backend == "redis" then
        opts.redis, why = _M.redis_options(settings)
        if not opts.redis then
            return nil, why
        end
    end
    return opts
end

local Context = {}
Context.__index = Context

--- The context of one invocation: `args` as parsed, output to `stream`.
-- With --metrics-file, a metrics registry counts the invocation's
-- requests, leases and provisioning records (`metrics`, else nil).
function _M.new(args, stream)
    return setmetatable({ args = args, out = output.new(stream, args.json), cl = nil, on_event = nil,
        metrics = args.metrics_file and metrics.new() or nil }, Context)
end

--- Count a provisioning record (a report's mailbox, event or summary)
-- in the invocation's metrics, when --metrics-file asked for them.
function Context.record(self, rec)
    if self.metrics then
        self.metrics:record(rec)
    end
end

--- Write the invocation's metrics to --metrics-file (atomically), when
-- it was given.
-- @return true, or nil and a message
function Context.write_metrics(self)
    if not self.metrics then
        return true
    end
    local ok, err = self.metrics:write_textfile(self.args.metrics_file)
    if not ok then
        return nil, "cannot write the metrics file: " .. tostring(err.message)
    end
    return true
end

--- The client for this run, made on first use from the settings.
-- @return the client, or nil, message, status
function Context.client(self, extra)
    if self.cl then
        return self.cl
    end
    local a = self.args
    local s, err = config.resolve { config = a.config, profile = a.profile, endpoint = a.endpoint, ca = a.ca }
    if not s then
        return nil, err, EXIT.usage
    end
    if not s.uid or not s.pw then
        return nil, "no account: set ENOM_UID and ENOM_PW, or write uid and pw to "
            .. tostring(config.default_path()) .. " (mode 0600), or pass --config FILE", EXIT.auth
    end
    local url = enom.ENDPOINTS[s.endpoint] or s.endpoint
    local limit, lerr = rate_limit(s, a.rate_limit)
    if limit == nil then
        return nil, lerr, EXIT.usage
    end
    local opts = {
        rate_limit = limit or nil,
        uid = s.uid, pw = s.pw, endpoint = s.endpoint, cainfo = s.ca, timeout = s.timeout,
        response_type = s.response_type,
        allow_http = url:lower():find("^http://") ~= nil or nil,
        -- Events carry parameter names and timings, never values.
        logger = function(ev)
            if self.on_event then
                self.on_event(ev)
            end
        end,
    }
    if self.metrics then
        opts.logger = metrics.logger(self.metrics, opts.logger)
    end
    for k, v in pairs(extra or {}) do
        opts[k] = v
    end
    local ok, cl, cerr = pcall(enom.new, opts)
    if not ok then
        return nil, "settings from " .. tostring(s.source) .. ": " .. tostring(cl), EXIT.usage
    end
    if not cl then
        return nil, "settings from " .. tostring(s.source) .. ": " .. tostring(cerr and cerr.message or cerr),
            _M.exit_code(cerr) == EXIT.usage and EXIT.usage or EXIT.auth
    end
    self.cl = cl
    return cl
end

local READ_ATTEMPTS = 3

--- A read (a typed method that changes nothing): sent again after a
-- failure worth another try, up to 3 times, with a short pause.
-- @return the result, or nil and the error (when there is no client,
--   an error `{ message, exit }` that `failed` turns into its status)
function Context.read(self, method, args)
    local client, msg, code = self:client()
    if not client then
        return nil, { message = msg, exit = code }
    end
    local res, err
    for attempt = 1, READ_ATTEMPTS do
        res, err = client[method](client, args)
        if res or not errors.retryable(err) then
            return res, err
        end
        if attempt < READ_ATTEMPTS then
            core.sleep(0.5 * attempt)
        end
    end
    return res, err
end

--- Ask on stderr and read the answer from stdin; --yes answers for the user.
-- @return true, or nil, message, status when not confirmed
function Context.confirm(self, question)
    if self.args.yes then
        return true
    end
    io.stderr:write(question, " [y/N] ")
    io.stderr:flush()
    local answer = io.stdin:read("l")
    if not answer then
        io.stderr:write("\n")
    end
    if answer and answer:lower():match("^%s*ye?s?%s*$") and answer:find("[yY]") then
        return true
    end
    return nil, "not confirmed: nothing done (pass --yes to skip the question)", EXIT.usage
end

--- The lease backend of the settings (`lock`: default, host or redis;
-- `redis`: host:port, its password in ENOM_REDIS_PASSWORD), made once:
-- provisioning runs, the commands that change a domain and the journal
-- all go through it.
-- @return the locker, or nil, message, status
function Context.locker(self)
    if self.lk then
        return self.lk
    end
    local s, err = config.resolve { config = self.args.config, profile = self.args.profile }
    if not s then
        return nil, err, EXIT.usage
    end
    local opts = { backend = s.lock or "default" }
    if opts.backend == "redis" then
        local r, why = _M.redis_options(s)
        if not r then
            return nil, why, EXIT.usage
        end
        for k, v in pairs(r) do
            opts[k] = v
        end
    end
    local ok, locker = pcall(lease.new, opts)
    if not ok then
        return nil, "lock: " .. tostring(locker), EXIT.usage
    end
    self.lk = locker
    return locker
end

--- Take the lease of `domain` for a command that changes it, so that no
-- provisioning run (on this host, or anywhere the lease backend reaches)
-- acts on the domain meanwhile.
-- @return the lease, or nil, message, status
function Context.lease(self, domain)
    local client, msg, code = self:client()
    if not client then
        return nil, msg, code
    end
    local locker
    locker, msg, code = self:locker()
    if not locker then
        return nil, msg, code
    end
    local l, err = locker:acquire(lease.key(client.uid, domain), { ttl = 300, wait = 10 })
    local busy = not l and type(err) == "table" and err.kind == "busy"
    if self.metrics then
        self.metrics:inc("enom_lease_acquire_total",
            { backend = tostring(locker.backend), result = l and "granted" or busy and "busy" or "error" })
    end
    if not l then
        if busy then
            return nil, domain .. " is busy: another enom run holds it; try again when it has finished",
                EXIT.transport
        end
        return _M.failed(err, "cannot take the lease of " .. domain)
    end
    self.leases = self.leases or {}
    self.leases[#self.leases + 1] = l
    return l
end

--- Let go of what the command holds: leases, the client. Safe twice.
function Context.close(self)
    for _, l in ipairs(self.leases or {}) do
        l:release()
    end
    self.leases = nil
    if self.lk then
        self.lk:close()
        self.lk = nil
    end
    if self.cl then
        self.cl:close()
        self.cl = nil
    end
end

return _M
