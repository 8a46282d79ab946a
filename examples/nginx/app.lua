--- A small admin API over enom inside nginx: see README.md next to this file.
--
--   POST /mailboxes   {"domain":"shop01.com","mailboxes":[{"username":"ann","display_name":"Ann Lee"}],
--                      "buy_paks":true}
--                     plans and applies in one run (enom.provision.ensure); answers the
--                     counts and each mailbox's outcome, with generated passwords (once,
--                     see below). With an `Idempotency-Key` header, a retry of the same
--                     request gets the same answer, passwords included, from any worker.
--   GET  /mailboxes?domain=shop01.com
--                     the domain's mailboxes and paks (never passwords)
--   GET  /metrics     Prometheus' text: requests, durations, provisioning outcomes
--
-- Both need `Authorization: Bearer <token>`: the token comes from the
-- environment (ENOM_ADMIN_TOKEN) or a file (`init{ token_file = ... }`);
-- without one configured, /mailboxes answers 503 to everyone.
--
-- Every eNom request goes over nginx cosockets (enom.transport.ngx), so a
-- slow eNom holds up only the requests that wait for it, never the worker.
local bit = require "bit"
local cjson = require "cjson.safe"
local enom = require "enom"
local names = require "enom.names"
local provision = require "enom.provision"
local metrics = require "enom.metrics"

local _M = {}

local type = type
local ipairs = ipairs
local tostring = tostring
local lower = string.lower

local MAX_MAILBOXES = 200   -- per request
local MIN_TOKEN = 16        -- bytes; a shorter admin token is refused
local MAX_PAKS = 5          -- per request, when the caller allows buying
local RUN_BUDGET = 120      -- seconds a POST may spend on eNom
local IDEM_DICT = "enom_idempotency"
local IDEM_WINDOW = 3600    -- seconds a retry with the same Idempotency-Key gets the same answer
local IDEM_MAX = 255        -- bytes of an Idempotency-Key

-- Read once, in the nginx master (init_by_lua), before workers fork.
local CONF

-- This worker's registry over the lua_shared_dict every worker adds into.
local REGISTRY
local function registry()
    REGISTRY = REGISTRY or metrics.new { dict = "enom_metrics" }
    return REGISTRY
end

--- Load the credentials. nginx hands a worker only the environment
-- variables named by `env` directives, so nginx.conf lists ENOM_UID,
-- ENOM_PW, ENOM_ENDPOINT and ENOM_CA; this runs in init_by_lua, where the
-- master's whole environment is visible.
--
-- Instead of the environment, the password can live in a file only root
-- may read (mode 0600): init_by_lua runs in the master before it drops
-- privileges, so `_M.init{ pw_file = "/etc/enom/password" }` reads it
-- there and the workers (nobody, or the user nginx.conf names) inherit the
-- value, never the file.
local function first_line(path)
    local f = io.open(path, "r")
    if not f then
        return nil
    end
    local v = (f:read("l") or ""):gsub("%s+$", "")
    f:close()
    return v
end

function _M.init(opts)
    opts = opts or {}
    local pw = os.getenv("ENOM_PW")
    if opts.pw_file then
        pw = first_line(opts.pw_file) or pw
    end
    -- The admin token, read the same way: ENOM_ADMIN_TOKEN, or a file
    -- only root may read, named in nginx.conf's init_by_lua_block.
    local token = os.getenv("ENOM_ADMIN_TOKEN")
    if opts.token_file then
        token = first_line(opts.token_file)
    end
    if token and #token < MIN_TOKEN then
        ngx.log(ngx.WARN, "enom example: the admin token is shorter than ", MIN_TOKEN, " bytes; /mailboxes answers 503")
        token = nil
    elseif not token or token == "" then
        ngx.log(ngx.WARN, "enom example: no admin token (ENOM_ADMIN_TOKEN or token_file); /mailboxes answers 503")
        token = nil
    end
    CONF = {
        uid = os.getenv("ENOM_UID") or "resellid",
        pw = pw,
        endpoint = os.getenv("ENOM_ENDPOINT") or "test",
        -- Only checked by the ngx transport: cosockets trust the CA file of
        -- lua_ssl_trusted_certificate. Kept for the curl fallback.
        cainfo = os.getenv("ENOM_CA"),
        token = token,
    }
    if not pw or pw == "" then
        ngx.log(ngx.WARN, "enom example: ENOM_PW is not set; /mailboxes answers 503")
    end
