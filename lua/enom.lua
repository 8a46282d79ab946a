--- enom: the eNom reseller API from Lua.
--
-- @usage
-- local enom = require "enom"
-- local client = assert(enom.new{ uid = "resellid", pw = os.getenv("ENOM_PW"), endpoint = "test" })
-- local res, err = client:setup_pop3_users{
--   sld = "resellerdocs", tld = "com", bundle_id = 5134,
--   users = { { username = "james", password = "s3cret!", display_name = "James Doe" } },
-- }
local core = require "enom.core"
local client = require "enom.client"
local errors = require "enom.errors"
local commands = require "enom.commands"

local _M = {
    _VERSION = "0.1.0",
    core_version = core._VERSION,
    ENDPOINTS = client.ENDPOINTS,
    DEFAULTS = client.DEFAULTS,
    commands = commands.list,
}

--- Create a client; see `enom.client.new` for the options.
_M.new = client.new

--- Form-encode a parameter table (and indexed groups): the exact bytes
-- the client sends. `enom.encode{ a = "x&y" }` gives "a=x%26y".
_M.encode = core.encode

--- Parse an eNom response body: format is "xml", "text" or "html".
_M.parse = core.parse

--- Append text to a file only its owner may read: created with mode
-- 0600, or an existing regular file of the caller's with mode exactly
-- 0600; a link, a FIFO, a device or another user's file is refused
-- (nil, err), and opening never blocks. For handing generated passwords
-- to the caller.
_M.append_private = core.append_private

--- Read a URL with libcurl's parser: { url, scheme, host, port, path,
-- query, loopback } or nil, err (credentials and fragments refused).
_M.parse_url = core.parse_url

--- Is `v` an error value returned by enom?
_M.is_error = errors.is

return _M
