--- Lease backend "shdict": an nginx lua_shared_dict, for every worker of
-- one nginx. The take is `add` with an expiry (atomic in the dict); the
-- value is the holder's id, and renewing or releasing touches the entry
-- only while it still holds that id. The dict has no compare-and-set, so
-- both act only while the holder's own deadline is more than the margin
-- away: an entry that far from its expiry cannot expire, and be taken by
-- another worker, between the read and the write.
--
--   lua_shared_dict enom_lease 1m;     # in the http block; `dict` names it
-- luacheck: read globals ngx
local _M = { OPTIONS = { dict = "string" } }

local clock = require "enom.clock"
local errors = require "enom.errors"

local setmetatable = setmetatable

local mt = { __index = _M }

local function _fail(reason, message)
    return nil, errors.new("lease", message, { reason = reason, backend = "shdict", maybe_delivered = false })
end

function _M.new(opts)
    local name = opts.dict or "enom_lease"
    if type(ngx) ~= "table" or not ngx.shared then
        error("enom.lease: the shdict backend runs only inside nginx", 3)
    end
    local dict = ngx.shared[name]
    if not dict then
        error("enom.lease: no lua_shared_dict " .. name .. " in the nginx configuration", 3)
    end
    return setmetatable({ name = "shdict", dict = dict, dict_name = name }, mt)
end

local function _keys(key)
    return "lease:" .. key, "fence:" .. key
end

function _M.try(self, key, ttl, id)
    local lkey, fkey = _keys(key)
    local asked = clock.now()
    local ok, err, forcible = self.dict:add(lkey, id, ttl)
    if not ok then
        if err == "exists" then
            return false
        end
        return _fail("io", "lua_shared_dict " .. self.dict_name .. ": " .. tostring(err))
    end
    local deadline = asked + ttl
    if forcible then
        -- The dict evicted live entries to make room: fence counters may
        -- be among them, and a token could repeat.
        self.dict:delete(lkey)
        return _fail("io", "lua_shared_dict " .. self.dict_name .. " is full")
    end
    local n
    n, err = self.dict:incr(fkey, 1, 0)
    if not n then
        self.dict:delete(lkey)
        return _fail("io", "lua_shared_dict " .. self.dict_name .. ": " .. tostring(err))
    end
    return { lkey = lkey, id = id, token = n, deadline = deadline }
end

-- Still this holder's, with more than `margin` left?
local function _safe(self, g, margin)
    return clock.now() < g.deadline - margin and self.dict:get(g.lkey) == g.id
end

function _M.renew(self, g, ttl, margin)
    if not _safe(self, g, margin) then
        return false
    end
    local asked = clock.now()
    local ok, err = self.dict:set(g.lkey, g.id, ttl)
    if not ok then
        return _fail("io", "lua_shared_dict " .. self.dict_name .. ": " .. tostring(err))
    end
    g.deadline = asked + ttl
    return true
end

function _M.check(self, g, margin)
    return _safe(self, g, margin or 0)
end

-- Past safe_until the entry is left to expire by itself.
function _M.release(self, g, safe_until)
    if clock.now() < safe_until and self.dict:get(g.lkey) == g.id then
        self.dict:delete(g.lkey)
    end
    return true
end

return _M
