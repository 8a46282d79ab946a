-- eNom's mailbox password rules, as data, and the one check the sandbox
-- applies to a password SetUpPOP3User or ModifyPOP3 receives. The
-- sandbox is a model of eNom and checks on its own, whatever the library
-- does before sending.
--
-- Rules (each account carries one, `password_rule`, seedable):
--   pop_m2w      eNom KB 1691, "Password Protocol M2W for Email" (the POP
--                mail platform): 6 to 30 characters, an upper-case letter,
--                a lower-case letter and a digit, no special characters.
--   email_basic  eNom support article 201000065374 ("Reset your Enom
--                email password"): 10 to 20 characters, no spaces, an
--                upper-case letter, a digit and one of * @ - _ / .
-- Both add the contains check of eNom's 2018 e-mail API change and its
-- error-code page: a password that holds the user name or account
-- information (here: the domain's SLD and the account's login id) is
-- refused, whatever the case.
--
-- Not modelled from KB 1691: "not the same as other passwords or account
-- names on the account" and "no shared root between the account's
-- passwords"; the article gives no rule precise enough to check.

local _M = {}

-- eNom publishes no text or number for a password that SetUpPOP3User or
-- ModifyPOP3 refuses. The texts below borrow the words of eNom's e-mail
-- error codes 40 ("Password not strong enough") and 48 ("Password
-- rejected - contains username or other account info"); the numbers
-- follow eNom's scheme (3 validation; 03 out of range, 06 policy
-- violation; 156 password). UNVERIFIED: this table is the one place to
-- correct them (sandbox/README.md says so).
local REFUSAL = {
  length = { num = 303156, text = "Password not strong enough for user %s: %d to %d characters" },
  missing = { num = 306156, text = "Password not strong enough for user %s: it needs %s" },
  forbidden = { num = 306156, text = "Password not strong enough for user %s: %s are not allowed" },
  contains = { num = 306156, text = "Password rejected for user %s - contains username or other account info" },
}
_M.REFUSAL = REFUSAL

-- `needs`: classes of which one character at least must appear;
-- `allowed`: every character must be in one of these classes.
local RULES = {
  pop_m2w = {
    source = "eNom KB 1691 (Password Protocol M2W for Email)",
    min = 6, max = 30,
    needs = { { "%u", "an upper-case letter" }, { "%l", "a lower-case letter" }, { "%d", "a digit" } },
    allowed = "^[%w]*$", forbidden = "special characters",
  },
  email_basic = {
    source = "eNom support article 201000065374 (Reset your Enom email password)",
    min = 10, max = 20,
    needs = { { "%u", "an upper-case letter" }, { "%d", "a digit" }, { "[%*@%-_/%.]", "one of * @ - _ / ." } },
    allowed = "^[%w%*@%-_/%.]*$", forbidden = "spaces and characters other than letters, digits and * @ - _ / .",
  },
}
_M.RULES = RULES
_M.DEFAULT = "email_basic"

function _M.known(name) return RULES[name] ~= nil end

local function refuse(kind, ...)
  local r = REFUSAL[kind]
  return { msg = string.format(r.text, ...), num = r.num }
end

-- Holds `s` the text `part` (3 characters or more), whatever the case?
local function holds(s, part)
  return type(part) == "string" and #part >= 3 and s:lower():find(part:lower(), 1, true) ~= nil
end

--- Checks `pw` against the rule named `rule` for `user`; `context` gives
-- the account information the contains check looks for: { sld, uid }.
-- Returns nil when the password is accepted, else an error {msg, num}.
function _M.check(rule, pw, user, context)
  local r = RULES[rule] or RULES[_M.DEFAULT]
  if #pw < r.min or #pw > r.max then
    return refuse("length", user, r.min, r.max)
  end
  if not pw:find(r.allowed) then
    return refuse("forbidden", user, r.forbidden)
  end
  local missing = {}
  for _, need in ipairs(r.needs) do
    if not pw:find(need[1]) then missing[#missing + 1] = need[2] end
  end
  if #missing > 0 then
    return refuse("missing", user, table.concat(missing, ", "))
  end
  if holds(pw, user) or holds(pw, context.sld) or holds(pw, context.uid) then
    return refuse("contains", user)
  end
end

return _M
