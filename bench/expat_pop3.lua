--- GetPOP3 (XML) into the typed table with LuaExpat: the baseline for
-- `enom.parse(body, "xml")` + `enom.results.shape("GetPOP3", parsed)`.
--
-- Builds exactly the table results.shape gives (passwords left out, as
-- shape does by default): SAX callbacks collect each leaf's text, a
-- <pop> or <Pak> element opens a record, leaves directly under the root
-- are the envelope's fields. Only what the typed table needs is kept,
-- so the baseline does less work than the generic C parser, never more.
local lxp = require "lxp"

local _M = {}

local lower = string.lower
local concat = table.concat
local tonumber = tonumber

local util = require "util"
local int, bool = util.int, util.bool

-- Output name, converter for each leaf of a record.
local MAILBOX = {
    username = { "username" }, quota = { "quota", int }, expdate = { "expires" },
    bundleid = { "bundle_id", int }, autorenew = { "auto_renew", bool }, admin = { "admin", bool },
    quotaused = { "quota_used", int },
}
local PAK = {
    bundleid = { "bundle_id", int }, qtypurchased = { "purchased", int }, qtyavailable = { "free", int },
    expdate = { "expires" }, autorenew = { "auto_renew", bool }, quota = { "quota", int },
    prodtype = { "product_type", int },
}

--- Parse a GetPOP3 XML body; returns the typed table or nil, err.
function _M.parse(body)
    local mailboxes, paks, fields, errors = {}, {}, {}, {}
    local depth = 0
    local rec, rec_spec        -- the <pop> or <Pak> being read
    local in_errors = false
    local text, ntext = {}, 0
    local parser = lxp.new {
        StartElement = function(_, name)
            depth = depth + 1
            ntext = 0
            local l = lower(name)
            if l == "pop" then
                rec, rec_spec = {}, MAILBOX
                mailboxes[#mailboxes + 1] = rec
            elseif l == "pak" then
                rec, rec_spec = {}, PAK
                paks[#paks + 1] = rec
            elseif l == "errors" and depth == 2 then
                in_errors = true
            end
        end,
        CharacterData = function(_, s)
            ntext = ntext + 1
            text[ntext] = s
        end,
        EndElement = function(_, name)
            local l = lower(name)
            local v = concat(text, "", 1, ntext)
            ntext = 0
            if l == "pop" or l == "pak" then
                rec = nil
            elseif rec then
                local f = rec_spec[l]
                if f and rec[f[1]] == nil then -- a repeated leaf: keep the first
                    if f[2] then
                        v = f[2](v)
                    end
                    rec[f[1]] = v
                end
            elseif in_errors then
                if l == "errors" then
                    in_errors = false
                else
                    local n = tonumber(l:match("^err(%d+)$"))
                    if n then errors[n] = v end
                end
            elseif depth == 2 then
                fields[l] = v
            end
            depth = depth - 1
        end,
    }
    local ok, err = parser:parse(body)
    if ok then
        ok, err = parser:parse()
    end
    parser:close()
    if not ok then
        return nil, err
    end
    return {
        command = fields.command,
        errors = errors,
        tracking_key = fields.trackingkey,
        exec_time = fields.exectime and tonumber((fields.exectime:gsub(",", ""))),
        server = fields.server,
        email_count = int(fields.emailcount),
        pak_count = int(fields.count),
        mailboxes = mailboxes,
        paks = paks,
    }
end

return _M
