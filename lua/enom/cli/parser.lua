--- The `enom` command's arguments: every subcommand with its help and
-- example, declared with Debian's lua-argparse. One function per group of
-- subcommands; `enom.cli` runs what the parse selects.
local argparse = require "argparse"
local enom = require "enom"

local _M = {}

local function example(text)
    return "Example:\n" .. text:gsub("^%s+", ""):gsub("\n%s+", "\n"):gsub("([^\n]+)", "   %1")
end

_M.HELP = [[
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

-- mailboxes
local function _mailboxes(p)
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

end

-- paks
local function _paks(p)
    local pk = p:command("paks", "List, buy and delete a domain's POP paks (10 mailboxes each).")
        :command_target("sub")
        :epilog(example("enom paks list example.com"))
    local c = pk:command("list", "List a domain's paks and their free slots.")
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

end

-- forwarding
local function _forwarding(p)
    local fw = p:command("forwarding", "A domain's e-mail forwarding (alias -> address).")
        :command_target("sub")
        :epilog(example("enom forwarding get example.com"))
    local c = fw:command("get", "List the domain's forwards.")
        :epilog(example("enom forwarding get example.com"))
    c:argument("domain", "The domain, like example.com.")
    c = fw:command("set", "Replace the whole set of forwards (those left out are deleted).")
        :epilog(example("enom forwarding set example.com info=ann@example.net sales=team@example.org"))
    c:argument("domain", "The domain, like example.com.")
    c:argument("forwards", "alias=address pairs."):args("*")
    c:flag("--allow-empty", "Allow an empty set (deletes every forward).")
    c:flag("-y --yes", "Do not ask before deleting forwards left out.")

end

-- balance, call
local function _account(p)
    p:command("balance", "The account's balance.")
        :epilog(example("enom balance --json"))
    local c = p:command("call", "Any eNom command by name; prints the parsed answer.")
        :epilog(example([[
            enom call GetBalance
            enom call GetPOP3 SLD=example TLD=com --json]]))
    c:argument("name", "eNom's command name, like GetDomainInfo.")
    c:argument("params", "Name=value parameters."):args("*")
    c:option("--response-type", "xml (default), text or html."):choices { "xml", "text", "html" }
    c:flag("--show-passwords", "Keep password fields of the answer (printed in clear).")

end

-- plan, apply
local function _provision(p)
    local function plan_options(cmd)
        cmd:option("-d --domain", "The domain of every record (else a 'domain' column).")
        cmd:flag("--buy-paks", "Buy the paks needed (spends money).")
        cmd:option("--max-paks", "At most this many paks in the run.", "10"):convert(tonumber)
        cmd:flag("--prune", "Delete the domain's mailboxes that are not in the file.")
        cmd:option("--username", "Template for user names from people's records.", "{first}.{last}")
        cmd:option("--display-name", "Template for display names.", "{first} {last}")
        cmd:option("--admin-role", "People whose 'role' is this become admins.", "admin")
    end
    local c = p:command("plan", "What would change: read the domains, print the plan.")
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

end

-- sandbox
local function _sandbox(p)
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
end

--- The argument parser, with every subcommand's help and example.
function _M.new()
    local p = argparse("enom", "The eNom reseller API from the command line: POP3 mailboxes.")
        :command_target("command")
        :epilog(_M.HELP .. "\n\n" .. example([[
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

    _mailboxes(p)
    _paks(p)
    _forwarding(p)
    _account(p)
    _provision(p)
    _sandbox(p)
    return p
end

return _M
