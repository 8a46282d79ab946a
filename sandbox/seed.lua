-- Default state of the eNom sandbox. `sandbox start --seed FILE` replaces it
-- with another .lua file returning a table of this shape (or a .json file).
-- Passwords are deliberately distinctive so tests can grep logs and output
-- for leaked credentials; mailbox passwords follow the account's password
-- rule (enom_sandbox/passwords.lua): pop_m2w, letters and digits only.

local domains = {
  {
    name = "resellerdocs.com",
    owner = "resellid",
    service_select = "POP",
    mail_hosts = {
      { host_id = 1, host_name = "@", record_type = "MX", address = "mail.resellerdocs.com.", mx_pref = 10 },
      { host_id = 2, host_name = "@", record_type = "MXE", address = "192.0.2.25", mx_pref = 20 },
    },
    email_forwarding_enabled = true,
    forwarding = {
      { alias = "info", forward_to = "james@resellerdocs.com", status = "Active", mail_id = 1 },
      { alias = "sales", forward_to = "sales-team@example.net", status = "Active", mail_id = 2 },
    },
    catch_all = "james@resellerdocs.com",
    paks = {
      { bundle_id = 5134, size = 10, exp_date = "2/5/2031", auto_renew = true, quota = 1024 },
    },
    mailboxes = {
      { username = "james", password = "Mbx-Jx4-Secret1", display_name = "James Doe",
        admin = true, quota = 1024, quota_used = 12, bundle_id = 5134,
        forward_to = "james.doe@example.net", forward_active = true },
      { username = "support", password = "Mbx-Sp7-Secret2", display_name = "Support Desk",
        admin = false, quota = 1024, quota_used = 0, bundle_id = 5134 },
    },
  },
  { name = "emptydomain.com", owner = "resellid" },
  {
    name = "example.name",
    owner = "resellid",
    dotname = { address = "someone@example.org", status = "Active" },
  },
  { name = "otherco.com", owner = "otherco" },
}

-- Many pak-less domains for soak tests that provision dozens of domains.
for i = 1, 60 do
  domains[#domains + 1] = { name = string.format("shop%02d.com", i), owner = "resellid" }
end

return {
  settings = {
    pop_pak_price = 5.95,   -- debited per 10-mailbox pak by PurchasePOPBundle
    pak_size = 10,
    quota = 1024,           -- MB per mailbox
    next_bundle_id = 6001,
    next_order_id = 157230001,
    password_rule = "email_basic", -- support article 201000065374, for accounts that name no rule
  },
  accounts = {
    { uid = "resellid", pw = "S4ndbox-Acct-Pass", balance = 1000.00 },
    -- the older POP platform's rule (KB 1691), and its own price
    { uid = "otherco", pw = "0therco-Pass", balance = 250.00, password_rule = "pop_m2w", pop_pak_price = 6.45 },
  },
  domains = domains,
}
