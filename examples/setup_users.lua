-- Create two mailboxes in an existing pak, and show what eNom answered.
--
--   ENOM_PW=... lua5.4 examples/setup_users.lua
local enom = require "enom"

local client = assert(enom.new {
    uid = os.getenv("ENOM_UID") or "resellid",
    pw = assert(os.getenv("ENOM_PW"), "set ENOM_PW"),
    endpoint = os.getenv("ENOM_ENDPOINT") or "test",
    cainfo = os.getenv("ENOM_CA"),
})

local res, err = client:setup_pop3_users {
    sld = "resellerdocs", tld = "com", bundle_id = 5134,
    users = {
        -- eNom's POP mail rule (KB 1691): 6 to 30 letters and digits, with an
        -- upper-case letter, a lower-case letter and a digit.
        { username = "jane", password = "S3cretMbx4JD", display_name = "Jane Doe" },
        { username = "ann", password = "Pw7Kx2Lee9", admin = true },
    },
}
if not res then
    print("failed: " .. tostring(err))
    if err.result then
        -- A partial batch: some users were created, some not.
        print(("created %d, failed %d"):format(err.result.accounts_created or 0, err.result.accounts_failed or 0))
        for i, e in ipairs(err.errors or {}) do
            print("  " .. i .. ": " .. e)
        end
    end
    os.exit(1)
end
print(("created %d mailboxes"):format(res.accounts_created))

-- Any other eNom command, by name.
local bal = assert(client:call("GetBalance", {}))
print("balance: " .. tostring(bal.fields.Balance))
client:close()
