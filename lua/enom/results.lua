--- Shapes parsed eNom responses into plain Lua tables.
--
-- eNom's three formats carry the same data in different shapes and with
-- inconsistent key case (`Successful`, `success`, `UserName`, `username`,
-- `admin1`). The C parser normalises the envelope; this module maps each
-- command's fields onto snake_case names and Lua types, so a typed method
-- gives the same table whichever ResponseType was used.
--
-- A record spec names the XML element that repeats (`xml`) and the Text
-- and HTML key prefix (`prefix`, e.g. "Pak" for PakBundleId1), both
-- lower-cased, and maps output names onto source keys and types.
local _M = { _VERSION = "0.1.0" }

local type = type
local pairs = pairs
local tonumber = tonumber
local lower = string.lower
local tointeger = math.tointeger or function(n) return n end

local function convert(v, t)
    if v == nil or v == false then -- false: a Text/HTML column the answer lacks
        return nil
    end
    if type(v) == "table" then -- a repeated XML leaf: keep the first
        v = v[1]
    end
    if t == "integer" then
        local n = tonumber(v)
        return n and (tointeger(n) or n)
    elseif t == "number" then
        return tonumber((v:gsub(",", ""))) -- eNom writes 1,000.00
    elseif t == "boolean" then
        local l = lower(v)
        if l == "1" or l == "true" or l == "yes" or l == "on" then
            return true
        elseif l == "0" or l == "false" or l == "no" or l == "off" or l == "" then
            return false
        end
        return nil
    end
    return v
end
_M.convert = convert

--- The parsed fields with lower-cased names (cached on the parse).
local function lowered(parsed)
    local lf = parsed._lower
    if not lf then
        lf = {}
        for k, v in pairs(parsed.fields or {}) do
            lf[lower(k)] = v
        end
        parsed._lower = lf
    end
    return lf
end
_M.lowered = lowered

--- A field by name in any case, converted to type `t`.
function _M.field(parsed, name, t)
    return convert(lowered(parsed)[lower(name)], t)
end

-- Converters by type, for the generated record builders below.
local CONVERT = {
    integer = function(v) return convert(v, "integer") end,
    number = function(v) return convert(v, "number") end,
    boolean = function(v) return convert(v, "boolean") end,
}

local sort = table.sort
local concat = table.concat
local UNPACK = table.unpack or unpack -- luacheck: ignore unpack
local format = string.format
local load = load

