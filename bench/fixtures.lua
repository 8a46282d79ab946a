--- The inputs every benchmark shares: the 100-user SetUpPOP3User
-- request, the sandbox state to seed, and the provisioning run's desired
-- state. Deterministic, so every run measures the same bytes.
local _M = {}

_M.UID = "resellid"
_M.PW = "S4ndbox-Acct-Pass"

-- The domain whose GetPOP3 answer the parse benchmarks read.
_M.BIG_SLD, _M.BIG_TLD = "bigpop", "com"
_M.BIG_PAKS = 100            -- 1,000 mailboxes at 10 per pak
_M.PROV_DOMAINS = 100         -- provisioning: 100 domains ...
_M.PROV_PER_DOMAIN = 100      -- ... of 100 mailboxes: 10,000
_M.PAK_SIZE = 10

local USER_FIELDS = {
    { "username", "UserName" }, { "password", "Password" },
    { "admin", "IsAdmin" }, { "display_name", "DisplayName" },
}

--- SetUpPOP3User for `n` users, as enom.client builds it: the params
-- table (client-set names included) and the users group.
function _M.setup_request(n)
    local users = {}
    for i = 1, n do
        users[i] = {
            username = ("user%03d"):format(i),
            -- & = + % / ? # and a space all need escaping.
            password = ("P&ss=%03d+50%%/?# x"):format(i),
            display_name = ("Renée Dupont-Lefèvre %03d"):format(i),
            admin = i % 10 == 1,
        }
    end
    local params = {
        command = "SetUpPOP3User", uid = _M.UID, pw = _M.PW, responsetype = "XML",
        SLD = "resellerdocs", TLD = "com", BundleID = 5134,
    }
    return params, { name = "users", fields = USER_FIELDS, records = users }
end

--- The sandbox state: one account with money for 1,000 paks, the
-- GetPOP3 domain (100 full paks, 1,000 mailboxes) and the empty
-- provisioning domains.
function _M.seed()
    local big = {
        name = _M.BIG_SLD .. "." .. _M.BIG_TLD, owner = _M.UID, service_select = "POP",
        paks = {}, mailboxes = {},
    }
    for p = 1, _M.BIG_PAKS do
        local id = 7000 + p
        big.paks[p] = { bundle_id = id, size = _M.PAK_SIZE, exp_date = ("%d/%d/2031"):format(1 + p % 12, 1 + p % 28),
            auto_renew = p % 3 ~= 0, quota = 1024 }
        for j = 1, _M.PAK_SIZE do
            local i = (p - 1) * _M.PAK_SIZE + j
            big.mailboxes[#big.mailboxes + 1] = {
                username = ("mailbox.%04d"):format(i),
                password = ("Pw<%04d>&\"x'"):format(i), -- XML entities in every record
                display_name = ("Zoë Ångström %04d"):format(i),
                admin = i % 50 == 1, quota = 1024, quota_used = (i * 37) % 1000, bundle_id = id,
            }
        end
    end
    local domains = { big }
    for d = 1, _M.PROV_DOMAINS do
        domains[#domains + 1] = { name = ("prov%03d.com"):format(d), owner = _M.UID, service_select = "POP" }
    end
    return {
        settings = { pop_pak_price = 5.95, pak_size = _M.PAK_SIZE, quota = 1024,
            next_bundle_id = 10001, next_order_id = 157230001 },
        accounts = { { uid = _M.UID, pw = _M.PW, balance = 100000 } },
        domains = domains,
    }
end

--- Desired state of the provisioning run: 100 mailboxes per domain,
-- the first of each an admin.
function _M.desired()
    local out = {}
    for d = 1, _M.PROV_DOMAINS do
        local boxes = {}
        for i = 1, _M.PROV_PER_DOMAIN do
            boxes[i] = { username = ("staff.%03d"):format(i), display_name = ("Ana María %03d"):format(i),
                admin = i == 1 }
        end
        out[d] = { domain = ("prov%03d.com"):format(d), mailboxes = boxes }
    end
    return out
end

return _M
