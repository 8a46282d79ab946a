--- POP pak arithmetic, in one place: a pak holds PAK_SIZE mailboxes.
local _M = {}

local ipairs = ipairs
local floor = math.floor
local max = math.max

_M.PAK_SIZE = 10

--- eNom's largest Quantity in one PurchasePOPBundle order.
_M.MAX_PER_ORDER = 10

--- Free slots across `paks` (records with a `free` count).
function _M.free(paks)
    local n = 0
    for _, p in ipairs(paks) do
        n = n + (p.free or 0)
    end
    return n
end

--- Paks to buy so that `wanted` new mailboxes fit beside `free` slots.
function _M.needed(wanted, free)
    local short = max(0, wanted - free)
    return floor((short + _M.PAK_SIZE - 1) / _M.PAK_SIZE)
end

--- Mailboxes that `n` paks hold.
function _M.slots(n)
    return n * _M.PAK_SIZE
end

return _M
