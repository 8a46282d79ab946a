-- Renders a command result in eNom's three response formats.
--
-- A result is { items = {...}, errors = {{msg=, num=}, ...} }. Items are:
--   { k = "Key", v = value }                    one field
--   { k = "Key", v = value, attrs = {{name, value}, ...} }
--       XML: <Key name="value" .../>; Text/HTML: one key per attribute, the
--       value in double quotes, as eNom flattens them (the element itself
--       is not a Text key)
--   { group = true, wrap = "Paks", elem = "Pak", cols = {{xml, text}, ...},
--     rows = {{v1, v2, ...}, ...}, noindex = bool }
--   { nest = "mailhosts", items = {...} }       XML: the items inside
--       <mailhosts>; Text/HTML: the same items, flat
-- Any item may carry only = "xml" or only = "kv" (Text and HTML): eNom's
-- formats do not always carry the same keys (GetCatchAll: CatchAll in XML,
-- ForwardTo in Text).
-- A group is a repeated record: XML repeats <elem> (inside <wrap> when
-- given; without elem each column is its own element), Text/HTML use
-- indexed keys text..i (plain text keys when noindex).
-- The trailer (Command ... RequestDateTime) is appended here, in eNom's order.
-- An error's number is given only where eNom gives one; ResponseString is
-- the number's category ("Validation error; not found; domain name(s)"),
-- as eNom writes it, not the error text.

local util = require("enom_sandbox.util")

local _M = {}

local CRLF = "\r\n"

local function xml_escape(s)
  return (s:gsub("[&<>\"']", {
    ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;",
  }))
end

local function html_escape(s)
  return (s:gsub("[&<>]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;" }))
end

-- A line break inside a Text value would forge a new Key=Value line.
local function text_value(s)
  return (s:gsub("[\r\n]", " "))
end

local function tostr(v)
  if v == nil then return "" end
  if v == true then return "True" end
  if v == false then return "False" end
  return tostring(v)
end

-- eNom's RequestDateTime: M/D/YYYY h:mm:ss AM
_M.request_datetime = util.datetime

local function tracking_key()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%04x-%04x%08x", r(0, 0xffffffff), r(0, 0xffff),
    r(0, 0xfff), 0x8000 + r(0, 0x3fff), r(0, 0xffff), r(0, 0xffffffff))
end

-- eNom's response number scheme (its "API error codes" page): system,
-- type, parameter.
local SYSTEM = {
  ["0"] = "Unknown error", ["1"] = "Command completed successfully", ["2"] = "Registry error",
  ["3"] = "Validation error", ["4"] = "Authentication error", ["5"] = "Payment error",
  ["6"] = "System error", ["7"] = "Policy error",
}
local TYPE = {
  ["00"] = "does not apply", ["01"] = "missing", ["02"] = "duplicate", ["03"] = "out of range",
  ["04"] = "invalid", ["05"] = "type mismatch", ["06"] = "policy violation", ["09"] = "failed to add",
  ["10"] = "failed to update", ["11"] = "failed to delete", ["13"] = "unauthorized",
  ["14"] = "declined", ["15"] = "not available", ["16"] = "not found", ["21"] = "failed to process",
  ["07"] = "connection failed", ["08"] = "failed to retrieve", ["12"] = "disabled", ["17"] = "expired",
  ["18"] = "down for maintenance", ["19"] = "failed to deduct", ["24"] = "insufficient reseller balance",
  ["99"] = "unknown",
}
-- "does not apply" (000) leaves the part empty, as eNom's
-- "Validation error; failed to process;" does.
local PARAMETER = {
  ["000"] = "", ["012"] = "email", ["150"] = "command", ["151"] = "SLD", ["152"] = "TLD",
  ["153"] = "domain name(s)", ["155"] = "login ID", ["156"] = "password", ["163"] = "renewal settings",
  ["170"] = "email record(s)", ["172"] = "forward to", ["181"] = "account balance", ["183"] = "quantity",
  ["188"] = "page", ["190"] = "URL", ["217"] = "date", ["239"] = "status", ["259"] = "order ID",
  ["269"] = "pak ID", ["271"] = "POP pak", ["286"] = "POP user name",
}

