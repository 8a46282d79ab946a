--- Lease backend "shdict": an nginx lua_shared_dict, for every worker of
-- one nginx. The take is `add` with an expiry (atomic in the dict); the
-- value is the holder's id, and renewing or releasing touches the entry
-- only while it still holds that id. The dict has no compare-and-set, so
-- both act only while the holder's own deadline is more than the margin
-- away: an entry that far from its expiry cannot expire, and be taken by
-- another worker, between the read and the write.
--
-- Writes never evict (safe_add, safe_set): a full dict is an error, not
-- a grant. Give enom a dict of its own: another user's writes to a shared
-- dict could still evict a live lease.
--
--   lua_shared_dict enom_lease 1m;     # in the http block; `dict` names it
-- luacheck: read globals ngx
local _M = { OPTIONS = { dict = "string" } }

local clock = require "enom.clock"
local core = require "enom.core"
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

-- One fence counter for every key: tokens only grow.
local FENCE = "fence"

local function _full(self, err)
    return _fail("io", "lua_shared_dict " .. self.dict_name .. (err == "no memory"
        and " is full: give enom a dict of its own, larger" or (": " .. tostring(err))))
end

function _M.try(self, key, ttl, id)
    local lkey = "lease:" .. key
    local asked = clock.now()
    -- safe_add never evicts: a full dict is an error, never a grant made
    -- by pushing out another holder's live lease or the fence counter.
    local ok, err = self.dict:safe_add(lkey, id, ttl)
    if not ok then
        if err == "exists" then
            return false
        end
        return _full(self, err)
    end
    local deadline = asked + ttl
    -- A missing counter (a new dict, nginx restarted) starts from the
    -- wall clock (core.FENCE_EPOCH): above every token granted before.
    ngx.update_time()
    ok, err = self.dict:safe_add(FENCE, math.floor((ngx.now() - core.FENCE_EPOCH) * 1e6) * core.FENCE_SCALE)
    if not ok and err ~= "exists" then
        self.dict:delete(lkey)
        return _full(self, err)
    end
    local n
    n, err = self.dict:incr(FENCE, 1)
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
    local ok, err = self.dict:safe_set(g.lkey, g.id, ttl)
    if not ok then
        return _full(self, err)
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