end

-- A random key per worker, for the token digests.
local KEY
function _M._key()
    if not KEY then
        local f = assert(io.open("/dev/urandom", "rb"))
        KEY = f:read(32)
        f:close()
    end
    return KEY
end

-- Equal digests, in time that does not depend on where they differ.
local function same(a, b)
    if #a ~= #b then
        return false
    end
    local bxor, bor = bit.bxor, bit.bor
    local diff = 0
    for i = 1, #a do
        diff = bor(diff, bxor(a:byte(i), b:byte(i)))
    end
    return diff == 0
end

-- Is the request's bearer token the configured one? Neither the token
-- nor the header is ever logged.
local function authorized()
    if not CONF then
        _M.init()
    end
    if not CONF.token then
        return nil, 503
    end
    local h = ngx.req.get_headers()["authorization"]
    if type(h) ~= "string" then
        return nil, 401
    end
    local given = h:match("^[Bb]earer +(%S+)%s*$")
    if not given then
        return nil, 401
    end
    -- Keyed digests of both: same length whatever was sent, and compared
    -- in constant time.
    local key = _M._key()
    if not same(ngx.hmac_sha1(key, given), ngx.hmac_sha1(key, CONF.token)) then
        return nil, 401
    end
    return true
end

local EMPTY = "\0enom-empty-array\0"

-- lua-cjson 2.1.0 writes an empty table as {}: mark empty arrays.
local function array(t)
    return #t > 0 and t or EMPTY
end

local function respond(status, body)
    local text = cjson.encode(body):gsub('"\\u0000enom%-empty%-array\\u0000"', "[]")
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    -- Answers may hold generated passwords: no cache may keep them.
    ngx.header["Cache-Control"] = "no-store"
    ngx.say(text)
    return ngx.exit(status)
end

local function client()
    if not CONF then
        _M.init()
    end
    if not CONF.pw or CONF.pw == "" then
        return nil, "the eNom account is not configured (ENOM_PW)"
    end
    return enom.new {
        uid = CONF.uid, pw = CONF.pw, endpoint = CONF.endpoint, cainfo = CONF.cainfo,
        timeout = 30, logger = metrics.logger(registry()),
    }
end


local function read_body()
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if not data and ngx.req.get_body_file() then
        return nil, "request body too large"
    end
    return data or ""
end

-- Checks the POST body; returns the desired domain entry and policy.
local function desired_from(doc)
    if type(doc) ~= "table" then
        return nil, "body must be a JSON object"
    end
    local sld, why = names.split_domain(doc.domain)
    if not sld then
        return nil, "domain " .. why
    end
    local list = doc.mailboxes
    if type(list) ~= "table" or #list == 0 or #list > MAX_MAILBOXES then
        return nil, "mailboxes must be an array of 1 to " .. MAX_MAILBOXES .. " entries"
    end
    local mailboxes = {}
    for i, m in ipairs(list) do
        if type(m) ~= "table" or type(m.username) ~= "string" then
            return nil, "mailboxes[" .. i .. "].username must be a string"
        end
        if m.display_name ~= nil and type(m.display_name) ~= "string" then
            return nil, "mailboxes[" .. i .. "].display_name must be a string"
        end
        if m.admin ~= nil and type(m.admin) ~= "boolean" then
            return nil, "mailboxes[" .. i .. "].admin must be true or false"
        end
        if m.password ~= nil and type(m.password) ~= "string" then
            return nil, "mailboxes[" .. i .. "].password must be a string"
        end
        mailboxes[i] = {
            username = m.username, display_name = m.display_name, admin = m.admin,
            password = m.password,
        }
    end
    if doc.buy_paks ~= nil and type(doc.buy_paks) ~= "boolean" then
        return nil, "buy_paks must be true or false"
    end
    return { domain = sld .. "." .. why, mailboxes = mailboxes }, {
        buy_paks = doc.buy_paks == true,
        max_paks_per_run = MAX_PAKS,
        budget = RUN_BUDGET,
    }
