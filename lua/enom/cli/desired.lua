--- What `enom plan FILE` and `enom apply FILE` read: a saved plan, or
-- people or mailboxes (CSV with a header row, or a JSON array) turned
-- into desired state for one domain (--domain) or per a `domain` column.
-- A file read whole is read once; a CSV or JSON-lines file that
-- `enom apply` streams is read twice, never kept: a first pass (`scan`)
-- checks every record and counts what the run will do before anything
-- is sent, the second feeds the run.
local json = require "enom.json"
local input = require "enom.provision.input"
local planner = require "enom.provision.planner"
local plan_mod = require "enom.provision.plan"
local names = require "enom.names"
local context = require "enom.cli.context"
local output = require "enom.cli.output"

local _M = {}

local EXIT = context.EXIT
local type = type
local next = next
local ipairs = ipairs
local tostring = tostring
local shown = output.shown

--- How FILE can be read one record at a time: "csv", "jsonl" (.jsonl,
-- .ndjson), or nil (a JSON document: a saved plan or an array, read whole).
function _M.streamable(path)
    local l = path:lower()
    if l:find("%.jsonl$") or l:find("%.ndjson$") then
        return "jsonl"
    elseif l:find("%.json$") then
        return nil
    end
    local f = io.open(path, "rb")
    if not f then
        return nil
    end
    local head = f:read(64) or ""
    f:close()
    if head:find("^\239\187\191") then
        head = head:sub(4)
    end
    return not head:find("^%s*[%[{]") and "csv" or nil
end

-- The records of a streamable FILE, one at a time.
local function records_of(path, kind)
    if kind == "jsonl" then
        return input.jsonl_records(path)
    end
    return input.csv_records(path)
end

-- Say that a person could not be named (and so has no mailbox).
local function say_skipped(domain, index, reason)
    io.stderr:write(("enom: %s: person %d skipped: %s\n"):format(domain, index, shown(reason)))
end

--- The desired state of a streamable FILE, one domain at a time (for
-- provision.ensure), with the flags' templates and --domain.
-- @param path the file
-- @param a the parsed arguments
-- @param tell_skipped say on stderr which people could not be named
-- @return the function, or nil and a message
function _M.stream(path, a, tell_skipped)
    local kind = _M.streamable(path)
    local recs, err = records_of(path, kind)
    if not recs then
        return nil, "cannot read " .. tostring(err)
    end
    return input.desired(recs, { domain = a.domain, username = a.username, display_name = a.display_name,
        admin_role = a.admin_role, skipped = tell_skipped and say_skipped or nil })
end

--- Read a streamable FILE once without keeping it: every record checked
-- as the run would check it, the domains and mailboxes counted. A file
-- whose domains' records are not together cannot be streamed
-- (`grouped` false: read it whole instead).
-- @return { domains, mailboxes, all_given, grouped } | nil, message, status
function _M.scan(path, a)
    local entries, err = _M.stream(path, a, true)
    if not entries then
        return nil, err, EXIT.usage
    end
    local scan = { domains = 0, mailboxes = 0, all_given = true, grouped = true }
    local intents = planner.stream(function()
        local e, why = entries()
        if e == nil and why and why:find("comes again after other domains", 1, true) then
            scan.grouped = false
            return nil
        end
        return e, why
    end)
    while true do
        local intent, ierr = intents()
        if not intent then
            if ierr then
                return nil, path .. ": " .. shown(ierr.message or ierr), EXIT.usage
            end
            break
        end
        scan.domains = scan.domains + 1
        scan.mailboxes = scan.mailboxes + #intent.mailboxes
        for _, m in ipairs(intent.mailboxes) do
            scan.all_given = scan.all_given and m.password ~= nil
        end
    end
    if scan.grouped and scan.domains == 0 then
        return nil, path .. ": no records", EXIT.usage
    end
    return scan
end

local function is_json(path, text)
    return path:lower():find("%.json$") ~= nil or text:find("^%s*[%[{]") ~= nil
end

