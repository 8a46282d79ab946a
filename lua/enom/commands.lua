--- The eNom commands enom knows by name, described as data.
--
-- Each entry says which arguments a typed method takes, how they map
-- onto eNom's parameters, which are required, their documented maximum
-- lengths, and the indexed group (UserName1, Password1, ...) if any.
-- `enom.validate` checks a call against its entry before anything is
-- sent; `enom.results` shapes the answer. A new command is a new entry.
--
-- Parameter spec: { name = "SLD", required = true, max = 63, type = "string" }
--   type: "string" (default), "integer", "boolean" (sent as 1/0)
-- Group spec: { arg = "users", name = "users", min = 1, unique = "username",
--   fields = { { key = "username", name = "UserName", required = true,
--   max = 30, secret = false }, ... }, scalar = "username" }
--   `scalar`: a record may be given as a plain string, meaning { [scalar] = s }
--   `count`: the parameter that carries the number of records (ModifyPOP3)
--   `batch`: records per request when a call is split (setup_pop3_users)
--   `secret`: the field is a password; it is redacted everywhere
local _M = { _VERSION = "0.1.0" }

local SLD = { name = "SLD", required = true, max = 63 }
local TLD = { name = "TLD", required = true, max = 15 }

-- eNom documents 30 characters for a POP user name (DeletePOP3's page
-- says 16, an inconsistency; 30 is what SetUpPOP3User accepts).
local USERNAME_MAX = 30
local PASSWORD_MAX = 50

_M.USERNAME_MAX = USERNAME_MAX
_M.PASSWORD_MAX = PASSWORD_MAX
_M.USERNAME_PATTERN = "^[%w][%w%._%-]*$"

local domain = { sld = SLD, tld = TLD }

local function with_domain(extra)
    local t = { sld = SLD, tld = TLD }
    for k, v in pairs(extra or {}) do
        t[k] = v
    end
    return t
end

_M.list = {
    SetUpPOP3User = {
        method = "setup_pop3_users",
        params = with_domain { bundle_id = { name = "BundleID", required = true, type = "integer" } },
        group = {
            arg = "users", name = "users", min = 1, unique = "username", batch = 10,
            fields = {
                { key = "username", name = "UserName", required = true, max = USERNAME_MAX,
                  pattern = _M.USERNAME_PATTERN },
                { key = "password", name = "Password", required = true, max = PASSWORD_MAX, secret = true },
                { key = "admin", name = "IsAdmin", type = "boolean" },
                { key = "display_name", name = "DisplayName", max = 60 },
            },
        },
        result = "setup",
        spends = true,
    },
    PurchasePOPBundle = {
        method = "purchase_pop_bundle",
        params = with_domain { quantity = { name = "Quantity", type = "integer", default = 1, min = 1, max = 10 } },
        result = "purchase",
        spends = true,
    },
    GetPOP3 = {
        method = "get_pop3",
        params = with_domain { get_default_only = { name = "GetDefaultOnly", type = "boolean" } },
        result = "pop3",
        read_only = true,
    },
    ModifyPOP3 = {
        method = "modify_pop3",
        params = domain,
        group = {
            arg = "users", name = "users", min = 1, unique = "username", count = "EmailCount",
            one_of = { "password", "admin" },
            fields = {
                { key = "username", name = "UserName", required = true, max = USERNAME_MAX },
                { key = "password", name = "Password", max = PASSWORD_MAX, secret = true },
                { key = "admin", name = "IsAdmin", type = "boolean" },
            },
        },
        result = "modify",
    },
    DeletePOP3 = {
        method = "delete_pop3",
        params = domain,
        group = {
            arg = "users", name = "users", min = 1, unique = "username", scalar = "username",
            fields = { { key = "username", name = "UserName", required = true, max = USERNAME_MAX } },
        },
        result = "delete",
    },
    DeletePOPPak = {
        method = "delete_pop_pak",
        params = with_domain { bundle_id = { name = "BundleID", required = true, type = "integer" } },
        result = "basic",
    },
    DeleteAllPOPPaks = {
        method = "delete_all_pop_paks",
        params = domain,
        result = "delete_all",
    },
    GetPOPForwarding = {
        method = "get_pop_forwarding",
        params = with_domain { username = { name = "UserName", required = true, max = USERNAME_MAX } },
        result = "pop_forwarding",
        read_only = true,
    },
    GetMailHosts = {
        method = "get_mail_hosts",
        params = domain,
        result = "mail_hosts",
        read_only = true,
    },
    Forwarding = {
        method = "set_forwarding",
        params = domain,
        group = {
            -- Forwarding replaces the whole set: an empty set deletes every
            -- forward, so it needs `allow_empty = true` said out loud.
            arg = "forwards", name = "forwards", min = 1, unique = "address", allow_empty_flag = true,
            fields = {
                { key = "address", name = "Address", required = true, max = 30 },
                { key = "forward_to", name = "ForwardTo", required = true, max = 130 },
            },
        },
        result = "forwarding",
    },
    GetForwarding = {
        method = "get_forwarding",
        params = with_domain { get_default_only = { name = "GetDefaultOnly", type = "boolean" } },
        result = "get_forwarding",
        read_only = true,
    },
    GetCatchAll = {
        method = "get_catch_all",
        params = domain,
        result = "catch_all",
        read_only = true,
    },
    GetDotNameForwarding = {
        method = "get_dot_name_forwarding",
        params = domain,
        result = "dot_name_forwarding",
        read_only = true,
    },
    SetDotNameForwarding = {
        method = "set_dot_name_forwarding",
        params = with_domain { forward_to = { name = "ForwardTo", required = true, max = 130 } },
        result = "set_dot_name_forwarding",
    },
    GetBalance = {
        method = "get_balance",
        params = {},
        result = "balance",
        read_only = true,
    },
}

-- Lookup by method name and by lower-cased command name.
_M.by_method = {}
_M.by_lower = {}
for name, spec in pairs(_M.list) do
    spec.command = name
    _M.by_method[spec.method] = spec
    _M.by_lower[name:lower()] = spec
end

--- The spec of a command, by its eNom name in any case, or nil.
function _M.get(command)
    return _M.by_lower[tostring(command):lower()]
end

return _M
