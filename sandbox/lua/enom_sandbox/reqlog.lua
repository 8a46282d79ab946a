-- A ring of the most recent /interface.asp requests (names only, never
-- values), so tests can check e.g. that a client sent credentials in the
-- POST body rather than the query string.

local _M = {}

local MAX = 500
local ring, seq

function _M.clear()
  ring, seq = {}, 0
end
_M.clear()

function _M.add(entry)
  seq = seq + 1
  entry.seq = seq
  entry.time = ngx.now()
  ring[#ring + 1] = entry
  if #ring > MAX then table.remove(ring, 1) end
end

function _M.list()
  return ring
end

return _M
