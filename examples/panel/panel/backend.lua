--- What the panel's handlers share: the settings read at startup, the
-- owner accounts, an eNom client per request (over nginx cosockets) and
-- this worker's metrics registry over the shared dict every worker adds
-- into.
local enom = require "enom"
local metrics = require "enom.metrics"
local owners = require "panel.owners"

local _M = {}

local METRICS_DICT = "enom_metrics"

-- The panel's own family; no owner or domain as a label.
local FAMILIES = {
    { name = "enom_panel_logins_total", type = "counter", labels = { "result" },
      help = "Panel logins, by result (ok, wrong, locked)." },
}

local CONF     -- settings, read in nginx's master (init_by_lua)
local OWNERS   -- name -> owner record, read with them
local REGISTRY -- this worker's, made on first use

--- Keep the settings and the owner accounts (init_by_lua, in the master).
-- `conf`: { uid, pw, endpoint, owners_file, pak_price, password_rule }.
function _M.init(conf)
    CONF = conf
    local list, err = owners.load(conf.owners_file)
    if not list then
        error("panel: cannot read the owners file: " .. tostring(err), 0)
    end
    OWNERS = list
end

function _M.conf()
    return CONF
end

--- The owner named `name`, or nil (removed since the session began).
function _M.owner(name)
    return OWNERS[name]
end

--- This worker's registry.
function _M.registry()
    if not REGISTRY then
        REGISTRY = metrics.new { dict = METRICS_DICT, families = FAMILIES }
    end
    return REGISTRY
end

--- Count a provisioning record (mailbox, event, summary); a pak bought
-- also counts its price when the reseller's price is configured.
function _M.record(rec)
    local reg = _M.registry()
    reg:record(rec)
    if rec.type == "event" and rec.action == "paks" and rec.outcome == "bought" and CONF.pak_price then
        reg:inc("enom_spend_total", nil, (tonumber(rec.detail) or 0) * CONF.pak_price)
    end
end

--- A client for this request, counting into the registry; nil and an
-- error when the eNom account is not configured.
function _M.client()
    if not CONF.pw or CONF.pw == "" then
        return nil, "the eNom account is not configured (ENOM_PW)"
    end
    return enom.new {
        uid = CONF.uid, pw = CONF.pw, endpoint = CONF.endpoint, timeout = 30, password_rule = CONF.password_rule,
        logger = metrics.logger(_M.registry()),
    }
end

--- One request of `method` (a typed method of the client) on a client of
-- its own, closed after it: the result, or nil and the error (the
-- client's own when it cannot be made).
function _M.call(method, args)
    local c, err = _M.client()
    if not c then
        return nil, err
    end
    local res
    res, err = c[method](c, args)
    c:close()
    return res, err
end

return _M
