-- Where the enom command finds its account: the config format, and a
-- file read by the core only when its owner alone may read it.
local config = require "enom.cli.config"

local function tmpdir()
    local p = os.tmpname()
    os.remove(p)
    assert(os.execute("mkdir -m 700 " .. p))
    return p
end

local function write(path, text, mode)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
    assert(os.execute("chmod " .. mode .. " " .. path))
end

describe("config", function()
    it("takes the account's rate limit, and reads rates as the command line writes them", function()
        local p = assert(config.parse("rate_limit = 20/s\nrate_limit_backend = redis\n"))
        assert.same({ rate_limit = "20/s", rate_limit_backend = "redis" }, p.default)
        local context = require "enom.cli.context"
        assert.equal(20, context.rate("20", "--rate-limit"))
        assert.equal(20, context.rate("20/s", "--rate-limit"))
        assert.equal(10, context.rate("600/min", "--rate-limit"))
        local no, why = context.rate("5/h", "--rate-limit")
        assert.is_nil(no)
        assert.matches("^%-%-rate%-limit must be requests per second", why)
        assert.is_nil(context.rate("0", "rate_limit"))
    end)

    it("parses profiles, comments and quoted values", function()
        local p = assert(config.parse("uid = a\npw = 'x # y'  \n# c\n[shop]\nuid=b # note\n"))
        assert.same({ uid = "a", pw = "x # y" }, p.default)
        assert.same({ uid = "b" }, p.shop)
        local bad, why = config.parse("nonsense\n")
        assert.is_nil(bad)
        assert.truthy(why:find("line 1", 1, true))
        bad, why = config.parse("password = x\n")
        assert.is_nil(bad)
        assert.truthy(why:find("unknown key", 1, true))
    end)

    it("reads a 0600 file, refuses others naming who may read it", function()
        local dir = tmpdir()
        local path = dir .. "/config"
        write(path, "uid = a\npw = b\n", "600")
        assert.equal("a", assert(config.read(path)).default.uid)
        write(path, "uid = a\npw = b\n", "640")
        local p, err = config.read(path)
        assert.is_nil(p)
        assert.truthy(err:find("mode 640: its group may read or write it", 1, true), err)
        write(path, "uid = a\npw = b\n", "604")
        err = select(2, config.read(path))
        assert.truthy(err:find("others may read", 1, true), err)
        assert.is_nil(config.read(dir .. "/absent"))
        p, err = config.read(dir .. "/absent", true)
        assert.is_nil(p)
        assert.truthy(err:find("does not exist", 1, true), err)
        err = select(2, config.read(dir, true))
        assert.truthy(err:find("not a regular file", 1, true), err)
        os.execute("rm -rf " .. dir)
    end)
end)
