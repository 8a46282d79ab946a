--- The planner: what to do to one domain, from values only.
--
-- desired (an intent) x current (GetPOP3's answer) x policy x budget ->
-- actions: paks to buy, mailboxes to create, modify and delete, those
-- already right, blocked (no slot) and invalid (eNom would refuse them).
-- No I/O, no client: `enom.provision.plan` runs it on what it read, and
-- a domain being applied runs it on its own read, under its lease, so a
-- saved plan and `ensure` share one path.
--
-- An intent is what is asked of one domain:
--   { domain, sld, tld, mailboxes = { { username, display_name, admin,
--     password, forward_to, keep_copy } }, delete = { names } | nil,
--     buy = n | nil, renew_paks = { { bundle_id, years } } | nil }
-- `delete` limits deletion to those names (a saved plan's list), nil lets
-- `policy.prune` delete every mailbox not wanted; `buy` caps the paks
-- bought for the domain (a saved plan's count); `renew_paks` names paks
-- to renew whatever their expiry (provision.renew_pak). A saved plan is
-- a request, not an authority: the policy of the run applying it bounds
-- what it may do, and every mailbox is checked again.
--
-- A mailbox's forward: `forward_to = "ann@example.net"` (with `keep_copy`,
-- true by default: the mailbox keeps a copy; false: mail goes to the
-- forward only) asks for that forward, `forward_to = false` for none,
-- and no `forward_to` leaves whatever the mailbox has. Forwards are set
-- one mailbox at a time (SetPOPForwarding), never by replacing the
-- domain's whole set.
--
-- Money comes from one budget per run: renewals of the paks in the
-- policy's window (`renew`) first, as they keep mailboxes that exist,
-- then purchases, within max_spend at the account's price (`budget.price`:
-- the policy's pak_price, or what eNom's PE_GetPOPPrice said).
local validate = require "enom.validate"
local commands = require "enom.commands"
local names = require "enom.names"
local paks = require "enom.provision.paks"
local renew = require "enom.provision.renew"
local errors = require "enom.errors"

local _M = {}

local type = type
local pcall = pcall
local tostring = tostring
local pairs = pairs
local ipairs = ipairs
local lower = string.lower
local sort = table.sort
local min, max, floor = math.min, math.max, math.floor

-- The reasons a mailbox is blocked, each naming what lifts it.
local NO_BUY = "no free slot and buying paks is not allowed (policy buy_paks, --buy-paks)"
local CAPPED = "no free slot: the run's pak or spending cap is reached (policy max_paks_per_run, --max-paks; max_spend)"
local PLAN_CAP = "no free slot: the saved plan buys fewer paks for this domain (plan again)"
local NO_PRICE = "the account's price per pak is unknown (PE_GetPOPPrice could not be read), so max_spend allows "
    .. "nothing: give pak_price (--pak-price)"
local RENEW_CAPPED = "not renewed: the run's spending cap is reached (policy max_spend, --max-spend)"

local SETUP = commands.by_method.setup_pop3_users

--- Check one desired mailbox with SetUpPOP3User's rules (user name,
-- password, flags, display name) before anything is planned for it.
-- @param m { username, password?, admin?, display_name? }
-- @param sld the domain's second-level name
-- @param tld the domain's top-level name
-- @param ctx optional { password_rule, uid }: the client's, for a given
--   password (enom.password; a generated one follows the rule anyway)
-- @return nil when it may be created, else the reason (naming the field
--   and, for a password, the rule it breaks)
function _M.check_mailbox(m, sld, tld, ctx)
    local bad = names.check_username(m.username)
    if bad then
        return "username " .. bad
    end
    if m.display_name ~= nil then
        bad = type(m.display_name) ~= "string" and "must be a string" or names.unprintable(m.display_name)
        if bad then
            return "display_name " .. bad
        end
    end
    local _, err = validate.record(SETUP, { username = m.username, password = m.password or "Checked-Later-1",
        admin = m.admin and true or false, display_name = m.display_name }, { SLD = sld, TLD = tld },
        m.password and ctx or nil)
    -- The check sends one mailbox: "users[1]." names nothing the caller gave.
    return err and (err.message:gsub("^users%[1%]%.", "")) or nil
end

local function invalid(msg, field)
    return nil, errors.new("invalid", msg, { field = field, maybe_delivered = false })
end

--- An intent from an entry of `desired`: { domain = "x.com" (or sld and
-- tld), mailboxes = {...} }.
-- @return the intent, or nil and the reason the domain name is refused
function _M.intent(want)
    local sld, tld, why
    if type(want.sld) == "string" and type(want.tld) == "string" then
        sld, tld = names.split_domain(want.sld .. "." .. want.tld)
        why = tld
    else
        sld, tld = names.split_domain(want.domain)
        why = tld
    end
    if not sld then
        return nil, why
    end
    return { domain = sld .. "." .. tld, sld = sld, tld = tld, mailboxes = want.mailboxes or {} }
