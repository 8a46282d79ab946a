--- Provisioning across hosts on Redis Streams: one job per domain on a
-- stream, any number of workers reading it through one consumer group.
--
-- A job is a domain, its desired mailboxes and the options it was
-- enqueued with, as JSON; passwords only when the input carried them
-- (else the worker generates them and hands them out where it runs, as
-- `enom apply` does: never into Redis). A worker reads a job
-- (XREADGROUP), runs `ensure` for the domain (under the domain's lease
-- and journal: a job run twice, or by two workers, never buys or creates
-- twice), then, in one script, acknowledges it, writes its result line
-- and counts it (XACK, HSET, HINCRBY, XDEL: a done job leaves the
-- stream). A worker that dies leaves its job pending; after `claim_idle`
-- seconds another takes it over (XAUTOCLAIM). A live worker keeps its
-- job from being taken by touching it while it runs (`touch`).
--
-- Keys, under the connection's prefix ("enom:") and the queue's name:
--
--   queue:NAME:jobs      the stream (group "workers")
--   queue:NAME:results   hash: domain -> the result line of its last job (JSON)
--   queue:NAME:stats     hash: enqueued, done, failed, claimed
--
-- @usage
-- local queue = require "enom.queue"
-- local q = queue.new { redis = { host = "10.0.0.5" } }
-- assert(q:enqueue { { domain = "example.com", mailboxes = { { username = "ann" } } } })
-- local job = q:next("host-a:123")          -- nil when there is none yet
-- ... provision.ensure(client, { job.entry }, policy) ...
-- q:done(job, { domain = job.domain, ok = true })
local redis = require "enom.redis"
local json = require "enom.json"

local _M = { _VERSION = "0.1" }

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable
local floor = math.floor
local unpack = table.unpack or unpack -- luacheck: compat

local DEFAULTS = {
    name = "default",      -- the queue's name: several queues may share a Redis
    claim_idle = 60,       -- seconds a job may go untouched before another worker takes it
    block = 1,             -- seconds a read waits for a new job
    per_call = 100,        -- jobs added by one script call
}
_M.DEFAULTS = DEFAULTS

local GROUP = "workers"

