-- Writes the reference of the typed client methods (one per entry of
-- lua/enom/commands.lua) as an LDoc source, so that a new command, which
-- is a new table entry, is documented by that entry: its arguments, their
-- limits and its result come from the entry; what the command is for
-- comes from the entry's `summary`, else from SUMMARY below. A command
-- with neither is written "(no summary)", which spec/integration/doc_spec.lua
-- refuses.
--   lua5.4 doc/methods.lua > build/doc/src/methods.lua   (make doc does it)
local commands = require "enom.commands"

-- What each command is for, in a reseller's words.
local SUMMARY = {
    SetUpPOP3User = "Create mailboxes in one of a domain's paks (eNom's SetUpPOP3User; uses pak slots).",
    PurchasePOPBundle = "Buy paks of mailboxes for a domain (eNom's PurchasePOPBundle; costs money).",
    GetPOP3 = "Read a domain's mailboxes and paks (eNom's GetPOP3).",
    ModifyPOP3 = "Change mailboxes' passwords or admin flags (eNom's ModifyPOP3).",
    DeletePOP3 = "Delete mailboxes (eNom's DeletePOP3); their slots become free.",
    DeletePOPPak = "Delete one empty pak (eNom's DeletePOPPak).",
    DeleteAllPOPPaks = "Delete every pak of a domain; they must be empty (eNom's DeleteAllPOPPaks).",
    GetPOPForwarding = "Read where one mailbox forwards to (eNom's GetPOPForwarding).",
    GetMailHosts = "Read a domain's mail host records (eNom's GetMailHosts).",
    Forwarding = "Replace a domain's whole set of e-mail forwards (eNom's Forwarding): forwards left out are deleted.",
    GetForwarding = "Read a domain's e-mail forwards (eNom's GetForwarding).",
    GetCatchAll = "Read where a domain's catch-all address forwards to (eNom's GetCatchAll).",
    GetDotNameForwarding = "Read a .name domain's e-mail forwarding (eNom's GetDotNameForwarding).",
    SetDotNameForwarding = "Set a .name domain's e-mail forwarding (eNom's SetDotNameForwarding).",
    GetBalance = "Read the account's balance (eNom's GetBalance).",
    GetPOPExpirations = "List every pak of the account with its domain and expiry date (eNom's GetPOPExpirations).",
    RenewPOPBundle = "Renew one pak for a number of years (eNom's RenewPOPBundle; costs money).",
    SetPakRenew = "Switch one pak's automatic renewal on or off (eNom's SetPakRenew).",
    UpdateRenewalSettings = "Set how eNom tells the account's customers about renewals (eNom's UpdateRenewalSettings).",
    GetRenew = "Read a domain's automatic renewal settings, its paks' included (eNom's GetRenew).",
    SetRenew = "Set a domain's automatic renewals, every pak of it included (eNom's SetRenew).",
    PE_GetPOPPrice = "Read what one pak costs the account (eNom's PE_GetPOPPrice).",
    SetPOPForwarding = "Add, change or remove one mailbox's forward (eNom's SetPOPForwarding); "
        .. "a new forward waits for its recipient's approval.",
    SetCatchAll = "Set where mail to unknown addresses of a domain goes (eNom's SetCatchAll).",
    GetOrderList = "List the account's orders, newest first, 25 a page (eNom's GetOrderList).",
    GetOrderDetail = "Read one order's items and state (eNom's GetOrderDetail).",
}

