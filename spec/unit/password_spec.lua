-- enom.password: eNom's mailbox password rules, checked and generated.
--
-- The generated passwords are checked by rule checkers written here from
-- eNom's published text, with their own patterns, not the module's
-- tables: a rule the module gets wrong fails here.
local password = require "enom.password"

local find, lower = string.find, string.lower

-- The independent checkers read many passwords at once: one per line of
-- a text that starts and ends with a line break, so that each pattern
-- scans every password in one call.
local function lines(pws)
    return "\n" .. table.concat(pws, "\n") .. "\n"
end

-- Has every line of `text` a character of `set` (a pattern set)?
local function every_line_has(text, set)
    return not find(text, "\n[^\n" .. set:sub(2, -2) .. "]*\n")
end

-- eNom KB 1691 (M2W): 6-30 characters, an upper-case letter, a
-- lower-case letter, a digit, no special characters.
local function m2w_ok(text)
    return not find(text, "[^A-Za-z0-9\n]") and every_line_has(text, "[A-Z]") and every_line_has(text, "[a-z]")
        and every_line_has(text, "[0-9]")
end

-- eNom support article 201000065374 (Basic email): 10-20 characters, no
-- spaces, an upper-case letter, a digit and one of * @ - _ / .
local function basic_ok(text)
    return not find(text, "[^A-Za-z0-9*@_/.\n-]") and not find(text, " ", 1, true)
        and every_line_has(text, "[A-Z]") and every_line_has(text, "[0-9]") and every_line_has(text, "[*@_/.-]")
end

local CONTEXT = { username = "kim", sld = "zed", tld = "io", uid = "acme7" }

-- Never the user name, the domain, its SLD or the account id, case ignored
-- (a line break between two passwords cannot join a match).
local function clean_of(text, ctx)
    local l = lower(text)
    for _, v in ipairs { ctx.username, ctx.sld, ctx.uid, ctx.sld .. "." .. ctx.tld } do
        if find(l, lower(v), 1, true) then
            return false
        end
    end
    return true
end

local INDEPENDENT = { pop_m2w = m2w_ok, email_basic = basic_ok }

