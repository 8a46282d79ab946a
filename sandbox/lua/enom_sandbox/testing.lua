-- /test/* locations for the client's transport specs: echo of what nginx
-- decoded, slow/cut/malformed/big responses. The fixed ones (static,
-- redirect, close) are plain nginx directives in nginx.conf.

local cjson = require("cjson.safe")
local respond = require("enom_sandbox.respond")

local _M = {}

local function send(status, content_type, body)
  ngx.status = status
  ngx.header["Content-Type"] = content_type
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(ngx.HTTP_OK)
end

local function read_raw_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local file = ngx.req.get_body_file()
  if not file then return "" end
  local f = io.open(file, "rb")
  if not f then return "" end
  data = f:read("*a")
  f:close()
  return data
end

-- Adds decoded args to `into`, turning repeated names into arrays.
local function add_args(into, args)
  for k, v in pairs(args) do
    local prev = into[k]
    if prev == nil then
      into[k] = v
    else
      local arr = type(prev) == "table" and prev or { prev }
      if type(v) == "table" then
        for _, x in ipairs(v) do arr[#arr + 1] = x end
      else
        arr[#arr + 1] = v
      end
      into[k] = arr
    end
  end
end

function _M.echo()
  local query = ngx.req.get_uri_args(0)
  local raw_body = ""
  local post = {}
  if ngx.req.get_method() ~= "GET" and ngx.req.get_method() ~= "HEAD" then
    raw_body = read_raw_body()
    local ok, args = pcall(ngx.req.get_post_args, 0)
    if ok and args then post = args end
  end
  local args = {}
  add_args(args, query)
  add_args(args, post)
  local out = {
    method = ngx.req.get_method(),
    scheme = ngx.var.scheme,
    uri = ngx.var.uri,
    args = args,
    query_args = query,
    post_args = post,
    raw_query = ngx.var.args or "",
    raw_body = raw_body,
    content_type = ngx.var.content_type or "",
    headers = ngx.req.get_headers(0, true),
  }
  return send(200, "application/json", cjson.encode(out))
end

local function get_balance_text()
  local body = respond.render("text", "GetBalance", {
    items = {
      { k = "Reseller", v = 1 },
      { k = "Balance", v = "1,000.00" },
      { k = "AvailableBalance", v = "1,000.00" },
    },
  }, 0)
  return body
end

function _M.slow()
  local ms = tonumber(ngx.var.arg_ms) or 1000
  ngx.sleep(math.min(math.max(ms, 0), 600000) / 1000)
  return send(200, "text/plain; charset=utf-8", get_balance_text())
end

-- A meeting point that proves requests are in flight together, with no
-- clock in the spec: /test/gate?key=K&n=N&ms=M holds each request until N
-- requests with key K are here at once (200 "together"), or M ms pass
-- (504 "alone"). A request that leaves stops counting, so requests sent
-- one after another never meet.
function _M.gate()
  local dict = ngx.shared.enom_test_gate
  local key = ngx.var.arg_key or ""
  local n = math.max(1, math.floor(tonumber(ngx.var.arg_n) or 2))
  local ms = math.min(math.max(tonumber(ngx.var.arg_ms) or 5000, 0), 60000)
  local open_key = key .. "\0open"
  local here = dict:incr(key, 1, 0, 120)
  if here >= n then dict:set(open_key, true, 120) end
  ngx.update_time()
  local deadline = ngx.now() + ms / 1000
  while not dict:get(open_key) and ngx.now() < deadline do
    ngx.sleep(0.005)
    ngx.update_time()
  end
  local together = dict:get(open_key) == true
  dict:incr(key, -1, 0, 120)
  if together then
    return send(200, "text/plain", "together\n")
  end
  return send(504, "text/plain", "alone\n")
end

function _M.status(code)
  local status = tonumber(code)
  if not status or status < 200 or status > 599 then
    return send(400, "text/plain", "status must be 200..599\n")
  end
  if status == 204 or status == 304 then
    ngx.status = status
    return ngx.exit(ngx.HTTP_OK)
  end
  return send(status, "text/html",
    string.format("<html><body><h1>%d</h1><p>Sandbox test status.</p></body></html>\r\n", status))
end

function _M.cut()
  local body = get_balance_text()
  local at = body:find("\r\nDone=", 1, true)
  return send(200, "text/plain; charset=utf-8", body:sub(1, at + 1))
end

function _M.badxml()
  -- Mismatched and unclosed tags, like a response broken mid-render.
  return send(200, "text/xml; charset=utf-8",
    '<?xml version="1.0" encoding="utf-8"?>\r\n<interface-response>\r\n' ..
    " <Command>GETBALANCE</Command>\r\n <ErrCount>0</Errcount>\r\n" ..
    " <Balance>1,000.00<AvailableBalance>\r\n <Done>true</Done>\r\n")
end

local CHUNK = 64 * 1024

-- Streams N bytes with chunked encoding (no Content-Length unless
-- length=1), so clients must enforce size limits while reading.
function _M.big()
  local n = math.floor(tonumber(ngx.var.arg_bytes) or 1048576)
  if n < 0 or n > 4 * 1024 * 1024 * 1024 then
    return send(400, "text/plain", "bytes must be 0..4294967296\n")
  end
  ngx.status = 200
  ngx.header["Content-Type"] = "text/plain"
  if ngx.var.arg_length == "1" then ngx.header["Content-Length"] = n end
  local block = string.rep("0123456789abcdef", CHUNK / 16)
  local left = n
  while left > 0 do
    local take = math.min(left, CHUNK)
    ngx.print(take == CHUNK and block or block:sub(1, take))
    local ok = ngx.flush(true)
    if not ok then return ngx.exit(444) end
    left = left - take
  end
  return ngx.exit(ngx.HTTP_OK)
end

return _M