end

-- Check one entry of `desired` (at `where`, for the messages) and make
-- its intent; `seen` holds the domains met so far.
local function entry(want, where, seen)
    if type(want) ~= "table" then
        return invalid(where .. " must be a table", where)
    end
    local intent, why = _M.intent(want)
    if not intent then
        return invalid(where .. ": the domain name " .. why .. " (give domain = \"example.com\", or sld and tld)",
            where)
    end
    if seen[intent.domain] then
        return invalid(where .. ": domain " .. intent.domain .. " appears twice", where)
    end
    seen[intent.domain] = true
    if type(intent.mailboxes) ~= "table" then
        return invalid(where .. ".mailboxes must be an array", where .. ".mailboxes")
    end
    local taken = {}
    for j, m in ipairs(intent.mailboxes) do
        local name = type(m) == "table" and m.username
        if type(name) ~= "string" or name == "" then
            local at = ("%s.mailboxes[%d]"):format(where, j)
            return invalid(at .. ".username is missing", at)
        end
        if m.forward_to ~= nil and m.forward_to ~= false then
            local bad = names.check_address(m.forward_to)
            if bad then
                local at = ("%s.mailboxes[%d]"):format(where, j)
                return invalid(at .. ".forward_to " .. bad .. " (an address, or false for no forward)",
                    at .. ".forward_to")
            end
        end
        if m.keep_copy ~= nil and type(m.keep_copy) ~= "boolean" then
            local at = ("%s.mailboxes[%d]"):format(where, j)
            return invalid(at .. ".keep_copy must be true or false", at .. ".keep_copy")
        end
        local k = lower(name)
        if taken[k] then
            local at = ("%s.mailboxes[%d]"):format(where, j)
            return invalid(("%s.username repeats mailboxes[%d]"):format(at, taken[k]), at)
        end
        taken[k] = j
    end
    return intent
end

--- Check the shape of `desired` (an array of domains, each with its
-- mailboxes) and make its intents.
-- @return the intents, or nil and an error of kind "invalid" naming the
--   entry at fault (`err.field`)
function _M.intents(desired)
    if type(desired) ~= "table" or #desired == 0 then
        return invalid("desired must be a non-empty array of domains", "desired")
    end
    local out, seen = {}, {}
    for i, want in ipairs(desired) do
        local intent, err = entry(want, "desired[" .. i .. "]", seen)
        if not intent then
            return nil, err
        end
        out[i] = intent
    end
    return out
end