-- What an argument means, by the method's argument name; its eNom name,
-- whether it is required and its limits come from the command table.
local ARG = {
    sld = "the domain's name without its TLD: \"example\" for example.com",
    tld = "the domain's TLD: \"com\" for example.com",
    bundle_id = "the pak, as GetPOP3's paks[i].bundle_id names it",
    quantity = "how many paks to buy",
    get_default_only = "true: eNom's default records only",
    username = "the mailbox's user name, the part before the @",
    forward_to = "the address mail goes to",
    pak_id = "the pak to renew, as GetPOP3's paks[i].bundle_id names it",
    years = "how many years to renew for",
    auto_renew = "true: renew by itself when it expires",
    renewal_setting = "how eNom tells customers of a renewal: 0, 1 or 2 as eNom's page lists them",
    renewal_bcc = "true: a copy of renewal notices to the account",
    accept_terms = "true: the account accepts eNom's renewal terms",
    url = "the address eNom's renewal notices point to",
    auto_pak_renew = "true: every pak of the domain renews by itself",
    email_forward_renew = "true: e-mail forwarding renews by itself",
    url_forward_renew = "true: URL forwarding renews by itself",
    id_protect_renew = "true: ID protection renews by itself",
    email = "the mailbox's domain, as eNom asks for it: example.com",
    enable = "true: add or change the forward; false: remove it",
    status_flags = "empty: deliver to the mailbox only; 0: deliver and forward; 1: forward only",
    start = "the first order of the page: 1, 26, 51, ...",
    begin_date = "the first day, MM/DD/YYYY (at most six months before end_date)",
    end_date = "the last day, MM/DD/YYYY",
    order_id = "the order, as GetOrderList's orders[i].order_id names it",
}

-- What a record's field means, by its key.
local FIELD = {
    username = "the user name, the part before the @",
    password = "the mailbox's password (never logged nor shown)",
    admin = "true: an administrator of the domain's mail",
    display_name = "the name shown beside the address",
    address = "the alias, the part before the @",
    forward_to = "the address mail goes to",
}

-- A complete call for each method's example.
local USAGE = {
    setup_pop3_users = 'local res, err = client:setup_pop3_users { sld = "example", tld = "com", bundle_id = 5134,\n'
        .. '    users = { { username = "ann", password = pw, display_name = "Ann Lee" } } }',
    purchase_pop_bundle = 'local res = assert(client:purchase_pop_bundle { sld = "example", tld = "com", quantity = 1 })\n'
        .. 'print(res.order_id, res.bundle_ids[1])',
    get_pop3 = 'local pop = assert(client:get_pop3 { sld = "example", tld = "com" })\n'
        .. 'for _, m in ipairs(pop.mailboxes) do print(m.username, m.quota_used) end',
    modify_pop3 = 'assert(client:modify_pop3 { sld = "example", tld = "com", users = { { username = "ann", admin = true } } })',
    delete_pop3 = 'assert(client:delete_pop3 { sld = "example", tld = "com", users = { "ann", "bob" } })',
    delete_pop_pak = 'assert(client:delete_pop_pak { sld = "example", tld = "com", bundle_id = 5134 })',
    delete_all_pop_paks = 'assert(client:delete_all_pop_paks { sld = "example", tld = "com" })',
    get_pop_forwarding = 'local f = assert(client:get_pop_forwarding { sld = "example", tld = "com", username = "ann" })',
    get_mail_hosts = 'local h = assert(client:get_mail_hosts { sld = "example", tld = "com" })',
    set_forwarding = 'assert(client:set_forwarding { sld = "example", tld = "com",\n'
        .. '    forwards = { { address = "info", forward_to = "ann@example.net" } } })',
    get_forwarding = 'local f = assert(client:get_forwarding { sld = "example", tld = "com" })',
    get_catch_all = 'local c = assert(client:get_catch_all { sld = "example", tld = "com" })',
    get_dot_name_forwarding = 'local f = assert(client:get_dot_name_forwarding { sld = "someone", tld = "name" })',
    set_dot_name_forwarding = 'assert(client:set_dot_name_forwarding { sld = "someone", tld = "name", '
        .. 'forward_to = "someone@example.org" })',
    get_balance = 'print(assert(client:get_balance {}).balance)',
}

