-- /admin/*: JSON control API for tests (HTTP port, loopback only).
--
-- A web page must not reach it: a request whose Host is not a loopback
-- name (DNS rebinding: a page's own name pointed at 127.0.0.1 could read
-- the state, passwords included) or whose Origin is not a loopback page,
-- and a POST whose body is not declared JSON (a cross-origin "simple"
-- request: text/plain, a form), are refused before any route runs.
--
--   GET    /admin/health     -> ok
--   GET    /admin/state      -> the whole state (seed shape)
--   POST   /admin/reset      -> back to the seed, or to the JSON body's state;
--                               also clears faults, counters, request log
--   GET    /admin/counters   -> per-command received/applied/faults + totals
--   GET    /admin/arrivals   -> when requests arrived: total, first, last, per_second
--   DELETE /admin/counters   -> zero the counters only (arrivals too)
--   GET    /admin/faults     -> current fault configuration
--   POST   /admin/faults     -> replace it ({} clears)
--   DELETE /admin/faults     -> clear it
--   GET    /admin/requests   -> recent /interface.asp requests (names only)
--   GET    /admin/summary    -> plain-text overview of accounts and domains
--   GET    /admin/count?prefix=P -> {"domains","paks","mailboxes"} of the domains
--                               whose name starts with P (totals without
--                               rendering a state of a million mailboxes)
--   POST   /admin/settings   -> change live settings: {"purchase_delay_ms": N}
--   POST   /admin/purchase   -> a person buys paks in eNom's web interface:
--                               {"domain": ..., "quantity": n}
--   GET    /admin/forwards   -> every forward with its opt-in state
--   POST   /admin/forwards/approve -> the recipient approves:
--                               {"domain": ..., "address": ..., "mailbox": bool}
--   POST   /admin/forwards/expire  -> the request's 24 hours are over (same body)

local cjson = require("cjson.safe")
local state = require("enom_sandbox.state")
local faults = require("enom_sandbox.faults")
local counters = require("enom_sandbox.counters")
local reqlog = require("enom_sandbox.reqlog")
local forwarding = require("enom_sandbox.forwarding")
local lifecycle = require("enom_sandbox.lifecycle")

local _M = {}

-- Loopback names as a Host header or an Origin may carry them.
local LOOPBACK = { ["127.0.0.1"] = true, ["localhost"] = true, ["[::1]"] = true }

local function loopback_host(h)
  if type(h) ~= "string" then return false end
  local name = h:lower():match("^(%[[%x:]+%])%:?%d*$") or h:lower():match("^([^:]+)%:?%d*$")
  return name ~= nil and LOOPBACK[name] == true
end

local function loopback_origin(o)
  if type(o) ~= "string" then return false end
  local host = o:match("^https?://([^/]+)$")
  return host ~= nil and loopback_host(host)
end

-- Why the request may not reach a route, or nil.
local function refused()
  local headers = ngx.req.get_headers()
  local host = headers["host"]
  if type(host) == "table" or not loopback_host(host) then
    return 403, "the admin API answers requests for 127.0.0.1 or localhost only"
  end
  local origin = headers["origin"]
  if origin ~= nil and (type(origin) == "table" or not loopback_origin(origin)) then
    return 403, "the admin API refuses requests from a web page of another origin"
  end
  if ngx.req.get_method() == "POST" then
    local ctype = headers["content-type"]
    local media = type(ctype) == "string" and ctype:lower():match("^%s*([^;%s]+)")
    if media ~= "application/json" then
      return 415, "a POST to the admin API needs Content-Type: application/json"
    end
  end
end

local function reply(status, value)
  local body = type(value) == "string" and value or (cjson.encode(value) .. "\n")
  ngx.status = status
  ngx.header["Content-Type"] = type(value) == "string" and "text/plain" or "application/json"
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(ngx.HTTP_OK)
end

local function json_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if not data then
    local file = ngx.req.get_body_file()
    if file then
      local f = io.open(file, "rb")
      if f then data = f:read("*a"); f:close() end
    end
  end
  if not data or data:match("^%s*$") then return nil end
  local t, err = cjson.decode(data)
  if t == nil then return false, "invalid JSON: " .. tostring(err) end
  return t
end

local routes = {}

routes["GET /admin/health"] = function() return reply(200, "ok\n") end

routes["GET /admin/state"] = function() return reply(200, state.get()) end

routes["GET /admin/summary"] = function() return reply(200, state.summary()) end

routes["GET /admin/count"] = function()
  local prefix = ngx.req.get_uri_args().prefix
  if type(prefix) ~= "string" then prefix = "" end
  prefix = prefix:lower()
  local out = { domains = 0, paks = 0, mailboxes = 0 }
  for _, d in ipairs(state.get().domains) do
    if d.name:sub(1, #prefix) == prefix then
      out.domains = out.domains + 1
      out.paks = out.paks + #d.paks
      out.mailboxes = out.mailboxes + #d.mailboxes
    end
  end
  return reply(200, out)
end

routes["POST /admin/reset"] = function()
  local t, err = json_body()
  if t == false then return reply(400, { error = err }) end
  local ok, rerr = state.reset(t)
  if not ok then return reply(400, { error = rerr }) end
  faults.clear()
  counters.clear()
  reqlog.clear()
  return reply(200, { ok = true })
end

routes["GET /admin/counters"] = function() return reply(200, counters.snapshot()) end

routes["GET /admin/arrivals"] = function() return reply(200, counters.arrivals()) end

routes["DELETE /admin/counters"] = function()
  counters.clear()
  return reply(200, { ok = true })
end

routes["GET /admin/faults"] = function() return reply(200, faults.describe()) end

routes["POST /admin/faults"] = function()
  local t, err = json_body()
  if t == false then return reply(400, { error = err }) end
  local ok, serr = faults.set(t or {})
  if not ok then return reply(400, { error = serr }) end
  return reply(200, faults.describe())
end

routes["DELETE /admin/faults"] = function()
  faults.clear()
  return reply(200, faults.describe())
end

routes["POST /admin/settings"] = function()
  local t, err = json_body()
  if t == false then return reply(400, { error = err }) end
  local ok, serr = state.update_settings(t or {})
  if not ok then return reply(400, { error = serr }) end
  return reply(200, state.settings())
end

routes["GET /admin/requests"] = function() return reply(200, reqlog.list()) end

routes["POST /admin/purchase"] = function()
  local t, err = json_body()
  if t == false then return reply(400, { error = err }) end
  local order, perr = lifecycle.web_purchase(t)
  if not order then return reply(400, { error = perr }) end
  return reply(200, order)
end

routes["GET /admin/forwards"] = function() return reply(200, forwarding.requests()) end

for _, action in ipairs { "approve", "expire" } do
  routes["POST /admin/forwards/" .. action] = function()
    local t, err = json_body()
    if t == false then return reply(400, { error = err }) end
    local ok, ferr = forwarding[action](t)
    if not ok then return reply(400, { error = ferr }) end
    return reply(200, { ok = true })
  end
end

function _M.handle()
  -- Control stays off the HTTPS port: tests reach it over plain loopback.
  if ngx.var.https == "on" then return reply(404, { error = "admin is on the HTTP port" }) end
  local status, why = refused()
  if status then return reply(status, { error = why }) end
  local uri = ngx.var.uri:gsub("/+$", "")
  local route = routes[ngx.req.get_method() .. " " .. uri]
  if not route then return reply(404, { error = "no such admin endpoint" }) end
  return route()
end

return _M
