--- Where the enom command finds its account: ENOM_UID/ENOM_PW and the
-- other ENOM_* variables, or a config file that only its owner may read.
-- Never the command line, which `ps` and shell history would show.
--
-- The file holds `key = value` lines (`#` starts a comment), an optional
-- `[profile]` section per account:
--
--     uid = resellid
--     pw = ...
--     endpoint = test          # live, test or an https URL
--     ca = /etc/ssl/enom-ca.pem
--     response_type = xml      # xml (default), text or html: how eNom answers
--     lock = redis             # leases and journal: default (this host) or redis
--     redis = 10.0.0.5:6379    # for lock = redis (its password: ENOM_REDIS_PASSWORD)
--     rate_limit = 20/s        # the account's requests per second, for every enom sharing the backend
--     rate_limit_backend = redis  # process, or redis (the default with lock = redis)
--
--     [shop]
--     uid = shopreseller
--     pw = ...
local core = require "enom.core"

local _M = {}

local ENV = {
    uid = "ENOM_UID", pw = "ENOM_PW", endpoint = "ENOM_ENDPOINT", ca = "ENOM_CA",
    timeout = "ENOM_TIMEOUT", lock = "ENOM_LOCK", redis = "ENOM_REDIS", response_type = "ENOM_RESPONSE_TYPE",
    rate_limit = "ENOM_RATE_LIMIT", rate_limit_backend = "ENOM_RATE_LIMIT_BACKEND",
}
_M.ENV = ENV

local KEYS = { uid = true, pw = true, endpoint = true, ca = true, timeout = true, lock = true, redis = true,
    response_type = true, rate_limit = true, rate_limit_backend = true }

--- The default config file: $XDG_CONFIG_HOME/enom/config, else
-- ~/.config/enom/config.
function _M.default_path()
    local xdg = os.getenv("XDG_CONFIG_HOME")
    if xdg and xdg ~= "" then
        return xdg .. "/enom/config"
    end
    local home = os.getenv("HOME")
    if home and home ~= "" then
        return home .. "/.config/enom/config"
    end
end

-- Who may read a file of mode `mode` besides its owner, in words.
local function readers(mode)
    local group, others = math.floor(mode / 8) % 8 ~= 0, mode % 8 ~= 0
    if group and others then
        return "its group and others may read or write it"
    end
    return group and "its group may read or write it" or "others may read or write it"
end

--- Parse config text. Returns { [profile] = { key = value } } (the part
-- before any section is profile "default"), or nil and "line N: ...".
function _M.parse(text)
    local profiles = { default = {} }
    local cur = profiles.default
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        n = n + 1
        line = line:gsub("\r$", "")
        local body = line:match("^%s*(.-)%s*$")
        if body ~= "" and not body:find("^#") then
            local section = body:match("^%[%s*([%w_.-]+)%s*%]$")
            if section then
                profiles[section] = profiles[section] or {}
                cur = profiles[section]
            else
                local k, v = body:match("^([%w_]+)%s*=%s*(.-)$")
                if not k then
                    return nil, "line " .. n .. ": expected key = value or [profile]"
                end
                if not KEYS[k] then
                    return nil, "line " .. n .. ": unknown key '" .. k .. "' (uid, pw, endpoint, ca, timeout, lock, redis, "
                        .. "response_type, rate_limit, rate_limit_backend)"
                end
                -- A trailing comment, unless the value is quoted.
                local q = v:match('^"(.*)"$') or v:match("^'(.*)'$")
                if q then
                    v = q
                else
                    v = v:gsub("%s+#.*$", "")
                end
                cur[k] = v
            end
        end
    end
    return profiles
end

--- Read a config file, refusing one that group or others may read. The
-- checks are made by the core on the descriptor it reads (no window
-- between checking and reading; no child process sees the environment).
-- Returns the profiles, or nil (absent file) and nothing, or nil and err.
function _M.read(path, required)
    local text, err, reason, mode = core.read_private(path)
    if not text then
        if reason == "absent" and not required then
            return nil
        end
        if reason == "mode" then
            return nil, ("config file %s has mode %03o: %s; run chmod 600 %s"):format(path, mode, readers(mode), path)
        end
        return nil, "config file " .. err
    end
    local profiles, perr = _M.parse(text)
    if not profiles then
        return nil, "config file " .. path .. ", " .. perr
    end
    return profiles
end

--- The settings to use: { uid, pw, endpoint, ca, timeout, source }.
-- An explicit --config or --profile reads the file; otherwise ENOM_*
-- variables win over the default file, key by key.
-- @param opts { config = path|nil, profile = name|nil, endpoint, ca }
function _M.resolve(opts)
    local explicit = opts.config ~= nil or opts.profile ~= nil
    local path = opts.config or os.getenv("ENOM_CONFIG") or _M.default_path()
    local profile = opts.profile or os.getenv("ENOM_PROFILE") or "default"
    local settings = {}
    local profiles, err
    if path then
        profiles, err = _M.read(path, opts.config ~= nil)
        if err then
            return nil, err
        end
    end
    if profiles then
        local p = profiles[profile]
        if not p then
            return nil, "profile '" .. profile .. "' is not in " .. path
        end
        for k, v in pairs(p) do
            settings[k] = v
        end
        settings.source = path .. (profile ~= "default" and (" [" .. profile .. "]") or "")
    elseif opts.profile then
        return nil, "--profile " .. opts.profile .. " needs a config file (" .. tostring(path) .. ")"
    end
    if not explicit then
        for k, name in pairs(ENV) do
            local v = os.getenv(name)
            if v and v ~= "" then
                settings[k] = v
                settings.source = settings.source and (settings.source .. " and the environment") or "the environment"
            end
        end
    end
    -- Neither is secret: the command line may set them.
    settings.endpoint = opts.endpoint or settings.endpoint or "live"
    settings.ca = opts.ca or settings.ca
    if settings.timeout then
        local t = tonumber(settings.timeout)
        if not t or t <= 0 then
            return nil, "timeout must be a positive number of seconds"
        end
        settings.timeout = t
    end
    return settings
end

return _M
