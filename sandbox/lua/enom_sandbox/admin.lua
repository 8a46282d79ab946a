-- /admin/*: JSON control API for tests (HTTP port, loopback only).
--   GET    /admin/health     -> ok
--   GET    /admin/state      -> the whole state (seed shape)
--   POST   /admin/reset      -> back to the seed, or to the JSON body's state;
--                               also clears faults, counters, request log
--   GET    /admin/counters   -> per-command received/applied/faults + totals
--   DELETE /admin/counters   -> zero the counters only
--   GET    /admin/faults     -> current fault configuration
--   POST   /admin/faults     -> replace it ({} clears)
--   DELETE /admin/faults     -> clear it
--   GET    /admin/requests   -> recent /interface.asp requests (names only)
--   GET    /admin/summary    -> plain-text overview of accounts and domains
--   POST   /admin/settings   -> change live settings: {"purchase_delay_ms": N}

local cjson = require("cjson.safe")
local state = require("enom_sandbox.state")
local faults = require("enom_sandbox.faults")
local counters = require("enom_sandbox.counters")
local reqlog = require("enom_sandbox.reqlog")

local M = {}

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

function M.handle()
  -- Control stays off the HTTPS port: tests reach it over plain loopback.
  if ngx.var.https == "on" then return reply(404, { error = "admin is on the HTTP port" }) end
  local uri = ngx.var.uri:gsub("/+$", "")
  local route = routes[ngx.req.get_method() .. " " .. uri]
  if not route then return reply(404, { error = "no such admin endpoint" }) end
  return route()
end

return M
