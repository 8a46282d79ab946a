-- The journal of intents in files: written before acting, struck off
-- after, replayed to list what is open, private, and never lost to a line
-- cut short by a crash.
local journal = require "enom.journal"
local core = require "enom.core"

local function tmpdir()
    local p = os.tmpname()
    os.remove(p)
    return p
end

local KEY = "enom:resellid:example.com"

describe("journal (file store)", function()
    local dir
    before_each(function() dir = tmpdir() end)
    after_each(function() os.execute("rm -rf " .. dir) end)

    it("keeps an intent until it is struck off, and lists the open ones oldest first", function()
        local j = journal.new(journal.file_store(dir))
        local a = assert(j:open(KEY, { kind = "purchase", domain = "example.com", qty = 1, opened = 100 }, nil, true))
        local b = assert(j:open(KEY, { kind = "create", domain = "example.com", opened = 200,
            users = { { username = "ann", password = "Pw-Kept-123", generated = true } } }))
        local list = assert(j:entries(KEY))
        assert.equal(2, #list)
        assert.equal(a, list[1].id)
        assert.equal("Pw-Kept-123", list[2].users[1].password)
        assert.same({ KEY }, assert(j:keys()))
        assert(j:close(KEY, a))
        list = assert(j:entries(KEY))
        assert.equal(1, #list)
        assert.equal(b, list[1].id)
        -- Updated in place: the last write of an entry stands.
        list[1].users = {}
        assert(j:update(KEY, list[1]))
        assert.same({}, assert(j:entries(KEY))[1].users)
        assert(j:close(KEY, b))
        assert.same({}, assert(j:entries(KEY)))
        assert(j:compact(KEY))
        assert.same({}, assert(j:keys()))
    end)

    it("is a file of mode 0600 in a folder of mode 0700, and is read only when it is private", function()
        local j = journal.new(journal.file_store(dir))
        assert(j:open(KEY, { kind = "purchase", domain = "example.com", qty = 1 }))
        local names = assert(core.list_dir(dir))
        assert.equal(1, #names)
        local p = assert(io.popen("stat -c %a " .. dir .. " " .. dir .. "/" .. names[1]))
        local modes = p:read("a")
        p:close()
        assert.equal("700\n600\n", modes)
        os.execute("chmod 644 " .. dir .. "/" .. names[1])
        local list, err = j:entries(KEY)
        assert.is_nil(list)
        assert.equal("io", err.kind)
    end)

    it("reads past a last line cut short by a crash, and refuses damage elsewhere", function()
        local j = journal.new(journal.file_store(dir))
        local id = assert(j:open(KEY, { kind = "purchase", domain = "example.com", qty = 2 }))
        local path = dir .. "/" .. assert(core.list_dir(dir))[1]
        assert(core.append_private(path, '{"op":"put","entry":{"id":"x'))
        local list = assert(j:entries(KEY))
        assert.equal(1, #list)
        assert.equal(id, list[1].id)
        assert(core.append_private(path, '\n{"op":"del","id":"' .. id .. '"}\n'))
        local bad, err = j:entries(KEY)
        assert.is_nil(bad)
        assert.truthy(err.message:find("damaged at line 2", 1, true), err.message)
    end)

    it("writes nothing for a lease that is lost", function()
        local j = journal.new(journal.file_store(dir))
        local lost = { token = 7, check = function() return nil, { kind = "lost", message = "gone" } end }
        local id, err = j:open(KEY, { kind = "purchase", domain = "example.com", qty = 1 }, lost)
        assert.is_nil(id)
        assert.equal("lost", err.kind)
        assert.same({}, assert(j:entries(KEY)))
    end)
end)
