--- A progress line on stderr for long runs: done/total, failures, rate
-- and time left. Drawn only when stderr is a terminal, so cron mails and
-- pipes get nothing of it.
local core = require "enom.core"

local _M = {}
local mt = { __index = _M }

local now = core.now
local format = string.format

local REDRAW = 0.1 -- seconds between redraws

-- Is the stream a terminal? Only standard error is ever drawn on.
local function isatty(stream)
    return stream == io.stderr and core.isatty(2)
end

local function duration(s)
    if s ~= s or s == math.huge then
        return "?"
    end
    s = math.floor(s + 0.5)
    if s >= 3600 then
        return format("%dh%02dm", math.floor(s / 3600), math.floor(s % 3600 / 60))
    elseif s >= 60 then
        return format("%dm%02ds", math.floor(s / 60), s % 60)
    end
    return s .. "s"
end

--- A progress line. opts: label, total, unit ("done" by default), stream
-- (io.stderr), force (draw even when the stream is not a terminal).
-- Besides done/failed, a run may set `read` and `domains` (domains read
-- of how many), `bought` (paks) and `waiting` (requests out at eNom).
function _M.new(opts)
    local stream = opts.stream or io.stderr
    return setmetatable({
        label = opts.label or "", total = opts.total or 0, unit = opts.unit or "done", done = 0, failed = 0,
        stream = stream, on = opts.force or isatty(stream), started = now(), drawn = 0,
        note = nil, read = nil, domains = nil, bought = 0, waiting = 0,
    }, mt)
end

--- The line as it would be drawn.
function _M.text(self)
    local elapsed = now() - self.started
    local rate = elapsed > 0 and self.done / elapsed or 0
    local left = self.total - self.done
    local eta = (rate > 0 and left >= 0) and duration(left / rate) or "?"
    local parts = { format("%s %d/%d %s", self.label, self.done, self.total, self.unit) }
    if self.domains and self.read and self.read < self.domains then
        parts[#parts + 1] = format("%d/%d domains read", self.read, self.domains)
    end
    if self.bought > 0 then
        parts[#parts + 1] = format("%d pak%s bought", self.bought, self.bought == 1 and "" or "s")
    end
    parts[#parts + 1] = format("%d failed", self.failed)
    parts[#parts + 1] = format("%.1f/s, ETA %s", rate, self.done >= self.total and "0s" or eta)
    if self.waiting > 0 then
        parts[#parts + 1] = format("%d waiting on eNom", self.waiting)
    end
    local s = table.concat(parts, ", ")
    if self.note then
        s = s .. " (" .. self.note .. ")"
    end
    return s
end

--- Redraw (at most every 0.1 s unless `force`).
function _M.draw(self, force)
    if not self.on then
        return
    end
    local t = now()
    if not force and t - self.drawn < REDRAW then
        return
    end
    self.drawn = t
    self.stream:write("\r\27[K", self:text())
    self.stream:flush()
end

--- Count `n` more items done, `f` of them failed.
function _M.step(self, n, f)
    self.done = self.done + (n or 1)
    self.failed = self.failed + (f or 0)
    self:draw()
end

--- Draw the last state and end the line.
function _M.finish(self)
    if self.on then
        self:draw(true)
        self.stream:write("\n")
        self.stream:flush()
        self.on = false
    end
end

return _M
