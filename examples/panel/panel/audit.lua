--- The audit log: one JSON object per line for each thing done or
-- refused: when, who (the owner, or the name typed at a failed login),
-- from where, what, on which domain and mailbox, the outcome, eNom's
-- TrackingKey when its answer carried one, and nginx's request id.
-- Never a password: no entry has a field for one, and what eNom or a
-- form said goes in only through the named fields below.
local cjson = require "cjson.safe"

local _M = {}

local type = type
local tostring = tostring

local FIELDS = { "who", "action", "domain", "mailbox", "outcome", "reason", "tracking_key" }
local MAX_FIELD = 300

local PATH
local FILE -- this worker's handle, opened on first use

--- Where the log goes (a path nginx's workers may append to).
function _M.init(path)
    PATH = path
end

--- eNom's TrackingKey of an answer `res`, or of the result a refusal
-- `err` carried, or nil.
function _M.tracking_key(res, err)
    return res and res.tracking_key or (err and err.result and err.result.tracking_key)
end

--- Append one entry: `e` holds any of who, action, domain, mailbox,
-- outcome, reason, tracking_key (strings, cut to 300 bytes).
function _M.log(e)
    if not PATH then
        return
    end
    local t = ngx.utctime()  -- "yyyy-mm-dd hh:mm:ss"
    local entry = {
        time = t:sub(1, 10) .. "T" .. t:sub(12) .. "Z",
        ip = ngx.var.remote_addr,
        request_id = ngx.var.request_id,
    }
    for _, k in ipairs(FIELDS) do
        local v = e[k]
        if v ~= nil then
            v = tostring(v)
            entry[k] = #v > MAX_FIELD and v:sub(1, MAX_FIELD) or v
        end
    end
    if not FILE then
        local err
        FILE, err = io.open(PATH, "a")
        if not FILE then
            ngx.log(ngx.ERR, "panel: cannot open the audit log: ", err)
            return
        end
        -- One write per entry: whole lines, whichever worker writes.
        FILE:setvbuf("line")
    end
    local line = cjson.encode(entry)
    if type(line) == "string" then
        FILE:write(line .. "\n")
    end
end

return _M
