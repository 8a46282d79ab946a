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

local top = parser:get_help()
local usage, rest = top:match("^(Usage:.-)\n\n(.*)$")
add('.TH ENOM 1 "" "enom ' .. enom._VERSION .. '" "User Commands"')
add(".SH NAME")
add("enom \\- the eNom reseller API from the command line: POP3 mailboxes")
add(".SH SYNOPSIS")
add(".nf")
add(esc(usage:gsub("^Usage: ", "")))
add(".fi")
add(".SH DESCRIPTION")
add(".nf")
add(esc(rest))
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
add(".SH SEE ALSO")
add("The reference of the Lua API, made by \\fBmake doc\\fR in build/doc/index.html.")
io.write(table.concat(out, "\n"), "\n")