end

-- The answer to a POST, as status and table: plan and apply in one run,
-- one read of the domain.
local function provisioned(want, policy)
    local c, cerr = client()
    if not c then
        return 503, { error = cerr }
    end
    local given = {}
    for _, m in ipairs(want.mailboxes) do
        given[lower(m.username)] = m.password ~= nil
    end
    local generated = {}
    local reg = registry()
    policy.on_password = function(_, username, password)
        if not given[lower(username)] then
            generated[lower(username)] = password
        end
    end
    policy.progress = function(rec) reg:record(rec) end
    local rep, err = provision.ensure(c, { want }, policy)
    c:close()
    if not rep then
        ngx.log(ngx.ERR, "enom example: cannot provision: ", tostring(err))
        return err.kind == "invalid" and 400 or 500, { error = tostring(err) }
    end
    reg:record { type = "summary", ok = rep.ok }
    if #rep.unreachable > 0 then
        local e = rep.unreachable[1].error
        ngx.log(ngx.WARN, "enom example: cannot read ", want.domain, ": ", tostring(e))
        return 502, { error = "cannot read the domain from eNom", errors = { tostring(e) },
            tracking_key = type(e) == "table" and e.tracking_key or nil }
    end
    local out = {}
    for _, m in ipairs(rep.mailboxes) do
        out[#out + 1] = {
            username = m.username, action = m.intended, outcome = m.outcome,
            reason = m.reason, attempts = m.attempts, tracking_key = m.tracking_key,
            password = m.outcome == "created" and generated[lower(m.username)] or nil,
        }
    end
    -- 200: the desired state was reached; 409: some mailboxes had no slot
    -- (the policy forbade buying), nothing broke; 502: eNom failed us.
    local c_ = rep.counts
    local broke = (c_.failed or 0) + (c_.unknown or 0) + (c_.not_done or 0) > 0 or rep.stopped
    return rep.ok and 200 or (broke and 502 or 409), {
        domain = want.domain,
        ok = rep.ok,
        counts = rep.counts,
        paks_bought = rep.paks_bought,
        requests = rep.sent,
        retries = rep.retries,
        seconds = rep.seconds,
        stopped = rep.stopped,
        notes = array(rep.notes or {}),
        mailboxes = array(out),
    }
end

-- Idempotency-Key (as Stripe's API and the IETF draft
-- "The Idempotency-Key HTTP Header Field" have it): the first request
-- with a key runs and its answer is kept for IDEM_WINDOW seconds in a
-- lua_shared_dict every worker shares; a retry with the same key and the
-- same body gets that answer (the first one's generated passwords
-- included: a caller that gave up waiting is not left without them),
-- waiting while the first still runs; the same key with another body is
-- refused (422). Answers live only in the dict, never in a log.
local function fingerprint(body)
    return ngx.encode_base64(ngx.sha1_bin(body))
end

local function idempotent(key, body, run)
    local dict = ngx.shared[IDEM_DICT]
    if not dict then
        return 500, { error = "lua_shared_dict " .. IDEM_DICT .. " is missing from nginx.conf" }
    end
    local fp = fingerprint(body)
    local slot = "idem:" .. key
    -- Taken for as long as one run may last, then kept for the window.
    local ok, err = dict:safe_add(slot, cjson.encode { state = "running", fp = fp }, RUN_BUDGET + 30)
    if not ok and err ~= "exists" then
        return 503, { error = "cannot keep the Idempotency-Key (" .. tostring(err) .. "): not run" }
    end
    if not ok then
        local deadline = ngx.now() + RUN_BUDGET + 30
        while true do
            local rec = cjson.decode(dict:get(slot) or "null")
            if not rec then
                return 409, { error = "the request with this Idempotency-Key ended without an answer: "
                    .. "send it with a new key" }
            end
            if rec.fp ~= fp then
                return 422, { error = "this Idempotency-Key was used with another request body" }
            end
            if rec.state == "done" then
                return rec.status, rec.body
            end
            if ngx.now() >= deadline then
                return 409, { error = "the request with this Idempotency-Key is still running" }
            end
            ngx.sleep(0.2)
        end
    end
    local status, answer = run()
    local saved, serr = dict:safe_set(slot, cjson.encode { state = "done", fp = fp, status = status, body = answer },
        IDEM_WINDOW)
    if not saved then
        ngx.log(ngx.ERR, "enom example: cannot keep the answer of an Idempotency-Key: ", serr)
        dict:delete(slot)
    end
    return status, answer
