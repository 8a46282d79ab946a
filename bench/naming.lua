--- Figure 11: naming people whose names clash is linear. 8,000 people
-- named "Ann Lee" (ann.lee, ann.lee2 ... ann.lee8000) against 8,000
-- people of 8,000 different names, through enom.provision.templates as
-- `enom plan` names them; the ratio is the cost of the clashes (1 when
-- each clash is one step; it was 51.6 s, quadratic, before).
--
--   lua5.4 bench/naming.lua [runs]
local templates = require "enom.provision.templates"
local util = require "util"

local runs = tonumber(arg[1]) or 5
local N = 8000

local same, distinct = {}, {}
for i = 1, N do
    same[i] = { first = "Ann", last = "Lee" }
    distinct[i] = { first = "Ann", last = "Lee" .. string.char(97 + i % 26, 97 + (i // 26) % 26, 97 + (i // 676) % 26) }
end

local function name(people)
    return function()
        local out, skipped = templates.people(people)
        assert(#out == N and #skipped == 0)
    end
end

local ours, base = util.compare(name(same), name(distinct), runs, 0.3)
local ratio = ours.median / base.median
util.row {
    figure = "11. naming 8,000 people of one name",
    ours = util.us(ours.median), baseline = util.us(base.median) .. " (8,000 names)",
    ratio = ("%.2f"):format(ratio), target = "<= 2 (linear)", met = ratio <= 2 and "yes" or "NO",
    spread = ("%s..%s vs %s..%s"):format(util.us(ours.min), util.us(ours.max), util.us(base.min), util.us(base.max)),
}
