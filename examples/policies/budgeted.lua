-- Onboarding a new customer: buy what is needed, within a spending cap.
return {
    buy_paks = true,
    max_paks_per_run = 10,     -- 100 mailboxes at most in one run
    pak_price = 5.95,          -- the account's price per POP pak
    max_spend = 30.00,         -- never more than this per run
    admin = function(mailbox)
        -- Only the first mailbox of the list may administer the domain.
        return mailbox.admin == true and mailbox.first_in_list == true
    end,
    concurrency = 4,
    attempts = 6,
    backoff_base = 0.5,
    backoff_cap = 10,
}
