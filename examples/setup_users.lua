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
        -- Passwords follow eNom's rule for Basic email (enom.password): 10 to
        -- 20 characters, an upper-case letter, a digit, one of * @ - _ / .
        { username = "jane", password = "Quill-Harbor-27", display_name = "Jane Doe" },
        -- Every byte is encoded ('@' and '/' too): this stays one password.
        { username = "ann", password = "Tern@Gull/42", admin = true },
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