describe("enom.password", function()
    describe("100,000 generated passwords per rule", function()
        for name, checker in pairs(INDEPENDENT) do
            it("all pass an independent checker of " .. name .. " and avoid the context", function()
                -- 100 texts of 1,000: few live strings, so the collector
                -- does not walk 100,000 of them again and again.
                local failed = 0
                for _ = 1, 100 do
                    local pws, seen = {}, {}
                    for i = 1, 1000 do
                        local pw = password.generate(name, CONTEXT)
                        -- 16 characters of 62 or more: a repeat means a broken source
                        if #pw ~= 16 or seen[pw] then
                            failed = failed + 1
                        end
                        seen[pw] = true
                        pws[i] = pw
                    end
                    local text = lines(pws)
                    if not (checker(text) and clean_of(text, CONTEXT)) then
                        failed = failed + 1
                    end
                end
                assert.equal(0, failed)
                -- and the checker is no pushover: it refuses what the rule refuses
                local good = password.generate(name, CONTEXT)
                for _, bad in ipairs { "abcdefghij12", "ABCDEFGHIJ12", "Abcdefghijkl", "Abcdef ghij1*",
                    "Abcdefghi1!", "Abcdefghij1\0" } do
                    assert.is_false(checker(lines { good, bad }), bad)
                end
                assert.is_true(checker(lines { good }))
                assert.is_false(clean_of(lines { good, "xKim-Gull-42" }, CONTEXT))
            end)
        end

        it("draw every character of the alphabet equally often (no modulo bias)", function()
            -- 95 printable characters: 256 % 95 = 66, so taking a byte modulo
            -- 95 would make the first 66 characters half again as likely.
            local chars = {}
            for b = 0x20, 0x7e do
                chars[#chars + 1] = string.char(b)
            end
            local rule = { name = "printable", min = 16, max = 16, classes = { all = table.concat(chars) } }
            local count, total = {}, 0
            for b = 0x20, 0x7e do
                count[string.char(b)] = 0
            end
            for _ = 1, 10000 do
                local pw = password.generate(rule)
                for i = 1, #pw do
                    local c = pw:sub(i, i)
                    count[c] = count[c] + 1
                end
                total = total + #pw
            end
            local expected = total / #chars -- about 1,684; one standard deviation is about 41
            local lo, hi = math.huge, 0
            for _, c in ipairs(chars) do
                lo, hi = math.min(lo, count[c] or 0), math.max(hi, count[c] or 0)
            end
            assert.is_true(lo > expected * 0.85, "rarest character " .. lo .. " of " .. expected)
            assert.is_true(hi < expected * 1.15, "commonest character " .. hi .. " of " .. expected)
        end)
    end)

    describe("generate", function()
        it("takes a length within the rule's range", function()
            assert.equal(10, #password.generate("email_basic", nil, 10))
            assert.equal(20, #password.generate("email_basic", nil, 20))
            assert.equal(6, #password.generate("pop_m2w", nil, 6))
            for _, n in ipairs { 9, 21, 15.5, "16" } do
                assert.has_error(function() password.generate("email_basic", nil, n) end)
            end
        end)

        it("uses the default rule for nil and false", function()
            assert.equal("email_basic", password.DEFAULT_RULE)
            local pws = {}
            for i = 1, 100, 2 do
                pws[i], pws[i + 1] = password.generate(), password.generate(false)
            end
            assert.is_true(basic_ok(lines(pws)))
        end)

        it("keeps out a one-letter user name and a short SLD entirely", function()
            for _ = 1, 500 do
                local pw = password.generate("pop_m2w", { username = "a", sld = "q", tld = "io", uid = "z" })
                assert.is_nil(find(pw, "[AaQqZz]"), pw)
            end
        end)

        it("gives a password that differs from, and shares no root with, the others", function()
            local others = {}
            for _ = 1, 300 do
                local pw = password.generate("pop_m2w", { others = others })
                assert.is_nil(password.check(pw, "pop_m2w", { others = others }))
                others[#others + 1] = pw
            end
        end)

        it("raises when the context leaves nothing to draw", function()
            local rule = { name = "tiny", min = 4, max = 4, classes = { a = "ab" } }
            assert.has_error(function() password.generate(rule, { username = "a", uid = "b" }) end,
                "no password of rule tiny avoids what the context forbids")
        end)

        it("raises on an unknown rule or a broken table", function()
            assert.has_error(function() password.generate("pop3") end,
                "unknown password rule 'pop3' (known: email_basic, pop_m2w)")
            assert.has_error(function() password.generate({ min = 8 }) end)
        end)
    end)

    describe("check", function()
        -- The password given, the rule, the context, what the reason must say, its code.
        local cases = {
            { "Ab1-xyz", "email_basic", nil, "breaks rule email_basic: must be 10 to 20 characters", "length" },
            { "Ab1-xyz" .. ("q"):rep(14), "email_basic", nil, "must be 10 to 20 characters", "length" },
            { "Abcdefgh1-x y", "email_basic", nil, "does not allow (it allows upper-case letters, lower-case "
                .. "letters, digits and * @ - _ / .)", "alphabet" },
            { "Abcdefgh1!x", "email_basic", nil, "does not allow", "alphabet" },
            { "abcdefgh1-x", "email_basic", nil, "needs at least one upper-case letter", "class" },
            { "Abcdefghi-x", "email_basic", nil, "needs at least one digit", "class" },
            { "Abcdefgh1xy", "email_basic", nil, "needs at least one of * @ - _ / .", "class" },
            { "Abc1", "pop_m2w", nil, "breaks rule pop_m2w: must be 6 to 30 characters", "length" },
            { "Abc1-def", "pop_m2w", nil, "(it allows upper-case letters, lower-case letters and digits)", "alphabet" },
            { "ABC123", "pop_m2w", nil, "needs at least one lower-case letter", "class" },
            { "Xkim-Gull-42", "email_basic", { username = "KIM" }, "contains the user name (eNom e-mail error 48)",
                "contains" },
            { "Gull-Zed.io-42", "email_basic", { sld = "zed", tld = "io" }, "contains the domain name", "contains" },
            { "Gull-zed-42x", "email_basic", { sld = "zed", tld = "io" }, "contains the domain's SLD", "contains" },
            { "Acme7-Gull-42", "email_basic", { uid = "acme7" }, "contains the account id", "contains" },
            { "Gull-Tern-42", "email_basic", { others = { "Gull-Tern-42" } }, "is the same as another password",
                "same" },
            { "Potato45x", "pop_m2w", { others = { "potato67y" } }, "shares 5 characters in a row with another "
                .. "password (no shared root)", "root" },
            { "Me12345", "pop_m2w", { others = { "Pe12345" } }, "no shared root", "root" },
        }
        for i, case in ipairs(cases) do
            it("names the rule and the reason, never the password (" .. i .. ": " .. case[5] .. ")", function()
                local why, code = password.check(case[1], case[2], case[3])
                assert.is_string(why)
                assert.truthy(find(why, case[4], 1, true), why)
                assert.truthy(find(why, "^breaks rule " .. case[2] .. ": "), why)
                assert.equal(case[5], code)
                assert.is_nil(find(why, case[1], 1, true))
            end)
        end

        it("accepts what eNom's rules accept", function()
            assert.is_nil(password.check("Tern-Gull-42", "email_basic", CONTEXT))
            assert.is_nil(password.check("TernGull42", "pop_m2w", CONTEXT))
            assert.is_nil(password.check("Pass1w0rd", "pop_m2w")) -- the password in eNom's GetPOP3 sample
            -- short SLD and account id: checked from 3 characters
            assert.is_nil(password.check("Home-Gull-42", "email_basic", { sld = "me", uid = "ho" }))
            -- a root shorter than 5 is no root
            assert.is_nil(password.check("Gull7Abc", "pop_m2w", { others = { "Gull9Xyz" } }))
            -- Basic email does not look for roots
            assert.is_nil(password.check("Potato45x-A", "email_basic", { others = { "Potato67y-B" } }))
        end)

        it("says the two rules exclude each other", function()
            assert.truthy(password.check("Tern-Gull-42", "pop_m2w"))
            assert.truthy(password.check("TernGull42", "email_basic"))
        end)

        it("refuses a value that is not a string without raising", function()
            local why, code = password.check(12345678901, "email_basic")
            assert.truthy(find(why, "a password must be a string", 1, true))
            assert.equal("type", code)
        end)
    end)

    describe("rules", function()
        it("hold eNom's published values and their sources", function()
            local m2w, basic = password.rules.pop_m2w, password.rules.email_basic
            assert.same({ 6, 30 }, { m2w.min, m2w.max })
            assert.same({ 10, 20 }, { basic.min, basic.max })
            assert.equal("*@-_/.", basic.classes.symbol)
            assert.truthy(find(m2w.source, "KB 1691", 1, true))
            assert.truthy(find(basic.source, "201000065374", 1, true))
        end)

        it("takes a rule table of the caller's and names what is wrong with one", function()
            local custom = { name = "house", min = 12, max = 24, classes = { lower = "abcdefghijklmnopqrstuvwxyz",
                digit = "0123456789", symbol = "#+" }, required = { "digit", "symbol" } }
            assert.equal(custom, password.rule(custom))
            local pw = password.generate(custom)
            assert.equal(16, #pw)
            assert.truthy(find(pw, "^[a-z0-9#+]+$") and find(pw, "[0-9]") and find(pw, "[#+]"), pw)
            assert.truthy(find(password.check("abcdefghijk1", custom), "needs at least one of # +", 1, true))
            local broken = {
                { { min = 0, max = 8, classes = { a = "ab" } }, "min and max" },
                { { min = 8, max = 60, classes = { a = "ab" } }, "max <= 50" },
                { { min = 8, max = 9, length = 12, classes = { a = "ab" } }, "length" },
                { { min = 8, max = 9, classes = { a = "ab" }, required = { "b" } }, "required class 'b'" },
                { { min = 1, max = 9, classes = { a = "a", b = "b" }, required = { "a", "b" } },
                    "more required classes than min" },
                { { min = 8, max = 9, classes = { a = "ab" }, contains = { email = 1 } }, "contains takes" },
                { { min = 8, max = 9, classes = { a = "ab" }, root = 1 }, "root" },
                { { min = 8, max = 9, classes = { a = "ab" }, distinct = "yes" }, "distinct" },
                { { name = "a b", min = 8, max = 9, classes = { a = "ab" } }, "rule name" },
                { "m2w", "unknown password rule 'm2w'" },
                { 7, "a name or a table" },
            }
            for _, b in ipairs(broken) do
                local ok, why = password.rule(b[1])
                assert.is_nil(ok)
                assert.truthy(find(why, b[2], 1, true), why)
            end
        end)
    end)

    describe("describe", function()
        it("says each rule in words taken from the rule itself", function()
            assert.equal("10 to 20 characters: upper-case letters, lower-case letters, digits and * @ - _ / .; "
                .. "at least one upper-case letter, one digit and one of * @ - _ / .; not the user name or the "
                .. "domain name", password.describe("email_basic"))
            assert.equal("6 to 30 characters: upper-case letters, lower-case letters and digits; at least one "
                .. "upper-case letter, one lower-case letter and one digit; not the user name or the domain name",
                password.describe("pop_m2w"))
            assert.equal(password.describe(nil), password.describe(password.DEFAULT_RULE))
            assert.equal("8 to 8 characters: digits", password.describe { name = "pin", min = 8, max = 8,
                classes = { digit = "0123456789" } })
            assert.has_error(function() password.describe("nope") end)
        end)
    end)
end)
