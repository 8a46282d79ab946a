-- The report of a run: records kept and written as JSON lines, a progress
-- callback that raises loses nothing, totals, and text safe for a terminal.
local report = require "enom.provision.report"
local json = require "enom.json"

local function tmpfile()
    local p = os.tmpname()
    os.remove(p)
    return p
end

local STATS = { requests = { GETPOP3 = 1 }, sent = 1, retries = 0, reconciles = 0, peak = 1, notes = {} }

describe("report", function()
    it("keeps every record, writes JSON lines and a summary, and is ok only when all is right", function()
        local path = tmpfile()
        local r = assert(report.new(path))
        assert(r:mailbox("example.com", "ann", "create", "created", nil, 1))
        assert(r:mailbox("example.com", "bob", "keep", "already_present", nil, 0))
        assert(r:event("example.com", "paks", "bought", "1", 1))
        r:finish(STATS, { paks = 1, in_doubt = 0 })
        assert.is_true(r.ok)
        assert.same({ created = 1, already_present = 1 }, r.counts)
        local lines = {}
        for l in io.lines(path) do lines[#lines + 1] = json.decode(l) end
        assert.equal(4, #lines)
        assert.equal("summary", lines[4].type)
        assert.equal(1, lines[4].paks_bought)
        os.remove(path)
    end)

    it("is not ok with a shortfall, a purchase in doubt or a domain it could not read", function()
        local r = assert(report.new())
        r:mailbox("example.com", "ann", "create", "blocked", "no free slot", 0)
        r:finish(STATS, { paks = 0, in_doubt = 0 })
        assert.is_false(r.ok)
        r = assert(report.new())
        r:finish(STATS, { paks = 0, in_doubt = 1 })
        assert.is_false(r.ok)
        r = assert(report.new())
        r:could_not_read("example.com", { kind = "transport", message = "down" })
        r:finish(STATS, { paks = 0, in_doubt = 0 })
        assert.is_false(r.ok)
        assert.equal("transport", r.unreachable[1].error.kind)
    end)

    it("hands each record to progress; what it raises comes back once and nothing is lost", function()
        local seen = 0
        local r = assert(report.new(nil, function()
            seen = seen + 1
            error("callback broke", 0)
        end))
        local ok, err = r:mailbox("example.com", "ann", "create", "created", nil, 1)
        assert.is_nil(ok)
        assert.equal("callback broke", err)
        assert.is_true((r:mailbox("example.com", "bob", "create", "created", nil, 1)))
        assert.equal(1, seen, "a callback that raised is not called again")
        assert.equal(2, #r.mailboxes)
    end)

    it("formats for a terminal through `shown`, and names why it stopped", function()
        local r = assert(report.new())
        r:mailbox("example.com", "a\27[31m", "create", "failed", "bad\7", 1)
        r:finish(STATS, { paks = 0, in_doubt = 0 }, "stopped by Ctrl-C", nil)
        local text = r:format(function(s) return (tostring(s):gsub("%c", "?")) end)
        assert.falsy(text:find("\27", 1, true))
        assert.truthy(text:find("STOPPED: stopped by Ctrl-C", 1, true))
        assert.truthy(tostring(r):find("stopped", 1, true))
    end)

    it("gives one line for a failure: eNom's texts, else the message", function()
        assert.equal("a; b", report.reason { errors = { "a", "b" }, message = "x" })
        assert.equal("x", report.reason { message = "x" })
        assert.equal("plain", report.reason "plain")
    end)
end)
