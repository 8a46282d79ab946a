-- eNom's own answers (spec/fixtures/enom/, origins in SOURCES.md) through
-- enom.parse and, for the commands enom types, through the typed layer
-- with the command's declared shape. The expected values were written by
-- reading each file; any difference fails.
local enom = require "enom"
local results = require "enom.results"
local commands = require "enom.commands"

local DIR = "spec/fixtures/enom/"
local FORMATS = { xml = "xml", txt = "text", html = "html" }

local function read(path)
    local f = assert(io.open(DIR .. path, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local function parse(path)
    local body = read(path)
    return enom.parse(body, FORMATS[path:match("%.(%w+)$")])
end

-- The corpus, file by file. `parsed`: the envelope and some fields as the
-- parser must give them; `typed`: the whole typed result (passwords
-- included), for a command enom types.
local CASES = {
    ["SetUpPOP3User/enom-docs.xml"] = {
        parsed = { command = "SETUPPOP3USER", err_count = 0, done = true, errors = {}, responses = {},
            fields = { Success = "True", debug = "", IsLockable = "True" } },
        typed = {
            exec_time = 8.547, server = "sjl21wresellt01",
            command = "SETUPPOP3USER", errors = {}, success = true, accounts_created = 1, accounts_failed = 0,
            tracking_key = "37bb5652-5250-4483-a877-368f2eb7674f" },
    },
    ["SetUpPOP3User/enom-docs-error.html"] = {
        -- ErrCount=1 beside Success=True; ResponseCount=0: no response number
        parsed = { command = "SETUPPOP3USER", err_count = 1, done = true, errors = { "Invalid Item specified" },
            responses = {}, fields = { ResponseCount = "0", IsLockable = "", IsRealTimeTLD = "", APIType = "API.NET" } },
        typed = {
            exec_time = 0.172, server = "sjl0vwresell_t1",
            command = "SETUPPOP3USER", errors = { "Invalid Item specified" }, success = true,
            accounts_created = 1, accounts_failed = 0, tracking_key = "6d72b4a4-8558-4c99-b222-3b00c0f3926d" },
    },
    ["SetUpPOP3User/enom-docs-error.txt"] = {
        parsed = { command = "SETUPPOP3USER", err_count = 1, done = true, errors = { "Invalid Item specified" },
            responses = {}, fields = { ResponseCount = "0", IsLockable = "", Server = "sjl0vwresell_t1" } },
        typed = {
            exec_time = 0.094, server = "sjl0vwresell_t1",
            command = "SETUPPOP3USER", errors = { "Invalid Item specified" }, success = true,
            accounts_created = 1, accounts_failed = 0, tracking_key = "5715a3fd-e803-4105-a57e-75ebbb9231d1" },
    },
    ["PurchasePOPBundle/enom-docs.xml"] = {
        parsed = { command = "PURCHASEPOPBUNDLE", err_count = 0, done = true, fields = { orderid = "157781024" } },
        typed = {
            exec_time = 1.265, server = "SJL21WRESELLT01",
            command = "PURCHASEPOPBUNDLE", errors = {}, order_id = "157781024", bundle_ids = { 30823 },
            bundle_count = 1 },
    },
    ["PurchasePOPBundle/enom-docs.txt"] = {
        -- BundleID1 with BundleCount 1: a list column
        parsed = { command = "PURCHASEPOPBUNDLE", err_count = 0, done = true, fields = { orderid = "161808176" },
            indexed = { bundleid = { "1004952" } } },
        typed = {
            exec_time = 11.848, server = "SJL0VWRESELL_T1",
            command = "PURCHASEPOPBUNDLE", errors = {}, order_id = "161808176", bundle_ids = { 1004952 },
            bundle_count = 1 },
    },
    ["GetPOP3/enom-docs.xml"] = {
        parsed = { command = "GETPOP3", err_count = 0, done = true,
            fields = { EmailCount = "8", Count = "2", Successful = "True", AdditionalHostPop = "" } },
        typed = {
            exec_time = 0.047, server = "sjl21wresellt01",
            command = "GETPOP3", errors = {}, email_count = 8, pak_count = 2,
            tracking_key = "9940727e-36fd-4b47-92f8-732af897c07a",
            mailboxes = (function()
                local out = {}
                for i, m in ipairs {
                    { "dell", "78910", "26770", "5/3/2010 2:14:59 AM" }, { "hp", "78910", "26770", "5/3/2010 2:14:59 AM" },
                    { "lenovo", "1111", "26770", "5/3/2010 2:14:59 AM" }, { "sss", "aaaaaaa", "26770", "5/3/2010 2:14:59 AM" },
                    { "facebook", "78910", "26771", "5/3/2010 2:15:51 AM" }, { "google", "78910", "26771", "5/3/2010 2:15:51 AM" },
                    { "instragram", "1111", "26771", "5/3/2010 2:15:51 AM" }, { "twitter", "1111", "26771", "5/3/2010 2:15:51 AM" },
                } do
                    out[i] = { username = m[1], password = m[2], quota = 1024, expires = m[4], bundle_id = tonumber(m[3]),
                        auto_renew = false, admin = false, quota_used = 0 }
                end
                return out
            end)(),
            paks = {
                { bundle_id = 26770, purchased = 10, free = 6, expires = "5/3/2010 2:14:59 AM", auto_renew = false,
                  quota = 1024, product_type = 38 },
                { bundle_id = 26771, purchased = 10, free = 6, expires = "5/3/2010 2:15:51 AM", auto_renew = false,
                  quota = 1024, product_type = 38 },
            },
        },
    },
    ["GetPOP3/enom-docs.txt"] = {
        -- one mailbox, Key: Value lines; EmailCount and Count vouch for the columns
        parsed = { command = "GETPOP3", err_count = 0, done = true,
            fields = { EmailCount = "1", Count = "1", Successful = "True", Success = "True", AdditionalHostAcctLogin = "" },
            indexed = { username = { "neil" }, admin = { "1" }, vasitemid = { "1003774" }, pakversion = { "2" } } },
        typed = {
            exec_time = 0.219, server = "sjl0vwresell_t1",
            command = "GETPOP3", errors = {}, email_count = 1, pak_count = 1,
            tracking_key = "3eb23499-9163-4321-9aa4-2bfb721189db",
            mailboxes = { { username = "neil", password = "Pass1w0rd", quota = 1024, expires = "11/6/2015",
                bundle_id = 1003774, auto_renew = false, admin = true, quota_used = 0 } },
            paks = { { bundle_id = 1003774, purchased = 10, free = 9, expires = "11/6/2015", auto_renew = false,
                quota = 1024, product_type = 38 } },
        },
    },
    ["ModifyPOP3/enom-docs.xml"] = {
        parsed = { command = "MODIFYPOP3", err_count = 0, done = true, fields = { IsLockable = "", APIType = "API.NET" } },
        typed = {
            exec_time = 0.016, server = "sjl0vwresell_t1",
            command = "MODIFYPOP3", errors = {}, success = true, accounts_modified = 2, accounts_failed = 0,
            tracking_key = "1a9002ec-ad7b-449d-ab41-a53a4788a80c" },
    },
    ["ModifyPOP3/enom-docs.txt"] = {
        parsed = { command = "MODIFYPOP3", err_count = 0, done = true, fields = { AccountsModified = "2" } },
        typed = {
            exec_time = 0.016, server = "sjl0vwresell_t1",
            command = "MODIFYPOP3", errors = {}, success = true, accounts_modified = 2, accounts_failed = 0,
            tracking_key = "e9ac093f-59a4-43cf-b72a-e94b8343acb0" },
    },
    ["DeletePOP3/enom-docs.xml"] = {
        parsed = { command = "DELETEPOP3", err_count = 0, done = true, fields = { success = "True" } },
        typed = {
            exec_time = 0.219, server = "sjl21wresellt01",
            command = "DELETEPOP3", errors = {}, success = true, accounts_deleted = 1,
            tracking_key = "ef0e27fe-c956-4f45-a1f9-da8b6b8adea5" },
    },
    ["DeletePOP3/enom-docs.txt"] = {
        -- eNom's Text answer has no AccountsDeleted
        parsed = { command = "DELETEPOP3", err_count = 0, done = true, fields = { success = "True" } },
        typed = {
            exec_time = 0.594, server = "sjl0vwresell_t1",
            command = "DELETEPOP3", errors = {}, success = true,
            tracking_key = "fbed2f7d-f570-4a55-82dd-f327f31684fe" },
    },
    ["DeletePOPPak/enom-docs.xml"] = {
        parsed = { command = "DELETEPOPPAK", err_count = 0, done = true, fields = { ExecTime = "0.750" } },
        typed = {
            exec_time = 0.75, server = "sjl21wresellt01",
            command = "DELETEPOPPAK", errors = {}, tracking_key = "31063cc4-7994-4d96-b8bd-1ff3665d6039" },
    },
    ["DeletePOPPak/enom-docs-colon.txt"] = {
        parsed = { command = "DELETEPOPPAK", err_count = 0, done = true,
            fields = { TimeDifference = "+8.00", RequestDateTime = "2/3/2015 3:32:38 PM" } },
        typed = {
            exec_time = 0.125, server = "sjl0vwresell_t1",
            command = "DELETEPOPPAK", errors = {}, tracking_key = "0618aab6-876c-4f07-b791-a955a0d1fe8c" },
    },
    ["DeletePOPPak/enom-docs-equals.txt"] = {
        parsed = { command = "DELETEPOPPAK", err_count = 0, done = true, fields = { Server = "sjl0vwresell_t" } },
        typed = {
            exec_time = 0.031, server = "sjl0vwresell_t",
            command = "DELETEPOPPAK", errors = {}, tracking_key = "323f2cdc-6c00-486d-b458-12401dd086f6" },
    },
    ["DeleteAllPOPPaks/enom-docs.xml"] = {
        parsed = { command = "DELETEALLPOPPAKS", err_count = 0, done = true, fields = { PaksRemoved = "35" } },
        typed = {
            exec_time = 2.908, server = "SJL21WRESELLT01",
            command = "DELETEALLPOPPAKS", errors = {}, paks_removed = 35 },
    },
    ["DeleteAllPOPPaks/enom-docs.original.txt"] = {
        -- "PaksRemoved:35", no space; the page's trailer names another command
        parsed = { command = "SETIPRESOLVER", err_count = 0, done = true, fields = { PaksRemoved = "35" } },
        typed = {
            exec_time = 0.547, server = "sjl0vwresell_t1",
            command = "SETIPRESOLVER", errors = {}, paks_removed = 35,
            tracking_key = "fbdaddec-4371-49dc-b877-88d2f2773773" },
    },
    ["DeleteAllPOPPaks/enom-docs.adapted.txt"] = {
        parsed = { command = "DELETEALLPOPPAKS", err_count = 0, done = true, fields = { PaksRemoved = "35" } },
        typed = {
            exec_time = 0.547, server = "sjl0vwresell_t1",
            command = "DELETEALLPOPPAKS", errors = {}, paks_removed = 35,
            tracking_key = "fbdaddec-4371-49dc-b877-88d2f2773773" },
    },
    ["GetPOPForwarding/enom-docs.xml"] = {
        parsed = { command = "GETPOPFORWARDING", err_count = 0, done = true, fields = { Count = "0" } },
        typed = {
            exec_time = 1.063, server = "sjl21wresellt01",
            command = "GETPOPFORWARDING", errors = {}, count = 0,
            tracking_key = "0a5b34f2-b363-41f0-8686-4f64c8e32f30",
            forwards = { { domain = "resellerdocs.com", domain_name_id = 152533676, username = "Jane.Doe",
                forward_to = "", active = false } } },
    },
    ["GetPOPForwarding/enom-docs.txt"] = {
        -- the one record un-indexed
        parsed = { command = "GETPOPFORWARDING", err_count = 0, done = true, indexed = {},
            fields = { domainname = "resellerdocs.com", username = "Jane.Doe", forwardto = "", Success = "True" } },
        typed = {
            exec_time = 0.25, server = "sjl0vwresell_t",
            command = "GETPOPFORWARDING", errors = {},
            tracking_key = "dae94654-2a03-4bf2-bb11-9ffb562a09e1",
            forwards = { { domain = "resellerdocs.com", domain_name_id = 152533676, username = "Jane.Doe",
                forward_to = "", active = false } } },
    },
    ["GetMailHosts/enom-docs.xml"] = {
        -- MailHostCount and EmailForwarding inside <mailhosts>
        parsed = { command = "GETMAILHOSTS", err_count = 0, done = true,
            fields = { ParkingEnabled = "False", ServiceSelect = "" } },
        typed = {
            exec_time = 0.297, server = "SJL21WRESELLT01",
            command = "GETMAILHOSTS", errors = {}, count = 15, email_forwarding = false, parking_enabled = false,
            service_select = "",
            hosts = {
                { host_name = "@ (none)", record_type = "MX", address = "", mx_pref = 10 },
                { host_name = "", record_type = "MX", address = "", mx_pref = 10 },
                { host_name = "", record_type = "MX", address = "", mx_pref = 10 },
                { host_name = "", record_type = "MX", address = "", mx_pref = 10 },
                { host_name = "* (other)", record_type = "MX", address = "", mx_pref = 10 },
            },
        },
    },
    ["GetMailHosts/enom-docs.html"] = {
        -- </STRONG> and <br />
        parsed = { command = "GETMAILHOSTS", err_count = 0, done = true,
            fields = { MailHostCount = "0", ServiceSelect = "1048", LastNumberFromRegHostCounter = "0" } },
        typed = {
            exec_time = 0.5, server = "sjl0vwresell_t",
            command = "GETMAILHOSTS", errors = {}, count = 0, parking_enabled = false, service_select = "1048",
            hosts = {}, tracking_key = "129ba2a1-15df-4ce7-a8d8-79eed0b1822c" },
    },
    ["Forwarding/enom-docs.xml"] = {
        parsed = { command = "FORWARDING", err_count = 0, done = true },
        typed = {
            exec_time = 8.453, server = "SJL21WRESELLT01",
            command = "FORWARDING", errors = {}, enabled = true, mail_count = 0 },
    },
    ["Forwarding/enom-docs.txt"] = {
        parsed = { command = "FORWARDING", err_count = 0, done = true },
        typed = {
            exec_time = 0.766, server = "sjl0vwresell_t1",
            command = "FORWARDING", errors = {}, enabled = true, mail_count = 1,
            tracking_key = "613be6b5-0c4d-4f67-9619-dfe9f8d6f7c2" },
    },
    ["GetForwarding/enom-docs.xml"] = {
        parsed = { command = "GETFORWARDING", err_count = 0, done = true, fields = { EmailCount = "1", MaxEmail = "100" } },
        typed = {
            exec_time = 0.141, server = "SJL21WRESELLT01",
            command = "GETFORWARDING", errors = {}, email_count = 1, max_email = 100,
            forwards = { { alias = "john.doe", forward_to = "[email protected]", status = 0, mail_id = 3370493,
                reject_reason = "" } } },
    },
    ["GetForwarding/enom-docs.txt"] = {
        -- the alias comes as Username1; the status is a numeric code
        parsed = { command = "GETFORWARDING", err_count = 0, done = true,
            indexed = { username = { "jane.doe" }, forwardto = { "[email protected]" }, status = { "0" },
                rejectreason = { "" }, mailid = { "4322979" } } },
        typed = {
            exec_time = 0.109, server = "sjl0vwresell_t",
            command = "GETFORWARDING", errors = {}, email_count = 1, max_email = 100,
            tracking_key = "1fed5526-70ac-4347-a86b-33141c5b51df",
            forwards = { { alias = "jane.doe", forward_to = "[email protected]", status = 0, mail_id = 4322979,
                reject_reason = "" } } },
    },
    ["GetCatchAll/enom-docs.xml"] = {
        parsed = { command = "GETCATCHALL", err_count = 0, done = true, fields = { debug = "" } },
        typed = {
            exec_time = 0.125, server = "RESELLERTEST",
            command = "GETCATCHALL", errors = {}, catch_all = "[email protected]" },
    },
    ["GetCatchAll/enom-docs.txt"] = {
        -- no CatchAll key: ForwardTo carries it
        parsed = { command = "GETCATCHALL", err_count = 0, done = true, fields = { ForwardTo = "", Version = "2" } },
        typed = {
            exec_time = 0.156, server = "sjl0vwresell_t1",
            command = "GETCATCHALL", errors = {}, catch_all = "",
            tracking_key = "a559e157-6bfe-4831-95b3-d8b48ee52c1b" },
    },
    ["GetDotNameForwarding/enom-docs.original.xml"] = {
        error = "parse error: malformed XML at line 17",
    },
    ["GetDotNameForwarding/enom-docs.adapted.xml"] = {
        -- attributes of <domainname> read as leaves of <dotnameforwarding>
        parsed = { command = "GETDOTNAMEFORWARDING", err_count = 0, done = true, fields = { DomainRRP = "E" } },
        records = { dotnameforwarding = { { domainname = "", domainnameid = "157171163", sld = "john.doe",
            tld = "name", status = "1", address = "[email protected]" } } },
        typed = {
            server = "Reseller5",
            command = "GETDOTNAMEFORWARDING", errors = {}, status = 1, address = "[email protected]",
            domain_name_id = 157171163, domain_rrp = "E" },
    },
    ["GetDotNameForwarding/enom-docs.txt"] = {
        parsed = { command = "GETDOTNAMEFORWARDING", err_count = 0, done = true,
            fields = { domainnameid = '"157171163"', sld = '"john.doe"', status = "1" } },
        typed = {
            server = "Reseller5",
            command = "GETDOTNAMEFORWARDING", errors = {}, status = 1, address = "[email protected]",
            domain_name_id = 157171163, domain_rrp = "E" },
    },
    ["SetDotNameForwarding/enom-docs.original.xml"] = {
        error = "parse error: malformed XML at line 18",
    },
    ["SetDotNameForwarding/enom-docs.adapted.xml"] = {
        -- ForwardTo inside <dotnameforwarding>
        parsed = { command = "SETDOTNAMEFORWARDING", err_count = 0, done = true, fields = { DomainRRP = "E" } },
        typed = {
            server = "Reseller3",
            command = "SETDOTNAMEFORWARDING", errors = {}, forward_to = "[email protected]", domain_rrp = "E" },
    },
    ["SetDotNameForwarding/enom-docs.txt"] = {
        parsed = { command = "SETDOTNAMEFORWARDING", err_count = 0, done = true, fields = { ForwardTo = "[email protected]" } },
        typed = {
            exec_time = 0.016, server = "sjl0vwresell_t1",
            command = "SETDOTNAMEFORWARDING", errors = {}, forward_to = "[email protected]", domain_rrp = "E",
            tracking_key = "a8d9633b-8f9c-493c-8c3f-ce90cd64def1" },
    },
    ["GetBalance/enom-docs.original.xml"] = {
        error = "parse error: root element is <Reseller>, expected <interface-response>",
    },
    ["GetBalance/enom-docs.adapted.xml"] = {
        parsed = { command = "GETBALANCE", err_count = 0, done = true, fields = { DomainCount = "2943", NUPrice = "24.95" } },
        typed = {
            exec_time = 0.312, server = "SJL21WRESELLT01",
            command = "GETBALANCE", errors = {}, balance = 2261.65, available_balance = 1939.5 },
    },
    ["GetBalance/enom-docs.txt"] = {
        parsed = { command = "GETBALANCE", err_count = 0, done = true, fields = { Reseller = "1", APIType = "API" } },
        typed = {
            exec_time = 0.156, server = "SJL0VWRESELL_T1",
            command = "GETBALANCE", errors = {}, balance = -1832.23, available_balance = 6193.37 },
    },
    ["GetBalance/bensie-enom.original.xml"] = {
        -- the recording's indentation put spaces before the XML declaration
        error = "parse error: malformed XML at line 1",
    },
    ["GetBalance/bensie-enom.adapted.xml"] = {
        parsed = { command = "GETBALANCE", err_count = 0, done = true, fields = { DomainCount = "74", debug = "" } },
        typed = {
            server = "RESELLERTEST",
            command = "GETBALANCE", errors = {}, balance = 3709.2, available_balance = 3669.4 },
    },
    ["GetBalance/enom-docs-mailhosts-page.txt"] = {
        parsed = { command = "GETBALANCE", err_count = 0, done = true, fields = { DomainCount = "2692" } },
        typed = {
            exec_time = 0.141, server = "SJL0VWRESELL_T",
            command = "GETBALANCE", errors = {}, balance = -1832.23, available_balance = 6193.37 },
    },
    ["AssignToDomainFolder/enom-docs.xml"] = {
        parsed = { command = "ASSIGNTODOMAINFOLDER", err_count = 0, done = true, fields = { MinPeriod = "", debug = "" } },
        records = { assignresult = { { tofoldername = "Lock", fromfoldername = "*", transfermode = "1", result = "1" } },
            domainnames = { { id = { "152656650", "152656651" } } } },
    },
    ["AssignToDomainFolder/enom-docs-error.html"] = {
        -- raw markup inside a value; ResponseString is a category
        parsed = { command = "ASSIGNTODOMAINFOLDER", err_count = 1, done = true,
            errors = { "Folder Lock does not exist" },
            responses = { { number = 321393, string = "Validation error; failed to process;" } },
            fields = { DomainList = "<DomainNames><ID>152656650</ID><ID>152656651</ID></DomainNames>",
                MinPeriod = "", Site = "", FromFolderName = "*" } },
    },
    ["AssignToDomainFolder/enom-docs-error.txt"] = {
        parsed = { command = "ASSIGNTODOMAINFOLDER", err_count = 1, done = true,
            errors = { "Folder Lock does not exist" },
            responses = { { number = 321393, string = "Validation error; failed to process;" } },
            fields = { DomainList = "<DomainNames><ID>152656650</ID><ID>152656651</ID></DomainNames>",
                MinPeriod = "", Site = "" } },
    },
    ["CheckLogin/enom-docs.html"] = {
        -- <STRONG>Key= </STRONG>value<BR>; eight agreements, three or more indexes: a list
        parsed = { command = "CHECKLOGIN", err_count = 0, done = true,
            fields = { PartyID = "{BB4A2DE1-6485-45CB-A4FC-EE39BA0C1629}", BulkMembershipStatus = "", AgreementCount = "9",
                pin = "2619237" },
            indexed = { type = { "1", "2", "3", "4", "5", "6", "7", "99" },
                remoteurl = { "", "http://www.networksolutions.com/legal/static-service-agreement.jsp", "", "",
                    "http://www.enomcentral.com/terms/agreement.asp", "", "", "" } } },
    },
    ["GetWPPSInfo/enom-docs.txt"] = {
        -- Address1/Address2 are names, not indexes; keys with a space; the
        -- un-indexed ContactType, once per contact, keeps every value
        parsed = { command = "GETWPPSINFO", err_count = 0, done = true, indexed = {},
            fields = { RegistrantAddress1 = "400 boulevard Langelier", RegistrantAddress2 = "",
                WPPSAddress2 = "C/O resellerdocs.com", ["Aux BillingFName"] = "Carl",
                ContactType = { "Administrative", "Aux Billing", "Billing", "Registrant", "Technical", "WPPS" },
                WPPSExpDate = "Dec 22, 2025" } },
    },
    ["GetContacts/go-enom-client.xml"] = {
        -- attributes of <domainname> read as leaves of <GetContacts>; CDATA values
        parsed = { command = "GETCONTACTS", err_count = 0, done = true, indexed = {} },
        records = { getcontacts = { { domainname = "migracao-enom-01.com", sld = "migracao-enom-01", tld = "com",
            domainnameid = "345293243" } } },
    },
    ["GetPasswordBit/go-enom-client.xml"] = {
        parsed = { command = "GETPASSWORDBIT", err_count = 0, done = true,
            fields = { DomainPassword = "r_Y_7n1D", ["password-set"] = "1", debug = "" } },
    },
}

-- Every file of the corpus has a case, and every case a file.
local function corpus_files()
    local out = {}
    local p = assert(io.popen("cd " .. DIR .. " && find . -type f ! -name SOURCES.md | sort"))
    for line in p:lines() do
        out[#out + 1] = line:gsub("^%./", "")
    end
    p:close()
    return out
end

-- `want` as a subset of `got`: every key of want, recursively for the
-- tables named, with exactly these values.
local function check_subset(got, want, where)
    for k, v in pairs(want) do
        local g, at = got[k], where .. "." .. tostring(k)
        if type(v) == "table" and type(g) == "table" and next(v) ~= nil and v[1] == nil then
            check_subset(g, v, at)
        elseif type(v) == "table" and type(v[1]) == "table" and type(g) == "table" then
            assert.equal(#v, #g, at .. " length")
            for i = 1, #v do
                check_subset(g[i], v[i], at .. "[" .. i .. "]")
            end
        else
            assert.same(v, g, at)
        end
    end
end

describe("eNom's own answers", function()
    it("each corpus file has expected values here, and each case a file", function()
        local files = corpus_files()
        assert.is_true(#files >= 40, "the corpus holds " .. #files .. " files")
        local seen = {}
        for _, f in ipairs(files) do
            assert.is_table(CASES[f], "no expected values for " .. f)
            seen[f] = true
        end
        for f in pairs(CASES) do
            assert.is_true(seen[f], "no corpus file " .. f)
        end
    end)

    for _, file in ipairs(corpus_files()) do
        local case = CASES[file] or {}
        it(file, function()
            local parsed, err = parse(file)
            if case.error then
                assert.is_nil(parsed)
                assert.equal(case.error, err)
                return
            end
            assert.is_table(parsed, tostring(err))
            local want = case.parsed
            for _, k in ipairs { "command", "err_count", "done", "errors", "responses" } do
                if want[k] ~= nil then
                    assert.same(want[k], parsed[k], file .. " " .. k)
                end
            end
            if want.fields then
                check_subset(parsed.fields, want.fields, file .. " fields")
            end
            if want.indexed then
                if next(want.indexed) == nil then
                    assert.same({}, parsed.indexed, file .. " indexed")
                else
                    check_subset(parsed.indexed, want.indexed, file .. " indexed")
                end
            end
            if case.records then
                check_subset(parsed.records, case.records, file .. " records")
            end
            local spec = commands.get(file:match("^([^/]+)/"))
            if case.typed then
                assert.is_table(spec, file .. ": a typed command")
                assert.same(case.typed, results.shape(spec.result, parsed, { include_passwords = true }))
            else
                assert.is_nil(spec, file .. ": a typed command needs typed values")
            end
        end)
    end

    it("gives the same typed GetPOP3 mailboxes from a one-mailbox answer in every format", function()
        -- the Text sample re-rendered as XML and HTML by hand, field for field
        local text = assert(parse("GetPOP3/enom-docs.txt"))
        local lines = {}
        for k, v in read("GetPOP3/enom-docs.txt"):gmatch("\n([%w]+): ?([^\n]*)") do
            lines[#lines + 1] = "<STRONG>" .. k .. ": </STRONG>" .. v .. "<br />"
        end
        local html = assert(enom.parse(table.concat(lines, "\n"), "html"))
        local spec = commands.get("GetPOP3")
        assert.same(results.shape(spec.result, text), results.shape(spec.result, html))
    end)

    it("declares every typed command's shape as data in enom.commands", function()
        for name, spec in pairs(commands.list) do
            assert.is_table(spec.result, name)
        end
    end)
end)
