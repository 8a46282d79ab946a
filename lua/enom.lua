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
require "enom.batch" -- adds client:batch and client:call_many

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

--- Append text to a file only its owner may read (created with mode
-- 0600; an existing file open to others is refused). For handing
-- generated passwords to the caller.
_M.append_private = core.append_private

--- Is `v` an error value returned by enom?
_M.is_error = errors.is

return _M
