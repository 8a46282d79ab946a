-- The /interface.asp handler: parameters, fault injection, the command,
-- and the response on the wire.

local commands = require("enom_sandbox.commands")
local respond = require("enom_sandbox.respond")
local faults = require("enom_sandbox.faults")
local counters = require("enom_sandbox.counters")
local reqlog = require("enom_sandbox.reqlog")
local util = require("enom_sandbox.util")

local _M = {}

-- eNom's own refusals a fault can stand for, answered instead of the
-- command (faults.lua).
local ANSWERS = {
  maintenance = function() return util.maintenance() end,
  insufficient_balance = function() return util.insufficient() end,
  ip_refused = function() return util.ip_refused(ngx.var.remote_addr or "") end,
}

-- eNom matches parameter names case-insensitively. A repeated name keeps
-- its first value; a bare name (no '=') counts as empty.
local function merge(into, args, names)
  for k, v in pairs(args) do
    if type(v) == "table" then v = v[1] end
    if v == true then v = "" end
    local key = k:lower()
    into[key] = v
    names[#names + 1] = k
  end
end

local function read_params()
  local p, query_names, body_names = {}, {}, {}
  merge(p, ngx.req.get_uri_args(0), query_names)
  if ngx.req.get_method() == "POST" then
    ngx.req.read_body()
    -- Form parameters win over query parameters of the same name.
    local ok, args = pcall(ngx.req.get_post_args, 0)
    if ok and args then merge(p, args, body_names) end
  end
  return p, query_names, body_names
end

local GARBAGE = "<html><head><title>502 Bad Gateway</title></head>\r\n" ..
  "<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response " ..
  "from an upstream server.</p></body></html>\r\n"

local function send(status, content_type, body)
  ngx.status = status
  ngx.header["Content-Type"] = content_type
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  -- The status is already on the wire; HTTP_OK just ends the handler.
  return ngx.exit(ngx.HTTP_OK)
end

local function error_page(status)
  return string.format("<html><body><h1>%d</h1><p>Sandbox fault injection.</p></body></html>\r\n",
    status)
end

-- Sends the body a few bytes at a time over about `ms` milliseconds, with
-- correct framing, to exercise clients' read loops and timeouts.
local function trickle(content_type, body, ms)
  ngx.status = 200
  ngx.header["Content-Type"] = content_type
  ngx.header["Content-Length"] = #body
  local chunk = math.max(8, math.ceil(#body / 60))
  local pieces = math.ceil(#body / chunk)
  local pause = ms / 1000 / pieces
  for i = 1, #body, chunk do
    ngx.print(body:sub(i, i + chunk - 1))
    local ok = ngx.flush(true)
    if not ok then return ngx.exit(444) end
    if i + chunk <= #body then ngx.sleep(pause) end
  end
  return ngx.exit(ngx.HTTP_OK)
end

function _M.handle()
  local started = ngx.now()
  local p, query_names, body_names = read_params()
  local def = commands.lookup(p.command)
  local name = def and def.name or "_unknown"
  counters.received(name)

  local fault = faults.pick(ngx.req.get_headers()["x-sandbox-fault"], name, p.uid)
  reqlog.add({
    method = ngx.req.get_method(), scheme = ngx.var.scheme, command = p.command or "",
    uid = p.uid or "", query_names = query_names, body_names = body_names,
    content_type = ngx.var.content_type or "", fault = fault and fault.label or "",
  })
  if fault then counters.fault(name, fault.label) end

  -- Faults that strike before the command runs leave the state untouched.
  if fault then
    if fault.kind == "delay" then
      ngx.sleep(fault.ms / 1000)
    elseif fault.kind == "close_before" then
      return ngx.exit(444)
    elseif fault.kind == "status" then
      return send(fault.status, "text/html", error_page(fault.status))
    elseif fault.kind == "garbage" then
      return send(200, "text/html", GARBAGE)
    end
  end

  local result
  if fault and fault.kind == "answer" then
    result = { items = {}, errors = { ANSWERS[fault.label]() } }
  else
    result = commands.execute(def, p)
  end
  if result.applied then counters.applied(name) end
  local fmt = respond.format(p.responsetype)
  local body, ctype, done_at = respond.render(fmt, p.command or "", result, ngx.now() - started)

  if fault then
    if fault.kind == "close_after" then
      return ngx.exit(444)
    elseif fault.kind == "status_after" then
      return send(fault.status, "text/html", error_page(fault.status))
    elseif fault.kind == "cut" then
      return send(200, ctype, body:sub(1, done_at or math.floor(#body / 2)))
    elseif fault.kind == "trickle" then
      return trickle(ctype, body, fault.ms)
    end
  end
  return send(200, ctype, body)
end

return _M