function _M.category(num)
  local s = string.format("%06d", tonumber(num) or 0)
  local out = string.format("%s; %s;", SYSTEM[s:sub(1, 1)] or SYSTEM["0"], TYPE[s:sub(2, 3)] or "unknown")
  local param = PARAMETER[s:sub(4, 6)] or ""
  return param == "" and out or (out .. " " .. param)
end

local function trailer(command, errors, exec_time)
  local errs = { group = true, kind = "errors", rows = {} }
  local resp = { group = true, wrap = "responses", elem = "response",
    cols = { { "ResponseNumber", "ResponseNumber" }, { "ResponseString", "ResponseString" } },
    rows = {} }
  for i, e in ipairs(errors) do
    errs.rows[i] = e.msg
    if e.num then
      resp.rows[#resp.rows + 1] = { e.num, _M.category(e.num) }
    end
  end
  return {
    { k = "Command", v = command:upper() },
    { k = "APIType", v = "API.NET" },
    { k = "Language", v = "eng" },
    { k = "ErrCount", v = #errors },
    errs,
    { k = "ResponseCount", v = #resp.rows },
    resp,
    { k = "MinPeriod", v = 1 },
    { k = "MaxPeriod", v = 10 },
    { k = "Server", v = "sandbox" },
    { k = "Site", v = "eNom" },
    { k = "IsLockable", v = "" },
    { k = "IsRealTimeTLD", v = "" },
    { k = "TimeDifference", v = "+0.00" },
    { k = "ExecTime", v = string.format("%.3f", exec_time or 0) },
    { k = "Done", v = "true", done = true },
    { debug = true },
    { k = "TrackingKey", v = tracking_key() },
    { k = "RequestDateTime", v = _M.request_datetime(ngx.time()) },
  }
end

-- Flattens items into (key, value, is_done) triples for Text and HTML.
local function flat(items, out)
  out = out or {}
  for _, it in ipairs(items) do
    if it.only == "xml" then
      goto continue
    elseif it.nest then
      flat(it.items, out)
    elseif it.k and it.attrs then
      for _, a in ipairs(it.attrs) do out[#out + 1] = { a[1], '"' .. tostr(a[2]) .. '"' } end
    elseif it.k then
      out[#out + 1] = { it.k, tostr(it.v), it.done }
    elseif it.kind == "errors" then
      for i, msg in ipairs(it.rows) do out[#out + 1] = { "Err" .. i, tostr(msg) } end
    elseif it.group then
      for i, row in ipairs(it.rows) do
        for c, col in ipairs(it.cols) do
          if col[2] then
            out[#out + 1] = { it.noindex and col[2] or (col[2] .. i), tostr(row[c]) }
          end
        end
      end
    end
    ::continue::
  end
  return out
end

local function render_text(items)
  local buf = { ";URL Interface", ";Machine is SANDBOX", ";Encoding Type is utf-8" }
  local done_at
  local size = 0
  for _, l in ipairs(buf) do size = size + #l + 2 end
  for _, f in ipairs(flat(items)) do
    local line = f[1] .. "=" .. text_value(f[2])
    if f[3] then done_at = size end
    buf[#buf + 1] = line
    size = size + #line + 2
  end
  return table.concat(buf, CRLF) .. CRLF, done_at
end

local function render_html(items)
  local buf = { ";URL Interface<br>", ";Machine is SANDBOX<br>", ";Encoding Type is utf-8<br>",
    "<HTML><BODY>" }
  local done_at
  local size = 0
  for _, l in ipairs(buf) do size = size + #l + 2 end
  for _, f in ipairs(flat(items)) do
    local line
    -- eNom drops the space after the colon when the value is empty.
    if f[2] == "" then
      line = "<STRONG>" .. f[1] .. ":</ STRONG><br>"
    else
      line = "<STRONG>" .. f[1] .. ": </ STRONG>" .. html_escape(text_value(f[2])) .. "<br>"
    end
    if f[3] then done_at = size end
    buf[#buf + 1] = line
    size = size + #line + 2
  end
  buf[#buf + 1] = "</BODY></HTML>"
  return table.concat(buf, CRLF) .. CRLF, done_at
end

local function xml_attrs(attrs)
  local out = {}
  for i, a in ipairs(attrs) do
    out[i] = " " .. a[1] .. '="' .. xml_escape(tostr(a[2])) .. '"'
  end
  return table.concat(out)
end

local function render_xml(items)
  local buf = { '<?xml version="1.0" encoding="utf-8"?>', "<interface-response>" }
  local done_at
  local function el(indent, name, v)
    buf[#buf + 1] = indent .. "<" .. name .. ">" .. xml_escape(tostr(v)) .. "</" .. name .. ">"
  end
  local function emit(list, ind)
    for _, it in ipairs(list) do
      if it.only == "kv" then
        goto continue
      elseif it.nest then
        buf[#buf + 1] = ind .. "<" .. it.nest .. ">"
        emit(it.items, ind .. " ")
        buf[#buf + 1] = ind .. "</" .. it.nest .. ">"
      elseif it.k and it.attrs then
        if tostr(it.v) == "" then
          buf[#buf + 1] = ind .. "<" .. it.k .. xml_attrs(it.attrs) .. " />"
        else
          buf[#buf + 1] = ind .. "<" .. it.k .. xml_attrs(it.attrs) .. ">" .. xml_escape(tostr(it.v)) ..
            "</" .. it.k .. ">"
        end
      elseif it.k then
        if it.done then done_at = #buf end
        el(ind, it.k, it.v)
      elseif it.debug then
        buf[#buf + 1] = ind .. "<debug/>"
      elseif it.kind == "errors" then
        if #it.rows > 0 then
          buf[#buf + 1] = ind .. "<errors>"
          for i, msg in ipairs(it.rows) do el(ind .. " ", "Err" .. i, msg) end
          buf[#buf + 1] = ind .. "</errors>"
        end
      elseif it.group and (#it.rows > 0 or it.wrap) then
        local inner = ind
        if it.wrap then
          if #it.rows == 0 and it.wrap == "responses" then goto continue end
          buf[#buf + 1] = ind .. "<" .. it.wrap .. ">"
          inner = ind .. " "
        end
        for _, row in ipairs(it.rows) do
          if it.elem then
            buf[#buf + 1] = inner .. "<" .. it.elem .. ">"
            for c, col in ipairs(it.cols) do
              if col[1] then el(inner .. " ", col[1], row[c]) end
            end
            buf[#buf + 1] = inner .. "</" .. it.elem .. ">"
          else
            for c, col in ipairs(it.cols) do
              if col[1] then el(inner, col[1], row[c]) end
            end
          end
        end
        if it.wrap then buf[#buf + 1] = ind .. "</" .. it.wrap .. ">" end
      end
      ::continue::
    end
  end
  emit(items, " ")
  buf[#buf + 1] = "</interface-response>"
  -- done_at counts lines before <Done>; convert it to a byte offset.
  local offset
  if done_at then
    offset = 0
    for i = 1, done_at do offset = offset + #buf[i] + 2 end
  end
  return table.concat(buf, CRLF) .. CRLF, offset
end

local CONTENT_TYPES = {
  text = "text/plain; charset=utf-8",
  html = "text/html; charset=utf-8",
  xml = "text/xml; charset=utf-8",
}

-- "text" | "html" | "xml"; anything unknown falls back to eNom's default.
function _M.format(response_type)
  local f = (response_type or ""):lower()
  if f == "html" or f == "xml" then return f end
  return "text"
end

-- Returns body, content type, and the byte offset where the Done field
-- starts (used by the "cut" fault to truncate a response realistically).
function _M.render(fmt, command, result, exec_time)
  local items = {}
  for _, it in ipairs(result.items or {}) do items[#items + 1] = it end
  for _, it in ipairs(trailer(command, result.errors or {}, exec_time)) do items[#items + 1] = it end
  local body, done_at
  if fmt == "xml" then
    body, done_at = render_xml(items)
  elseif fmt == "html" then
    body, done_at = render_html(items)
  else
    body, done_at = render_text(items)
  end
  return body, CONTENT_TYPES[fmt] or CONTENT_TYPES.text, done_at
end

return _M
