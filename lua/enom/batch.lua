--- Many requests at once, over one client's connections.
--
-- A batch keeps up to `concurrency` requests in flight on the client's
-- transport (curl's multi interface, or nginx light threads) and hands
-- back each completion as it happens, so the caller's Lua code decides
-- what to do between completions: log, retry, stop. `client:call_many`
-- is the one-shot form.
--
-- The second driver of `enom.request`'s pipeline: prepare many, keep
-- them in flight on the transport, finish each as it completes.
--
-- With a rate limit (enom.ratelimit: the client's `rate_limit`, or the
-- batch's own), each request takes a token before it leaves; when none
-- is due the request stays queued while the batch goes on polling the
-- requests in flight, and leaves when its token is due: no worker is
-- blocked, nothing spins. The time requests were held back adds up in
-- `rate_limit_wait`.
--
-- @usage
-- local b = client:batch{ concurrency = 8 }
-- for _, d in ipairs(domains) do b:add_method("get_pop3", { sld = d.sld, tld = d.tld }) end
-- for i, res, err in b:each() do print(i, res and #res.mailboxes or tostring(err)) end
local request = require "enom.request"
local errors = require "enom.errors"

local _M = {}
local mt = { __index = _M, __name = "enom.batch" }

local type = type
local ipairs = ipairs
local remove = table.remove
local floor = math.floor
local min, max = math.min, math.max
local clock = require "enom.clock"
local now = clock.now
local prepare = request.prepare
local finish = request.finish

local DEFAULTS = {
    concurrency = 8,
    poll_interval = 1, -- seconds between progress checks while waiting
}
_M.DEFAULTS = DEFAULTS

--- A new batch on `cl`. opts: concurrency (default 8), progress =
-- function(done, total, index, result, err) called after each completion,
-- rate_limit (a limiter of enom.ratelimit; default the client's).
-- @param cl the client whose transport and settings the requests use
-- @param opts optional: { concurrency = 8 (requests in flight at once), progress = function(done,
--   total, index, result, err) called after each completion, rate_limit = a limiter (the
--   client's `limiter` unless given; false for none) }
function _M.new(cl, opts)
    opts = opts or {}
    if type(opts) ~= "table" then
        error("bad argument to 'batch' (table expected)", 2)
    end
    local concurrency = opts.concurrency or DEFAULTS.concurrency
    if type(concurrency) ~= "number" or concurrency < 1 or concurrency ~= math.floor(concurrency) then
        error("bad argument to 'batch' (concurrency must be a positive integer)", 2)
    end
    if opts.progress ~= nil and type(opts.progress) ~= "function" then
        error("bad argument to 'batch' (progress must be a function)", 2)
    end
    local limiter = opts.rate_limit
    if limiter == nil then
        limiter = cl.limiter
    elseif limiter ~= false and not (type(limiter) == "table" and type(limiter.take) == "function") then
        error("bad argument to 'batch' (rate_limit must be a limiter of enom.ratelimit, or false)", 2)
    end
    return setmetatable({
        client = cl,
        concurrency = concurrency,
        progress = opts.progress,
        limiter = limiter or nil,
        due = nil,       -- when the rate limit lets the next request go, while it holds one back
        held = nil,      -- since when it holds one back
        rate_limit_wait = 0, -- seconds requests were held back by the rate limit, in all
        items = {},      -- index -> a request of enom.request, or { err = ... }
        queue = {},      -- indices not yet sent: a heap, highest priority first, then in order
        queued = 0,
        inflight = {},   -- transport id -> index
        ninflight = 0,
        ready = {},      -- completions not yet handed out: { index, res, err }
        done = 0,
        total = 0,
    }, mt)
end

-- The queue: a binary heap of indices. `a` goes before `b` when its
-- priority is higher or, at equal priority, when it was added first.
local function before(self, a, b)
    local pa, pb = self.items[a].priority or 0, self.items[b].priority or 0
    if pa ~= pb then
        return pa > pb
    end
    return a < b
end

local function push(self, index)
    local q = self.queue
    local n = self.queued + 1
    self.queued = n
    q[n] = index
    while n > 1 do
        local parent = floor(n / 2)
        if not before(self, q[n], q[parent]) then
            break
        end
        q[n], q[parent] = q[parent], q[n]
        n = parent
    end
end

local function pop(self)
    local q, n = self.queue, self.queued
    local top = q[1]
    q[1], q[n] = q[n], nil
    n = n - 1
    self.queued = n
    local i = 1
    while true do
        local l, r, best = 2 * i, 2 * i + 1, i
        if l <= n and before(self, q[l], q[best]) then best = l end
        if r <= n and before(self, q[r], q[best]) then best = r end
        if best == i then
            break
        end
        q[i], q[best] = q[best], q[i]
        i = best
    end
    return top
end

local function enqueue(self, item)
    self.total = self.total + 1
    self.items[self.total] = item
    push(self, self.total)
    return self.total
end

--- Add a free-form command (as `client:call`). Returns its index.
-- @param self the batch
-- @param command eNom's command name, as for `client:call`
-- @param params the command's parameters, as for `client:call`
-- @param opts optional per-request options, as for `client:call`
function _M.add(self, command, params, opts)
    local req, err = request.command(command, params, opts, 2)
    return enqueue(self, req or { err = err })
end

--- Add a typed method call (as `client:get_pop3{...}`), sent as one
-- request whatever its size. Returns its index.
-- @param self the batch
-- @param method the typed method's name
-- @param args its arguments
-- @param guard (optional) asked at the moment the request is handed to
--   the transport: `true`, or nil and an error, and then the request is
--   withdrawn unsent with that error (a lease lost while it was queued)
-- @param priority (optional, default 0) queued requests of a higher
--   priority leave first; of one priority, in the order they were added
function _M.add_method(self, method, args, guard, priority)
    local reqs, err = request.method(self.client, method, args, true, 2)
    local item = reqs and reqs[1] or { err = err }
    item.guard = guard
    item.priority = priority
    return enqueue(self, item)
end

-- How many times a request went over the wire: libcurl may resend one
-- by itself on a dead kept-alive connection; a request refused before
-- sending counts 0.
local function sends_of(outcome)
    local t = outcome.res or outcome.err
    if t and t.sends then
        return t.sends
    end
    return (outcome.err and outcome.err.maybe_delivered == false) and 0 or 1
end

local function complete(self, index, res, err, sends)
    self.items[index] = true -- drop the request (and its secrets) once done
    self.ready[#self.ready + 1] = { index, res, err, sends or 0 }
end

-- May the request at the head of the queue leave (a token of the rate
-- limit taken)? True; false when it must wait (self.due says until
-- when); or nil and the limiter's error.
local function token(self)
    local t = now()
    if self.due and t < self.due then
        return false
    end
    local wait, err = self.limiter:take()
    if wait == nil then
        return nil, err
    end
    if wait > 0 then
        self.due = t + wait
        self.held = self.held or t
        return false
    end
    if self.held then
        self.rate_limit_wait = self.rate_limit_wait + (t - self.held)
    end
    self.due, self.held = nil, nil
    return true
end

-- Start queued requests until the concurrency limit is reached (or the
-- rate limit holds the next one back).
local function fill(self)
    local transport = self.client.transport
    if not transport then
        error("enom client is closed", 3)
    end
    while self.ninflight < self.concurrency and self.queued > 0 do
        local head = self.items[self.queue[1]]
        local lerr
        if self.limiter and not head.err then
            local go
            go, lerr = token(self)
            if go == false then
                break
            end
        end
        local index = pop(self)
        local item = self.items[index]
        local ok, gerr = true, nil
        if lerr then
            -- The limit could not be asked: the request does not leave.
            ok, gerr = nil, errors.new("rate_limit", lerr.message or tostring(lerr), {
                reason = lerr.reason, backend = lerr.backend })
        elseif item.guard and not item.err then
            ok, gerr = item.guard()
        end
        if item.err then
            complete(self, index, nil, item.err)
        elseif not ok then
            gerr = errors.is(gerr) and gerr or errors.new("stopped", tostring(gerr), {})
            gerr.command, gerr.maybe_delivered = item.command, false
            complete(self, index, nil, gerr)
        else
            local wire = prepare(self.client, item)
            local id, serr = transport:submit(wire)
            if not id then
                complete(self, index, nil, errors.new("transport", tostring(serr), {
                    command = item.command, maybe_delivered = false,
                }, item.scrub))
            else
                self.inflight[id] = index
                self.ninflight = self.ninflight + 1
            end
        end
    end
end

--- Wait for the next completion: index, result, err, and how many
-- times the request went over the wire. Queued requests are sent when
-- `next` is called, never between a completion and its handing out: a
-- caller that stops on a result sends nothing more. Returns nil when
-- every request has been handed out, and false when `timeout` seconds
-- (optional) passed with requests still in flight.
-- @param self the batch
-- @param timeout optional: seconds to wait for a completion; without it, wait until one comes
function _M.next(self, timeout)
    fill(self)
    local deadline = timeout and now() + timeout
    while #self.ready == 0 do
        -- Requests held back by the rate limit are sent when due.
        local due = self.due and self.queued > 0 and self.due
        if self.ninflight == 0 and not due then
            return nil
        end
        local wait = DEFAULTS.poll_interval
        if deadline then
            wait = deadline - now()
            if wait <= 0 then
                return false
            end
        end
        if due then
            wait = min(wait, max(0, due - now()))
            if self.ninflight == 0 then
                -- Nothing to poll: only the limit to wait for.
                clock.sleep(wait)
                fill(self)
                goto continue
            end
        end
        local got = self.client.transport:poll(wait)
        for _, c in ipairs(got) do
            local index = self.inflight[c.id]
            if index then
                self.inflight[c.id] = nil
                self.ninflight = self.ninflight - 1
                local item = self.items[index]
                local res, err = finish(self.client, item, c.res, c.err)
                complete(self, index, res, err, sends_of(c))
            end
        end
        if due and #self.ready == 0 then
            fill(self)
        end
        ::continue::
    end
    local r = remove(self.ready, 1)
    self.done = self.done + 1
    if self.progress then
        self.progress(self.done, self.total, r[1], r[2], r[3])
    end
    return r[1], r[2], r[3], r[4]
end

--- Iterate over completions as they happen: `for i, res, err in b:each()`.
-- @param self the batch
function _M.each(self)
    return function()
        local i, res, err = self:next()
        return i or nil, res, err
    end
end

--- Run everything; returns results and errors, both indexed like the
-- requests (a slot holds either a result or an error), with `n` set.
-- @param self the batch
function _M.wait(self)
    local res, errs = { n = self.total }, { n = self.total }
    for i, r, e in self:each() do
        res[i], errs[i] = r, e
    end
    return res, errs
end

--- Withdraw every request not yet sent: each completes with an error of
-- kind "stopped" (maybe_delivered = false), never going over the wire;
-- requests in flight finish as usual. Returns how many were withdrawn.
-- @param self the batch
-- @param why the reason the errors carry (optional)
function _M.cancel(self, why)
    local n = 0
    while self.queued > 0 do
        local index = pop(self)
        local item = self.items[index]
        complete(self, index, nil, item.err or errors.new("stopped", why or "withdrawn before it was sent", {
            command = item.command, maybe_delivered = false,
        }))
        n = n + 1
    end
    return n
end

--- Requests added and not yet handed out.
-- @param self the batch
function _M.remaining(self)
    return self.total - self.done
end

--- Run `requests` on `cl` at once (client:call_many). requests[i] is
-- { command = "GetPOP3", params = {...}, opts = {...} } or
-- { method = "get_pop3", args = {...} }.
-- @param cl the client
-- @param requests the array of requests described above
-- @param opts optional: { concurrency, progress } as for `new`
function _M.call_many(cl, requests, opts)
    if type(requests) ~= "table" then
        error("bad argument #1 to 'call_many' (table expected)", 3)
    end
    local b = _M.new(cl, opts)
    for i = 1, #requests do
        local r = requests[i]
        if type(r) ~= "table" then
            error("bad argument #1 to 'call_many' (requests[" .. i .. "] must be a table)", 3)
        end
        if r.method then
            b:add_method(r.method, r.args or {})
        else
            b:add(r.command, r.params, r.opts)
        end
    end
    return b:wait()
end

return _M
