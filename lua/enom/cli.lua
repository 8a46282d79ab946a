--- The `enom` command: eNom POP3 mailboxes from a shell or cron.
--
-- A thin layer over the Lua API: argument parsing (Debian's lua-argparse),
-- where the account comes from (enom.cli.config), output (enom.cli.output),
-- the subcommands (enom.cli.mail, enom.cli.provision, enom.cli.sandbox)
-- and one place that turns an outcome into an exit status.
--
-- Exit status: 0 done, 1 partly done (some items failed), 2 usage or bad
-- input, 3 authentication or permission (eNom's IP allow list included),
-- 4 transport or time-out after retries, 5 eNom refused the request,
-- 130 stopped by Ctrl-C.
local enom = require "enom"
local config = require "enom.cli.config"
local output = require "enom.cli.output"

local _M = {}

local type = type
local tostring = tostring

local EXIT = { ok = 0, partial = 1, usage = 2, auth = 3, transport = 4, refused = 5, interrupted = 130 }
_M.EXIT = EXIT

-- eNom's answers that mean "who you are or where you call from": bad
-- user name or password, and the IP allow list.
local AUTH_NUMBERS = { [304155] = true, [713254] = true }

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
            if l:find("bad user name or password", 1, true) or l:find("not permitted from this ip", 1, true)
                or l:find("does not belong to this account", 1, true) then
                return EXIT.auth
            end
        end
        return EXIT.refused
    elseif kind == "stopped" or kind == "interrupted" then
        return EXIT.interrupted
    end
    -- transport, timeout, tls, http, parse, incomplete
    return EXIT.transport
end

-- A failure the command reports in one line and an exit status.
local Failure = { __name = "enom.cli.failure" }
Failure.__index = Failure
Failure.__tostring = function(self)
    return self.message
end

--- Stop the command: print `message` (one line) and exit with `code`.
function _M.fail(code, message)
    error(setmetatable({ code = code, message = message }, Failure), 0)
end

local function is_failure(v)
    return getmetatable(v) == Failure
end

--- Stop with the exit status of an enom error value; `what` says what
-- was being done, `after` adds advice.
function _M.fail_err(err, what, after)
    local msg = (what and (what .. ": ") or "") .. tostring(err):gsub("^enom: ", "")
    if after then
        msg = msg .. "; " .. after
    end
    _M.fail(_M.exit_code(err), msg)
end

--- "example.com" -> "example", "com"; a bad name stops with status 2.
function _M.domain(name)
    if type(name) ~= "string" or #name > 253 or not name:find("^[%w][%w-]*%.[%w][%w.-]*%w$")
        or name:find("%.%.") then
        _M.fail(EXIT.usage, "not a domain name: '" .. tostring(name) .. "' (expected a name like example.com)")
    end
    local sld, tld = name:lower():match("^([^.]+)%.(.+)$")
    return sld, tld
end

--- Ask on stderr and read the answer from stdin; --yes answers for the user.
function _M.confirm(ctx, question)
    if ctx.args.yes then
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
    _M.fail(EXIT.usage, "not confirmed: nothing done (pass --yes to skip the question)")
end

--- The client for this run, made on first use from the settings.
function _M.client(ctx, extra)
    if ctx.cl then
        return ctx.cl
    end
    local a = ctx.args
    local s, err = config.resolve { config = a.config, profile = a.profile, endpoint = a.endpoint, ca = a.ca }
    if not s then
        _M.fail(EXIT.usage, err)
    end
    if not s.uid or not s.pw then
        _M.fail(EXIT.auth, "no account: set ENOM_UID and ENOM_PW, or write uid and pw to "
            .. tostring(config.default_path()) .. " (mode 0600), or pass --config FILE")
    end
    local url = enom.ENDPOINTS[s.endpoint] or s.endpoint
    local opts = {
        uid = s.uid, pw = s.pw, endpoint = s.endpoint, cainfo = s.ca, timeout = s.timeout,
        allow_http = url:lower():find("^http://") ~= nil or nil,
        -- Events carry parameter names and timings, never values.
        logger = function(ev)
            if ctx.on_event then
                ctx.on_event(ev)
            end
        end,
    }
    for k, v in pairs(extra or {}) do
        opts[k] = v
    end
    local ok, cl, cerr = pcall(enom.new, opts)
    if not ok then
        _M.fail(EXIT.usage, "settings from " .. tostring(s.source) .. ": " .. tostring(cl))
    end
    if not cl then
        _M.fail(_M.exit_code(cerr) == EXIT.usage and EXIT.usage or EXIT.auth,
            "settings from " .. tostring(s.source) .. ": " .. tostring(cerr and cerr.message or cerr))
    end
    ctx.cl = cl
    return cl
end

-- Failures worth another try for a request that changes nothing.
local TRANSIENT = { transport = true, timeout = true, http = true, incomplete = true, parse = true }
local READ_ATTEMPTS = 3

--- A read (a typed method that changes nothing): sent again after a
-- transport failure or a time-out, up to 3 times, with a short pause.
function _M.read(ctx, method, args)
    local client = _M.client(ctx)
    local res, err
    for attempt = 1, READ_ATTEMPTS do
        res, err = client[method](client, args)
        if res or not TRANSIENT[err.kind] or (err.kind == "http" and (err.status or 500) < 500) then
            return res, err
        end
        if attempt < READ_ATTEMPTS then
            require("enom.core").sleep(0.5 * attempt)
        end
    end
    return res, err
end

local cli_parser = require "enom.cli.parser"

--- The argument parser, with every subcommand's help and example.
_M.parser = cli_parser.new


local HANDLERS = {
    ["mailboxes list"] = { "enom.cli.mail", "mailboxes_list" },
    ["mailboxes add"] = { "enom.cli.mail", "mailboxes_add" },
    ["mailboxes modify"] = { "enom.cli.mail", "mailboxes_modify" },
    ["mailboxes delete"] = { "enom.cli.mail", "mailboxes_delete" },
    ["paks list"] = { "enom.cli.mail", "paks_list" },
    ["paks buy"] = { "enom.cli.mail", "paks_buy" },
    ["paks delete"] = { "enom.cli.mail", "paks_delete" },
    ["forwarding get"] = { "enom.cli.mail", "forwarding_get" },
    ["forwarding set"] = { "enom.cli.mail", "forwarding_set" },
    ["balance"] = { "enom.cli.mail", "balance" },
    ["call"] = { "enom.cli.mail", "call" },
    ["plan"] = { "enom.cli.provision", "plan" },
    ["apply"] = { "enom.cli.provision", "apply" },
    ["sandbox start"] = { "enom.cli.sandbox", "start" },
    ["sandbox stop"] = { "enom.cli.sandbox", "stop" },
    ["sandbox status"] = { "enom.cli.sandbox", "status" },
}

local TOP = { mailboxes = true, paks = true, forwarding = true, balance = true, call = true,
    plan = true, apply = true, sandbox = true }

local function say(msg)
    io.stderr:write("enom: ", (tostring(msg):gsub("\n", " ")), "\n")
end

--- Run the command line `argv` (an array of strings). Returns the exit
-- status; never raises.
function _M.main(argv)
    local parser = _M.parser()
    local ok, args = parser:pparse(argv)
    if not ok then
        local words = { "enom" }
        for i, w in ipairs(argv) do
            if TOP[w] then
                words[2] = w
                if argv[i + 1] and HANDLERS[w .. " " .. argv[i + 1]] then
                    words[3] = argv[i + 1]
                end
                break
            end
        end
        say(args .. " (see: " .. table.concat(words, " ") .. " --help)")
        return EXIT.usage
    end
    local key = args.command .. (args.sub and (" " .. args.sub) or "")
    local h = HANDLERS[key]
    -- Lines reach a pipe in the order they were written beside stderr.
    io.stdout:setvbuf("line")
    local ctx = { args = args, out = output.new(io.stdout, args.json) }
    local status
    local done, err = xpcall(function()
        local mod = require(h[1])
        status = mod[h[2]](ctx, args) or EXIT.ok
    end, function(e)
        if is_failure(e) or enom.is_error(e) then
            return e
        end
        return { internal = tostring(e), trace = debug.traceback("", 2) }
    end)
    if ctx.cl then
        ctx.cl:close()
    end
    io.stdout:flush()
    if done then
        return status
    end
    if is_failure(err) then
        say(err.message)
        return err.code
    elseif enom.is_error(err) then
        say(err)
        return _M.exit_code(err)
    end
    if err.internal:find("interrupted!", 1, true) then
        say("interrupted")
        return EXIT.interrupted
    end
    say("internal error: " .. err.internal)
    if os.getenv("ENOM_DEBUG") then
        io.stderr:write(err.trace, "\n")
    end
    return 70
end

return _M