-- The options of a job that travel with it (the enqueuer's policy);
-- a worker bounds them with its own (see `policy`).
local JOB_OPTIONS = { buy_paks = "boolean", prune = "boolean", max_paks_per_run = "number" }
_M.JOB_OPTIONS = JOB_OPTIONS

local Queue = {}
Queue.__index = Queue
Queue.__name = "enom.queue"

function Queue.__tostring(self)
    return ("enom.queue (%s on %s:%d)"):format(self.name, self.conn.cfg.host, self.conn.cfg.port)
end

local function fail(msg)
    error("enom.queue: " .. msg, 3)
end

--- A queue on a Redis. Bad options raise.
-- @param opts { name = "default", claim_idle = 60 (seconds), block = 1
--   (seconds a read waits), redis = enom.redis options (host, port, db,
--   prefix, username, password_env, password_file, connect_timeout,
--   timeout) }
-- @return the queue
function _M.new(opts)
    opts = opts or {}
    if type(opts) ~= "table" then
        fail("options must be a table")
    end
    for k in pairs(opts) do
        if DEFAULTS[k] == nil and k ~= "redis" then
            fail("unknown option '" .. tostring(k) .. "' (name, claim_idle, block, per_call, redis)")
        end
    end
    local o = {}
    for k, v in pairs(DEFAULTS) do
        o[k] = opts[k] == nil and v or opts[k]
    end
    if type(o.name) ~= "string" or not o.name:find("^[%w_.-]+$") or #o.name > 100 then
        fail("name must be 1 to 100 letters, digits, '_', '.' or '-'")
    end
    if type(o.claim_idle) ~= "number" or not (o.claim_idle > 0 and o.claim_idle <= 86400) then
        fail("claim_idle must be a number of seconds from more than 0 to 86400")
    end
    if type(o.block) ~= "number" or not (o.block >= 0 and o.block <= 60) then
        fail("block must be a number of seconds from 0 to 60")
    end
    if type(o.per_call) ~= "number" or o.per_call % 1 ~= 0 or o.per_call < 1 or o.per_call > 10000 then
        fail("per_call must be a whole number from 1 to 10000")
    end
    local ropts = {}
    for k, v in pairs(opts.redis or {}) do
        ropts[k] = v
    end
    -- A blocking read must end before the connection's time-out does.
    ropts.timeout = math.max(ropts.timeout or redis.DEFAULTS.timeout, o.block + 2)
    local conn = redis.new(ropts, "queue", "enom.queue", 3)
    local base = conn:key("queue:" .. o.name .. ":")
    return setmetatable({
        name = o.name,
        claim_idle = o.claim_idle,
        block = o.block,
        per_call = o.per_call,
        conn = conn,
        stream_key = base .. "jobs",
        results_key = base .. "results",
        stats_key = base .. "stats",
        cursor = "0-0", -- where the next XAUTOCLAIM looks from
        group_made = false,
    }, Queue)
end

-- The consumer group, made with the stream when there is none yet.
local function group(self)
    if self.group_made then
        return true
    end
    local ok, err = self.conn:call("XGROUP", "CREATE", self.stream_key, GROUP, "0", "MKSTREAM")
    if not ok and not tostring(err and err.message):find("BUSYGROUP", 1, true) then
        return nil, err
    end
    self.group_made = true
    return true
end

-- KEYS[1] stream, KEYS[2] stats; ARGV: domain, job, domain, job, ...
local ADD = [[
for i = 1, #ARGV, 2 do
  redis.call('xadd', KEYS[1], '*', 'domain', ARGV[i], 'job', ARGV[i + 1])
end
return redis.call('hincrby', KEYS[2], 'enqueued', #ARGV / 2)]]

--- The job of one desired entry: its domain, its mailboxes, and the
-- options that travel with it.
-- @param entry { domain, mailboxes = { { username, display_name, admin, password, forward_to, keep_copy } } }
-- @param options the job's options (JOB_OPTIONS), or nil
-- @return the JSON text of the job
function _M.job_of(entry, options)
    local boxes = {}
    for i, m in ipairs(entry.mailboxes or {}) do
        boxes[i] = { username = m.username, display_name = m.display_name, admin = m.admin, password = m.password,
            forward_to = m.forward_to, keep_copy = m.keep_copy }
    end
    local opts = {}
    for k, want in pairs(JOB_OPTIONS) do
        if options and type(options[k]) == want then
            opts[k] = options[k]
        end
    end
    return json.encode { domain = entry.domain, mailboxes = boxes, options = opts }
end

--- Put one job per entry on the stream.
-- @param self the queue
-- @param entries a function returning the next desired entry ({ domain,
--   mailboxes }), nil at the end, or nil and an error (enom.provision.input's
--   `desired`); or an array of them
-- @param options the jobs' options (buy_paks, prune, max_paks_per_run), or nil
-- @return the number of jobs added, or nil, the error and how many were
--   added before it
function Queue.enqueue(self, entries, options)
    if type(entries) == "table" then
        local list, n = entries, 0
        entries = function()
            n = n + 1
            return list[n]
        end
    end
    local ok, err = group(self)
    if not ok then
        return nil, err, 0
    end
    local added, args = 0, {}
    local function flush()
        if #args == 0 then
            return true
        end
        local res, ferr = self.conn:eval(ADD, 2, self.stream_key, self.stats_key, unpack(args))
        if res == nil then
            return nil, ferr
        end
        added = added + #args / 2
        args = {}
        return true
    end
    while true do
        local e, why = entries()
        if e == nil then
            if why ~= nil then
                return nil, why, added
            end
            break
        end
        args[#args + 1] = e.domain
        args[#args + 1] = _M.job_of(e, options)
        if #args >= 2 * self.per_call then
            ok, err = flush()
            if not ok then
                return nil, err, added
            end
        end
    end
    ok, err = flush()
    if not ok then
        return nil, err, added
    end
    return floor(added)
end

-- A job from a stream entry { id, { "domain", d, "job", text } }.
local function job_of_entry(entry, claimed)
    if type(entry) ~= "table" or type(entry[2]) ~= "table" then
        return nil
    end
    local fields = {}
    local f = entry[2]
    for i = 1, #f, 2 do
        fields[f[i]] = f[i + 1]
    end
    local job = { id = entry[1], domain = fields.domain, claimed = claimed or false }
    local decoded = type(fields.job) == "string" and json.decode(fields.job)
    if type(decoded) ~= "table" then
        job.bad = "the job is not JSON"
        return job
    end
    job.entry = { domain = decoded.domain, mailboxes = decoded.mailboxes or {} }
    job.options = type(decoded.options) == "table" and decoded.options or {}
    return job
end

--- The next job for `consumer`: first one another worker left untouched
-- for `claim_idle` seconds (it died), else a new one, waiting up to
-- `block` seconds for it.
-- @param self the queue
-- @param consumer this worker's name (host:pid)
-- @return a job { id, domain, entry = { domain, mailboxes }, options,
--   claimed (taken over from another worker) }, or false when there is
--   none, or nil and an error (kind "queue")
function Queue.next(self, consumer)
    local ok, err = group(self)
    if not ok then
        return nil, err
    end
    local res
    res, err = self.conn:call("XAUTOCLAIM", self.stream_key, GROUP, consumer, floor(self.claim_idle * 1000),
        self.cursor, "COUNT", 1)
    if res == nil then
        return nil, err
    end
    self.cursor = type(res[1]) == "string" and res[1] or "0-0"
    local claimed = type(res[2]) == "table" and res[2][1]
    if claimed then
        self.conn:call("HINCRBY", self.stats_key, "claimed", 1)
        local job = job_of_entry(claimed, true)
        if job then
            return job
        end
    end
    res, err = self.conn:call("XREADGROUP", "GROUP", GROUP, consumer, "COUNT", 1, "BLOCK",
        floor(self.block * 1000), "STREAMS", self.stream_key, ">")
    if res == nil then
        if err.reason == "server" and tostring(err.message):find("NOGROUP", 1, true) then
            -- The queue was cleared under us: made again at the next call.
            self.group_made = false
            return false
        end
        return nil, err
    end
    if type(res) ~= "table" or type(res[1]) ~= "table" then
        return false
    end
    local entries = res[1][2]
    return type(entries) == "table" and entries[1] and job_of_entry(entries[1], false) or false
end

-- KEYS[1] stream; ARGV[1] group, ARGV[2] id, ARGV[3] consumer. Resets
-- the idle time of the job only while this consumer still holds it (a
-- worker thought dead must not take back a job another took over).
local TOUCH = [[
local p = redis.call('xpending', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if p[1] and p[1][2] == ARGV[3] then
  redis.call('xclaim', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
  return 1
end
return 0]]

--- Tell the queue the job is still being worked on (its idle time
-- starts again), so no other worker takes it over.
-- @param self the queue
-- @param job the job
-- @param consumer this worker's name
-- @return true while this worker holds it, false when another took it
--   over, or nil and an error
function Queue.touch(self, job, consumer)
    local n, err = self.conn:eval(TOUCH, 1, self.stream_key, GROUP, job.id, consumer)
    if n == nil then
        return nil, err
    end
    return tonumber(n) == 1
end

-- KEYS[1] stream, KEYS[2] results, KEYS[3] stats; ARGV[1] group,
-- ARGV[2] id, ARGV[3] domain, ARGV[4] result line, ARGV[5] "done" or
-- "failed". Only the worker whose acknowledgement counts writes.
local DONE = [[
local n = redis.call('xack', KEYS[1], ARGV[1], ARGV[2])
if n == 1 then
  redis.call('xdel', KEYS[1], ARGV[2])
  redis.call('hset', KEYS[2], ARGV[3], ARGV[4])
  redis.call('hincrby', KEYS[3], ARGV[5], 1)
end
return n]]

--- The job is over: its result line is written, it is counted done or
-- failed, acknowledged and taken off the stream, in one script.
-- @param self the queue
-- @param job the job
-- @param result the result line (a table; no secrets: see the worker)
-- @return true, false when the job had already been acknowledged (by a
--   worker that took it over), or nil and an error
function Queue.done(self, job, result)
    local n, err = self.conn:eval(DONE, 3, self.stream_key, self.results_key, self.stats_key, GROUP, job.id,
        tostring(job.domain), json.encode(result), result.ok and "done" or "failed")
    if n == nil then
        return nil, err
    end
    return tonumber(n) == 1
end

-- A flat array of pairs as a table.
local function pairs_of(arr)
    local t = {}
    if type(arr) == "table" then
        for i = 1, #arr, 2 do
            t[arr[i]] = arr[i + 1]
        end
    end
    return t
end

--- Progress: { enqueued, waiting (not yet read), pending (read, not
-- done), consumers = { [name] = pending }, done, failed, claimed }.
-- @param self the queue
-- @return the status, or nil and an error
function Queue.status(self)
    local st, err = self.conn:call("HGETALL", self.stats_key)
    if st == nil then
        return nil, err
    end
    st = pairs_of(st)
    local len
    len, err = self.conn:call("XLEN", self.stream_key)
    if len == nil then
        return nil, err
    end
    local out = {
        name = self.name, enqueued = tonumber(st.enqueued) or 0, done = tonumber(st.done) or 0,
        failed = tonumber(st.failed) or 0, claimed = tonumber(st.claimed) or 0, pending = 0, consumers = {},
    }
    local p = self.conn:call("XPENDING", self.stream_key, GROUP)
    if type(p) == "table" then
        out.pending = tonumber(p[1]) or 0
        for _, c in ipairs(type(p[4]) == "table" and p[4] or {}) do
            out.consumers[c[1]] = tonumber(c[2])
        end
    end
    out.waiting = math.max(0, (tonumber(len) or 0) - out.pending)
    return out
end

--- The result lines of the queue's domains (the last job of each).
-- @param self the queue
-- @param only "failed" for those that failed (optional)
-- @return an array of result tables sorted by domain, or nil and an error
function Queue.results(self, only)
    local all, err = self.conn:call("HGETALL", self.results_key)
    if all == nil then
        return nil, err
    end
    local out = {}
    for _, text in pairs(pairs_of(all)) do
        local r = json.decode(text)
        if type(r) == "table" and (only ~= "failed" or not r.ok) then
            out[#out + 1] = r
        end
    end
    table.sort(out, function(a, b) return tostring(a.domain) < tostring(b.domain) end)
    return out
end

--- Remove the queue: its jobs (pending ones too), results and counts.
-- Workers still running find no job and wait for new ones.
-- @param self the queue
-- @return true, or nil and an error
function Queue.clear(self)
    local n, err = self.conn:call("DEL", self.stream_key, self.results_key, self.stats_key)
    if n == nil then
        return nil, err
    end
    self.group_made = false
    return true
end

--- Close the connection (a later call opens another).
-- @param self the queue
function Queue.close(self)
    self.conn:close()
end

--- The policy of a job on a worker: the job's options bounded by the
-- worker's (a job buys or prunes only when the worker allows it too, and
-- never more paks than either says).
-- @param job the job
-- @param worker the worker's policy options (buy_paks, prune, max_paks_per_run, ...)
-- @return the policy options for ensure
function _M.policy(job, worker)
    local p = {}
    for k, v in pairs(worker) do
        p[k] = v
    end
    local o = job.options or {}
    p.buy_paks = (worker.buy_paks and o.buy_paks) or false
    p.prune = (worker.prune and o.prune) or false
    if type(o.max_paks_per_run) == "number" then
        p.max_paks_per_run = math.min(o.max_paks_per_run, worker.max_paks_per_run or o.max_paks_per_run)
    end
    return p
end

return _M