local function sorted_keys(t)
    local keys = {}
    for k in pairs(t or {}) do
        keys[#keys + 1] = k
    end
    table.sort(keys)
    return keys
end

-- "eNom's SLD, required, at most 63 characters"
local function limits(name, p)
    local parts = { "eNom's " .. name }
    if p.required then parts[#parts + 1] = "required" end
    if p.type == "integer" or p.type == "boolean" then parts[#parts + 1] = p.type == "integer" and "a whole number"
        or "true or false" end
    if p.min and p.max and p.type == "integer" then
        parts[#parts + 1] = ("%d to %d"):format(p.min, p.max)
    elseif p.max then
        parts[#parts + 1] = ("at most %d characters"):format(p.max)
    end
    if p.default ~= nil then parts[#parts + 1] = "default " .. tostring(p.default) end
    return table.concat(parts, ", ")
end

local function one_line(s)
    return (s:gsub("%s+", " "))
end

local w = io.write
w("--- The typed methods of a client, one per eNom command enom describes\n")
w("-- (lua/enom/commands.lua). Each checks its arguments before sending (a\n")
w("-- bad one is an error of kind \"invalid\" and nothing is sent) and returns\n")
w("-- the answer shaped into named fields, or nil and an error.\n")
w("-- @module enom.methods\n\n")
local by_method = {}
for name, spec in pairs(commands.list) do
    by_method[spec.method] = name
end
for _, method in ipairs(sorted_keys(by_method)) do
    local name = by_method[method]
    local spec = commands.list[name]
    local summary = spec.summary or SUMMARY[name] or "(no summary)"
    w("--- ", one_line(summary), "\n")
    if not spec.read_only then
        w("-- It changes state at eNom", spec.spends and " and spends money or pak slots" or "",
            ", so it is sent at most once: a failure after sending is reported, never resent.\n")
    end
    w(("-- @function %s\n"):format(method))
    w("-- @param self the client\n")
    w("-- @param args the arguments, a table:\n")
    for _, k in ipairs(sorted_keys(spec.params)) do
        local p = spec.params[k]
        w(("-- @param args.%s %s (%s)\n"):format(k, ARG[k] or ("eNom's " .. p.name), limits(p.name, p)))
    end
    local g = spec.group
    if g then
        local fields = {}
        for _, f in ipairs(g.fields) do
            fields[#fields + 1] = ("%s%s: %s (%s%s)"):format(f.key, f.required and "" or " (optional)",
                FIELD[f.key] or ("eNom's " .. f.name), f.name, f.max and (", at most " .. f.max .. " characters") or "")
        end
        local scalar = g.scalar and (", or plain " .. g.scalar .. " strings") or ""
        w(("-- @param args.%s a list of records%s, sent as %s1..N; each: %s\n"):format(g.arg, scalar,
            g.fields[1].name, table.concat(fields, "; ")))
        if g.batch then
            w(("-- @param args.batch_size records per request, 1 to 100 (default %d): longer lists are split\n")
                :format(g.batch))
        end
        if g.allow_empty_flag then
            w(("-- @param args.allow_empty true to send an empty %s, which deletes them all\n"):format(g.arg))
        end
    end
    w("-- @param args.response_type \"xml\" (default), \"text\" or \"html\": the format eNom answers in\n")
    w("-- @param args.timeout seconds this call may take (default: the client's)\n")
    w("-- @param args.connect_timeout seconds to connect, for this call (default: the client's)\n")
    local r = spec.result or {}
    local out = {}
    for _, k in ipairs(sorted_keys(r.fields)) do out[#out + 1] = k end
    for _, k in ipairs(sorted_keys(r.records)) do
        out[#out + 1] = k .. " (a list of records: " .. table.concat(sorted_keys(r.records[k].columns), ", ") .. ")"
    end
    for _, k in ipairs(sorted_keys(r.lists)) do out[#out + 1] = k .. " (a list)" end
    w(("-- @return a table with %s; or nil and an error\n"):format(#out > 0 and table.concat(out, ", ")
        or "eNom's own fields"))
    local usage = USAGE[method] or ("local res, err = client:%s { sld = \"example\", tld = \"com\" }"):format(method)
    w("-- @usage ", (usage:gsub("\n", "\n-- ")), "\n\n")
end
