-- Fault injection for /interface.asp.
--
-- Three sources, checked in this order for every request:
--   1. the X-Sandbox-Fault request header ("kind" or "kind:N");
--   2. rules: [{kind, command?, uid?, times?, skip?, ms?, status?}], the
--      first matching rule wins; `times` limits how often it fires, `skip`
--      lets that many matching requests through first;
--   3. random faults: {rate, seed, kinds, ms?}: a share `rate` of requests
--      gets one of `kinds`. A private Park-Miller generator seeded by
--      `seed` picks them, so the same request sequence sees the same faults.
--
-- Kinds: delay, close_before, close_after, status (500/503 or any code,
-- also written status500, status503), status_after, cut, garbage, trickle,
-- and eNom's own refusals, answered in eNom's shape with HTTP 200 before
-- the command runs (nothing changes): maintenance (618000, down for
-- maintenance), insufficient_balance (524181), ip_refused ("User not
-- permitted from this IP address - <ip>", no number).

local _M = {}

local DEFAULT_DELAY_MS = 300
local DEFAULT_TRICKLE_MS = 1500
local ALL_RANDOM = { "close_before", "close_after", "status500", "status503", "cut", "garbage",
  "trickle", "delay" }

local cfg

-- Parses a kind name into a fault spec {kind, label, status?, ms?}.
-- `extra` supplies ms/status given beside the kind (JSON) or after ':'.
local function parse_kind(name, extra)
  extra = extra or {}
  if type(name) ~= "string" then return nil, "kind must be a string" end
  name = name:lower()
  local code = name:match("^status_?(%d%d%d)$")
  if code then name, extra = "status", { status = tonumber(code) } end
  code = name:match("^status_after_?(%d%d%d)$")
  if code then name, extra = "status_after", { status = tonumber(code) } end

  if name == "delay" or name == "trickle" then
    local ms = tonumber(extra.ms) or (name == "delay" and DEFAULT_DELAY_MS or DEFAULT_TRICKLE_MS)
    if ms < 0 or ms > 600000 then return nil, "ms must be 0..600000" end
    return { kind = name, label = name, ms = ms }
  elseif name == "status" or name == "status_after" then
    local st = tonumber(extra.status) or 500
    if st < 200 or st > 599 or st ~= math.floor(st) then return nil, "status must be 200..599" end
    local label = name == "status" and ("status" .. st) or
      (st == 500 and "status_after" or ("status_after" .. st))
    return { kind = name, label = label, status = st }
  elseif name == "close_before" or name == "close_after" or name == "cut"
      or name == "garbage" then
    return { kind = name, label = name }
  elseif name == "maintenance" or name == "insufficient_balance" or name == "ip_refused" then
    return { kind = "answer", label = name }
  end
  return nil, "unknown fault kind '" .. name .. "'"
end

local function fresh()
  return { rules = {}, rate = 0, kinds = {}, prng = 1, seed = nil }
end

function _M.clear() cfg = fresh() end
_M.clear()

-- Replaces the fault configuration; returns true or nil, message.
function _M.set(t)
  if type(t) ~= "table" then return nil, "body must be a JSON object" end
  local new = fresh()
  if t.rules ~= nil then
    if type(t.rules) ~= "table" then return nil, "rules must be an array" end
    for i, r in ipairs(t.rules) do
      if type(r) ~= "table" then return nil, "rules[" .. i .. "] must be an object" end
      local spec, err = parse_kind(r.kind, r)
      if not spec then return nil, "rules[" .. i .. "]: " .. err end
      local times = r.times ~= nil and tonumber(r.times) or nil
      if r.times ~= nil and (not times or times < 1) then
        return nil, "rules[" .. i .. "]: times must be a positive number"
      end
      new.rules[i] = {
        spec = spec,
        command = type(r.command) == "string" and r.command:lower() or nil,
        uid = type(r.uid) == "string" and r.uid:lower() or nil,
        times = times, skip = tonumber(r.skip) or 0, hits = 0,
        source = r,
      }
    end
  end
  if t.rate ~= nil then
    local rate = tonumber(t.rate)
    if not rate or rate < 0 or rate > 1 then return nil, "rate must be 0..1" end
    new.rate = rate
    local kinds = type(t.kinds) == "table" and #t.kinds > 0 and t.kinds or ALL_RANDOM
    for i, k in ipairs(kinds) do
      local spec, err = parse_kind(k, { ms = t.ms })
      if not spec then return nil, "kinds[" .. i .. "]: " .. err end
      new.kinds[i] = spec
    end
    local seed = tonumber(t.seed) or 1
    new.seed = seed
    new.prng = math.floor(math.abs(seed)) % 2147483646 + 1
  end
  cfg = new
  return true
end

function _M.describe()
  local rules = {}
  for i, r in ipairs(cfg.rules) do
    rules[i] = { kind = r.spec.label, command = r.command, uid = r.uid, times = r.times,
      skip = r.skip, fired = r.hits, ms = r.spec.ms, status = r.spec.status }
  end
  local kinds = {}
  for i, k in ipairs(cfg.kinds) do kinds[i] = k.label end
  return { rules = rules, rate = cfg.rate, seed = cfg.seed, kinds = kinds }
end

-- Park-Miller minimal standard generator: exact in doubles, so the same
-- seed gives the same sequence under LuaJIT and any other Lua.
local function draw()
  cfg.prng = (cfg.prng * 48271) % 2147483647
  return (cfg.prng - 1) / 2147483646
end

-- Decides the fault for one /interface.asp request, or nil.
function _M.pick(header, command, uid)
  if type(header) == "table" then header = header[1] end
  if type(header) == "string" and header ~= "" then
    local name, n = header:match("^%s*([%w_]+)%s*:?%s*(%d*)%s*$")
    local spec = name and parse_kind(name, { ms = tonumber(n), status = tonumber(n) })
    if spec then return spec end
  end

  command = (command or ""):lower()
  uid = (uid or ""):lower()
  for i, r in ipairs(cfg.rules) do
    if (not r.command or r.command == command) and (not r.uid or r.uid == uid) then
      if r.skip > 0 then
        r.skip = r.skip - 1
      else
        r.hits = r.hits + 1
        if r.times then
          r.times = r.times - 1
          if r.times <= 0 then table.remove(cfg.rules, i) end
        end
        return r.spec
      end
    end
  end

  if cfg.rate > 0 and #cfg.kinds > 0 then
    if draw() < cfg.rate then
      local k = math.floor(draw() * #cfg.kinds) + 1
      return cfg.kinds[math.min(k, #cfg.kinds)]
    end
  end
  return nil
end

return _M
