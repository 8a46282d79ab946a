--- Mailbox passwords in the panel: the one function that makes one and
-- the one function that checks one a person typed.
--
-- Both follow eNom's rule for POP mail passwords (eNom KB 1691,
-- "Password Protocol M2W for Email"): 6 to 30 characters, at least one
-- upper-case letter, one lower-case letter and one digit, and no special
-- characters. A library module with eNom's product rules replaces both
-- bodies in one line each; nothing else in the panel makes or judges a
-- password.
local templates = require "enom.provision.templates"

local _M = {}

local find = string.find

local MIN, MAX = 6, 30

--- What `generate` asks of the library's generator; also handed to
-- provision.ensure (its `password` option), which generates the password
-- of a mailbox it creates.
_M.RULE = { length = 16, classes = { "lower", "upper", "digit" } }

--- A new password by the rule.
function _M.generate()
    return templates.password(_M.RULE)
end

--- Check a typed password by the rule.
-- @return nil when it may be used, else a sentence saying what is wrong
function _M.check(password)
    if type(password) ~= "string" then
        return "Type a password, or leave the field empty for a generated one."
    end
    local n = #password
    if n < MIN or n > MAX then
        return ("The password must be %d to %d characters long; this one has %d."):format(MIN, MAX, n)
    end
    if find(password, "[^%w]") then
        return "The password may hold only letters (A-Z, a-z) and digits: eNom's mail servers refuse "
            .. "spaces, punctuation and other special characters."
    end
    local missing = {}
    if not find(password, "%u") then missing[#missing + 1] = "upper-case letter" end
    if not find(password, "%l") then missing[#missing + 1] = "lower-case letter" end
    if not find(password, "%d") then missing[#missing + 1] = "digit" end
    if #missing > 0 then
        return "The password needs at least one upper-case letter, one lower-case letter and one digit; "
            .. "it has no " .. table.concat(missing, ", no ") .. "."
    end
    return nil
end

return _M