-- A record spec compiles to two functions that build one typed record in
-- a single table constructor: from an XML record (`src[key]`) and from
-- Text/HTML columns (`cols[k][i]`). A constructor sizes the table once;
-- a thousand mailboxes do not rehash eight times each.
local function compile(spec, want_secret)
    local names = {}
    for name, f in pairs(spec.fields) do
        if want_secret or not f[3] then
            names[#names + 1] = name
        end
    end
    sort(names)
    local xml_parts, text_parts, convs, col_keys = {}, {}, {}, {}
    for i, name in ipairs(names) do
        local f = spec.fields[name]
        local get_xml = format("src[%q]", f[1])
        local get_text = format("(c%d and c%d[i])", i, i)
        if f[2] then
            convs[#convs + 1] = f[2]
            local cv = "cv" .. #convs
            get_xml = cv .. "(" .. get_xml .. ")"
            get_text = cv .. "(" .. get_text .. ")"
        end
        xml_parts[i] = format("[%q] = %s", name, get_xml)
        text_parts[i] = format("[%q] = %s", name, get_text)
        col_keys[i] = (spec.prefix or "") .. (f[4] or f[1])
    end
    local cv_args, c_args = {}, {}
    for i = 1, #convs do
        cv_args[i] = "cv" .. i
    end
    for i = 1, #names do
        c_args[i] = "c" .. i
    end
    local cvs = #cv_args > 0 and (concat(cv_args, ", ")) or "_"
    local src = format([[
local %s = ...
local function from_xml(src) return { %s } end
local function from_text(i, %s) return { %s } end
return from_xml, from_text
]], cvs, concat(xml_parts, ", "), concat(c_args, ", "), concat(text_parts, ", "))
    local chunk = assert(load(src, "=enom.results." .. tostring(spec.xml)))
    local args = {}
    for i, t in ipairs(convs) do
        args[i] = CONVERT[t]
    end
    local from_xml, from_text = chunk(UNPACK(args, 1, #convs))
    return from_xml, from_text, col_keys
end

local COMPILED = setmetatable({}, { __mode = "k" })

local function compiled(spec, want_secret)
    local cache = COMPILED[spec]
    if not cache then
        cache = {}
        COMPILED[spec] = cache
    end
    local key = want_secret and "secret" or "plain"
    local c = cache[key]
    if not c then
        c = { compile(spec, want_secret) }
        cache[key] = c
    end
    return c[1], c[2], c[3]
end

-- Records of one kind, in order, as tables of output names.
local function records(parsed, spec, want_secret)
    local out = {}
    local from_xml, from_text, col_keys = compiled(spec, want_secret)
    local xml = parsed.records and parsed.records[spec.xml]
    if xml and #xml > 0 then
        for i = 1, #xml do
            out[i] = from_xml(xml[i])
        end
        return out
    end
    local idx = parsed.indexed
    if not idx then
        return out
    end
    local keycol = idx[(spec.prefix or "") .. spec.key]
    if not keycol then
        return out
    end
    local cols = {}
    for k = 1, #col_keys do
        cols[k] = idx[col_keys[k]] or false
    end
    local n = #col_keys
    for i = 1, #keycol do
        out[i] = from_text(i, UNPACK(cols, 1, n))
    end
    return out
end
_M.records = records

-- A list of scalars that is a repeated leaf in XML (inside `xml_record`)
-- and an indexed key in Text/HTML.
local function list(parsed, xml_record, key, t)
    local out = {}
    local recs = parsed.records and parsed.records[xml_record]
    if recs and recs[1] then
        local v = recs[1][key]
        if type(v) == "table" then
            for i = 1, #v do
                out[i] = convert(v[i], t)
            end
        elseif v ~= nil then
            out[1] = convert(v, t)
        end
        return out
    end
    local col = parsed.indexed and parsed.indexed[key]
    if col then
        for i = 1, #col do
            out[i] = convert(col[i], t)
        end
    end
    return out
end

-- Field specs: output name = { source key (lower case), type, secret,
-- Text/HTML key when it differs from the XML one }.
local MAILBOX = {
    xml = "pop", prefix = "", key = "username",
    fields = {
        username = { "username" },
        password = { "password", nil, true },
        quota = { "quota", "integer" },
        expires = { "expdate" },
        bundle_id = { "bundleid", "integer" },
        auto_renew = { "autorenew", "boolean" },
        admin = { "admin", "boolean" },
        quota_used = { "quotaused", "integer" },
    },
}

local PAK = {
    xml = "pak", prefix = "pak", key = "bundleid",
    fields = {
        bundle_id = { "bundleid", "integer" },
        purchased = { "qtypurchased", "integer" },
        free = { "qtyavailable", "integer" },
        expires = { "expdate" },
        auto_renew = { "autorenew", "boolean" },
        quota = { "quota", "integer" },
        product_type = { "prodtype", "integer" },
    },
}

local POP_FORWARD = {
    xml = "popforwarding", prefix = "", key = "username",
    fields = {
        domain = { "domainname" },
        username = { "username" },
        forward_to = { "forwardto" },
        active = { "active", "boolean" },
    },
}

local MAIL_HOST = {
    xml = "host", prefix = "", key = "hostname",
    fields = {
        host_id = { "hostid", "integer" },
        host_name = { "hostname" },
        record_type = { "recordtype" },
        address = { "address" },
        mx_pref = { "mxpref", "integer" },
    },
}

local EFORWARD = {
    xml = "eforward", prefix = "", key = "alias",
    fields = {
        alias = { "alias" },
        forward_to = { "forward-to", nil, nil, "forwardto" },
        status = { "status" },
        mail_id = { "mailid", "integer" },
    },
}
_M.specs = { mailbox = MAILBOX, pak = PAK, pop_forward = POP_FORWARD, mail_host = MAIL_HOST, eforward = EFORWARD }

-- Scalar fields per result kind: output name = { source key, type }.
local SHAPES = {
    basic = {},
    setup = {
        success = { "success", "boolean" },
        accounts_created = { "accountscreated", "integer" },
        accounts_failed = { "accountsfailed", "integer" },
    },
    purchase = {
        order_id = { "orderid" },
        bundle_count = { "bundlecount", "integer" },
    },
    pop3 = {
        email_count = { "emailcount", "integer" },
        pak_count = { "count", "integer" },
    },
    modify = {
        success = { "success", "boolean" },
        accounts_modified = { "accountsmodified", "integer" },
        accounts_failed = { "accountsfailed", "integer" },
    },
    delete = {
        success = { "success", "boolean" },
        accounts_deleted = { "accountsdeleted", "integer" },
    },
    delete_all = { paks_removed = { "paksremoved", "integer" } },
    pop_forwarding = { count = { "count", "integer" } },
    mail_hosts = {
        count = { "mailhostcount", "integer" },
        service_select = { "serviceselect" },
    },
    forwarding = {
        enabled = { "emailforwardingenabled", "boolean" },
        mail_count = { "mailcount", "integer" },
    },
    get_forwarding = {
        email_count = { "emailcount", "integer" },
        max_email = { "maxemail", "integer" },
    },
    catch_all = { catch_all = { "catchall" } },
    dot_name_forwarding = {
        within = "dotnameforwarding", -- XML nests these in one record
        status = { "status" },
        address = { "address" },
    },
    set_dot_name_forwarding = {
        forward_to = { "forwardto" },
        domain_rrp = { "domainrrp" },
    },
    balance = {
        balance = { "balance", "number" },
        available_balance = { "availablebalance", "number" },
    },
}

-- Records per result kind: output name = record spec.
local RECORDS = {
    pop3 = { mailboxes = MAILBOX, paks = PAK },
    pop_forwarding = { forwards = POP_FORWARD },
    mail_hosts = { hosts = MAIL_HOST },
    get_forwarding = { forwards = EFORWARD },
}

--- Shape a parsed response for result kind `kind`.
-- @param opts { include_passwords = boolean }
function _M.shape(kind, parsed, opts)
    local lf = lowered(parsed)
    local out = {
        command = parsed.command,
        errors = parsed.errors or {},
        tracking_key = lf.trackingkey,
    }
    local shape = SHAPES[kind] or {}
    local within = shape.within and parsed.records and parsed.records[shape.within]
    within = within and within[1] or {}
    for name, f in pairs(shape) do
        if name ~= "within" then
            local v = lf[f[1]]
            if v == nil then
                v = within[f[1]]
            end
            out[name] = convert(v, f[2])
        end
    end
    if kind == "setup" or kind == "modify" then
        -- Some commands answer `Successful` instead of `Success`.
        if out.success == nil then
            out.success = convert(lf.successful, "boolean")
        end
    end
    local recs = RECORDS[kind]
    if recs then
        local secret = opts and opts.include_passwords
        for name, spec in pairs(recs) do
            out[name] = records(parsed, spec, secret)
        end
    end
    if kind == "purchase" then
        out.bundle_ids = list(parsed, "bundles", "bundleid", "integer")
        if out.bundle_count == nil then
            out.bundle_count = #out.bundle_ids
        end
    end
    return out
end

return _M
