--- Password hashing for owner accounts: PBKDF2-HMAC-SHA256 through
-- OpenSSL (Debian's lua-luaossl, `openssl.kdf`).
--
-- Inside nginx it runs in a thread pool (`ngx.run_worker_thread`), so the
-- deliberate slowness of a login never stops the worker's event loop;
-- the owners tool calls it directly. Nothing here touches `ngx`: the
-- thread's own Lua state has none of it.
local kdf = require "openssl.kdf"

local _M = {}

--- The derived key (32 bytes) of `password` with `salt` and `iterations`.
function _M.pbkdf2(password, salt, iterations)
    return kdf.derive {
        type = "PBKDF2", md = "sha256", pass = password, salt = salt, iter = iterations, outlen = 32,
    }
end

return _M
