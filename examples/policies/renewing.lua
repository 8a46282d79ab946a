-- Keeping customers' mail running: renew the paks that expire within the
-- month, for a year, within a spending cap counted at the account's own
-- price (read from eNom once, when a renewal or a purchase is due).
-- Run from cron daily: a renewed pak leaves the window, so it is renewed once.
return {
    renew = { within_days = 30, years = 1 },
    max_spend = 60.00,         -- purchases and renewals together, per run
    buy_paks = false,          -- mailboxes that do not fit are reported, not bought for
    concurrency = 4,
}
