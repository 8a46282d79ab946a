-- Renders a command result in eNom's three response formats.
--
-- A result is { items = {...}, errors = {{msg=, num=}, ...} }. Items are:
--   { k = "Key", v = value }                    one field
--   { group = true, wrap = "Paks", elem = "Pak", cols = {{xml, text}, ...},
--     rows = {{v1, v2, ...}, ...}, noindex = bool }
-- A group is a repeated record: XML repeats <elem> (inside <wrap> when
-- given; without elem each column is its own element), Text/HTML use
-- indexed keys text..i (plain text keys when noindex).
-- The trailer (Command ... RequestDateTime) is appended here, in eNom's order.

local M = {}

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
function M.request_datetime(t)
  local d = os.date("!*t", t)
  local h = d.hour % 12
  if h == 0 then h = 12 end
  return string.format("%d/%d/%d %d:%02d:%02d %s", d.month, d.day, d.year, h, d.min, d.sec,
    d.hour < 12 and "AM" or "PM")
end

local function tracking_key()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%04x-%04x%08x", r(0, 0xffffffff), r(0, 0xffff),
    r(0, 0xfff), 0x8000 + r(0, 0x3fff), r(0, 0xffff), r(0, 0xffffffff))
end

local function trailer(command, errors, exec_time)
  local errs = { group = true, kind = "errors", rows = {} }
  local resp = { group = true, wrap = "responses", elem = "response",
    cols = { { "ResponseNumber", "ResponseNumber" }, { "ResponseString", "ResponseString" } },
    rows = {} }
  for i, e in ipairs(errors) do
    errs.rows[i] = e.msg
    resp.rows[i] = { e.num, e.msg }
  end
  return {
    { k = "Command", v = command:upper() },
    { k = "APIType", v = "API.NET" },
    { k = "Language", v = "eng" },
    { k = "ErrCount", v = #errors },
    errs,
    { k = "ResponseCount", v = #errors },
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
    { k = "RequestDateTime", v = M.request_datetime(ngx.time()) },
  }
end

-- Flattens items into (key, value, is_done) triples for Text and HTML.
local function flat(items)
  local out = {}
  for _, it in ipairs(items) do
    if it.k then
      out[#out + 1] = { it.k, tostr(it.v), it.done }
    elseif it.kind == "errors" then
      for i, msg in ipairs(it.rows) do out[#out + 1] = { "Err" .. i, tostr(msg) } end
    elseif it.group then
      for i, row in ipairs(it.rows) do
        for c, col in ipairs(it.cols) do
          out[#out + 1] = { it.noindex and col[2] or (col[2] .. i), tostr(row[c]) }
        end
      end
    end
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

local function render_xml(items)
  local buf = { '<?xml version="1.0" encoding="utf-8"?>', "<interface-response>" }
  local done_at
  local function el(indent, name, v)
    buf[#buf + 1] = indent .. "<" .. name .. ">" .. xml_escape(tostr(v)) .. "</" .. name .. ">"
  end
  for _, it in ipairs(items) do
    if it.k then
      if it.done then done_at = #buf end
      el(" ", it.k, it.v)
    elseif it.debug then
      buf[#buf + 1] = " <debug/>"
    elseif it.kind == "errors" then
      if #it.rows > 0 then
        buf[#buf + 1] = " <errors>"
        for i, msg in ipairs(it.rows) do el("  ", "Err" .. i, msg) end
        buf[#buf + 1] = " </errors>"
      end
    elseif it.group and (#it.rows > 0 or it.wrap) then
      local ind = " "
      if it.wrap then
        if #it.rows == 0 and it.wrap == "responses" then goto continue end
        buf[#buf + 1] = ind .. "<" .. it.wrap .. ">"
        ind = "  "
      end
      for _, row in ipairs(it.rows) do
        if it.elem then
          buf[#buf + 1] = ind .. "<" .. it.elem .. ">"
          for c, col in ipairs(it.cols) do el(ind .. " ", col[1], row[c]) end
          buf[#buf + 1] = ind .. "</" .. it.elem .. ">"
        else
          for c, col in ipairs(it.cols) do el(ind, col[1], row[c]) end
        end
      end
      if it.wrap then buf[#buf + 1] = " </" .. it.wrap .. ">" end
    end
    ::continue::
  end
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
function M.format(response_type)
  local f = (response_type or ""):lower()
  if f == "html" or f == "xml" then return f end
  return "text"
end

-- Returns body, content type, and the byte offset where the Done field
-- starts (used by the "cut" fault to truncate a response realistically).
function M.render(fmt, command, result, exec_time)
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

return M
