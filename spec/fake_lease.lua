-- A stand-in for enom.lease with its interface, for the specs while the
-- module is not in the tree: "process" (a table) and "host" (a directory
-- made with mkdir, which is atomic between processes). Installed only
-- when enom.lease cannot be loaded; the real module wins when present.
local ok = pcall(require, "enom.lease")
if ok then
    return require "enom.lease"
end

local clock = require "enom.clock"

local HELD = {}
local DIR = os.getenv("ENOM_TEST_WORK") and (os.getenv("ENOM_TEST_WORK") .. "/locks") or "/tmp/enom-fake-locks"
os.execute("mkdir -p " .. DIR)

local function busy(key)
    return nil, setmetatable({ kind = "busy", message = "busy: " .. key }, { __tostring = function(e) return e.message end })
end

local function path(key)
    return DIR .. "/" .. key:gsub("[^%w.-]", "_")
end

local function my_pid()
    local f = io.open("/proc/self/stat")
    local pid = f and f:read("n")
    if f then f:close() end
    return pid
end

-- A lock directory whose holder has died is stale: take it over.
local function take(key)
    local dir = path(key)
    if os.execute("mkdir " .. dir .. " 2>/dev/null") then
        local f = io.open(dir .. "/pid", "w")
        f:write(tostring(my_pid()))
        f:close()
        return true
    end
    local f = io.open(dir .. "/pid")
    local pid = f and f:read("n")
    if f then f:close() end
    if pid and not os.execute("kill -0 " .. pid .. " 2>/dev/null") then
        os.execute("rm -rf " .. dir)
    end
    return false
end

local Lease = {}
Lease.__index = Lease
function Lease.renew(self) return not self.released or nil end
function Lease.check(self) return not self.released or nil end
function Lease.release(self)
    if not self.released then
        self.released = true
        HELD[self.key] = nil
        if self.host then os.execute("rm -rf " .. path(self.key)) end
    end
    return true
end

local Locker = {}
Locker.__index = Locker
function Locker.acquire(self, key, opts)
    local deadline = clock.now() + (opts.wait or 0)
    while true do
        if not HELD[key] then
            local got = true
            if self.host then
                got = take(key)
            end
            if got then
                HELD[key] = true
                return setmetatable({ key = key, host = self.host }, Lease)
            end
        end
        if clock.now() >= deadline then
            return busy(key)
        end
        if opts.sleep then opts.sleep(0.02) else clock.sleep(0.02) end
    end
end

local M = {}
function M.new(o)
    local b = o.backend or "default"
    return setmetatable({ host = b == "host" or b == "default" }, Locker)
end
package.loaded["enom.lease"] = M
return M
