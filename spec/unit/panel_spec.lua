-- The panel's parts that need no nginx (examples/panel/panel/): HTML
-- escaping and templates, the typed-password check by eNom's POP rule,
-- and owner accounts (PBKDF2 hashes, the file, the domain check). The
-- pages themselves run in a real browser: spec/browser/.
package.path = "examples/panel/?.lua;" .. package.path

local html = require "panel.html"
local passwords = require "panel.passwords"
local owners = require "panel.owners"
local kdf = require "panel.kdf"

describe("panel", function()
    describe("html", function()
        it("escapes every character that could end an element or an attribute", function()
            assert.equal("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;",
                html.escape("<script>alert('x')</script> & \"q\""))
            assert.equal("12", html.escape(12))
        end)

        it("renders values escaped, lists, sections and inverted sections; raw only with &", function()
            local t = html.compile(table.concat {
                "<h1>{{title}}</h1>{{#items}}<li class=\"{{kind}}\">{{name}}@{{domain}}</li>{{/items}}",
                "{{^items}}<p>none</p>{{/items}}{{#flag}}F{{/flag}}{{&body}}",
            }, "t")
            local out = t { title = "<b>", domain = "x.com", flag = true, body = "<i>ok</i>",
                items = { { name = "a<b", kind = '"k"' }, { name = "c" } } }
            assert.equal('<h1>&lt;b&gt;</h1><li class="&quot;k&quot;">a&lt;b@x.com</li><li class="">c@x.com</li>'
                .. "F<i>ok</i>", out)
            assert.equal("<h1></h1><p>none</p>", t { items = {} })
        end)

        it("refuses a malformed template", function()
            assert.has_error(function() html.compile("{{#a}}x", "t") end)
            assert.has_error(function() html.compile("{{/a}}", "t") end)
            assert.has_error(function() html.compile("{{a b}}", "t") end)
            assert.has_error(function() html.compile("{{a", "t") end)
        end)
    end)

    describe("passwords", function()
        local CONF = { uid = "resellid" }
        it("checks a typed password by eNom's rule for the mailboxes, saying what is wrong", function()
            assert.is_nil(passwords.check(CONF, "Typed4-Pass", "yan", "example", "com"))
            assert.truthy(passwords.check(CONF, "Ab1de-", "yan", "example", "com"):find("10 to 20 characters", 1, true))
            assert.truthy(passwords.check(CONF, "abcdefgh12", "yan", "example", "com")
                :find("needs at least one upper-case letter", 1, true))
            assert.truthy(passwords.check(CONF, "Abc def 12x", "yan", "example", "com")
                :find("does not allow", 1, true))
            assert.truthy(passwords.check(CONF, "Yan-Pass-123", "yan", "example", "com"), "holds the user name")
            assert.truthy(passwords.check(CONF, nil, "yan", "example", "com"))
            -- The settings may name the M2W rule.
            assert.is_nil(passwords.check({ password_rule = "pop_m2w" }, "Abcdef1", "yan", "example", "com"))
        end)

        it("generates passwords the check accepts, each one new", function()
            local seen = {}
            for _ = 1, 200 do
                local p = passwords.generate(CONF, "yan", "example", "com")
                assert.is_nil(passwords.check(CONF, p, "yan", "example", "com"), p)
                assert.is_nil(seen[p])
                seen[p] = true
            end
        end)
    end)

    describe("owners", function()
        it("hashes with a random salt and 600,000 PBKDF2-SHA256 rounds, and verifies", function()
            local h1 = owners.hash("Owner-Pass-123", kdf.pbkdf2)
            local h2 = owners.hash("Owner-Pass-123", kdf.pbkdf2)
            assert.truthy(h1:find("^pbkdf2%-sha256%$600000%$%x+%$%x+$"), h1)
            assert.not_equal(h1, h2)
            assert.is_true(owners.verify(h1, "Owner-Pass-123", kdf.pbkdf2))
            assert.is_false(owners.verify(h1, "Owner-Pass-124", kdf.pbkdf2))
            assert.is_nil(owners.verify("plain", "x", kdf.pbkdf2))
            assert.is_nil(h1:find("Owner-Pass", 1, true))
        end)

        it("matches RFC 7914's PBKDF2-HMAC-SHA256 test vector", function()
            local key = kdf.pbkdf2("passwd", "salt", 1)
            local hex = key:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
            assert.equal("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc", hex)
        end)

        it("keeps an owner to their own domains, in any case", function()
            local o = { domains = { "shop01.com", "example.org" } }
            assert.equal("shop01.com", owners.owns(o, "SHOP01.com"))
            assert.is_nil(owners.owns(o, "shop02.com"))
            assert.is_nil(owners.owns(o, "shop01.com.evil"))
            assert.is_nil(owners.owns(o, nil))
        end)

        it("writes the file whole with mode 0600 and reads back what it wrote; refuses a bad one", function()
            local path = os.tmpname()
            local list = { ann = { hash = owners.hash("Owner-Pass-123", kdf.pbkdf2), domains = { "shop01.com" },
                buy_paks = true, max_paks_per_run = 2, max_spend = 12 } }
            assert.truthy(owners.save(path, list))
            local p = io.popen("stat -c %a " .. path)
            assert.equal("600", p:read("l"))
            p:close()
            local back = assert(owners.load(path))
            assert.same({ "shop01.com" }, back.ann.domains)
            assert.is_true(back.ann.buy_paks)
            assert.equal(2, back.ann.max_paks_per_run)
            local f = io.open(path, "w")
            f:write('{"owners":{"Bad Name":{"hash":"x","domains":["a.com"]}}}')
            f:close()
            local none, why = owners.load(path)
            assert.is_nil(none)
            assert.truthy(why:find("owner name", 1, true))
            os.remove(path)
        end)
    end)

    describe("session", function()
        -- nginx's API as session.lua uses it, with a clock the spec moves.
        local saved, now, dict, cookies, headers
        before_each(function()
            saved = rawget(_G, "ngx")
            now, dict, cookies, headers = 1000, {}, nil, {}
            rawset(_G, "ngx", {
                time = function() return now end,
                sha1_bin = function(s) return "d" .. s end,
                hmac_sha1 = function(k, s) return k .. "|" .. s end,
                var = setmetatable({}, { __index = function(_, k)
                    if k == "http_cookie" then return cookies end
                end }),
                header = headers,
                shared = { panel_sessions = {
                    set = function(_, k, v) dict[k] = v return true end,
                    get = function(_, k) return dict[k] end,
                    delete = function(_, k) dict[k] = nil end,
                } },
            })
            package.loaded["panel.session"] = nil
        end)
        after_each(function()
            rawset(_G, "ngx", saved)
            package.loaded["panel.session"] = nil
        end)

        -- The browser's next request: the cookies the last answer set.
        local function follow()
            local jar = {}
            for _, c in ipairs(headers["Set-Cookie"] or {}) do
                local k, v = c:match("^([^=]+)=([^;]*)")
                if v ~= "" then jar[#jar + 1] = k .. "=" .. v end
            end
            cookies = table.concat(jar, "; ")
            headers["Set-Cookie"] = nil
        end

        it("ends a session after the idle and the absolute time-out, and makes a new id at each login", function()
            local session = require "panel.session"
            session.init { idle_timeout = 900, absolute_timeout = 3600, secure_cookies = true }
            local s = assert(session.start("ann"))
            local set = table.concat(headers["Set-Cookie"], "\n")
            assert.truthy(set:find("__Host-panel=" .. s.id .. "; Path=/; HttpOnly; SameSite=Strict; Secure", 1, true), set)
            follow()
            now = now + 899
            assert.equal("ann", session.current().owner)
            now = now + 899                      -- each request moves the idle deadline
            assert.equal("ann", session.current().owner)
            now = now + 900
            local none, why = session.current()
            assert.is_nil(none)
            assert.equal("idle", why)
            -- A new login: a new id, the old one gone from the dict.
            local s2 = assert(session.start("ann"))
            assert.not_equal(s.id, s2.id)
            follow()
            for _ = 1, 5 do
                now = now + 700
                assert.truthy(session.current())
            end
            now = now + 200                      -- 3700 s after the login
            none, why = session.current()
            assert.is_nil(none)
            assert.equal("absolute", why)
            assert.is_nil(next(dict))
        end)

        it("checks the synchronizer token and the signed pre-login token in constant time", function()
            local session = require "panel.session"
            session.init { secure_cookies = false }
            local token = session.login_token()
            follow()
            assert.is_true(session.login_token_ok(token))
            local flipped = token:sub(1, -2) .. (token:sub(-1) == "0" and "1" or "0")
            assert.is_false(session.login_token_ok(flipped))
            assert.is_false(session.login_token_ok(nil))
            cookies = nil
            assert.is_false(session.login_token_ok(token))
            local s = assert(session.start("ann"))
            assert.is_true(session.csrf_ok(s, s.csrf))
            assert.is_false(session.csrf_ok(s, ("0"):rep(64)))
            assert.is_false(session.csrf_ok(s, nil))
        end)
    end)
end)
