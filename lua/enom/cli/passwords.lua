--- Where the enom command puts the passwords of mailboxes it created:
-- a file of mode 0600 (`--passwords FILE`) or standard output
-- (`--passwords -`). A created mailbox's password is never lost: the
-- destination is opened and checked before anything is sent, and a
-- password that still cannot be written there goes to a spill file of
-- mode 0600 that the command names when it ends.
--
-- On standard output a password is a line "domain<TAB>user<TAB>password",
-- or with --json a JSON line {"type":"password",...} among the others.
-- A pipe can take a line and lose it (`| head -1` reads one and goes):
-- while standard output is a pipe or a socket, every password is also
-- kept in a spill file, removed at the end when the output never broke,
-- and named when it did.
local core = require "enom.core"
local json = require "enom.json"

local _M = {}

local tostring = tostring
local setmetatable = setmetatable

local Sink = {}
Sink.__index = Sink

-- Seconds a pipe's reader gets to be seen leaving before the spill copy
-- of the passwords is dropped.
local GRACE = 0.3

-- A private folder for spill files: $XDG_STATE_HOME/enom, else
-- ~/.local/state/enom, else /tmp/enom-<uid>.
local function spill_dir()
    local base = os.getenv("XDG_STATE_HOME")
    if not base or base == "" then
        local home = os.getenv("HOME")
        base = home and home ~= "" and (home .. "/.local/state") or nil
    end
    if base then
        -- ~/.local/state may not exist yet: made 0700, a level at a time.
        local home = os.getenv("HOME")
        if home and base == home .. "/.local/state" then
            core.lock_dir(home .. "/.local")
            core.lock_dir(base)
        end
        if core.lock_dir(base .. "/enom") then
            return base .. "/enom"
        end
    end
    local dir = "/tmp/enom-" .. core.geteuid()
    core.lock_dir(dir)
    return dir
end

-- A new spill file's name: the time and a random part, in the spill folder.
local function spill_name()
    local r = core.random_bytes(4):gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    return ("%s/passwords-%s-%s.txt"):format(spill_dir(), os.date("!%Y%m%dT%H%M%S"), r)
end

--- Open the destination `target` ("-" for standard output, else a
-- path); `as_json` writes JSON lines on standard output; `stdout_closed`:
-- standard output was closed when the command started.
-- @return the sink, or nil and why the destination cannot take passwords
function _M.open(target, as_json, stdout_closed)
    local self = setmetatable({ target = target, json = as_json, spilled = 0, written = 0 }, Sink)
    if target == "-" then
        if stdout_closed then
            return nil, "--passwords -: standard output is closed; give --passwords FILE"
        end
        local kind = core.fd_kind(1)
        self.shadow = kind == "fifo" or kind == "socket"
    else
        -- Created 0600 now, or refused now: before any mailbox exists.
        local ok, err = core.append_private(target, "")
        if not ok then
            return nil, "--passwords " .. tostring(err)
        end
    end
    return self
end

local function line(self, domain, user, pw)
    if self.json and self.target == "-" then
        return json.encode { type = "password", domain = domain, username = user, password = pw } .. "\n"
    end
    return domain .. "\t" .. user .. "\t" .. pw .. "\n"
end

-- Keep a password that could not be delivered.
local function spill(self, domain, user, pw)
    self.spill_path = self.spill_path or spill_name()
    local ok, err = core.append_private(self.spill_path, domain .. "\t" .. user .. "\t" .. pw .. "\n")
    if not ok then
        return nil, err
    end
    self.spilled = self.spilled + 1
    return true
end

--- Hand over one password.
-- @return true (delivered or spilled), or nil and an error when it
--   could be put nowhere
function Sink.write(self, domain, user, pw)
    local ok, err
    if self.broken then
        ok, err = nil, self.broken
    elseif self.target == "-" then
        ok, err = io.stdout:write(line(self, domain, user, pw))
        if ok then
            ok, err = io.stdout:flush()
        end
    else
        ok, err = core.append_private(self.target, line(self, domain, user, pw))
    end
    if self.shadow then
        -- Kept until the end, whatever the pipe does with the line.
        local sok, serr = spill(self, domain, user, pw)
        if not sok and not ok then
            return nil, "the password of " .. user .. "@" .. domain .. " could not be written: "
                .. tostring(err) .. "; nor to a spill file: " .. tostring(serr)
        end
        if ok then
            self.written = self.written + 1
        else
            self.broken = self.broken or tostring(err)
        end
        return true
    end
    if ok then
        self.written = self.written + 1
        return true
    end
    self.broken = self.broken or tostring(err)
    local sok, serr = spill(self, domain, user, pw)
    if not sok then
        return nil, "the password of " .. user .. "@" .. domain .. " could not be written: "
            .. tostring(self.broken) .. "; nor to a spill file: " .. tostring(serr)
    end
    return true
end

--- Close the sink: nil when every password reached the destination,
-- else the message saying where the others are. A pipe's spill copy
-- goes when the pipe never broke.
function Sink.finish(self)
    if self.shadow then
        -- The reader may have left with lines still in the pipe: a reader
        -- that takes what it wants and goes (`head -1`) is gone within
        -- moments of reading it.
        io.stdout:flush()
        local waited = 0
        while not self.broken and self.spilled > 0 and waited < GRACE do
            if core.fd_broken(1) then
                self.broken = "its reader left"
            else
                core.sleep(0.05)
                waited = waited + 0.05
            end
        end
        if not self.broken then
            if self.spill_path then
                os.remove(self.spill_path)
            end
            return nil
        end
        return ("standard output closed early (%s): every password of this run, %d, they are in %s (mode 0600)")
            :format(self.broken, self.spilled, self.spill_path)
    end
    if self.spilled == 0 then
        return nil
    end
    return ("%d password(s) could not be written to %s (%s): they are in %s (mode 0600)")
        :format(self.spilled, self.target == "-" and "standard output" or self.target, self.broken, self.spill_path)
end

--- The file the run itself falls back on (its `password_file`).
function Sink.fallback(self)
    self.spill_path = self.spill_path or spill_name()
    return self.spill_path
end

return _M
