-- Keep the domain exactly in line with the HR list: whoever left loses
-- the mailbox. Service mailboxes are protected by being always desired.
local PROTECTED = { "postmaster", "abuse", "support" }

local policy = {
    buy_paks = false,
    prune = true,              -- delete mailboxes not in the desired list
    update_admin = false,      -- admin rights are managed by hand here
    attempts = 5,
}

-- Add the protected mailboxes to a domain's desired list.
function policy.protect(mailboxes)
    local have = {}
    for _, m in ipairs(mailboxes) do
        have[m.username] = true
    end
    for _, name in ipairs(PROTECTED) do
        if not have[name] then
            mailboxes[#mailboxes + 1] = { username = name }
        end
    end
    return mailboxes
end

return policy
