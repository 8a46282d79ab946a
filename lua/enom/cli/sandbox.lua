--- `enom sandbox start|stop|status`: a front to the source tree's
-- sandbox/sandbox script. Start also writes DIR/config (mode 0600) with
-- the seed's account, for `enom --config DIR/config ...`.
local enom = require "enom"
local cli = require "enom.cli"

local _M = {}

local EXIT = cli.EXIT

local function quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The sandbox script: $ENOM_SANDBOX_SCRIPT, or the one of the source
-- tree this module comes from.
local function script()
    local s = os.getenv("ENOM_SANDBOX_SCRIPT")
    if s and s ~= "" then
        return s
    end
    local src = debug.getinfo(1, "S").source
    local root = src:match("^@(.*)/lua/enom/cli/sandbox%.lua$")
    if root then
        local path = root .. "/sandbox/sandbox"
        local f = io.open(path, "r")
        if f then
            f:close()
            return path, root
        end
    end
    cli.fail(EXIT.usage, "the sandbox comes with enom's source tree: run bin/enom from a checkout, "
        .. "or set ENOM_SANDBOX_SCRIPT to its sandbox/sandbox")
end

-- The default folder is the sandbox script's (`sandbox/sandbox dir`):
-- one per user, so that two users' sandboxes never meet.
local function default_dir(path)
    local p = io.popen(quote(path) .. " dir")
    local dir = p and p:read("l")
    if p then
        p:close()
    end
    if not dir or dir == "" then
        cli.fail(EXIT.usage, "cannot read the sandbox's default folder from " .. path .. " dir; give --dir DIR")
    end
    return dir
end

local function read_env(dir)
    local f = io.open(dir .. "/env", "r")
    if not f then
        return nil
    end
    local env = {}
    for line in f:lines() do
        local k, v = line:match("^([%w_]+)=(.*)$")
        if k then
            env[k] = v
        end
    end
    f:close()
    return env
end

local function alive(pid)
    if not pid then
        return false
    end
    local f = io.open("/proc/" .. pid .. "/stat", "r")
    if not f then
        return false
    end
    local st = f:read("l")
    f:close()
    return st ~= nil and st:match("^%d+ %b() (%a)") ~= "Z"
end

-- The seed a sandbox runs with: the copy in DIR/conf, else the source
-- tree's sandbox/seed.lua.
local function read_seed(dir, root)
    for _, path in ipairs { dir .. "/conf/seed.lua", root and (root .. "/sandbox/seed.lua") } do
        local ok, seed = pcall(dofile, path)
        if ok and type(seed) == "table" then
            return seed
        end
    end
end

-- The seed's first account, for DIR/config.
local function seed_account(seed)
    if seed and type(seed.accounts) == "table" and seed.accounts[1] then
        return seed.accounts[1]
    end
end

