--- The client's defaults, in one place.
--
-- `enom.new` merges a caller's options over these and hands every
-- transport the complete set, so the curl transport, the nginx transport
-- and the C core all send the same User-Agent and keep the same limits.
-- The version is the C core's (csrc/enom.h), so the two never disagree.
local VERSION = require("enom.core")._VERSION

return {
    endpoint = "live",
    response_type = "xml",
    method = "POST",
    timeout = 60,          -- seconds; PurchasePOPBundle can take 12 s on eNom's side
    connect_timeout = 10,  -- seconds
    max_response = 8 * 1024 * 1024,
    max_connections = 8,
    allow_http = false,
    user_agent = "lua-enom/" .. VERSION,
}