--- Read FILE: a saved plan, or records.
-- @return "plan", the plan | "records", the records | nil, message, status
function _M.read(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, "cannot read " .. tostring(err), EXIT.usage
    end
    local text = f:read("a")
    f:close()
    if not text then
        return nil, "cannot read " .. path, EXIT.usage
    end
    local recs
    if is_json(path, text) then
        recs, err = json.decode(text)
        if type(recs) == "table" and recs.domains ~= nil then
            local plan, perr = plan_mod.from_document(recs, path)
            if not plan then
                return nil, shown(perr.message), EXIT.usage
            end
            return "plan", plan
        end
        if recs and (type(recs) ~= "table" or (#recs == 0 and next(recs) ~= nil)) then
            recs, err = nil, "expected a JSON array of records, or a saved plan"
        end
    else
        recs, err = input.parse_csv(text)
    end
    if not recs then
        return nil, path .. ": " .. shown(err), EXIT.usage
    end
    for i, r in ipairs(recs) do
        if type(r) ~= "table" then
            return nil, ("%s: record %d is not an object"):format(path, i), EXIT.usage
        end
    end
    if #recs == 0 then
        return nil, path .. ": no records", EXIT.usage
    end
    return "records", recs
end

--- The desired state of `recs` (people: first, last, ...; or mailboxes:
-- username, ...), for `a.domain` or per a `domain` column.
-- @return desired, whether every mailbox comes with its own password |
--   nil, message, status
function _M.from_records(recs, path, a)
    local groups, order = {}, {}
    for i, r in ipairs(recs) do
        local dom = a.domain or r.domain
        if not dom or dom == "" then
            return nil, ("%s: record %d has no domain: pass --domain or add a 'domain' column"):format(path, i),
                EXIT.usage
        end
        local sld, tld = names.split_domain(dom)
        if not sld then
            return nil, ("%s: record %d: the domain '%s' %s"):format(path, i, shown(dom), tld), EXIT.usage
        end
        dom = sld .. "." .. tld
        if not groups[dom] then
            groups[dom] = {}
            order[#order + 1] = dom
        end
        local g = groups[dom]
        g[#g + 1] = r
    end
    local desired, all_given = {}, true
    for _, dom in ipairs(order) do
        local mailboxes, why = input.mailboxes(groups[dom], dom, {
            username = a.username, display_name = a.display_name, admin_role = a.admin_role,
            skipped = say_skipped,
        })
        if not mailboxes then
            return nil, path .. ": " .. shown(why), EXIT.usage
        end
        for _, m in ipairs(mailboxes) do
            all_given = all_given and m.password ~= nil
        end
        desired[#desired + 1] = { domain = dom, mailboxes = mailboxes }
    end
    return desired, all_given
end

--- The policy the command line's flags ask for.
-- @return the policy options, or nil, message, status
function _M.policy(a)
    if not a.max_paks or a.max_paks < 0 or a.max_paks % 1 ~= 0 then
        return nil, "--max-paks must be a whole number (got " .. shown(a.max_paks or "nothing") .. ")", EXIT.usage
    end
    local p = { buy_paks = a.buy_paks or false, max_paks_per_run = a.max_paks, prune = a.prune or false }
    if a.max_spend then
        if a.max_spend < 0 then
            return nil, "--max-spend must be an amount of at least 0", EXIT.usage
        end
        p.max_spend = a.max_spend
    end
    if a.pak_price then
        if a.pak_price < 0 then
            return nil, "--pak-price must be an amount of at least 0", EXIT.usage
        end
        p.pak_price = a.pak_price
    end
    if a.renew_within then
        local days, why = context.days(a.renew_within, "--renew-within")
        if not days then
            return nil, why, EXIT.usage
        end
        p.renew = { within_days = days, years = a.renew_years }
    end
    return p
end

--- The options `plan` and `apply` share.
function _M.add_options(cmd)
    cmd:option("-d --domain", "The domain of every record (else a 'domain' column).")
    cmd:flag("--buy-paks", "Buy the paks needed (spends money).")
    cmd:option("--max-paks", "At most this many paks in the run.", "10"):convert(context.number("--max-paks"))
    cmd:option("--max-spend", "At most this much money on paks bought and renewed in the run (at --pak-price, "
        .. "else the account's price read from eNom).")
        :argname("<amount>"):convert(context.number("--max-spend"))
    cmd:option("--pak-price", "What one pak costs the account a year, for --max-spend (default: ask eNom).")
        :argname("<amount>"):convert(context.number("--pak-price"))
    cmd:option("--renew-within", "Renew the domains' paks that expire within this many days (30d, 4w).")
        :argname("<days>")
    cmd:option("--renew-years", "Years each renewal adds.", "1"):convert(context.number("--renew-years"))
    cmd:flag("--prune", "Delete the domain's mailboxes that are not in the file.")
    cmd:option("--username", "Template for user names from people's records.", "{first}.{last}")
    cmd:option("--display-name", "Template for display names.", "{first} {last}")
    cmd:option("--admin-role", "People whose 'role' is this become admins.", "admin")
end

return _M
