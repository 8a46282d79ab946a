--- Provisioning options: their defaults, and checks that name the
-- option at fault. Used by enom.provision for `plan`, `apply` and `ensure`.
local errors = require "enom.errors"
local ratelimit = require "enom.ratelimit"

local _M = {}

local type = type
local pairs = pairs
local tostring = tostring
local huge = math.huge

local DEFAULTS = {
    buy_paks = false,          -- buying paks spends money: off unless asked
    max_paks_per_run = 10,     -- across the whole run, purchases in doubt included
    prune = false,             -- delete mailboxes that are not desired
    update_admin = true,       -- set IsAdmin on existing mailboxes when it differs
    per_request = 10,          -- mailboxes per SetUpPOP3User or DeletePOP3 request
    concurrency = 8,           -- requests in flight across domains
    attempts = 5,              -- tries per request
    backoff_base = 0.2,        -- seconds
    backoff_cap = 5,           -- seconds
    budget = 900,              -- seconds for the whole run
    circuit = 12,              -- consecutive failures that stop the run
    purchase_timeout = 180,    -- seconds for one PurchasePOPBundle (eNom can take 12 s and more)
    settle = 120,              -- seconds to wait for an ambiguous purchase to show
    settle_interval = 3,       -- seconds between checks while it settles
    lock = "default",          -- enom.lease backend name, or a locker
    journal = true,            -- write intents down before acting (enom.journal)
    journal_sync = "purchases", -- on the disk before acting: "purchases", or "all" (creates too)
    lease_ttl = 60,            -- seconds a domain lease lives unless renewed
    lease_wait = 30,           -- seconds to wait for a busy domain before `busy`
    fresh_plan = 300,          -- seconds a saved plan's "nothing to do" stands without a second read
    inventory = false,         -- read every pak of the account first (GetPOPExpirations): idle domains unread
    expiring_within = 30,      -- days: with inventory, paks expiring within this are reported
}
_M.DEFAULTS = DEFAULTS

-- Each option's check: nil when the value is right, else what it must be.
local function integer(lo, hi)
    return function(v)
        if type(v) ~= "number" or v ~= v or v % 1 ~= 0 or v < lo or v > hi then
            return ("must be an integer from %d to %d"):format(lo, hi)
        end
    end
end

local function number(lo, hi)
    return function(v)
        if type(v) ~= "number" or v ~= v or v < lo or v > hi then
            return ("must be a number from %s to %s"):format(tostring(lo), tostring(hi))
        end
    end
end

local function of_type(t)
    return function(v)
        if type(v) ~= t then
            return "must be a " .. t
        end
    end
end

local function locker(v)
    if type(v) == "string" then
        return nil
    end
    if type(v) == "table" and type(v.acquire) == "function" then
        return nil
    end
    return "must be a lease backend name or a locker (a table with acquire)"
end

-- renew = { within_days = n, years = n }: renew the domain's paks that
-- expire within the window. A window of a year or more per year renewed
-- would keep a renewed pak in it, to be renewed again by every run.
local RENEW_FIELDS = { within_days = true, years = true }

local function renew(v)
    if type(v) ~= "table" then
        return "must be a table like { within_days = 30, years = 1 }"
    end
    for k in pairs(v) do
        if not RENEW_FIELDS[k] then
            return "has an unknown field '" .. tostring(k) .. "' (within_days, years)"
        end
    end
    local days, years = v.within_days, v.years == nil and 1 or v.years
    if type(days) ~= "number" or days ~= days or days < 0 or days > 3650 then
        return "needs within_days, a number of days from 0 to 3650"
    end
    if type(years) ~= "number" or years % 1 ~= 0 or years < 1 or years > 10 then
        return "years must be a whole number from 1 to 10"
    end
    if days >= 365 * years then
        return ("within_days (%g) must be below 365 x years (%d): a renewed pak would still be in the window "
            .. "and be renewed again by the next run"):format(days, 365 * years)
    end
end

-- Older names of options, still taken.
local RENAMED = { batch_size = "per_request" }

local DAY = 86400
local CHECKS = {
    buy_paks = of_type("boolean"), prune = of_type("boolean"), update_admin = of_type("boolean"),
    max_paks_per_run = integer(0, 100000),
    per_request = integer(1, 10),
    concurrency = integer(1, 1024),
    attempts = integer(1, 100),
    circuit = integer(1, 100000),
    backoff_base = number(0, 3600),
    backoff_cap = number(0, 3600),
    budget = number(0, 30 * DAY),
    purchase_timeout = number(0.1, 3600),
    settle = number(0, DAY),
    settle_interval = number(0.01, 3600),
    lock = locker,
    journal = of_type("boolean"),
    journal_sync = function(v)
        if v ~= "purchases" and v ~= "all" then
            return "must be \"purchases\" or \"all\""
        end
    end,
    journal_dir = of_type("string"),   -- where a file journal lives (default: enom.journal.default_dirs)
    lease_ttl = number(1, DAY),
    lease_wait = number(0, DAY),
    fresh_plan = number(0, 30 * DAY),
    inventory = of_type("boolean"),
    expiring_within = integer(0, 3650),
    -- Without a default:
    retry = of_type("function"),       -- function(err) -> may this failure be retried?
    backoff = of_type("function"),     -- function(policy, attempt) -> seconds to wait
    admin = of_type("function"),       -- function(mailbox, domain) -> may be admin?
    on_password = of_type("function"), -- function(domain, username, password)
    progress = of_type("function"),    -- function(record) after each outcome
    stop = of_type("function"),        -- function() -> a reason to stop the run (Ctrl-C), or nil
    pak_price = number(0, huge),       -- the account's price per pak and year; read from eNom when not given
    max_spend = number(0, huge),       -- money for purchases and renewals across the run
    renew = renew,                     -- { within_days, years }: renew paks expiring within the window
    report_file = of_type("string"),   -- JSON lines, no secrets
    records = function(v)              -- what the report keeps in memory (default: "all", "short" for a stream)
        if v ~= "all" and v ~= "short" then
            return "must be \"all\" or \"short\""
        end
    end,
    password_file = of_type("string"), -- where passwords go when on_password fails
    rate_limit = function(v)           -- the account's requests per second (enom.ratelimit): options or a limiter
        if ratelimit.is(v) then
            return nil
        end
        local _, why = ratelimit.of(v)
        if why then
            return why
        end
    end,
}

--- Merge `opts` over the defaults and check every option.
-- @param opts the caller's options, or nil for the defaults
-- @return the policy, or nil and an error of kind "invalid" naming the
--   option (`err.option`)
function _M.merge(opts)
    if opts ~= nil and type(opts) ~= "table" then
        return nil, errors.new("invalid", "policy must be a table", { maybe_delivered = false })
    end
    local p = {}
    for k, v in pairs(DEFAULTS) do
        p[k] = v
    end
    for given, v in pairs(opts or {}) do
        local k = RENAMED[given] or given
        local check = CHECKS[k]
        if not check then
            return nil, errors.new("invalid", "unknown policy option '" .. tostring(given) .. "'",
                { option = tostring(given), maybe_delivered = false })
        end
        local why = check(v)
        if why then
            return nil, errors.new("invalid", "policy option '" .. given .. "' " .. why,
                { option = given, maybe_delivered = false })
        end
        p[k] = v
    end
    if p.renew then
        p.renew = { within_days = p.renew.within_days, years = p.renew.years or 1 }
    end

    if p.backoff_cap < p.backoff_base then
        return nil, errors.new("invalid", "policy option 'backoff_cap' must not be below backoff_base",
            { option = "backoff_cap", maybe_delivered = false })
    end
    return p
end

return _M
