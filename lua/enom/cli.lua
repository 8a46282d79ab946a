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
local argparse = require "argparse"
local enom = require "enom"
local config = require "enom.cli.config"
local output = require "enom.cli.output"

local _M = { _VERSION = enom._VERSION }

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

local function example(text)
    return "Example:\n" .. text:gsub("^%s+", ""):gsub("\n%s+", "\n"):gsub("([^\n]+)", "   %1")
end

local HELP = [[
Manage eNom POP3 mailboxes: list, add, change and delete them, buy paks,
set forwarding, or provision whole domains from a CSV of people.

The account never comes from the command line: set ENOM_UID and ENOM_PW
(and ENOM_ENDPOINT, ENOM_CA), or write them to a config file that only you
can read ($XDG_CONFIG_HOME/enom/config, or --config FILE):

   uid = resellid
   pw = your-api-password
   endpoint = test          # live (default), test, or an https URL
   ca = /path/to/ca.pem     # optional

   [other]                  # --profile other
   uid = ...

With --config or --profile the file alone is used; otherwise ENOM_*
variables win over the default file, setting by setting.

Exit status: 0 done, 1 partly done (some items failed), 2 usage or bad
input, 3 authentication or permission (including eNom's IP allow list),
4 transport or time-out after retries, 5 eNom refused the request,
130 stopped by Ctrl-C.]]

--- The argument parser, with every subcommand's help and example.
function _M.parser()
    local p = argparse("enom", "The eNom reseller API from the command line: POP3 mailboxes.")
        :command_target("command")
        :epilog(HELP .. "\n\n" .. example([[
            enom mailboxes list example.com
            enom plan people.csv --domain example.com --buy-paks --save plan.json
            enom apply plan.json --passwords pw.txt --report run.jsonl]]))
        :help_max_width(80)
    p:flag("--version", "Print the version and exit."):action(function()
        print(("enom %s (core %s, %s)"):format(enom._VERSION, enom.core_version or "?",
            (require("enom.core").curl_version or "libcurl"):match("^%S+")))
        os.exit(0)
    end)
    p:option("--config", "Config file (default: $XDG_CONFIG_HOME/enom/config)."):argname("<file>")
    p:option("--profile", "Section of the config file to use."):argname("<name>")
    p:option("--endpoint", "live, test, or an https URL (overrides the config)."):argname("<where>")
    p:option("--ca", "CA certificate file for the endpoint."):argname("<file>")
    p:flag("--json", "Print JSON (one document, or JSON lines for apply) with the Lua API's fields.")

    -- mailboxes
    local mb = p:command("mailboxes", "List, add, change and delete a domain's mailboxes.")
        :command_target("sub")
        :epilog(example("enom mailboxes list example.com"))
    local c = mb:command("list", "List a domain's mailboxes.")
        :epilog(example([[
            enom mailboxes list example.com
            enom mailboxes list example.com --json]]))
    c:argument("domain", "The domain, like example.com.")
    c:flag("--show-passwords", "Include the mailboxes' passwords (printed in clear).")

    c = mb:command("add", "Create mailboxes with generated passwords (or read from stdin).")
        :epilog(example([[
            enom mailboxes add example.com ann bob --passwords pw.txt
            printf '%s\n' 'S3cret-one!' | enom mailboxes add example.com carol --password-stdin]]))
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "User names (the part before the @)."):args("+")
    c:option("--passwords", "Append 'domain<TAB>user<TAB>password' lines to this file (mode 0600); '-' prints them.")
        :argname("<file>")
    c:flag("--password-stdin", "Read one password per user, one per line, from stdin.")
    c:option("--length", "Length of generated passwords.", "16"):convert(tonumber)
    c:flag("--admin", "Make the new mailboxes administrators of the domain.")
    c:option("--display-name", "Display name (one user only)."):argname("<name>")
    c:option("--pak", "Bundle ID of the pak to use (default: one with enough free slots)."):argname("<id>")
        :convert(tonumber)

    c = mb:command("modify", "Change mailboxes: the admin flag, or the password from stdin.")
        :epilog(example([[
            enom mailboxes modify example.com ann --admin
            enom mailboxes modify example.com ann --password-stdin < new-password.txt]]))
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "User names."):args("+")
    c:flag("--admin", "Make them administrators.")
    c:flag("--no-admin", "Make them regular users.")
    c:flag("--password-stdin", "Read one new password per user, one per line, from stdin.")

    c = mb:command("delete", "Delete mailboxes (asks first unless --yes).")
        :epilog(example("enom mailboxes delete example.com ann bob --yes"))
    c:argument("domain", "The domain, like example.com.")
    c:argument("users", "User names."):args("+")
    c:flag("-y --yes", "Do not ask for confirmation.")

    -- paks
    local pk = p:command("paks", "List, buy and delete a domain's POP paks (10 mailboxes each).")
        :command_target("sub")
        :epilog(example("enom paks list example.com"))
    c = pk:command("list", "List a domain's paks and their free slots.")
        :epilog(example("enom paks list example.com --json"))
    c:argument("domain", "The domain, like example.com.")
    c = pk:command("buy", "Buy paks: this spends money (asks first unless --yes).")
        :epilog(example("enom paks buy example.com --quantity 2 --yes"))
    c:argument("domain", "The domain, like example.com.")
    c:option("-n --quantity", "How many paks.", "1"):convert(tonumber)
    c:flag("-y --yes", "Do not ask for confirmation.")
    c = pk:command("delete", "Delete an empty pak, or every pak with --all (asks first unless --yes).")
        :epilog(example([[
            enom paks delete example.com 6001 --yes
            enom paks delete example.com --all]]))
    c:argument("domain", "The domain, like example.com.")
    c:argument("bundle_id", "The pak's bundle ID."):args("?"):convert(tonumber)
    c:flag("--all", "Delete every pak of the domain (they must be empty).")
    c:flag("-y --yes", "Do not ask for confirmation.")

    -- forwarding
    local fw = p:command("forwarding", "A domain's e-mail forwarding (alias -> address).")
        :command_target("sub")
        :epilog(example("enom forwarding get example.com"))
    c = fw:command("get", "List the domain's forwards.")
        :epilog(example("enom forwarding get example.com"))
    c:argument("domain", "The domain, like example.com.")
    c = fw:command("set", "Replace the whole set of forwards (those left out are deleted).")
        :epilog(example("enom forwarding set example.com info=ann@example.net sales=team@example.org"))
    c:argument("domain", "The domain, like example.com.")
    c:argument("forwards", "alias=address pairs."):args("*")
    c:flag("--allow-empty", "Allow an empty set (deletes every forward).")
    c:flag("-y --yes", "Do not ask before deleting forwards left out.")

    -- balance, call
    p:command("balance", "The account's balance.")
        :epilog(example("enom balance --json"))
    c = p:command("call", "Any eNom command by name; prints the parsed answer.")
        :epilog(example([[
            enom call GetBalance
            enom call GetPOP3 SLD=example TLD=com --json]]))
    c:argument("name", "eNom's command name, like GetDomainInfo.")
    c:argument("params", "Name=value parameters."):args("*")
    c:option("--response-type", "xml (default), text or html."):choices { "xml", "text", "html" }
    c:flag("--show-passwords", "Keep password fields of the answer (printed in clear).")

    -- plan, apply
    local function plan_options(cmd)
        cmd:option("-d --domain", "The domain of every record (else a 'domain' column).")
        cmd:flag("--buy-paks", "Buy the paks needed (spends money).")
        cmd:option("--max-paks", "At most this many paks in the run.", "10"):convert(tonumber)
        cmd:flag("--prune", "Delete the domain's mailboxes that are not in the file.")
        cmd:option("--username", "Template for user names from people's records.", "{first}.{last}")
        cmd:option("--display-name", "Template for display names.", "{first} {last}")
        cmd:option("--admin-role", "People whose 'role' is this become admins.", "admin")
    end
    c = p:command("plan", "What would change: read the domains, print the plan.")
        :epilog("FILE is a CSV (header row) or a JSON array of people (first, last, role, ...)\n"
            .. "or of mailboxes (username, display_name, admin, password).\n\n" .. example([[
            enom plan people.csv --domain example.com
            enom plan people.csv --domain example.com --buy-paks --max-paks 3 --save plan.json]]))
    c:argument("file", "People or mailboxes: .csv or .json.")
    plan_options(c)
    c:option("--save", "Write the plan as JSON (no passwords) for `enom apply`."):argname("<file>")
    c:flag("--progress", "Draw the progress line even when stderr is not a terminal.")

    c = p:command("apply", "Carry out a saved plan, or plan and apply a people/mailboxes file.")
        :epilog("Ctrl-C stops after the requests in flight and writes the report; run the same\n"
            .. "command again to finish: a second apply re-reads the domains and does only what is left.\n\n"
            .. example([[
            enom apply plan.json --passwords pw.txt --report run.jsonl
            enom apply people.csv --domain example.com --buy-paks --passwords pw.txt
            enom apply people.csv --domain example.com --dry-run]]))
    c:argument("file", "A plan saved by `enom plan --save`, or a people/mailboxes file.")
    plan_options(c)
    c:flag("--dry-run", "Plan only: print what would be done, change nothing.")
    c:option("--report", "Append the report as JSON lines (no secrets) to this file."):argname("<file>")
    c:option("--passwords", "Append generated passwords to this file (mode 0600) as 'domain<TAB>user<TAB>password'"
        .. " lines; '-' prints them.")
        :argname("<file>")
    c:option("--concurrency", "Requests in flight across domains.", "8"):convert(tonumber)
    c:flag("--progress", "Draw the progress line even when stderr is not a terminal.")

    -- sandbox
    local sb = p:command("sandbox", "A local eNom sandbox (from the source tree) to try things on.")
        :command_target("sub")
        :epilog(example([[
            enom sandbox start
            enom --config /tmp/enom-sandbox/config mailboxes list resellerdocs.com
            enom sandbox stop]]))
    local function sandbox_dir(cmd)
        cmd:option("--dir", "The sandbox's folder (default: $XDG_RUNTIME_DIR or /tmp, /enom-sandbox).")
    end
    sandbox_dir(sb:command("start", "Start it in the background; writes DIR/env and DIR/config.")
        :epilog(example("enom sandbox start --dir /tmp/sb")))
    sandbox_dir(sb:command("stop", "Stop it.")
        :epilog(example("enom sandbox stop --dir /tmp/sb")))
    sandbox_dir(sb:command("status", "Is it running, and where.")
        :epilog(example("enom sandbox status --json")))
    return p
end

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
