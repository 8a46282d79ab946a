#!/usr/bin/env lua5.4
--- The reseller's tool for the panel's owner accounts.
--
--   lua5.4 examples/panel/owners.lua add FILE OWNER DOMAIN [--buy-paks] [--max-paks N] [--max-spend X]
--   lua5.4 examples/panel/owners.lua passwd FILE OWNER
--   lua5.4 examples/panel/owners.lua remove FILE OWNER
--   lua5.4 examples/panel/owners.lua list FILE
--
-- `add` makes the owner (asking for their password) or gives an existing
-- one another domain; the policy options set what the owner may spend:
-- buying paks is off unless --buy-paks, at most --max-paks paks per
-- action (default 1) and --max-spend in the account's currency. The
-- password is read from the terminal without echo (twice), or as the
-- first line of standard input when that is not a terminal. FILE is
-- written whole with mode 0600; `nginx -s reload` makes the panel read it.
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. here .. "/../../lua/?.lua;" .. here .. "/../../lua/?/init.lua;" .. package.path
package.cpath = here .. "/../../build/5.4/?.so;" .. package.cpath

local owners = require "panel.owners"
local kdf = require "panel.kdf"

local function die(msg, code)
    io.stderr:write("owners.lua: ", msg, "\n")
    os.exit(code or 1)
end

local function usage()
    io.stderr:write([[
usage: owners.lua add FILE OWNER DOMAIN [--buy-paks] [--max-paks N] [--max-spend X]
       owners.lua passwd FILE OWNER
       owners.lua remove FILE OWNER
       owners.lua list FILE
]])
    os.exit(2)
end

local function is_tty()
    return os.execute("test -t 0") == true
end

-- A password from the terminal (no echo, asked twice) or stdin's first line.
local function read_password()
    local pw
    if is_tty() then
        io.stderr:write("password: ")
        os.execute("stty -echo")
        pw = io.read("l")
        io.stderr:write("\nagain: ")
        local again = io.read("l")
        os.execute("stty echo")
        io.stderr:write("\n")
        if pw ~= again then
            die("the two passwords differ")
        end
    else
        pw = io.read("l")
    end
    if not pw or #pw < owners.MIN_PASSWORD or #pw > owners.MAX_PASSWORD then
        die(("an owner's password has %d to %d characters"):format(owners.MIN_PASSWORD, owners.MAX_PASSWORD))
    end
    return pw
end

local function load_or_new(file)
    local f = io.open(file, "r")
    if not f then
        return {}
    end
    f:close()
    local list, err = owners.load(file)
    if not list then
        die(err)
    end
    return list
end

local function save(file, list)
    local ok, err = owners.save(file, list)
    if not ok then
        die(err)
    end
end

local cmd, file, name = arg[1], arg[2], arg[3]
if not cmd or not file then
    usage()
end

if cmd == "list" then
    local list = load_or_new(file)
    local names = {}
    for n in pairs(list) do names[#names + 1] = n end
    table.sort(names)
    for _, n in ipairs(names) do
        local o = list[n]
        print(("%s\t%s\tbuy_paks=%s max_paks_per_run=%d%s"):format(n, table.concat(o.domains, ","),
            tostring(o.buy_paks), o.max_paks_per_run, o.max_spend and (" max_spend=" .. o.max_spend) or ""))
    end
    os.exit(0)
end

if not owners.valid_name(name) then
    die("OWNER must match " .. owners.NAME_PATTERN .. " (64 characters at most)")
end
local list = load_or_new(file)

if cmd == "add" then
    local domain = arg[4]
    if not owners.split_domain(domain) then
        die("DOMAIN must be like example.com")
    end
    local o = list[name]
    if not o then
        o = { name = name, domains = {}, buy_paks = false, max_paks_per_run = 1 }
        o.hash = owners.hash(read_password(), kdf.pbkdf2)
        list[name] = o
    end
    if not owners.owns(o, domain) then
        o.domains[#o.domains + 1] = domain:lower()
    end
    local i = 5
    while arg[i] do
        local a = arg[i]
        if a == "--buy-paks" then
            o.buy_paks = true
        elseif a == "--max-paks" then
            i = i + 1
            o.max_paks_per_run = tonumber(arg[i])
        elseif a == "--max-spend" then
            i = i + 1
            o.max_spend = tonumber(arg[i])
        else
            usage()
        end
        i = i + 1
    end
    for k, check in pairs(owners.POLICY) do
        if o[k] ~= nil and not check(o[k]) then
            die("--" .. k:gsub("_per_run", ""):gsub("_", "-") .. " has a value it cannot take")
        end
    end
    save(file, list)
elseif cmd == "passwd" then
    if not list[name] then
        die("no owner " .. name)
    end
    list[name].hash = owners.hash(read_password(), kdf.pbkdf2)
    save(file, list)
elseif cmd == "remove" then
    if not list[name] then
        die("no owner " .. name)
    end
    list[name] = nil
    save(file, list)
else
    usage()
end
