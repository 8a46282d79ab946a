-- A transport for unit specs: enom.new{ transport = fake.with(answer) }.
-- No socket, no sandbox, no nginx: each request is handed to
-- `answer(wire, n)` (n counts requests from 1), which returns what a real
-- transport would, `res` ({ status, body, ... }) or nil, err ({ kind,
-- message, maybe_delivered, ... }). It keeps the transport contract that
-- enom.client and enom.batch rely on: new(opts), request(wire),
-- submit(wire) -> id, poll(timeout) -> { {id=, res=|err=} }, pending(),
-- close(). Every wire request is recorded in `sent`, with its form
-- parameters decoded in `params`.
local _M = {}

local Fake = {}
Fake.__index = Fake

local function unescape(s)
    s = s:gsub("+", " ")
    return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- The name=value pairs of a form body or a query string, decoded.
function _M.decode(form)
    local out = {}
    for pair in form:gmatch("[^&]+") do
        local k, v = pair:match("^([^=]*)=?(.*)$")
        out[unescape(k)] = unescape(v)
    end
    return out
end

--- A transport module whose transports answer with `answer`.
-- Completions of submitted requests come out of poll in reverse order
-- unless `in_order`, so a batch cannot lean on the order of submission.
function _M.with(answer, in_order)
    local mod = { name = "fake", made = {} }
    function mod.new(opts)
        local t = setmetatable({
            opts = opts, answer = answer, in_order = in_order,
            sent = {}, queue = {}, last_id = 0, closed = 0, polls = 0,
        }, Fake)
        mod.made[#mod.made + 1] = t
        return t
    end
    return mod
end

-- Records the request and asks `answer` for its outcome.
function Fake._answer(self, wire)
    assert(type(wire) == "table" and type(wire.url) == "string", "a wire request has a url")
    local form = wire.body or wire.url:match("%?(.*)$") or ""
    self.sent[#self.sent + 1] = {
        url = wire.url, body = wire.body, fresh = wire.fresh, once = wire.once, params = _M.decode(form),
    }
    return self.answer(wire, #self.sent)
end

function Fake.request(self, wire)
    assert(self.closed == 0, "request on a closed transport")
    return self:_answer(wire)
end

function Fake.submit(self, wire)
    assert(self.closed == 0, "submit on a closed transport")
    self.last_id = self.last_id + 1
    local res, err = self:_answer(wire)
    self.queue[#self.queue + 1] = { id = self.last_id, res = res, err = err }
    return self.last_id
end

function Fake.poll(self)
    self.polls = self.polls + 1
    local out = self.queue
    self.queue = {}
    if not self.in_order then
        for i = 1, math.floor(#out / 2) do
            out[i], out[#out - i + 1] = out[#out - i + 1], out[i]
        end
    end
    return out
end

function Fake.pending(self)
    return #self.queue
end

function Fake.close(self)
    self.closed = self.closed + 1
end

--- An eNom Text answer from name=value pairs (an array of {k, v}), ending
-- with ErrCount and Done=true unless `cut`.
function _M.text(pairs_, err_count, cut)
    local lines = { ";URL Interface", ";Machine is FAKE", ";Encoding Type is utf-8" }
    for _, kv in ipairs(pairs_) do
        lines[#lines + 1] = kv[1] .. "=" .. tostring(kv[2])
    end
    lines[#lines + 1] = "ErrCount=" .. (err_count or 0)
    if not cut then
        lines[#lines + 1] = "Done=true"
    end
    return table.concat(lines, "\r\n") .. "\r\n"
end

--- A 200 result carrying `body`.
function _M.ok(body, content_type)
    return { status = 200, body = body, content_type = content_type or "text/plain; charset=utf-8",
        total_time = 0.001, connect_time = 0, reused = false, sends = 1 }
end

return _M
