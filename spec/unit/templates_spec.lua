-- User names and display names from people's records (passwords: password_spec).
local templates = require "enom.provision.templates"
local input = require "enom.provision.input"

describe("templates", function()
    it("builds user names: lower case, accents folded, invalid characters dropped", function()
        local u = templates.username
        assert.equal("zoe.obriain", u("{first}.{last}", { first = "Zoë", last = "Ó Briain" }))
        assert.equal("lukasz.zolc", u("{first}.{last}", { first = "Łukasz", last = "Żółć" }))
        assert.equal("oliver.oneill", u("{first}.{last}", { first = "Oliver", last = "O'Neill" }))
        assert.equal("bjork.gudmundsdottir", u("{first}.{last}", { first = "Björk", last = "Guðmundsdóttir" }))
        assert.equal("mary-jane.watson", u("{first}.{last}", { first = "Mary-Jane", last = "Watson" }))
        assert.equal(30, #u("{first}.{last}", { first = ("a"):rep(20), last = ("b"):rep(20) }))
        local none, why = u("{first}", { first = "王" })
        assert.is_nil(none)
        assert.truthy(why:find("no usable"))
        local missing, why2 = u("{first}.{nick}", { first = "a" })
        assert.is_nil(missing)
        assert.truthy(why2:find("nick"))
    end)

    it("names 8,000 people of one name in linear time: each clash is one step", function()
        -- Every name looked up is one step.
        local steps, store
        local function counting()
            steps, store = 0, {}
            return setmetatable({}, {
                __index = function(_, k) steps = steps + 1; return store[k] end,
                __newindex = function(_, k, v) store[k] = v end,
            })
        end
        local taken, next = counting(), {}
        for _ = 1, 8000 do templates.unique("ann.lee", taken, next) end
        assert.truthy(store["ann.lee8000"])
        assert.is_nil(store["ann.lee8001"])
        assert.truthy(steps <= 8000 * 2, steps)
        -- Without the caller's memory it counts up from 2 each time.
        taken = counting()
        for _ = 1, 200 do templates.unique("bob.ray", taken) end
        assert.truthy(steps > 200 * 50, steps)
    end)

    it("resolves clashes by numbering, within 30 characters", function()
        local taken = {}
        assert.equal("ann.lee", templates.unique("ann.lee", taken))
        assert.equal("ann.lee2", templates.unique("ann.lee", taken))
        assert.equal("ANN.LEE3", templates.unique("ANN.LEE", taken))
        local long = ("x"):rep(30)
        taken[long] = true
        local second = templates.unique(long, taken)
        assert.equal(30, #second)
        assert.equal("2", second:sub(-1))
    end)

    it("reads CSV with quotes, commas, CRLF and a BOM", function()
        local rows = assert(input.parse_csv('\239\187\191first,last,note\r\n"Ann","Lee, Jr.","said ""hi"""\r\n\r\nBob,Ray,\r\n'))
        assert.equal(2, #rows)
        assert.equal("Lee, Jr.", rows[1].last)
        assert.equal('said "hi"', rows[1].note)
        assert.is_nil(rows[2].note)
        local bad, err = input.parse_csv('a,b\n"open,1\n')
        assert.is_nil(bad)
        assert.truthy(err:find("unterminated"))
    end)

    it("reads the demo's people file", function()
        local rows = assert(input.read_csv("examples/people.csv"))
        assert.equal(36, #rows)
    end)
end)
