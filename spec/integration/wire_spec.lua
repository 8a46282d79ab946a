-- What the encoder writes is what nginx's own decoder reads, byte for
-- byte, by GET and by POST: an independent check of enom.encode.
local H = require "helper"
local enom = require "enom"
local core = require "enom.core"

local ALL = {}
for b = 1, 255 do
    ALL[#ALL + 1] = string.char(b)
end
ALL = table.concat(ALL)

local ATTEMPTS = {
    "x&IsAdmin1=1", "a=b", "50%", "%41", "a+b", "#frag", "?q=1", "sp ace", "tab\t",
    "Zoë Ó Briain 王", "&&==", "%", "+", "%%2", "\xff\xfe",
}

local function echo(method, params, groups)
    local c = core.client { cainfo = H.CA }
    local body = enom.encode(params, groups)
    local req = { url = H.HTTPS_BASE .. "/test/echo" }
    if method == "POST" then
        req.body = body
    else
        req.url = req.url .. "?" .. body
    end
    local res = assert(c:request(req))
    c:close()
    assert.equal(200, res.status)
    local got = H.json.decode(res.body)
    assert.equal(method, got.method)
    return got.args
end

describe("encode on the wire", function()
    for _, method in ipairs { "GET", "POST" } do
        it("every byte 0x01-0xFF arrives as it was, by " .. method, function()
            local args = echo(method, { v = ALL, ["k y&="] = ALL })
            assert.equal(ALL, args.v)
            assert.equal(ALL, args["k y&="])
        end)

        it("no value adds or changes a parameter, by " .. method, function()
            local params = {}
            for i, v in ipairs(ATTEMPTS) do
                params["p" .. i] = v
            end
            local args = echo(method, params, { {
                name = "users", fields = { { "username", "UserName" }, { "password", "Password" }, { "admin", "IsAdmin" } },
                records = { { username = "ann", password = "x&IsAdmin1=1", admin = false } },
            } })
            local n = 0
            for _ in pairs(args) do n = n + 1 end
            assert.equal(#ATTEMPTS + 3, n)
            for i, v in ipairs(ATTEMPTS) do
                assert.equal(v, args["p" .. i])
            end
            assert.equal("x&IsAdmin1=1", args.Password1)
            assert.equal("0", args.IsAdmin1)
        end)
    end
end)
