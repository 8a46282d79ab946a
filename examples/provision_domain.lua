-- Provision a domain's mailboxes from a CSV of people.
--
--   lua5.4 examples/provision_domain.lua [people.csv] [domain] [passwords-file]
--
-- Reads the people, names their mailboxes ("{first}.{last}", accents
-- folded, clashes numbered), plans against the domain's current state,
-- buys the paks needed, creates the mailboxes in batches, reads them back
-- and prints a summary. Generated passwords go to a file only its owner
-- can read, never to the screen. Connection settings come from ENOM_*
-- variables (see README); `make demo` points them at the local sandbox.
local enom = require "enom"
local provision = require "enom.provision"
local input = require "enom.provision.input"

local csv = arg[1] or "examples/people.csv"
local domain = arg[2] or "emptydomain.com"
local pwfile = arg[3] or os.getenv("ENOM_PASSWORD_FILE") or "mailbox-passwords.txt"

local client = assert(enom.new {
    uid = os.getenv("ENOM_UID") or "resellid",
    pw = assert(os.getenv("ENOM_PW"), "set ENOM_PW to the account password"),
    endpoint = os.getenv("ENOM_ENDPOINT") or "test",
    cainfo = os.getenv("ENOM_CA"),
    -- Generated and given passwords follow eNom's rule for the mailboxes
    -- (enom.password: "email_basic" by default, "pop_m2w" for M2W mail).
    password_rule = os.getenv("ENOM_PASSWORD_RULE") or "email_basic",
})

local people = assert(input.read_csv(csv))
local mailboxes, skipped = provision.from_people(people, {
    username = "{first}.{last}",
    display_name = "{first} {last}",
    admin = function(p) return p.role == "admin" end,
})
for _, s in ipairs(skipped) do
    print("skipped person " .. s.index .. ": " .. s.reason)
end

local policy = {
    buy_paks = true,
    max_paks_per_run = 5,
    -- Only people in IT may administer every mailbox of the domain.
    admin = function(m) return m.username:find("^priya") ~= nil end,
}

local plan = assert(provision.plan(client, { { domain = domain, mailboxes = mailboxes } }, policy))
print("== plan")
print(plan:format())

local written = 0
local report = assert(provision.apply(client, plan, {
    on_password = function(dom, user, pw)
        assert(enom.append_private(pwfile, user .. "@" .. dom .. " " .. pw .. "\n"))
        written = written + 1
    end,
}))
print("\n== report")
print(report:format())
print(("%d new passwords written to %s (mode 0600)"):format(written, pwfile))

local sld, tld = domain:match("^([^.]+)%.(.+)$")
local pop, err = client:get_pop3 { sld = sld, tld = tld }
if not pop then
    print("read back failed: " .. tostring(err))
    os.exit(1)
end
print(("\n== %s now: %d mailboxes in %d paks"):format(domain, #pop.mailboxes, #pop.paks))
for _, p in ipairs(pop.paks) do
    print(("  pak %d: %d of %d free, expires %s"):format(p.bundle_id, p.free, p.purchased, p.expires or "?"))
end
local admins = {}
for _, m in ipairs(pop.mailboxes) do
    if m.admin then admins[#admins + 1] = m.username end
end
print("  admins: " .. (#admins > 0 and table.concat(admins, ", ") or "none"))
client:close()
os.exit(report.ok and 0 or 1)
