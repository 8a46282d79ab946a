-- Plan (and with --apply, apply) a domain's mailboxes under a policy.
--
--   lua5.4 examples/with_policy.lua examples/policies/conservative.lua examples/people.csv example.com [--apply]
--
-- Without --apply this is a dry run: the plan is printed, nothing that
-- changes state is sent.
local enom = require "enom"
local provision = require "enom.provision"
local input = require "enom.provision.input"

local policy_file, csv, domain, mode = arg[1], arg[2], arg[3], arg[4]
assert(policy_file and csv and domain, "usage: with_policy.lua POLICY.lua PEOPLE.csv DOMAIN [--apply]")
local policy = dofile(policy_file)
local protect = policy.protect
policy.protect = nil

local client = assert(enom.new {
    uid = os.getenv("ENOM_UID") or "resellid",
    pw = assert(os.getenv("ENOM_PW"), "set ENOM_PW"),
    endpoint = os.getenv("ENOM_ENDPOINT") or "test",
    cainfo = os.getenv("ENOM_CA"),
})

local mailboxes = provision.from_people(assert(input.read_csv(csv)), {
    admin = function(p) return p.role == "admin" end,
})
if mailboxes[1] then
    mailboxes[1].first_in_list = true
end
if protect then
    mailboxes = protect(mailboxes)
end
local plan = assert(provision.plan(client, { { domain = domain, mailboxes = mailboxes } }, policy))
print(plan:format())
if mode == "--apply" then
    local report = assert(provision.apply(client, plan, {
        on_password = function(dom, user, pw)
            assert(enom.append_private(os.getenv("ENOM_PASSWORD_FILE") or "mailbox-passwords.txt",
                user .. "@" .. dom .. " " .. pw .. "\n"))
        end,
    }))
    print(report:format())
    os.exit(report.ok and 0 or 2)
end
