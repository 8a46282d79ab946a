--- Mailbox passwords in the panel: the one function that makes one and
-- the one function that checks one a person typed, both by eNom's rule
-- for the mailboxes (enom.password: the same rule the panel's client
-- checks its requests against, `password_rule` in the settings, eNom's
-- Basic email rule by default). Nothing else in the panel makes or judges
-- a password.
local password = require "enom.password"

local _M = {}

-- The rule of the settings (nil: enom.password's default).
local function rule(conf)
    return conf and conf.password_rule or nil
end

-- What a password must not contain: the mailbox's name, the domain, the
-- account's login id.
local function context(conf, username, sld, tld)
    return { username = username, sld = sld, tld = tld, uid = conf and conf.uid }
end

--- A new password by the rule, for mailbox `username` of sld.tld.
function _M.generate(conf, username, sld, tld)
    return password.generate(rule(conf), context(conf, username, sld, tld))
end

--- The rule in words, for the help under a password field.
function _M.help(conf)
    return password.describe(rule(conf))
end

--- Check a typed password by the rule.
-- @return nil when it may be used, else a sentence saying what is wrong
function _M.check(conf, pw, username, sld, tld)
    if type(pw) ~= "string" then
        return "Type a password, or leave the field empty for a generated one."
    end
    local why = password.check(pw, rule(conf), context(conf, username, sld, tld))
    if why then
        local name, what = why:match("^breaks rule (%S+): (.*)$")
        return ("eNom's mail servers would refuse this password (rule %s): %s."):format(name or "?", what or why)
    end
    return nil
end

return _M
