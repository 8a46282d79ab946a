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

local function default_dir()
    local base = os.getenv("XDG_RUNTIME_DIR")
    if not base or base == "" then
        base = "/tmp"
    end
    return base .. "/enom-sandbox"
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

-- The seed's first account, for DIR/config.
local function seed_account(root)
    local ok, seed = pcall(dofile, root .. "/sandbox/seed.lua")
    if ok and type(seed) == "table" and seed.accounts and seed.accounts[1] then
        return seed.accounts[1]
    end
end

local function status_doc(dir)
    local env = read_env(dir)
    local running = env ~= nil and alive(env.ENOM_SANDBOX_PID)
    return {
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
            .. "  use:    enom --config %s balance"):format(st.dir, st.url, st.ca, st.admin, st.dir, st.config))
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
    local dir = a.dir or default_dir()
    local st = status_doc(dir)
    if st.running then
        show(ctx, st)
        return true
    end
    local ok = os.execute(quote(path) .. " start --dir " .. quote(dir) .. " >/dev/null")
    if not ok then
        return nil, "the sandbox did not start (see " .. dir .. "/logs/error.log)", EXIT.transport
    end
    st = status_doc(dir)
    local acct = root and seed_account(root)
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
    local dir = a.dir or default_dir()
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
    local st = status_doc(a.dir or default_dir())
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
            enom --config /tmp/enom-sandbox/config mailboxes list resellerdocs.com
            enom sandbox stop]]))
    local function with_dir(cmd, handler)
        cmd:option("--dir", "The sandbox's folder (default: $XDG_RUNTIME_DIR or /tmp, /enom-sandbox).")
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