-- What the seed holds, without any password: accounts (uid, balance) and
-- domains (name, account, mailboxes, paks), in the seed's order.
local function seeded(seed)
    local accounts, domains = {}, {}
    for _, a in ipairs(seed and seed.accounts or {}) do
        accounts[#accounts + 1] = { uid = a.uid, balance = a.balance }
    end
    for _, d in ipairs(seed and seed.domains or {}) do
        domains[#domains + 1] = { name = d.name, account = d.owner,
            mailboxes = #(d.mailboxes or {}), paks = #(d.paks or {}) }
    end
    return accounts, domains
end

-- "shop01.com", "shop02.com", ... "shop60.com" -> "shop01.com .. shop60.com".
local function collapse(names)
    local out, i = {}, 1
    while i <= #names do
        local pre, num, post = names[i]:match("^(.-)(%d+)(%..*)$")
        local j = i
        while pre and names[j + 1] do
            local p2, n2, s2 = names[j + 1]:match("^(.-)(%d+)(%..*)$")
            if p2 ~= pre or s2 ~= post or #n2 ~= #num or tonumber(n2) ~= tonumber(num) + (j + 1 - i) then
                break
            end
            j = j + 1
        end
        if j - i >= 2 then
            out[#out + 1] = names[i] .. " .. " .. names[j]
        else
            for k = i, j do
                out[#out + 1] = names[k]
            end
        end
        i = j + 1
    end
    return out
end

local function seeded_text(accounts, domains)
    local lines = { "  seeded (the sandbox's own accounts; eNom knows none of them):" }
    for _, a in ipairs(accounts) do
        local names = {}
        for _, d in ipairs(domains) do
            if d.account == a.uid then
                local extra = {}
                if d.mailboxes > 0 then
                    extra[#extra + 1] = d.mailboxes .. (d.mailboxes == 1 and " mailbox" or " mailboxes")
                end
                if d.paks > 0 then
                    extra[#extra + 1] = d.paks .. (d.paks == 1 and " pak" or " paks")
                end
                names[#names + 1] = d.name .. (#extra > 0 and (" (" .. table.concat(extra, ", ") .. ")") or "")
            end
        end
        lines[#lines + 1] = ("    account %s, balance %s"):format(a.uid, a.balance and ("%.2f"):format(a.balance) or "?")
        lines[#lines + 1] = "      domains: " .. (#names > 0 and table.concat(collapse(names), ", ") or "none")
    end
    return table.concat(lines, "\n")
end

local function status_doc(dir, root)
    local env = read_env(dir)
    local running = env ~= nil and alive(env.ENOM_SANDBOX_PID)
    local accounts, domains
    if running then
        accounts, domains = seeded(read_seed(dir, root))
    end
    return {
        accounts = accounts, domains = domains,
        dir = dir, running = running,
        url = env and env.ENOM_SANDBOX_HTTPS_URL, http_url = env and env.ENOM_SANDBOX_URL,
        ca = env and env.ENOM_SANDBOX_CA, admin = env and env.ENOM_SANDBOX_ADMIN,
        config = running and (dir .. "/config") or nil,
    }
end

local function show(ctx, st)
    if ctx.out.json then
        ctx.out:doc(st)
    elseif st.running then
        ctx.out:text(("sandbox running in %s\n  url:    %s\n  ca:     %s\n  admin:  %s\n  env:    . %s/env\n"
            .. "  use:    enom --config %s balance"):format(st.dir, st.url, st.ca, st.admin, st.dir, st.config)
            .. (st.accounts and #st.accounts > 0 and ("\n" .. seeded_text(st.accounts, st.domains)) or ""))
    else
        ctx.out:text("no sandbox running in " .. st.dir)
    end
end

--- sandbox start
function _M.start(ctx, a)
    local path, root = script()
    local dir = a.dir or default_dir(path)
    local st = status_doc(dir, root)
    if st.running then
        show(ctx, st)
        return EXIT.ok
    end
    local ok = os.execute(quote(path) .. " start --dir " .. quote(dir) .. " >/dev/null")
    if not ok then
        cli.fail(EXIT.transport, "the sandbox did not start (see " .. dir .. "/logs/error.log)")
    end
    st = status_doc(dir, root)
    local acct = seed_account(read_seed(dir, root))
    if acct then
        local text = ("# written by enom sandbox start\nuid = %s\npw = %s\nendpoint = %s\nca = %s\n")
            :format(acct.uid, acct.pw, st.url, st.ca)
        os.remove(dir .. "/config")
        local wok, err = enom.append_private(dir .. "/config", text)
        if not wok then
            cli.fail(EXIT.usage, tostring(err))
        end
    end
    show(ctx, st)
end

--- sandbox stop
function _M.stop(ctx, a)
    local path = script()
    local dir = a.dir or default_dir(path)
    local ok = os.execute(quote(path) .. " stop --dir " .. quote(dir) .. " >/dev/null 2>&1")
    os.remove(dir .. "/config")
    if ctx.out.json then
        ctx.out:doc({ dir = dir, running = false, stopped = ok == true })
    else
        ctx.out:text("sandbox in " .. dir .. " stopped")
    end
end

--- sandbox status
function _M.status(ctx, a)
    local path, root = script()
    local st = status_doc(a.dir or default_dir(path), root)
    show(ctx, st)
    return st.running and EXIT.ok or EXIT.partial
end

return _M
