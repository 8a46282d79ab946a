--- Concurrency for the nginx transport: a set of nginx light threads,
-- one per submitted request. `poll` waits for the first of them (or a
-- sleeper thread standing for the time-out) and hands out what has
-- completed. A set belongs to the coroutine that made it: nginx lets only
-- a thread's parent wait for it.
local _M = {}
local mt = { __index = _M, __name = "enom.transport.ngx_threads" }

local pairs = pairs
local pcall = pcall
local tostring = tostring
local setmetatable = setmetatable
local unpack = table.unpack or unpack
local co_status = coroutine.status

local spawn = ngx.thread.spawn
local wait = ngx.thread.wait
local kill = ngx.thread.kill
local sleep = ngx.sleep

--- A new set that runs `run(req)` for each request; a raised error
-- becomes `fail(message)`'s outcome (the request may have left).
function _M.new(run, fail)
    return setmetatable({
        run = run, fail = fail,
        threads = {},   -- id -> light thread, submitted and not yet reaped
        count = 0,
        done = {},      -- completions not yet handed out by poll
        last_id = 0,
    }, mt)
end

--- Start `run(req)` in a light thread; returns its id, or nil, err when
-- nginx cannot start one.
function _M.submit(self, req)
    local id = self.last_id + 1
    self.last_id = id
    local t, err = spawn(function()
        local ok, res, rerr = pcall(self.run, req)
        if not ok then
            res, rerr = self.fail("request failed: " .. tostring(res))
        end
        -- self.done, not a local: poll swaps in a new table as it hands out.
        local done = self.done
        done[#done + 1] = res and { id = id, res = res } or { id = id, err = rerr }
        return id
    end)
    if not t then
        return nil, "cannot start a light thread: " .. tostring(err)
    end
    self.threads[id] = t
    self.count = self.count + 1
    return id
end

local function _sleeper(seconds)
    sleep(seconds)
    return false
end

-- Collect the threads whose outcome is in self.done.
local function _reap(self)
    local out = self.done
    if #out == 0 then
        return out
    end
    self.done = {}
    for i = 1, #out do
        local t = self.threads[out[i].id]
        if t then
            self.threads[out[i].id] = nil
            self.count = self.count - 1
            wait(t) -- already finished: returns at once
        end
    end
    return out
end

--- Wait up to `timeout` seconds (nil: until one completes) for
-- completions: an array of { id = n, res = ... } or { id = n, err = ... }.
function _M.poll(self, timeout)
    if #self.done == 0 and self.count > 0 and (timeout == nil or timeout > 0) then
        local args = {}
        local sleeper
        if timeout then
            sleeper = spawn(_sleeper, timeout)
            args[1] = sleeper
        end
        for _, t in pairs(self.threads) do
            args[#args + 1] = t
        end
        local ok, first = wait(unpack(args))
        if ok and first then
            -- A request thread ended and wait reaped it.
            if self.threads[first] then
                self.threads[first] = nil
                self.count = self.count - 1
            end
        elseif ok and first == false then
            sleeper = nil -- the sleeper ended: the timeout passed
        end
        if sleeper then
            if co_status(sleeper) == "dead" then
                wait(sleeper)
            else
                kill(sleeper)
            end
        end
    end
    return _reap(self)
end

--- Requests submitted and not yet handed out by poll.
function _M.pending(self)
    return self.count + #self.done
end

--- Kill the threads in flight and drop what was not handed out.
function _M.stop(self)
    for id, t in pairs(self.threads) do
        pcall(kill, t)
        self.threads[id] = nil
    end
    self.count = 0
    self.done = {}
end

return _M
