--- Reading people and mailboxes from CSV and JSON files, whole or one
-- record at a time, and turning records into desired state.
--
-- A file read one record at a time (`csv_records`, `jsonl_records`) and
-- grouped by `desired` feeds `enom.provision.ensure` as a stream: memory
-- holds the domains under way, not the file.
--
-- @usage
-- local input = require "enom.provision.input"
-- local recs = assert(input.csv_records("mailboxes.csv"))   -- domain,username,display_name
-- local report = provision.ensure(client, input.desired(recs), { report_file = "run.jsonl", ... })
local json = require "enom.json"
local names = require "enom.names"
local templates = require "enom.provision.templates"

local _M = {}

local type = type
local pairs = pairs
local ipairs = ipairs
local tostring = tostring
local concat = table.concat
local lower = string.lower

-- Split one CSV record starting at `pos`; handles quoted fields with
-- commas, doubled quotes and line breaks. Returns fields, next position.
local function record(text, pos)
    local fields, n = {}, #text
    while true do
        local c = text:sub(pos, pos)
        if c == '"' then
            local buf, i = {}, pos + 1
            while true do
                local q = text:find('"', i, true)
                if not q then
                    return nil, "unterminated quoted field"
                end
                buf[#buf + 1] = text:sub(i, q - 1)
                if text:sub(q + 1, q + 1) == '"' then
                    buf[#buf + 1] = '"'
                    i = q + 2
                else
                    pos = q + 1
                    break
                end
            end
            fields[#fields + 1] = concat(buf)
        else
            local e = text:find("[,\r\n]", pos) or n + 1
            fields[#fields + 1] = text:sub(pos, e - 1)
            pos = e
        end
        local sep = text:sub(pos, pos)
        if sep == "," then
            pos = pos + 1
        elseif sep == "\r" or sep == "\n" or sep == "" then
            if sep == "\r" and text:sub(pos + 1, pos + 1) == "\n" then
                pos = pos + 1
            end
            return fields, pos + 1
        else
            return nil, "unexpected character after quoted field"
        end
    end
end

--- Parse CSV text with a header row into an array of records (tables
-- keyed by the header names, trimmed). Blank lines are skipped.
-- @param text the CSV text, its first line the header
function _M.parse_csv(text)
    if text:sub(1, 3) == "\239\187\191" then
        text = text:sub(4) -- a byte-order mark
    end
    local rows, pos, line = {}, 1, 0
    local header
    while pos <= #text do
        line = line + 1
        local fields, nxt = record(text, pos)
        if not fields then
            return nil, "CSV line " .. line .. ": " .. nxt
        end
        pos = nxt
        if not (#fields == 1 and fields[1] == "") then
            if not header then
                header = {}
                for i, h in ipairs(fields) do
                    header[i] = h:match("^%s*(.-)%s*$")
                end
            else
                local rec = {}
                for i, h in ipairs(header) do
                    local v = fields[i]
                    if v ~= nil and v ~= "" then
                        rec[h] = v:match("^%s*(.-)%s*$")
                    end
                end
                rows[#rows + 1] = rec
            end
        end
    end
    if not header then
        return nil, "CSV has no header row"
    end
    return rows
end

local function slurp(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local text = f:read("a")
    f:close()
    return text
end

--- Read a CSV file (header row first).
-- @param path the file to read
function _M.read_csv(path)
    local text, err = slurp(path)
    if not text then
        return nil, err
    end
    return _M.parse_csv(text)
end

--- Read a JSON file holding an array of records.
-- @param path the file to read
function _M.read_json(path)
    local text, err = slurp(path)
    if not text then
        return nil, err
    end
    return json.decode(text)
end

-- The header's names, trimmed.
local function header_of(fields)
    local header = {}
    for i, h in ipairs(fields) do
        header[i] = h:match("^%s*(.-)%s*$")
    end
    return header
end

--- The records of a CSV file (header row first), one at a time: a
-- function that returns the next record, nil at the end, or nil and an
-- error ("CSV line N: ...") that ends the stream. A quoted field may span
-- lines. The file is closed at the end or on the error.
-- @param path the file to read
-- @return the function, or nil and why the file cannot be opened
function _M.csv_records(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local header, line, ended = nil, 0, false
    local function stop(msg)
        ended = true
        f:close()
        return nil, msg
    end
    return function()
        while not ended do
            local text = f:read("L")
            if not text then
                ended = true
                f:close()
                if not header then
                    return nil, "CSV has no header row"
                end
                return nil
            end
            line = line + 1
            local first = line
            if line == 1 and text:sub(1, 3) == "\239\187\191" then
                text = text:sub(4) -- a byte-order mark
            end
            -- A quoted field with a line break: read on until its quotes close.
            while select(2, text:gsub('"', "")) % 2 == 1 do
                local more = f:read("L")
                if not more then
                    return stop("CSV line " .. first .. ": unterminated quoted field")
                end
                line = line + 1
                text = text .. more
            end
            local fields, why = record(text, 1)
            if not fields then
                return stop("CSV line " .. first .. ": " .. why)
            end
            if not (#fields == 1 and fields[1] == "") then
                if not header then
                    header = header_of(fields)
                else
                    local rec = {}
                    for i, h in ipairs(header) do
                        local v = fields[i]
                        if v ~= nil and v ~= "" then
                            rec[h] = v:match("^%s*(.-)%s*$")
                        end
                    end
                    return rec
                end
            end
        end
        return nil
    end
end

--- The records of a JSON lines file (one JSON object a line; blank
-- lines skipped), one at a time, as `csv_records`.
-- @param path the file to read
-- @return the function, or nil and why the file cannot be opened
function _M.jsonl_records(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local line, ended = 0, false
    return function()
        while not ended do
            local text = f:read("l")
            if not text then
                ended = true
                f:close()
                return nil
            end
            line = line + 1
            if text:find("%S") then
                local rec, jerr = json.decode(text)
                if type(rec) ~= "table" or #rec > 0 then
                    ended = true
                    f:close()
                    return nil, ("JSON line %d: %s"):format(line, rec == nil and tostring(jerr) or "not an object")
                end
                return rec
            end
        end
        return nil
    end
end

local function truthy(v)
    if type(v) == "string" then
        v = lower(v)
        return v == "1" or v == "true" or v == "yes" or v == "y"
    end
    return v == true or v == 1
end

-- A yes/no column: true, false, or nil when the record leaves it empty
-- (then nothing is changed for it).
local function flag(v)
    if v == nil or v == "" then
        return nil
    end
    return truthy(v)
end

--- The mailboxes of one domain's records: mailbox records (username,
-- display_name, admin, password, forward_to, keep_copy) when the first
-- has a username, else people named through templates (admin when their
-- `role` is `opts.admin_role`). An empty or missing `admin` (or `role`)
-- leaves an existing mailbox's flag as it is. A record with nothing but
-- its domain wants no mailbox: the domain is listed, nothing more.
-- @param recs the domain's records
-- @param domain the domain's name, for the messages
-- @param opts optional { username = template, display_name = template,
--   admin_role = "admin", skipped = function(domain, index, reason) }
-- @return the mailboxes, or nil and a message naming the record
function _M.mailboxes(recs, domain, opts)
    opts = opts or {}
    -- A record that names only its domain lists the domain with nothing
    -- wanted of it (a reconciliation over every domain of the account).
    local named = {}
    for _, r in ipairs(recs) do
        for k, v in pairs(r) do
            if k ~= "domain" and v ~= "" then
                named[#named + 1] = r
                break
            end
        end
    end
    recs = named
    if #recs == 0 then
        return {}
    end
    if recs[1].username then
        local out = {}
        for j, r in ipairs(recs) do
            if type(r.username) ~= "string" or r.username == "" then
                return nil, ("record %d of %s has no username"):format(j, domain)
            end
            -- forward_to: an address (a JSON false: no forward); keep_copy:
            -- yes (the default) or no.
            local to = r.forward_to
            if to == "" then to = nil end
            out[j] = { username = r.username, display_name = r.display_name, admin = flag(r.admin),
                password = r.password, forward_to = to, keep_copy = flag(r.keep_copy) }
        end
        return out
    end
    local role = lower(opts.admin_role or "admin")
    local out, skipped = templates.people(recs, {
        username = opts.username, display_name = opts.display_name,
        admin = function(p)
            if type(p.role) ~= "string" or p.role == "" then
                return nil
            end
            return lower(p.role) == role
        end,
    })
    if opts.skipped then
        for _, sk in ipairs(skipped) do
            opts.skipped(domain, sk.index, sk.reason)
        end
    end
    return out
end

--- Desired state from records, one domain at a time: consecutive
-- records of one domain (`opts.domain` for all, else each record's
-- `domain` field) make one entry { domain, mailboxes }. A domain's
-- records must come together (a file sorted by domain): a domain that
-- comes back after another ends the stream with an error naming the
-- record. Only the domain being gathered and the names of those done
-- are in memory.
-- @param next_record a function returning the next record, nil at the
--   end, or nil and an error (`csv_records`, `jsonl_records`, or an array
--   wrapped in a function)
-- @param opts optional { domain, username = template, display_name =
--   template, admin_role = "admin", skipped = function(domain, index,
--   reason) for people that could not be named }
-- @return a function returning the next entry, nil at the end, or nil
--   and an error (kind "invalid" comes from ensure; here a message)
function _M.desired(next_record, opts)
    opts = opts or {}
    local done, n, pending, ended = {}, 0, nil, false
    local function domain_of(rec)
        local name = opts.domain or rec.domain
        if type(name) ~= "string" or name == "" then
            return nil, ("record %d has no domain: give opts.domain (--domain) or a 'domain' field"):format(n)
        end
        local sld, tld = names.split_domain(name)
        if not sld then
            return nil, ("record %d: the domain '%s' %s"):format(n, names.unprintable(name) and "(unprintable)"
                or name, tld)
        end
        return sld .. "." .. tld
    end
    local function fail(msg)
        ended = true
        return nil, msg
    end
    return function()
        if ended then
            return nil
        end
        local dom, recs = nil, nil
        if pending then
            if pending.err then
                return fail(pending.err)
            end
            dom, recs, pending = pending.domain, { pending.rec }, nil
        end
        while true do
            local rec, err = next_record()
            if rec == nil and err ~= nil then
                return fail(tostring(err))
            end
            local name
            if rec ~= nil then
                n = n + 1
                if type(rec) ~= "table" then
                    return fail(("record %d is not an object"):format(n))
                end
                local why
                name, why = domain_of(rec)
                if not name then
                    return fail(why)
                end
            end
            if rec == nil or (dom and name ~= dom) then
                if not dom then
                    ended = true
                    return nil
                end
                if rec ~= nil then
                    if done[name] then
                        -- This domain's group is whole: it goes; the error comes next.
                        pending = { err = ("record %d: %s comes again after other domains: a domain's records "
                            .. "must come together (sort the file by domain)"):format(n, name) }
                    else
                        pending = { domain = name, rec = rec }
                    end
                else
                    ended = true
                end
                done[dom] = true
                local mailboxes, merr = _M.mailboxes(recs, dom, opts)
                if not mailboxes then
                    return fail(merr)
                end
                return { domain = dom, mailboxes = mailboxes }
            end
            if not dom then
                if done[name] then
                    return fail(("record %d: %s comes again after other domains: a domain's records "
                        .. "must come together (sort the file by domain)"):format(n, name))
                end
                dom, recs = name, {}
            end
            recs[#recs + 1] = rec
        end
    end
end

return _M
