-- enom.encode: form/query encoding, indexed groups, argument errors.
local enom = require "enom"
local encode = enom.encode

-- Decode a form string independently of the encoder (plain Lua).
local function decode(s)
    local out = {}
    for pair in s:gmatch("[^&]+") do
        local k, v = pair:match("^([^=]*)=(.*)$")
        local function unesc(x)
            x = x:gsub("+", " ")
            return (x:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
        end
        out[#out + 1] = { unesc(k), unesc(v) }
    end
    return out
end

local USER_FIELDS = {
    { "username", "UserName" }, { "password", "Password" },
    { "admin", "IsAdmin" }, { "display_name", "DisplayName" },
}

describe("enom.encode", function()
    it("encodes every byte outside the unreserved set", function()
        local all = {}
        for b = 1, 255 do
            all[#all + 1] = string.char(b)
        end
        all = table.concat(all)
        local s = encode { v = all }
        assert.is_nil(s:find("[^%w%%+%-._~=]"))
        local d = decode(s)
        assert.equal(1, #d)
        assert.equal("v", d[1][1])
        assert.equal(all, d[1][2])
    end)

    it("keeps an injection attempt inside one value", function()
        local s = encode({ command = "SetUpPOP3User" }, { {
            name = "users", fields = USER_FIELDS,
            records = { { username = "ann", password = "x&IsAdmin1=1", admin = false } },
        } })
        local d = decode(s)
        local seen = {}
        for _, kv in ipairs(d) do
            assert.is_nil(seen[kv[1]], "parameter repeated: " .. kv[1])
            seen[kv[1]] = kv[2]
        end
        assert.equal("x&IsAdmin1=1", seen.Password1)
        assert.equal("0", seen.IsAdmin1)
        assert.equal(4, #d)
    end)

    it("encodes space as + and the rest as upper-case %XX", function()
        assert.equal("a=b+c%26d%3De%25f%23g%3Fh%2Bi", encode { a = "b c&d=e%f#g?h+i" })
        assert.equal("u=%C3%A9", encode { u = "é" })
    end)

    it("prints integers as integers and booleans as 1/0", function()
        assert.equal("a=5134&b=5134&c=1.5&d=1&e=0&f=-3", encode { a = 5134, b = 5134.0, c = 1.5, d = true, e = false, f = -3 })
    end)

    it("gives the same bytes for the same input", function()
        local t = {}
        for i = 1, 50 do
            t["k" .. i] = "v" .. i
        end
        local first = encode(t)
        for _ = 1, 20 do
            local copy = {}
            for k, v in pairs(t) do
                copy[k] = v
            end
            assert.equal(first, encode(copy))
        end
    end)

    it("turns arrays into indexed parameters", function()
        assert.equal("UserName1=a&UserName2=b", encode { UserName = { "a", "b" } })
    end)

    it("maps records onto indexed groups, skipping absent optional fields", function()
        local s = encode({ BundleID = 5134 }, { {
            name = "users", fields = USER_FIELDS,
            records = {
                { username = "james", password = "p1", display_name = "James Doe" },
                { username = "ann", password = "p2", admin = true },
            },
        } })
        assert.equal("BundleID=5134&UserName1=james&Password1=p1&DisplayName1=James+Doe"
            .. "&UserName2=ann&Password2=p2&IsAdmin2=1", s)
    end)

    it("raises on NaN, infinity, functions and holes, naming the key", function()
        local cases = {
            { { BundleID = 0 / 0 }, "BundleID: NaN" },
            { { Quantity = math.huge }, "Quantity: infinity" },
            { { f = print }, "f: function" },
            { { t = { 1, nil, 3 } }, "t%[2%]: hole" },
            { { t = { 1, x = 2 } }, "t: array has a key" },
            { { [1] = "x" }, "names must be strings" },
            { { [""] = "x" }, "empty parameter name" },
        }
        for _, c in ipairs(cases) do
            local ok, msg = pcall(encode, c[1])
            assert.is_false(ok)
            assert.truthy(tostring(msg):find(c[2]), tostring(msg))
        end
    end)

    it("names the record and field of a bad group value, without the value", function()
        local ok, msg = pcall(encode, {}, { {
            name = "users", fields = USER_FIELDS,
            records = { { username = "a", password = "p" }, { username = "b", password = 0 / 0 } },
        } })
        assert.is_false(ok)
        assert.truthy(msg:find("users%[2%]%.password"), msg)
        local ok2, msg2 = pcall(encode, {}, { {
            name = "users", fields = USER_FIELDS, records = { { username = "a" }, nil, { username = "c" } },
        } })
        assert.is_false(ok2)
        assert.truthy(msg2:find("users"), msg2)
    end)

    it("rejects non-table arguments", function()
        assert.has_error(function() encode("a=b") end)
        assert.has_error(function() encode({}, "x") end)
    end)

    it("encodes an empty table as an empty string", function()
        assert.equal("", encode {})
    end)
end)

describe("enom.encode with code in metatables", function()
    -- Long names are separate string objects (not interned): once the
    -- fields table lets go of them, a collection frees them.
    local function long(s)
        return s .. string.rep("_", 60) .. tostring(math.random(1e9))
    end

    it("keeps a group's field names alive while a record's __index empties the fields and collects", function()
        local key1, key2 = long("key"), long("other")
        local name1, name2 = long("Name"), long("Other")
        local fields = { { key1, name1 }, { key2, name2 } }
        key1, key2, name1, name2 = nil, nil, nil, nil -- luacheck: ignore
        local mt = { __index = function()
            for i = #fields, 1, -1 do
                fields[i] = nil
            end
            collectgarbage()
            collectgarbage()
            return "v"
        end }
        local records = {}
        for i = 1, 3 do
            records[i] = setmetatable({}, mt)
        end
        local s = encode({}, { { name = "g", fields = fields, records = records } })
        local d = decode(s)
        assert.equal(6, #d)
        for _, kv in ipairs(d) do
            assert.equal("v", kv[2])
            assert.truthy(kv[1]:find("^Name_+%d+%d$") or kv[1]:find("^Other_+%d+%d$"), kv[1])
        end
    end)

    it("survives __index and __pairs on every table it is given", function()
        local calls = 0
        local function noisy(t)
            return setmetatable(t, {
                __index = function(_, k)
                    calls = calls + 1
                    collectgarbage()
                    return k == "username" and "ann" or nil
                end,
                __pairs = function() error("__pairs must not be used") end,
            })
        end
        local s = encode(noisy { a = "1", b = noisy { "x", "y" } }, noisy { noisy {
            name = "users", fields = noisy { noisy { "username", "UserName" } }, records = noisy { noisy {} },
        } })
        assert.equal("a=1&b1=x&b2=y&UserName1=ann", s)
        assert.truthy(calls > 0)
    end)

    it("refuses an array X next to a parameter X1 it would collide with", function()
        local ok, msg = pcall(encode, { X = { "a", "b" }, X2 = "c" })
        assert.is_false(ok)
        assert.truthy(tostring(msg):find("X2 is given twice", 1, true), msg)
    end)
end)
