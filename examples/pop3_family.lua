-- A tour of the POP3 family, one short call each.
--
--   ENOM_PW=... lua5.4 examples/pop3_family.lua
local enom = require "enom"

local client = assert(enom.new {
    uid = os.getenv("ENOM_UID") or "resellid",
    pw = assert(os.getenv("ENOM_PW"), "set ENOM_PW"),
    endpoint = os.getenv("ENOM_ENDPOINT") or "test",
    cainfo = os.getenv("ENOM_CA"),
})
local d = { sld = "resellerdocs", tld = "com" }
local function with(t)
    for k, v in pairs(d) do t[k] = v end
    return t
end

-- GetPOP3: mailboxes and paks (passwords only with include_passwords).
local pop = assert(client:get_pop3(with {}))
for _, m in ipairs(pop.mailboxes) do
    print(("mailbox %-10s pak %d admin %-5s quota %d MB, %d used"):format(
        m.username, m.bundle_id, tostring(m.admin), m.quota, m.quota_used))
end
for _, p in ipairs(pop.paks) do
    print(("pak %d: %d of %d free"):format(p.bundle_id, p.free, p.purchased))
end

-- PurchasePOPBundle: spends money; never retried blindly (see enom.provision).
local bought = assert(client:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 1 })
print("bought pak " .. bought.bundle_ids[1] .. ", order " .. tostring(bought.order_id))

-- SetUpPOP3User, ModifyPOP3 (EmailCount is computed), DeletePOP3.
assert(client:setup_pop3_users(with { bundle_id = 5134, users = { { username = "tour", password = "Kite-Pass-71" } } }))
assert(client:modify_pop3(with { users = { { username = "tour", admin = true } } }))
assert(client:delete_pop3(with { users = { "tour" } }))

-- DeletePOPPak needs an empty pak; DeleteAllPOPPaks needs all empty.
assert(client:delete_pop_pak { sld = "emptydomain", tld = "com", bundle_id = bought.bundle_ids[1] })
local all = assert(client:delete_all_pop_paks { sld = "emptydomain", tld = "com" })
print("paks removed: " .. tostring(all.paks_removed))

-- Forwarding and mail hosts.
local pf = assert(client:get_pop_forwarding(with { username = "james" }))
print("james forwards to " .. (pf.forwards[1] and pf.forwards[1].forward_to or "nobody"))
local hosts = assert(client:get_mail_hosts(with {}))
for _, h in ipairs(hosts.hosts) do
    print(("mail host %s %s pref %d"):format(h.record_type, h.address, h.mx_pref))
end
-- Forwarding REPLACES the whole set: read it first, change it, send it all.
local fwd = assert(client:get_forwarding(with {}))
local set = {}
for _, f in ipairs(fwd.forwards) do
    set[#set + 1] = { address = f.alias, forward_to = f.forward_to }
end
set[#set + 1] = { address = "billing", forward_to = "accounts@example.net" }
assert(client:set_forwarding(with { forwards = set }))
print("forwards now: " .. #assert(client:get_forwarding(with {})).forwards)
print("catch-all: " .. tostring(assert(client:get_catch_all(with {})).catch_all))

-- .name forwarding (only for .name domains).
local dn = assert(client:get_dot_name_forwarding { sld = "example", tld = "name" })
print("example.name forwards to " .. tostring(dn.address))
assert(client:set_dot_name_forwarding { sld = "example", tld = "name", forward_to = "new@example.org" })
client:close()
