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

    it("goes as soon as its last intent is struck off under the lease, so a long run's log stays short", function()
        local j = journal.new(journal.file_store(dir))
        local held = { token = 3, check = function() return true end }
        assert.same({}, assert(j:entries(KEY, held)))  -- the run's first read
        local size = 0
        for i = 1, 3000 do  -- more than 1 MiB of lines if the log were kept
            local id = assert(j:open(KEY, { kind = "create", domain = "example.com",
                users = { { username = "user" .. i, password = "Pw-Kept-" .. i, generated = true } },
                note = ("x"):rep(300) }, held))
            local names = assert(core.list_dir(dir))
            local f = io.open(dir .. "/" .. names[1], "rb")
            size = math.max(size, f:seek("end"))
            f:close()
            assert(j:close(KEY, id, held))
        end
        assert.same({}, assert(core.list_dir(dir)))
        assert.is_true(size < 4096, "log grew to " .. size .. " bytes")
        -- An intent left open keeps the log, and what is open stays listed.
        local a = assert(j:open(KEY, { kind = "purchase", domain = "example.com", qty = 1 }, held))
        local b = assert(j:open(KEY, { kind = "purchase", domain = "example.com", qty = 2 }, held))
        assert(j:close(KEY, b, held))
        local list = assert(j:entries(KEY))
        assert.equal(1, #list)
        assert.equal(a, list[1].id)
    end)

    it("keeps a log another writer added to, even when this process closed all it knew of", function()
        local mine = journal.new(journal.file_store(dir))
        local other = journal.new(journal.file_store(dir))
        local held = { token = 3, check = function() return true end }
        assert.same({}, assert(mine:entries(KEY)))
        local theirs = assert(other:open(KEY, { kind = "purchase", domain = "example.com", qty = 1 }, held))
        local id = assert(mine:open(KEY, { kind = "purchase", domain = "example.com", qty = 1 }, held))
        assert(mine:close(KEY, id, held))
        local list = assert(mine:entries(KEY))
        assert.equal(1, #list)
        assert.equal(theirs, list[1].id)
    end)

    it("reads a log larger than a config file may be", function()
        local j = journal.new(journal.file_store(dir))
        assert(j:open(KEY, { kind = "purchase", domain = "example.com", qty = 1 }))
        local path = dir .. "/" .. assert(core.list_dir(dir))[1]
        local line = '{"op":"put","entry":{"id":"old","kind":"note","pad":"' .. ("y"):rep(1000) .. '"}}\n'
        local del = '{"op":"del","id":"old"}\n'
        assert(core.append_private(path, (line .. del):rep(1200)))
        local list = assert(j:entries(KEY))
        assert.equal(1, #list)
        local text, err, reason = core.read_private(path)
        assert.is_nil(text)
        assert.equal("size", reason)
        assert.truthy(err:find("larger than 1048576 bytes", 1, true), err)
        assert.error_matches(function() core.read_private(path, -1) end, "must be from 0 to 1 GiB")
    end)
end)
