--- GetPOP3 (Text) into the typed table in plain Lua: the baseline for
-- `enom.parse(body, "text")` + `enom.results.shape("GetPOP3", parsed)`.
--
-- The parser a Lua programmer would write: gmatch over the lines,
-- `Key=Value`, keys ending in digits gathered into columns
-- (Username1, Username2, ... -> username[1], username[2]), then the
-- columns turned into records. Builds exactly the table results.shape
-- gives (passwords left out, as shape does by default).
local _M = {}

local lower = string.lower
local match = string.match
local byte = string.byte
local gmatch = string.gmatch
local tonumber = tonumber

local util = require "util"
local int, bool = util.int, util.bool

local SEMICOLON = byte(";")

-- Output name, Text column, converter.
local MAILBOX = {
    { "username", "username" }, { "quota", "quota", int }, { "expires", "expdate" },
    { "bundle_id", "bundleid", int }, { "auto_renew", "autorenew", bool }, { "admin", "admin", bool },
    { "quota_used", "quotaused", int },
}
local PAK = {
    { "bundle_id", "pakbundleid", int }, { "purchased", "pakqtypurchased", int },
    { "free", "pakqtyavailable", int }, { "expires", "pakexpdate" }, { "auto_renew", "pakautorenew", bool },
    { "quota", "pakquota", int }, { "product_type", "pakprodtype", int },
}

local function rows(columns, spec, key)
    local out = {}
    local keycol = columns[key]
    if not keycol then return out end
    for i = 1, #keycol do
        local rec = {}
        for _, f in ipairs(spec) do
            local col = columns[f[2]]
            local v = col and col[i]
            if v ~= nil and f[3] then v = f[3](v) end
            rec[f[1]] = v
        end
        out[i] = rec
    end
    return out
end

--- Parse a GetPOP3 Text body; returns the typed table.
function _M.parse(body)
    local fields, columns = {}, {}
    for line in gmatch(body, "[^\r\n]+") do
        if byte(line) ~= SEMICOLON then
            local k, v = match(line, "^([^=]+)=(.*)$")
            if k then
                k = lower(k)
                local base, n = match(k, "^(.-)(%d+)$")
                if base and base ~= "" then
                    local col = columns[base]
                    if not col then
                        col = {}
                        columns[base] = col
                    end
                    n = tonumber(n)
                    if col[n] == nil then col[n] = v end
                else
                    fields[k] = v
                end
            end
        end
    end
    return {
        command = fields.command,
        errors = columns.err or {},
        tracking_key = fields.trackingkey,
        exec_time = fields.exectime and tonumber((fields.exectime:gsub(",", ""))),
        server = fields.server,
        email_count = int(fields.emailcount),
        pak_count = int(fields.count),
        mailboxes = rows(columns, MAILBOX, "username"),
        paks = rows(columns, PAK, "pakbundleid"),
    }
end

return _M
