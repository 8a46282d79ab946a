--- Lease backend "process": a table in this Lua state.
-- Coroutines of one runner and several runners of one process (or of one
-- nginx worker) share it through the module cache. Nothing here yields,
-- so a take, a renewal and a release are each one step.
local _M = { OPTIONS = {} }

local clock = require "enom.clock"

local setmetatable = setmetatable

local mt = { __index = _M }

-- key -> { id =, deadline = } of the holder; key -> grants so far.
local HELD = {}
local FENCE = {}

function _M.new()
    return setmetatable({ name = "process" }, mt)
end

local function _holder(key, now)
    local h = HELD[key]
    if h and h.deadline <= now then
        HELD[key] = nil
        return nil
    end
    return h
end

function _M.try(_, key, ttl, id)
    local now = clock.now()
    if _holder(key, now) then
        return false
    end
    HELD[key] = { id = id, deadline = now + ttl }
    local n = (FENCE[key] or 0) + 1
    FENCE[key] = n
    return { key = key, id = id, token = n }
end

function _M.renew(_, g, ttl)
    local now = clock.now()
    local h = _holder(g.key, now)
    if not h or h.id ~= g.id then
        return false
    end
    h.deadline = now + ttl
    return true
end

function _M.check(_, g)
    local h = _holder(g.key, clock.now())
    return h ~= nil and h.id == g.id
end

function _M.release(_, g)
    local h = HELD[g.key]
    if h and h.id == g.id then
        HELD[g.key] = nil
    end
    return true
end

return _M
