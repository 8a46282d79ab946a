--- `enom sandbox start|stop|status`: a front to the source tree's
-- sandbox/sandbox script. Start also writes DIR/config (mode 0600) with
-- the seed's account, for `enom --config DIR/config ...`.
local core = require "enom.core"
local context = require "enom.cli.context"

local _M = {}

local EXIT = context.EXIT

local function quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The sandbox script: $ENOM_SANDBOX_SCRIPT, or the one of the source
-- tree this module comes from; or nil, message, status.
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
    return nil, "the sandbox comes with enom's source tree: run bin/enom from a checkout, "
        .. "or set ENOM_SANDBOX_SCRIPT to its sandbox/sandbox", EXIT.usage
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
        return nil, "cannot read the sandbox's default folder from " .. path .. " dir; give --dir DIR", EXIT.usage
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

-- The folder of a command: --dir, else the script's default.
local function folder(a, path)
    if a.dir then
        return a.dir
    end
    return default_dir(path)
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
    local path, root, code = script()
    if not path then
        return nil, root, code
    end
    local dir, why
    dir, why, code = folder(a, path)
    if not dir then
        return nil, why, code
    end
    local st = status_doc(dir, root)
    if st.running then
        show(ctx, st)
        return true
    end
    local ok = os.execute(quote(path) .. " start --dir " .. quote(dir) .. " >/dev/null")
    if not ok then
        return nil, "the sandbox did not start (see " .. dir .. "/logs/error.log)", EXIT.transport
    end
    st = status_doc(dir, root)
    local acct = seed_account(read_seed(dir, root))
    if acct then
        local text = ("# written by enom sandbox start\nuid = %s\npw = %s\nendpoint = %s\nca = %s\n")
            :format(acct.uid, acct.pw, st.url, st.ca)
        os.remove(dir .. "/config")
        local wok, err = core.append_private(dir .. "/config", text)
        if not wok then
            return nil, tostring(err), EXIT.usage
        end
    end
    show(ctx, st)
    return true
end

--- sandbox stop
function _M.stop(ctx, a)
    local path, why, code = script()
    if not path then
        return nil, why, code
    end
    local dir
    dir, why, code = folder(a, path)
    if not dir then
        return nil, why, code
    end
    local ok = os.execute(quote(path) .. " stop --dir " .. quote(dir) .. " >/dev/null 2>&1")
    os.remove(dir .. "/config")
    if ctx.out.json then
        ctx.out:doc({ dir = dir, running = false, stopped = ok == true })
    else
        ctx.out:text("sandbox in " .. dir .. " stopped")
    end
    return true
end

--- sandbox status
function _M.status(ctx, a)
    local path, root = script()
    if not path then
        return nil, root, EXIT.usage
    end
    local dir, why, code = folder(a, path)
    if not dir then
        return nil, why, code
    end
    local st = status_doc(dir, root)
    show(ctx, st)
    if not st.running then
        return nil, nil, EXIT.partial
    end
    return true
end

--- Declare the subcommands and their arguments.
function _M.add_to_parser(parser, example)
    local sb = parser:command("sandbox", "A local eNom sandbox (from the source tree) to try things on.")
        :command_target("sub")
        :epilog(example([[
            enom sandbox start
            enom --config "$(sandbox/sandbox dir)/config" mailboxes list resellerdocs.com
            enom sandbox stop]]))
    local function with_dir(cmd, handler)
        cmd:option("--dir", "The sandbox's folder (default: ${XDG_RUNTIME_DIR:-/tmp}/enom-sandbox-UID).")
        cmd:action(function(args) args.handler = handler end)
    end
    with_dir(sb:command("start", "Start it in the background; writes DIR/env and DIR/config.")
        :epilog(example("enom sandbox start --dir /tmp/sb")), _M.start)
    with_dir(sb:command("stop", "Stop it.")
        :epilog(example("enom sandbox stop --dir /tmp/sb")), _M.stop)
    with_dir(sb:command("status", "Is it running, and where.")
        :epilog(example("enom sandbox status --json")), _M.status)
end

return _M
