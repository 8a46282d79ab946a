-- Writes the enom(1) man page (roff) from the command's own help texts,
-- the same argparse parser that `enom --help` prints.
--   lua5.4 doc/man.lua > build/doc/man/enom.1
local cli = require "enom.cli"
local enom = require "enom"

local function esc(s)
    s = s:gsub("\\", "\\e")
    s = s:gsub("\n([.'])", "\n\\&%1")
    return (s:gsub("^([.'])", "\\&%1"))
end

local parser = cli.parser()
local out = {}
local function add(s) out[#out + 1] = s end

-- The top help: usage, a one-line description, "Options:", "Commands:",
-- then the epilog (the account, exit status, an example).
local top = parser:get_help()
local usage = top:match("^(Usage:.-)\n\n")
local options = top:match("\n(Options:\n.-)\n\n")
local epilog = top:match("\nCommands:\n.-\n\n(.*)$")
assert(usage and options and epilog, "enom --help no longer has Usage, Options, Commands and an epilog")
add('.TH ENOM 1 "" "enom ' .. enom._VERSION .. '" "User Commands"')
add(".SH NAME")
add("enom \\- the eNom reseller API from the command line: POP3 mailboxes")
add(".SH SYNOPSIS")
add(".nf")
add(esc(usage:gsub("^Usage: ", "")))
add(".fi")
add(".SH DESCRIPTION")
add("\\fBenom\\fR lists, adds, changes and deletes the POP3 mailboxes of domains held at eNom, "
    .. "buys and deletes their paks, reads and sets their e-mail forwarding, and provisions whole "
    .. "domains from a file of people: \\fBenom plan\\fR reads the domains and prints what would "
    .. "change, \\fBenom apply\\fR does it, with retries that never create a mailbox or buy a pak "
    .. "twice. Any other eNom command can be sent by name with \\fBenom call\\fR. "
    .. "The account comes from the environment or a config file, never from the command line; "
    .. "generated passwords go to a file of mode 0600, never to the screen unless asked for. "
    .. "In a source tree, \\fBenom sandbox start\\fR runs a local stand-in for eNom to try it all on.")
add(".SH OPTIONS")
add(".nf")
add(esc(options:gsub("^Options:\n", "")))
add(".fi")
add(".SH ACCOUNT, EXIT STATUS AND EXAMPLE")
add(".nf")
-- The epilog's first paragraph says in short what DESCRIPTION says.
add(esc((epilog:gsub("^.-\n\n", "", 1))))
add(".fi")
add(".SH COMMANDS")
local function walk(p, prefix)
    for _, c in ipairs(p._commands or {}) do
        local name = prefix .. " " .. c._name
        if c._commands and #c._commands > 0 then
            walk(c, name)
        else
            add('.SS "' .. name .. '"')
            add(".nf")
            add(esc(c:get_help()))
            add(".fi")
        end
    end
end
walk(parser, "enom")
add(".SH FILES")
add("$XDG_CONFIG_HOME/enom/config (else ~/.config/enom/config): the account; mode 0600, or it is refused.")
-- What `make install` puts beside the command (DOCDIR, passed by make).
local docdir = os.getenv("ENOM_DOCDIR") or "/usr/local/share/doc/enom"
add(".SH SEE ALSO")
add(".BR lua5.4 (1)")
add(".PP")
add("Installed with the command by \\fBmake install\\fR:")
add(".TP")
add(esc(docdir) .. "/cli.md")
add("the command line: credentials, output, exit status")
add(".TP")
add(esc(docdir) .. "/getting-started.md")
add("the Lua module, from a first script on; provisioning.md, leases.md, errors.md, security.md "
    .. "and nginx.md beside it")
add(".TP")
add(esc(docdir) .. "/README.md")
add("what enom is, and its sandbox")
io.write(table.concat(out, "\n"), "\n")