end

--- POST /mailboxes: plan and apply in one run, report.
--
-- Passwords the caller gave are never echoed. Passwords generated for
-- new mailboxes are returned in this answer, because the caller is the
-- one who must hand them to the users; they are not logged, and kept only
-- as the answer to a retry with the same Idempotency-Key (Cache-Control:
-- no-store).
local function create()
    local body, berr = read_body()
    if not body then
        return respond(413, { error = berr })
    end
    local want, policy = desired_from(cjson.decode(body))
    if not want then
        return respond(400, { error = policy })
    end
    local key = ngx.req.get_headers()["Idempotency-Key"]
    if type(key) == "table" then
        return respond(400, { error = "one Idempotency-Key, not several" })
    end
    if key == nil then
        return respond(provisioned(want, policy))
    end
    if #key == 0 or #key > IDEM_MAX or key:find("[^\33-\126]") then
        return respond(400, { error = "Idempotency-Key must be 1 to " .. IDEM_MAX .. " visible ASCII characters" })
    end
    return respond(idempotent(key, body, function() return provisioned(want, policy) end))
end

--- GET /mailboxes?domain=x.com
local function list()
    local domain = ngx.var.arg_domain
    domain = domain and ngx.unescape_uri(domain)
    local sld, tld = names.split_domain(domain)
    if not sld then
        return respond(400, { error = "domain " .. tld })
    end
    local c, cerr = client()
    if not c then
        return respond(503, { error = cerr })
    end
    local res, err = c:get_pop3 { sld = sld, tld = tld }
    c:close()
    if not res then
        -- enom's errors never hold the account password.
        ngx.log(ngx.WARN, "enom example: GetPOP3 ", domain, ": ", tostring(err))
        return respond(err.kind == "api" and 404 or 502, { error = tostring(err), kind = err.kind })
    end
    local mailboxes, paks = {}, {}
    for _, m in ipairs(res.mailboxes or {}) do
        mailboxes[#mailboxes + 1] = {
            username = m.username, admin = m.admin, bundle_id = m.bundle_id,
            quota = m.quota, quota_used = m.quota_used, expires = m.expires,
        }
    end
    for _, p in ipairs(res.paks or {}) do
        paks[#paks + 1] = { bundle_id = p.bundle_id, purchased = p.purchased, free = p.free, expires = p.expires }
    end
    return respond(200, { domain = lower(domain), mailboxes = array(mailboxes), paks = array(paks) })
end

--- GET /metrics: every worker's counts, from the shared dict.
function _M.metrics()
    ngx.header["Content-Type"] = metrics.CONTENT_TYPE
    ngx.header["Cache-Control"] = "no-store"
    ngx.print(registry():expose())
end

--- The /mailboxes location's handler.
function _M.mailboxes()
    local ok, status = authorized()
    if not ok then
        if status == 401 then
            ngx.header["WWW-Authenticate"] = 'Bearer realm="enom"'
            return respond(401, { error = "a bearer token is required (Authorization: Bearer ...)" })
        end
        return respond(503, { error = "the admin token is not configured" })
    end
    local method = ngx.req.get_method()
    if method == "POST" then
        return create()
    elseif method == "GET" then
        return list()
    end
    ngx.header["Allow"] = "GET, POST"
    return respond(405, { error = "GET or POST" })
end

return _M
