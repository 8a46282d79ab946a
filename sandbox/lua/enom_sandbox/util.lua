-- What the command modules share: building a result for respond.lua
-- (fields, errors), reading indexed parameters, eNom's ways of writing
-- money and dates, and the name and address checks every command applies
-- the same way.

local _M = {}

local floor = math.floor
local format = string.format

--- One error of a result: eNom's text and, where eNom numbers it, the
-- six-digit response number.
function _M.err(msg, num) return { msg = msg, num = num } end

--- A result holding one error and nothing else.
function _M.fail(msg, num) return { items = {}, errors = { _M.err(msg, num) } } end

--- One field of a result.
function _M.field(k, v) return { k = k, v = v } end

function _M.bool01(b) return b and 1 or 0 end

--- eNom's balances: thousands separators and two decimals (1,000.00).
function _M.money(n)
  local s = format("%.2f", n)
  local int, frac = s:match("^(-?%d+)(%.%d+)$")
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^(-?),", "%1")
  return int .. frac
end

--- Amounts in cents, so that 0.1 + 0.2 style drift never reaches a balance.
function _M.cents(n) return floor(n * 100 + 0.5) end

--- Values of Name1, Name2, ... up to the first index with none of the
-- names: eNom indexes from 1 and stops at the first gap.
function _M.indexed(p, names)
  local rows = {}
  local i = 1
  while true do
    local row, any = {}, false
    for _, n in ipairs(names) do
      local v = p[n .. i]
      if v ~= nil then any = true end
      row[n] = v
    end
    if not any then break end
    rows[i] = row
    i = i + 1
  end
  return rows
end

function _M.has_control(s)
  return s:find("[%z\1-\31\127]") ~= nil
end

--- A POP user name or forwarding address as eNom accepts it.
function _M.valid_username(u)
  return u:match("^[A-Za-z0-9][A-Za-z0-9._-]*$") ~= nil
end

--- One e-mail address (a forward's target, a catch-all).
function _M.valid_email(s)
  return s:match("^[^@%s,;]+@[^@%s,;]+%.[^@%s,;]+$") ~= nil
end

--- A stand-in for eNom's DomainNameID: a number, stable per name.
function _M.domain_name_id(name)
  local h = 0
  for i = 1, #name do h = (h * 31 + name:byte(i)) % 9999991 end
  return 150000000 + h
end

--- Parameters 0/1 as eNom sends flags; nil when absent, false, "bad"
-- when present and neither.
function _M.flag(v)
  if v == nil then return nil end
  if v == "1" then return true end
  if v == "0" then return false end
  return "bad"
end

-- ---- answers several paths give ------------------------------------------

--- eNom's IP allow-list refusal: no recorded answer shows a response
-- number for it (713254 is often cited), so it has none.
function _M.ip_refused(addr)
  return _M.err("User not permitted from this IP address - " .. tostring(addr))
end

--- A purchase the balance cannot pay (5 payment, 24 insufficient reseller
-- balance, 181 account balance); amounts in cents, when known.
function _M.insufficient(cost, have)
  if not cost then
    return _M.err("Insufficient funds: the available balance cannot pay for this order", 524181)
  end
  return _M.err("Insufficient funds: the order costs " .. _M.money(cost / 100) ..
    ", the available balance is " .. _M.money(have / 100), 524181)
end

--- eNom down for maintenance (6 system, 18 down for maintenance, 000
-- does not apply). eNom's text is not published (UNVERIFIED).
function _M.maintenance()
  return _M.err("The system is down for maintenance; please try again later", 618000)
end

-- ---- dates ----------------------------------------------------------------

--- eNom's date and time, UTC: M/D/YYYY h:mm:ss AM.
function _M.datetime(t)
  local d = os.date("!*t", t)
  local h = d.hour % 12
  if h == 0 then h = 12 end
  return format("%d/%d/%d %d:%02d:%02d %s", d.month, d.day, d.year, h, d.min, d.sec,
    d.hour < 12 and "AM" or "PM")
end

-- Seconds between a UTC date and the epoch, from its fields (os.time reads
-- a table as local time; the difference at the epoch corrects for it).
local function utc_time(d)
  local t = os.time { year = d.year, month = d.month, day = d.day, hour = d.hour or 0, min = d.min or 0,
    sec = d.sec or 0, isdst = false }
  local offset = os.time(os.date("!*t", 0)) - 0
  return t - offset
end
_M.utc_time = utc_time

--- The fields of eNom's "M/D/YYYY" or "M/D/YYYY h:mm:ss AM", or nil.
function _M.parse_date(s)
  if type(s) ~= "string" then return nil end
  local mo, d, y, rest = s:match("^%s*(%d%d?)/(%d%d?)/(%d%d%d%d)(.-)%s*$")
  if not mo then return nil end
  local out = { year = tonumber(y), month = tonumber(mo), day = tonumber(d) }
  if out.month < 1 or out.month > 12 or out.day < 1 or out.day > 31 then return nil end
  if rest ~= "" then
    local h, mi, sec, ampm = rest:match("^%s+(%d%d?):(%d%d):(%d%d)%s*([AaPp][Mm])$")
    if not h then return nil end
    h = tonumber(h) % 12
    if ampm:upper() == "PM" then h = h + 12 end
    out.hour, out.min, out.sec = h, tonumber(mi), tonumber(sec)
  end
  return out
end

--- Seconds since the epoch of an eNom date, or nil.
function _M.date_time(s)
  local d = _M.parse_date(s)
  return d and utc_time(d)
end

--- An eNom date moved by whole years, in the form it came in; the 29th
-- of February becomes the 28th in a year without one.
function _M.add_years(s, years)
  local d = _M.parse_date(s)
  if not d then return nil end
  local y = d.year + years
  local day = d.day
  if d.month == 2 and day == 29 and not (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then day = 28 end
  if d.hour then
    return _M.datetime(utc_time { year = y, month = d.month, day = day, hour = d.hour, min = d.min, sec = d.sec })
  end
  return format("%d/%d/%d", d.month, day, y)
end

return _M
