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
-- Group spec: { arg = "users", unique = "username",
--   fields = { { key = "username", name = "UserName", required = true,
--   max = 30, secret = false }, ... }, scalar = "username" }
--   `scalar`: a record may be given as a plain string, meaning { [scalar] = s }
--   `count`: the parameter that carries the number of records (ModifyPOP3)
--   `batch`: records per request when a call is split (setup_pop3_users)
--   `secret`: the field is a password; it is redacted everywhere
--   `password_rule`: the value must pass the client's password rule
--   (enom.password), checked with the record's user name, the domain and
--   the account id
--
-- Result shape (`result`): where the command's data sits in eNom's answers,
-- so that a new shape from eNom is a change here, not in code. Key names
-- are eNom's, matched in any case. `enom.results` reads it.
--   fields  = { out = { "Key", type, aliases = { "Other", ... }, within = "elem" } }
--             a scalar; `aliases` are other keys eNom uses for it (GetCatchAll's
--             Text has ForwardTo, not CatchAll); `within` an XML element that
--             may wrap it (GetMailHosts' <mailhosts><MailHostCount>); `count_of`:
--             when absent, the length of that list.
--   records = { out = { xml = "elem", prefix = "Pak", key = "Col", single = true,
--             columns = { out = { "Col", type, secret = true, aliases = {...} } } } }
--             a list of records: XML repeats <elem>; Text and HTML index the
--             columns (prefix .. Col .. i). Declared columns are indexes even
--             when nothing else in the answer says so (a one-mailbox GetPOP3);
--             `single`: one record may come un-indexed (GetPOPForwarding's
--             Text: username=, forwardto=).
--   lists   = { out = { xml = "elem", key = "Col", type } }: repeated leaves
--             of one XML element, an indexed key in Text (BundleID1..N).
--   type: "string" (default), "integer", "number", "boolean".
local names = require "enom.names"

local _M = {}

local SLD = { name = "SLD", required = true, max = names.SLD_MAX }
local TLD = { name = "TLD", required = true, max = names.TLD_MAX }

local USERNAME_MAX = names.USERNAME_MAX
local PASSWORD_MAX = 50

_M.PASSWORD_MAX = PASSWORD_MAX

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
            arg = "users", unique = "username", batch = 10,
            fields = {
                { key = "username", name = "UserName", required = true, max = USERNAME_MAX,
                  pattern = names.USERNAME_PATTERN },
                { key = "password", name = "Password", required = true, max = PASSWORD_MAX, secret = true,
                  password_rule = true },
                { key = "admin", name = "IsAdmin", type = "boolean" },
                { key = "display_name", name = "DisplayName", max = 60 },
            },
        },
        result = {
            fields = {
                success = { "Success", "boolean", aliases = { "Successful" } },
                accounts_created = { "AccountsCreated", "integer" },
                accounts_failed = { "AccountsFailed", "integer" },
            },
        },
    },
    PurchasePOPBundle = {
        method = "purchase_pop_bundle",
        params = with_domain { quantity = { name = "Quantity", type = "integer", default = 1, min = 1, max = 10 } },
        result = {
            fields = {
                order_id = { "OrderID" },
                bundle_count = { "BundleCount", "integer", count_of = "bundle_ids" },
            },
            lists = { bundle_ids = { xml = "Bundles", key = "BundleID", "integer" } },
        },
    },
    GetPOP3 = {
        method = "get_pop3",
        params = with_domain { get_default_only = { name = "GetDefaultOnly", type = "boolean" } },
        result = {
            fields = {
                email_count = { "EmailCount", "integer" },
                pak_count = { "Count", "integer" },
            },
            records = {
                mailboxes = {
                    xml = "pop", key = "Username",
                    columns = {
                        username = { "Username" },
                        password = { "Password", secret = true },
                        quota = { "Quota", "integer" },
                        expires = { "ExpDate" },
                        bundle_id = { "BundleId", "integer" },
                        auto_renew = { "AutoRenew", "boolean" },
                        admin = { "admin", "boolean" },
                        quota_used = { "quotaused", "integer" },
                    },
                },
                paks = {
                    xml = "Pak", prefix = "Pak", key = "BundleId",
                    columns = {
                        bundle_id = { "BundleId", "integer" },
                        purchased = { "QtyPurchased", "integer" },
                        free = { "QtyAvailable", "integer" },
                        expires = { "ExpDate" },
                        auto_renew = { "AutoRenew", "boolean" },
                        quota = { "Quota", "integer" },
                        product_type = { "ProdType", "integer" },
                    },
                },
            },
        },
        read_only = true,
    },
    ModifyPOP3 = {
        method = "modify_pop3",
        params = domain,
        group = {
            arg = "users", unique = "username", count = "EmailCount",
            one_of = { "password", "admin" },
            fields = {
                { key = "username", name = "UserName", required = true, max = USERNAME_MAX },
                { key = "password", name = "Password", max = PASSWORD_MAX, secret = true, password_rule = true },
                { key = "admin", name = "IsAdmin", type = "boolean" },
            },
        },
        result = {
            fields = {
                success = { "Success", "boolean", aliases = { "Successful" } },
                accounts_modified = { "AccountsModified", "integer" },
                accounts_failed = { "AccountsFailed", "integer" },
            },
        },
    },
    DeletePOP3 = {
        method = "delete_pop3",
        params = domain,
        group = {
            arg = "users", unique = "username", scalar = "username",
            fields = { { key = "username", name = "UserName", required = true, max = USERNAME_MAX } },
        },
        result = {
            fields = {
                success = { "success", "boolean", aliases = { "Successful" } },
                accounts_deleted = { "AccountsDeleted", "integer" },
            },
        },
    },
    DeletePOPPak = {
        method = "delete_pop_pak",
        params = with_domain { bundle_id = { name = "BundleID", required = true, type = "integer" } },
        result = {},
    },
    DeleteAllPOPPaks = {
        method = "delete_all_pop_paks",
        params = domain,
        result = { fields = { paks_removed = { "PaksRemoved", "integer" } } },
    },
    GetPOPForwarding = {
        method = "get_pop_forwarding",
        params = with_domain { username = { name = "UserName", required = true, max = USERNAME_MAX } },
        result = {
            fields = { count = { "Count", "integer" } },
            records = {
                forwards = {
                    xml = "popforwarding", key = "UserName", single = true,
                    columns = {
                        domain = { "DomainName" },
                        domain_name_id = { "DomainNameID", "integer" },
                        username = { "UserName" },
                        forward_to = { "ForwardTo" },
                        active = { "Active", "boolean" },
                        status = { "status", "integer" }, -- the sandbox's opt-in state (eNom: unpublished)
                    },
                },
            },
        },
        read_only = true,
    },
    GetMailHosts = {
        method = "get_mail_hosts",
        params = domain,
        result = {
            fields = {
                count = { "MailHostCount", "integer", within = "mailhosts" },
                email_forwarding = { "EmailForwarding", "boolean", within = "mailhosts" },
                parking_enabled = { "ParkingEnabled", "boolean" },
                service_select = { "ServiceSelect" },
            },
            records = {
                hosts = {
                    -- AddressX here is a column, not part of a name
                    xml = "host", key = "HostName",
                    columns = {
                        host_id = { "hostID", "integer" },
                        host_name = { "HostName" },
                        record_type = { "RecordType" },
                        address = { "Address" },
                        mx_pref = { "MXPref", "integer" },
                    },
                },
            },
        },
        read_only = true,
    },
    Forwarding = {
        method = "set_forwarding",
        params = domain,
        group = {
            -- Forwarding replaces the whole set: an empty set deletes every
            -- forward, so it needs `allow_empty = true` said out loud.
            arg = "forwards", unique = "address", allow_empty_flag = true,
            fields = {
                { key = "address", name = "Address", required = true, max = 30 },
                { key = "forward_to", name = "ForwardTo", required = true, max = 130 },
            },
        },
        result = {
            fields = {
                enabled = { "EmailForwardingEnabled", "boolean" },
                mail_count = { "MailCount", "integer" },
            },
        },
    },
    GetForwarding = {
        method = "get_forwarding",
        params = with_domain { get_default_only = { name = "GetDefaultOnly", type = "boolean" } },
        result = {
            fields = {
                email_count = { "EmailCount", "integer" },
                max_email = { "MaxEmail", "integer" },
            },
            records = {
                forwards = {
                    -- XML: <eforward><alias>, <forward-to>; Text: Username1, ForwardTo1
                    xml = "eforward", key = "alias",
                    columns = {
                        alias = { "alias", aliases = { "Username" } },
                        forward_to = { "forward-to", aliases = { "ForwardTo" } },
                        status = { "status", "integer" }, -- 0 forwarding on, 1 off
                        mail_id = { "mailid", "integer" },
                        reject_reason = { "rejectreason" },
                    },
                },
            },
        },
        read_only = true,
    },
    GetCatchAll = {
        method = "get_catch_all",
        params = domain,
        result = { fields = { catch_all = { "CatchAll", aliases = { "ForwardTo" } } } },
        read_only = true,
    },
    GetDotNameForwarding = {
        method = "get_dot_name_forwarding",
        params = domain,
        result = {
            fields = {
                -- XML: <dotnameforwarding> with <domainname domainnameid= sld= tld=/>;
                -- Text: the same keys flat, attribute values still in quotes
                status = { "status", "integer", within = "dotnameforwarding" },
                address = { "address", within = "dotnameforwarding" },
                domain_name_id = { "domainnameid", "integer", within = "dotnameforwarding" },
                domain_rrp = { "DomainRRP" },
            },
        },
        read_only = true,
    },
    SetDotNameForwarding = {
        method = "set_dot_name_forwarding",
        params = with_domain { forward_to = { name = "ForwardTo", required = true, max = 130 } },
        result = {
            fields = {
                forward_to = { "ForwardTo", within = "dotnameforwarding" },
                domain_rrp = { "DomainRRP" },
            },
        },
    },
    GetBalance = {
        method = "get_balance",
        params = {},
        result = {
            fields = {
                balance = { "Balance", "number" },
                available_balance = { "AvailableBalance", "number" },
            },
        },
        read_only = true,
    },

    -- The pak lifecycle, from eNom's command pages (samples and sources in
    -- spec/fixtures/enom/SOURCES.md).
    GetPOPExpirations = {
        method = "get_pop_expirations",
        params = {},
        result = {
            fields = { count = { "count", "integer", within = "popexpirations" } },
            records = {
                -- every pak of the account: XML <popexpirations><pop>; Text
                -- domain1, bundleid1, expdate1 and renew1 (Text only)
                paks = {
                    xml = "pop", key = "domain",
                    columns = {
                        domain = { "domain" },
                        bundle_id = { "bundleid", "integer" },
                        expires = { "expdate" },
                        auto_renew = { "renew", "boolean" },
                    },
                },
            },
        },
        read_only = true,
    },
    RenewPOPBundle = {
        method = "renew_pop_bundle",
        -- PakID has a "Max Size" of 10, Quantity (years) of 2; eNom's
        -- MaxPeriod is 10 years.
        params = with_domain {
            pak_id = { name = "PakID", required = true, type = "integer", min = 1, max = 9999999999 },
            years = { name = "Quantity", required = true, type = "integer", min = 1, max = 10 },
        },
        -- eNom's Text sample carries no OrderID, its XML an <orderid>
        result = { fields = { order_id = { "OrderID" } } },
    },
    SetPakRenew = {
        method = "set_pak_renew",
        params = with_domain {
            bundle_id = { name = "BundleID", required = true, type = "integer" },
            auto_renew = { name = "AutoPakRenew", required = true, type = "boolean" },
        },
        -- XML: PakUpdated and AutoPakRenew; Text: Success only
        result = {
            fields = {
                pak_updated = { "PakUpdated", "integer" },
                auto_renew = { "AutoPakRenew", "boolean" },
                success = { "Success", "boolean" },
            },
        },
    },
    UpdateRenewalSettings = {
        method = "update_renewal_settings",
        -- The account's renewal notices (eNom's page documents no
        -- AutoPakRenew here: a domain's paks renew by SetRenew, a pak's
        -- by SetPakRenew). RenewalSetting: 0 no notices, 1 e-mail the
        -- customers and send them to URL, 2 contact and charge them.
        params = {
            renewal_setting = { name = "RenewalSetting", type = "integer", min = 0, max = 2 },
            renewal_bcc = { name = "RenewalBCC", type = "boolean" },
            accept_terms = { name = "AcceptTerms", type = "boolean" },
            url = { name = "URL", max = 63 },
        },
        result = {
            fields = {
                accept_terms_status = { "AcceptTermsStatus" },
                renewal_setting = { "RenewalSetting" },
            },
        },
    },
    GetRenew = {
        method = "get_renew",
        params = domain,
        result = {
            fields = {
                -- XML <auto-renew>, Text and HTML RenewName
                auto_renew = { "RenewName", "boolean", aliases = { "auto-renew" } },
                auto_pak_renew = { "AutoPakRenew", "boolean" },
                pak_exists = { "PakExist", "boolean" },
                email_forward_renew = { "EmailForwardRenew", "boolean" },
                email_forward_exists = { "EmailFwdExists", "boolean" },
                url_forward_renew = { "URLForwardRenew", "boolean" },
                url_forward_exists = { "URLFwdExists", "boolean" },
                id_protect_renew = { "IDProtectRenew", "boolean" },
                id_protect_exists = { "IDProtectExists", "boolean" },
            },
        },
        read_only = true,
    },
    SetRenew = {
        method = "set_renew",
        -- RenewFlag is the registration's own auto-renew and eNom requires
        -- it: read it with get_renew first to change only the paks'.
        params = with_domain {
            auto_renew = { name = "RenewFlag", required = true, type = "boolean" },
            auto_pak_renew = { name = "AutoPakRenew", type = "boolean" },
            email_forward_renew = { name = "EmailForwardRenew", type = "boolean" },
            url_forward_renew = { name = "URLForwardRenew", type = "boolean" },
            id_protect_renew = { name = "WPPSRenew", type = "boolean" },
        },
        result = {
            fields = {
                auto_renew = { "RenewName", "boolean" },
                -- only when auto_pak_renew was sent
                auto_pak_renew = { "AutoPakRenew", "boolean" },
                success = { "Success", "boolean" },
            },
        },
    },
    PE_GetPOPPrice = {
        method = "get_pop_price",
        params = {},
        -- XML <pricing><pop>, Text Price: what this account pays per pak
        result = { fields = { price = { "pop", "number", aliases = { "Price" }, within = "pricing" } } },
        read_only = true,
    },
    SetPOPForwarding = {
        method = "set_pop_forwarding",
        -- One mailbox's forward: enable = true adds or changes it, false
        -- deletes it; every other forward stays. email must be the
        -- domain (SLD.TLD). status_flags: absent delivers to the mailbox
        -- only, 0 to the mailbox and the forward (a copy kept), 1 to the
        -- forward only. Since 2025-09-18 a new forward waits for its
        -- recipient's approval.
        params = with_domain {
            username = { name = "UserName", required = true, max = USERNAME_MAX, pattern = names.USERNAME_PATTERN },
            email = { name = "EMail", required = true, max = 78 },
            forward_to = { name = "ForwardTo", max = 130 },
            enable = { name = "Enable", required = true, type = "boolean" },
            status_flags = { name = "StatusFlags", type = "integer", min = 0, max = 1 },
        },
        result = {
            fields = {
                success = { "success", "boolean" },
                domain_rrp = { "DomainRRP" },
            },
        },
    },
    SetCatchAll = {
        method = "set_catch_all",
        params = with_domain { forward_to = { name = "ForwardTo", required = true, max = 130 } },
        -- as GetCatchAll: CatchAll in XML, ForwardTo in Text
        result = {
            fields = {
                catch_all = { "CatchAll", aliases = { "ForwardTo" } },
                success = { "success", "boolean" },
            },
        },
    },
    GetOrderList = {
        method = "get_order_list",
        -- Start: 25 orders a page, newest first; BeginDate and EndDate
        -- (MM/DD/YYYY) at most six months apart, the last six months
        -- without them.
        params = {
            start = { name = "Start", type = "integer", min = 1, max = 9999 },
            begin_date = { name = "BeginDate", max = 10, pattern = "^%d%d?/%d%d?/%d%d%d%d$" },
            end_date = { name = "EndDate", max = 10, pattern = "^%d%d?/%d%d?/%d%d%d%d$" },
        },
        result = {
            fields = {
                begin_date = { "BeginDate", within = "OrderList" },
                end_date = { "EndDate", within = "OrderList" },
                show_start = { "ShowStart", "integer", within = "OrderList" },
                show_end = { "ShowEnd", "integer", within = "OrderList" },
                next_start = { "NextStartPosition", "integer", within = "OrderList" },
                record_count = { "RecordCount", "integer", within = "OrderList" },
            },
            records = {
                -- XML <OrderList><OrderDetail>; Text repeats OrderID,
                -- OrderDate, StatusDesc, OrderProcessFlag without an index
                orders = {
                    xml = "OrderDetail", key = "OrderID",
                    columns = {
                        order_id = { "OrderID", "integer" },
                        date = { "OrderDate" },
                        status = { "StatusDesc" },
                        processed = { "OrderProcessFlag", "boolean" },
                    },
                },
            },
        },
        read_only = true,
    },
    GetOrderDetail = {
        method = "get_order_detail",
        params = { order_id = { name = "OrderID", required = true, type = "integer", min = 1, max = 9999999999 } },
        result = {
            fields = {
                -- XML: inside <Order>; Text: un-indexed. OrderStatus here
                -- is a number (6 complete); the items' is a word.
                order_id = { "OrderID", "integer", within = "Order" },
                result = { "Result", "boolean", within = "Order" },
                order_date = { "OrderDate", within = "Order" },
                bill_date = { "BillDate", within = "Order" },
                bill_amount = { "OrderBillAmount", within = "Order" },
                order_status = { "OrderStatus", "integer", within = "Order" },
                status = { "StatusDesc", within = "Order" },
            },
            records = {
                -- XML <OrderDetail>; Text ProductType1, Description1, ...
                items = {
                    xml = "OrderDetail", key = "ProductType",
                    columns = {
                        product_type = { "ProductType" },
                        description = { "Description" },
                        status = { "Status" },
                        quantity = { "Quantity", "integer" },
                        detail_status_id = { "DetailStatusID", "integer" },
                        amount_paid = { "AmountPaid" },
                        order_status = { "OrderStatus" },
                        bundle_id = { "BundleID" },
                        bundle_instance_id = { "BundleInstanceID" },
                        bundle_name = { "BundleName" },
                        expires = { "ExpiryDatetime" },
                    },
                },
            },
        },
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
