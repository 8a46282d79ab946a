--- The `enom` command: eNom POP3 mailboxes from a shell or cron.
--
-- The dispatcher. Each group of subcommands is a module of `enom.cli`
-- (listed in COMMANDS) that declares its arguments next to its handlers
-- (`add_to_parser`) and whose handlers return `true` or `nil, message,
-- status`; what they share is `enom.cli.context`. No command requires
-- this module. Arguments are parsed by Debian's lua-argparse.
--
-- Exit status: 0 done, 1 partly done (some items failed), 2 usage or bad
-- input, 3 authentication or permission (eNom's IP allow list included),
-- 4 transport or time-out after retries, 5 eNom refused the request,
-- 70 internal error, 130 stopped (Ctrl-C, TERM, HUP).
local argparse = require "argparse"
local enom = require "enom"
local core = require "enom.core"
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat

local EXIT = context.EXIT
_M.EXIT = EXIT
_M.exit_code = context.exit_code

--- The command groups, in the order `enom --help` lists them.
_M.COMMANDS = { "mailboxes", "paks", "forwarding", "catchall", "account", "plan", "apply", "queue", "journal", "sandbox" }

_M.HELP = [[
Manage eNom POP3 mailboxes: list, add, change and delete them, buy and
renew paks, set forwarding and the catch-all, or provision whole domains
from a CSV of people.

The account never comes from the command line: set ENOM_UID and ENOM_PW
(and ENOM_ENDPOINT, ENOM_CA), or write them to a config file that only you
can read ($XDG_CONFIG_HOME/enom/config, or --config FILE):

   uid = resellid
   pw = your-api-password
   endpoint = test          # live (default), test, or an https URL
   ca = /path/to/ca.pem     # optional
   rate_limit = 20/s        # optional: the account's requests per second

   [other]                  # --profile other
   uid = ...

With --config or --profile the file alone is used; otherwise ENOM_*
variables win over the default file, setting by setting.

Exit status: 0 done, 1 partly done (some items failed), 2 usage or bad
input, 3 authentication or permission (including eNom's IP allow list),
4 transport or time-out after retries, 5 eNom refused the request,
130 stopped by Ctrl-C (or TERM, HUP).]]

-- An example block for a command's help: one command a line, indented,
-- never wrapped (copied and pasted, it must still work).
local function example(text)
    return "Example:\n" .. text:gsub("^%s+", ""):gsub("\n%s+", "\n"):gsub("([^\n]+)", "   %1")
end

local function modules()
    local list = {}
    for i, name in ipairs(_M.COMMANDS) do
        list[i] = require("enom.cli." .. name)
    end
    return list
end

--- The argument parser, with every subcommand's help and example.
function _M.parser()
    local p = argparse("enom", "The eNom reseller API from the command line: POP3 mailboxes.")
        :command_target("command")
        :epilog(_M.HELP .. "\n\n" .. example([[
            enom mailboxes list example.com
            enom plan people.csv --domain example.com --buy-paks --save plan.json
            enom apply plan.json --buy-paks --passwords pw.txt --report run.jsonl]]))
        :help_max_width(80)
    p:flag("--version", "Print the version and exit."):action(function()
        print(("enom %s (core %s, %s)"):format(enom._VERSION, enom.core_version or "?",
            (core.curl_version or "libcurl"):match("^%S+")))
        os.exit(0)
    end)
    p:option("--config", "Config file (default: $XDG_CONFIG_HOME/enom/config)."):argname("<file>")
    p:option("--profile", "Section of the config file to use."):argname("<name>")
    p:option("--endpoint", "live, test, or an https URL (overrides the config)."):argname("<where>")
    p:option("--ca", "CA certificate file for the endpoint."):argname("<file>")
    p:option("--metrics-file", "Write this run's metrics (Prometheus text) to this file when it ends, atomically, "
        .. "for node_exporter's textfile collector."):argname("<file>")
    p:option("--rate-limit", "At most this many requests a second to eNom (20 or 20/s, 600/min), shared with every "
        .. "enom on the same backend (rate_limit_backend in the config file: process, or redis)."):argname("<rate>")
    p:flag("--json", "Print JSON (one document, or JSON lines for apply) with the Lua API's fields.")
    for _, m in ipairs(modules()) do
        m.add_to_parser(p, example)
    end
    return p
end

-- The names of the commands and subcommands, from the parser itself.
local function command_names(parser)
    local top, subs = {}, {}
    for _, c in ipairs(parser._commands) do
        top[c._name] = true
        subs[c._name] = {}
        for _, s in ipairs(c._commands or {}) do
            subs[c._name][s._name] = true
        end
    end
    return top, subs
end

-- A parse error as one line: what is wrong, a suggestion argparse did not
-- make (a word that begins a command: `mailbox`), and where help is.
local function usage_error(parser, argv, msg)
    local top, subs = command_names(parser)
    msg = msg:gsub("\nDid you mean (.-)%?$", " (did you mean %1?)"):gsub("\n", "; ")
    local words = { "enom" }
    if argv[1] and not argv[1]:find("^%-") then
        local w = argv[1]
        if top[w] then
            words[2] = w
            if argv[2] and subs[w][argv[2]] then
                words[3] = argv[2]
            end
        elseif not msg:find("did you mean", 1, true) then
            for name in pairs(top) do
                if name:sub(1, #w) == w or w:sub(1, #name) == name then
                    msg = msg .. " (did you mean '" .. name .. "'?)"
                    break
                end
            end
        end
    end
    return output.shown(msg) .. " (see: " .. concat(words, " ") .. " --help)"
end

local function say(msg)
    io.stderr:write("enom: ", (output.shown(msg):gsub("\\x0a", " ")), "\n")
end

--- Run the command line `argv` (an array of strings). Returns the exit
-- status; never raises.
function _M.main(argv)
    -- A closed standard descriptor is held on /dev/null before anything
    -- opens a file, so no journal or connection takes its number.
    local closed = core.hold_std()
    -- A pipe whose reader left makes a write fail, never the process die
    -- with passwords unwritten.
    core.ignore_sigpipe()
    local parser = _M.parser()
    local ok, args = parser:pparse(argv)
    if not ok then
        io.stderr:write("enom: ", usage_error(parser, argv, args), "\n")
        return EXIT.usage
    end
    -- Lines reach a pipe in the order they were written beside stderr.
    io.stdout:setvbuf("line")
    local ctx = context.new(args, io.stdout)
    ctx.stdout_closed = closed[1] == true
    local done, res, msg, code = xpcall(args.handler, function(e)
        return { internal = tostring(e), trace = debug.traceback("", 2) }
    end, ctx, args)
    ctx:close()
    local wrote, werr = ctx:write_metrics()
    if not wrote then
        say(werr)
    end
    io.stdout:flush()
    if not done then
        if res.internal:find("interrupted!", 1, true) then
            -- Lua's own SIGINT handler, outside a run that catches it.
            say("interrupted")
            return EXIT.interrupted
        end
        say("internal error: " .. res.internal)
        if os.getenv("ENOM_DEBUG") then
            io.stderr:write(res.trace, "\n")
        end
        return EXIT.internal
    end
    if res then
        return EXIT.ok
    end
    if msg ~= nil then
        say(msg)
    end
    return code or EXIT.partial
end

return _M
