-- The `enom` command as a user runs it, for the specs: bin/enom in a
-- subprocess against the sandbox, with the account in the environment,
-- its output kept (and every byte of it, for a check that no secret was
-- printed), and the small helpers such specs share.
--   local run = require("cli_runner").new(H, "cli")
--   local code, out, err = run { "mailboxes", "list", "resellerdocs.com" }
local cjson = require "cjson"

local _M = {}

local ROOT = os.getenv("PWD")
_M.ROOT = ROOT
_M.BIN = ROOT .. "/bin/enom"

local function q(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
_M.q = q

--- The exit status of a command from what os.execute returned: Lua 5.4
-- gives ok, "exit", code; LuaJIT (Lua 5.1) the wait status as a number.
function _M.status(a, _, c)
    if type(a) == "number" then
        return a >= 256 and math.floor(a / 256) or a
    end
    return a and 0 or c
end

function _M.read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local t = f:read("a")
    f:close()
    return t
end

function _M.write(path, text, mode)
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    if mode then
        assert(os.execute("chmod " .. mode .. " " .. q(path)))
    end
end

function _M.json_of(text)
    local ok, v = pcall(cjson.decode, text)
    assert(ok, "not JSON: " .. tostring(text))
    return v
end

function _M.lines_of(text)
    local t = {}
    for l in (text or ""):gmatch("[^\n]+") do t[#t + 1] = l end
    return t
end

function _M.count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

--- Wait until `fn` is true (polling every 0.05 s, at most `seconds`):
-- the sandbox helper's, for the specs that take it from here.
function _M.wait_for(fn, seconds)
    return require("helper").wait_for(fn, seconds)
end

--- A runner in a work folder of its own (ENOM_TEST_WORK/name), with the
-- sandbox's account in BASE_ENV. Calling it runs bin/enom with `args`
-- (array); opts.env (merged over BASE_ENV, false removes), opts.stdin
-- (text), opts.redirect (shell text replacing "> out", e.g. ">&-"),
-- opts.shows_secrets (output that may hold passwords). Returns the exit
-- status, stdout, stderr. `outputs` keeps every run's output.
function _M.new(H, name)
    local work = (os.getenv("ENOM_TEST_WORK") or "/tmp") .. "/" .. name
    os.execute("rm -rf " .. q(work) .. " && mkdir -m 700 -p " .. q(work))
    local self = {
        work = work, outputs = {},
        env = {
            ENOM_UID = H.UID, ENOM_PW = H.PW, ENOM_ENDPOINT = H.HTTPS_URL, ENOM_CA = H.CA,
            XDG_CONFIG_HOME = work .. "/no-config", HOME = work,
        },
    }
    return setmetatable(self, { __call = function(_, args, opts)
        opts = opts or {}
        local env = {}
        for k, v in pairs(self.env) do env[k] = v end
        for k, v in pairs(opts.env or {}) do env[k] = v or nil end
        local parts = { "env -u ENOM_CONFIG -u ENOM_PROFILE" }
        for _, k in ipairs { "ENOM_UID", "ENOM_PW", "ENOM_ENDPOINT", "ENOM_CA" } do
            if not env[k] then parts[#parts + 1] = "-u " .. k end
        end
        for k, v in pairs(env) do parts[#parts + 1] = k .. "=" .. q(v) end
        local words = {}
        for i, a in ipairs(args) do words[i] = q(a) end
        local out, err, inp = work .. "/out", work .. "/err", "/dev/null"
        if opts.stdin then
            inp = work .. "/in"
            _M.write(inp, opts.stdin)
        end
        os.remove(out)
        local cmd = ("cd %s && %s %s %s < %s 2> %s %s"):format(q(ROOT), table.concat(parts, " "), q(_M.BIN),
            table.concat(words, " "), inp, err, opts.redirect or ("> " .. out))
        local code = _M.status(os.execute(cmd))
        local o, e = _M.read(out) or "", _M.read(err)
        self.outputs[#self.outputs + 1] = { args = table.concat(args, " "), out = o, err = e,
            allowed = opts.shows_secrets }
        return code, o, e
    end })
end

--- Every output of `run` without any of `secrets` (unless it was allowed).
function _M.assert_no_secret(assert, run, secrets)
    for _, o in ipairs(run.outputs) do
        if not o.allowed then
            for _, s in ipairs(secrets) do
                assert.falsy((o.out or ""):find(s, 1, true), "stdout of `enom " .. o.args .. "` holds a secret")
                assert.falsy((o.err or ""):find(s, 1, true), "stderr of `enom " .. o.args .. "` holds a secret")
            end
        end
    end
end

return _M