--- The intents of a desired state that comes one domain at a time:
-- `next_entry()` returns the next entry ({ domain, mailboxes }) or nil at
-- the end (or nil and an error, which ends the stream with it). Each
-- entry is checked as it comes; only the names of the domains met stay
-- in memory (a domain may not come twice).
-- @param next_entry a function
-- @return a function that returns the next intent, or nil at the end, or
--   nil and an error of kind "invalid" naming the entry (or the stream's own error)
function _M.stream(next_entry)
    local seen, n, ended = {}, 0, false
    return function()
        if ended then
            return nil
        end
        local ok, want, err = pcall(next_entry)
        if not ok then
            ended = true
            return nil, errors.new("callback", "the desired state's iterator raised an error: " .. tostring(want),
                { maybe_delivered = false })
        end
        if want == nil then
            ended = true
            if err ~= nil then
                return nil, errors.is(err) and err or errors.new("invalid", tostring(err), { maybe_delivered = false })
            end
            return nil
        end
        n = n + 1
        local intent, ierr = entry(want, "desired[" .. n .. "]", seen)
        if not intent then
            ended = true
        end
        return intent, ierr
    end
end

--- A run's budget: the paks and money the policy allows across domains,
-- the price they are counted at (`price`: the policy's pak_price, else
-- set once eNom's is read; nil while unknown) and the time renewal
-- windows are counted from (`now`).
-- @param policy the run's policy
-- @param now seconds since the epoch (default: now)
function _M.budget(policy, now)
    return { paks_left = policy.max_paks_per_run, spend_left = policy.max_spend or math.huge,
        price = policy.pak_price, now = now or os.time() }
end

-- How many paks-years the money left allows (math.huge without a cap),
-- or 0 and a reason when the cap cannot be counted.
local function affordable(policy, budget)
    if not policy.max_spend then
        return math.huge
    end
    local price = budget.price
    if not price then
        return 0, NO_PRICE
    end
    if price <= 0 then
        return math.huge
    end
    return floor((budget.spend_left + 1e-9) / price)
end

local function spend(budget, pak_years)
    if budget.price then
        budget.spend_left = budget.spend_left - pak_years * budget.price
    end
end

-- Buy what the domain lacks within the caps; block what does not fit.
-- Deleted mailboxes free their slots before anything is created.
local function fit(d, free, cap, policy, budget)
    local need = paks.needed(#d.create, free + #d.delete)
    if need == 0 then
        return
    end
    local allowed, reason = 0, NO_BUY
    if policy.buy_paks then
        allowed, reason = min(need, budget.paks_left), CAPPED
        local money, why = affordable(policy, budget)
        if money < allowed then
            allowed, reason = money, why or CAPPED
        end
        if cap and cap < allowed then
            allowed, reason = cap, PLAN_CAP
        end
        allowed = max(allowed, 0)
    end
    d.buy = allowed
    budget.paks_left = budget.paks_left - allowed
    spend(budget, allowed)
    local capacity = free + #d.delete + paks.slots(allowed)
    -- The mailboxes asked for last are the ones that wait.
    local keep = {}
    for i = 1, #d.create do
        local m = d.create[i]
        if i <= capacity then
            keep[i] = m
        else
            d.blocked[#d.blocked + 1] = { username = m.username, display_name = m.display_name,
                admin = m.admin, reason = reason }
        end
    end
    d.create = keep
end

-- The paks to renew: those of the policy's window and those the intent
-- names, each once, soonest expiry first, within the money left. A pak
-- the domain does not hold is refused (it may be another domain's).
local function renewals(d, intent, current, policy, budget)
    local by_id, want, seen = {}, {}, {}
    for _, p in ipairs(current.paks) do
        by_id[p.bundle_id] = p
    end
    if policy.renew then
        local list, unreadable = renew.expiring(current.paks, policy.renew.within_days, budget.now)
        for _, e in ipairs(list) do
            seen[e.pak.bundle_id] = true
            want[#want + 1] = { bundle_id = e.pak.bundle_id, expires = e.pak.expires, years = policy.renew.years,
                days_left = e.days_left }
        end
        for _, p in ipairs(unreadable) do
            d.notes[#d.notes + 1] = ("pak %s: its expiry (%s) cannot be read, so it is not renewed")
                :format(tostring(p.bundle_id), tostring(p.expires))
        end
    end
    for _, r in ipairs(intent.renew_paks or {}) do
        local p = by_id[r.bundle_id]
        if not p then
            d.renew_refused[#d.renew_refused + 1] = { bundle_id = r.bundle_id, years = r.years,
                reason = ("pak %s is not a pak of %s: not renewed"):format(tostring(r.bundle_id), d.domain) }
        elseif not seen[r.bundle_id] then
            seen[r.bundle_id] = true
            want[#want + 1] = { bundle_id = r.bundle_id, expires = p.expires, years = r.years }
        end
    end
    for _, r in ipairs(want) do
        local money, why = affordable(policy, budget)
        if money < r.years then
            r.reason = why or RENEW_CAPPED
            d.renew_blocked[#d.renew_blocked + 1] = r
        else
            d.renew[#d.renew + 1] = r
            spend(budget, r.years)
        end
    end
end

-- The forwards asked for the mailboxes the domain will have; those of a
-- mailbox that will not exist get a note.
local function forwards(d, intent)
    local will = {}
    for _, n in ipairs(d.keep) do will[lower(n)] = true end
    for _, m in ipairs(d.modify) do will[lower(m.username)] = true end
    for _, m in ipairs(d.create) do will[lower(m.username)] = true end
    for _, m in ipairs(intent.mailboxes) do
        if m.forward_to ~= nil then
            if will[lower(m.username)] then
                d.forwards[#d.forwards + 1] = { username = m.username, forward_to = m.forward_to,
                    keep_copy = m.keep_copy ~= false }
            else
                d.notes[#d.notes + 1] = m.username .. ": its forward waits until the mailbox exists"
            end
        end
    end
end

--- Would the domain spend money (buy or renew paks), caps aside? Asked
-- before the account's price is read, so that it is read only when a
-- purchase or a renewal is about to be decided.
-- @param intent what is asked of the domain
-- @param current the domain's GetPOP3 answer
-- @param policy the run's policy
-- @param now seconds since the epoch (renewal windows)
function _M.spends(intent, current, policy, now)
    local free = {}
    for k, v in pairs(policy) do
        free[k] = v
    end
    free.max_spend, free.admin = nil, nil
    local d = _M.domain(intent, current, free, _M.budget(free, now))
    return d.buy > 0 or #d.renew > 0
end

--- Compute one domain's actions.
-- @param intent what is asked of the domain (see above)
-- @param current the domain's GetPOP3 answer ({ mailboxes, paks })
-- @param policy the run's policy (buy_paks, prune, update_admin,
--   max_spend, renew, admin hook)
-- @param budget the run's budget (see `budget`), spent by this call
-- @param ctx optional { password_rule, uid }: the client's, to check the
--   passwords the intent gives against eNom's rule
-- @return the actions { domain, sld, tld, buy, create, modify, delete,
--   keep, blocked, invalid, renew, renew_blocked, renew_refused,
--   forwards, notes, current }, and the passwords the intent gave for
--   mailboxes to create ({ [lower name] = password }), which never go
--   into the actions
function _M.domain(intent, current, policy, budget, ctx)
    local d = {
        domain = intent.domain, sld = intent.sld, tld = intent.tld,
        create = {}, modify = {}, delete = {}, keep = {}, blocked = {}, notes = {}, invalid = {},
        renew = {}, renew_blocked = {}, renew_refused = {}, forwards = {},
        buy = 0,
        current = { mailboxes = #current.mailboxes, paks = {} },
    }
    local given = {}
    local have = {}
    for _, m in ipairs(current.mailboxes) do
        have[lower(m.username)] = m
    end
    for _, p in ipairs(current.paks) do
        d.current.paks[#d.current.paks + 1] = { bundle_id = p.bundle_id, free = p.free, expires = p.expires }
    end
    local wanted = {}
    for _, m in ipairs(intent.mailboxes) do
        local key = lower(m.username)
        wanted[key] = true
        local cur = have[key]
        local admin = m.admin
        if admin and policy.admin and not policy.admin(m, d.domain) then
            d.notes[#d.notes + 1] = m.username .. ": admin refused by policy, left a regular user"
            admin = false
        end
        if cur then
            if policy.update_admin and admin ~= nil and cur.admin ~= nil and cur.admin ~= (admin and true) then
                d.modify[#d.modify + 1] = { username = cur.username, admin = admin and true or false }
            else
                d.keep[#d.keep + 1] = cur.username
            end
            if m.display_name then
                d.notes[#d.notes + 1] = cur.username
                    .. ": exists; eNom sets a display name only when creating a mailbox, so it is left as is"
            end
        else
            local bad = _M.check_mailbox(m, d.sld, d.tld, ctx)
            if bad then
                d.invalid[#d.invalid + 1] = { username = m.username, reason = bad }
            else
                d.create[#d.create + 1] = { username = m.username, display_name = m.display_name,
                    admin = admin and true or false }
                if m.password then
                    given[key] = m.password
                end
            end
        end
    end
    if policy.prune then
        local allowed
        if intent.delete then
            allowed = {}
            for _, n in ipairs(intent.delete) do
                allowed[lower(n)] = true
            end
        end
        for key, m in pairs(have) do
            if not wanted[key] and (not allowed or allowed[key]) then
                d.delete[#d.delete + 1] = m.username
            end
        end
        sort(d.delete)
    end
    renewals(d, intent, current, policy, budget)
    fit(d, paks.free(current.paks), intent.buy, policy, budget)
    forwards(d, intent)
    return d, given
end

--- The intent a saved plan's domain stands for: its mailboxes (to
-- create, modify, keep, blocked or invalid) wanted, its deletes allowed,
-- its purchase the most it may buy.
-- @param d a domain of a saved plan (see enom.provision.plan)
-- @param passwords { [lower name] = password } given for its mailboxes
function _M.intent_of_plan(d, passwords)
    local mailboxes = {}
    local fwd = {}
    for _, f in ipairs(d.forwards or {}) do
        fwd[lower(f.username)] = f
    end
    local function add(m, admin)
        local key = lower(m.username)
        local f = fwd[key]
        mailboxes[#mailboxes + 1] = { username = m.username, display_name = m.display_name,
            admin = admin, password = passwords and passwords[key],
            forward_to = f and f.forward_to, keep_copy = f and f.keep_copy }
    end
    for _, m in ipairs(d.create) do add(m, m.admin) end
    for _, m in ipairs(d.blocked) do add(m, m.admin) end
    for _, m in ipairs(d.invalid) do add(m, m.admin) end
    for _, m in ipairs(d.modify) do add(m, m.admin) end
    for _, n in ipairs(d.keep) do add({ username = n }, nil) end
    return { domain = d.domain, sld = d.sld, tld = d.tld, mailboxes = mailboxes, delete = d.delete, buy = d.buy }
end

return _M
