-- Nightly cron on a live account: change as little as possible.
-- Never spends money, never deletes, and only named people administer.
local ADMINS = { ["ann.lee"] = true, ["priya.patel"] = true }

return {
    buy_paks = false,          -- a shortage is reported as "blocked", for a human
    prune = false,
    update_admin = true,
    admin = function(mailbox)
        return ADMINS[mailbox.username] == true
    end,
    attempts = 4,
    budget = 300,              -- seconds; cron runs again tomorrow
    circuit = 6,               -- stop early when eNom is clearly down
}
