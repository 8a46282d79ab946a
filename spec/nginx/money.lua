-- Two nginx workers receiving POST /mailboxes for one domain at once
-- (spec/nginx/money starts them): K concurrent requests from separate
-- curl processes, in repeated trials. Each trial must end exact: the
-- desired mailboxes and no more, paks bought = paks needed, each mailbox
-- reported created by exactly one answer, with the password it holds.
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"

local function env(name)
    return assert(os.getenv(name), name .. " is not set")
end

local BASE = env("NGX_BASE")
local ADMIN = env("ENOM_SANDBOX_ADMIN")
local DIR = env("MONEY_DIR")
local K, TRIALS, BOXES = 4, 3, 25

local function tap(ok, name, detail)
    print((ok and "ok - " or "not ok - ") .. name)
    if detail and detail ~= "" then
        print("# " .. tostring(detail):gsub("\n", "\n# "))
    end
    io.stdout:flush()
end

local function admin(method, path)
    local out = {}
    -- the admin API takes a POST only as JSON, an empty body included
    local headers = method == "POST" and { ["content-type"] = "application/json", ["content-length"] = 0 } or nil
    local _, code = http.request { url = ADMIN .. path, method = method, headers = headers, sink = ltn12.sink.table(out) }
    assert(code == 200, "admin " .. path .. " -> " .. tostring(code))
    return cjson.decode(table.concat(out))
end

local function read(path)
    local f = io.open(path)
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

local function trial(t)
    admin("POST", "/reset")
    local domain = ("shop%02d.com"):format(50 + t)
    local boxes = {}
    for i = 1, BOXES do boxes[i] = { username = ("web%02d"):format(i) } end
    local body = DIR .. "/body.json"
    local f = assert(io.open(body, "w"))
    f:write(cjson.encode { domain = domain, mailboxes = boxes, buy_paks = true })
    f:close()
    local cmds = {}
    for i = 1, K do
        cmds[i] = ("curl -s --max-time 120 -o %s/answer%d.json -H 'Content-Type: application/json' "
            .. "-H @%s/auth.header --data-binary @%s %s/mailboxes &"):format(DIR, i, DIR, body, BASE)
    end
    assert(os.execute("rm -f " .. DIR .. "/answer*.json; " .. table.concat(cmds, " ") .. " wait"))
    local state = admin("GET", "/state")
    local dom
    for _, d in ipairs(state.domains) do
        if d.name == domain then dom = d end
    end
    local have = {}
    for _, m in ipairs(dom.mailboxes) do have[m.username] = m.password end
    local bought, creators, wrong, n = 0, {}, 0, 0
    for i = 1, K do
        local text = assert(read(("%s/answer%d.json"):format(DIR, i)), "no answer " .. i)
        local answer = cjson.decode(text)
        assert(answer.mailboxes, "answer " .. i .. ": " .. cjson.encode(answer))
        bought = bought + (answer.paks_bought or 0)
        for _, m in ipairs(answer.mailboxes) do
            if m.outcome == "created" then
                assert(not creators[m.username], m.username .. " reported created twice")
                creators[m.username] = i
                if have[m.username] ~= m.password then wrong = wrong + 1 end
            end
        end
    end
    for _ in pairs(have) do n = n + 1 end
    local reported = 0
    for _ in pairs(creators) do reported = reported + 1 end
    assert(n == BOXES, ("trial %d: %d mailboxes, want %d"):format(t, n, BOXES))
    assert(#dom.paks == 3, ("trial %d: %d paks, want 3"):format(t, #dom.paks))
    assert(bought == 3, ("trial %d: answers say %d paks bought, want 3"):format(t, bought))
    assert(reported == BOXES, ("trial %d: %d reported created, want %d"):format(t, reported, BOXES))
    assert(wrong == 0, ("trial %d: %d wrong passwords handed out"):format(t, wrong))
end

local ok, err = pcall(function()
    for t = 1, TRIALS do trial(t) end
end)
tap(ok, ("%d concurrent POST /mailboxes for one domain on two workers, %d trials: exact mailboxes, "
    .. "paks, passwords"):format(K, TRIALS), err)

-- Both workers took part.
local pids = {}
for line in io.lines(DIR .. "/logs/access.log") do
    local pid = line:match("^(%d+) %d+ POST /mailboxes")
    if pid then pids[pid] = true end
end
local workers = 0
for _ in pairs(pids) do workers = workers + 1 end
tap(workers == 2, "both workers served POST /mailboxes", "workers seen: " .. workers)
