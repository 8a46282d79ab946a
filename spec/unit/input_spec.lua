-- enom.provision.input without a sandbox: CSV and JSON lines read one
-- record at a time, records grouped into desired state by domain, and
-- what a record leaves empty left as it is.
local input = require "enom.provision.input"

local function file(text)
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    return path
end

local function all(next_fn)
    local out = {}
    while true do
        local v, err = next_fn()
        if v == nil then
            return out, err
        end
        out[#out + 1] = v
    end
end

describe("input", function()
    it("reads CSV one record at a time: a byte-order mark, quoted commas and line breaks, blank lines", function()
        local path = file('\239\187\191domain,username,display_name\r\na.com,ann,"Lee, Ann"\r\n\r\n'
            .. 'a.com,bob,"Bob\nRay"\nb.com,cy,Cy\n')
        local recs, err = all(assert(input.csv_records(path)))
        os.remove(path)
        assert.is_nil(err)
        assert.equal(3, #recs)
        assert.equal("Lee, Ann", recs[1].display_name)
        assert.equal("Bob\nRay", recs[2].display_name)
        assert.equal("b.com", recs[3].domain)
    end)

    it("names the line of a CSV or JSON lines record it cannot read", function()
        local path = file('domain,username\na.com,"ann\n')
        local _, err = all(assert(input.csv_records(path)))
        os.remove(path)
        assert.equal("CSV line 2: unterminated quoted field", err)
        path = file('{"domain":"a.com","username":"ann"}\n[1,2]\n')
        _, err = all(assert(input.jsonl_records(path)))
        os.remove(path)
        assert.equal("JSON line 2: not an object", err)
        assert.is_nil(input.csv_records("/nonexistent/enom.csv"))
    end)

    it("groups consecutive records by domain, and refuses a domain that comes back", function()
        local recs = {
            { domain = "A.com", username = "ann" }, { domain = "a.com", username = "bob" },
            { domain = "b.com", username = "cy" }, { domain = "a.com", username = "di" },
        }
        local i = 0
        local entries, err = all(input.desired(function() i = i + 1; return recs[i] end))
        assert.equal(2, #entries)
        assert.equal("a.com", entries[1].domain)
        assert.equal(2, #entries[1].mailboxes)
        assert.equal("record 4: a.com comes again after other domains: a domain's records must come together "
            .. "(sort the file by domain)", err)
    end)

    it("takes --domain for every record, and names a record without one", function()
        local recs = { { username = "ann" }, { username = "bob" } }
        local i = 0
        local entries = all(input.desired(function() i = i + 1; return recs[i] end, { domain = "x.com" }))
        assert.equal(1, #entries)
        assert.equal("x.com", entries[1].domain)
        i = 0
        local _, err = all(input.desired(function() i = i + 1; return recs[i] end))
        assert.truthy(err:find("record 1 has no domain", 1, true), err)
    end)

    it("leaves the admin flag as it is when the record leaves it empty", function()
        local m = assert(input.mailboxes({
            { username = "ann" }, { username = "bob", admin = "yes" }, { username = "cy", admin = "no" },
            { username = "di", admin = "" },
        }, "x.com"))
        assert.is_nil(m[1].admin)
        assert.is_true(m[2].admin)
        assert.is_false(m[3].admin)
        assert.is_nil(m[4].admin)
        -- People: a role decides; no role leaves the flag alone.
        local p = assert(input.mailboxes({
            { first = "Ann", last = "Lee", role = "admin" }, { first = "Bob", last = "Ray", role = "staff" },
            { first = "Cy", last = "Oh" },
        }, "x.com"))
        assert.is_true(p[1].admin)
        assert.is_false(p[2].admin)
        assert.is_nil(p[3].admin)
    end)

    it("reads forward_to and keep_copy columns", function()
        local m = assert(input.mailboxes({
            { username = "ann", forward_to = "ann@example.net", keep_copy = "no" }, { username = "bob", forward_to = "" },
        }, "x.com"))
        assert.equal("ann@example.net", m[1].forward_to)
        assert.is_false(m[1].keep_copy)
        assert.is_nil(m[2].forward_to)
        assert.is_nil(m[2].keep_copy)
    end)
end)
