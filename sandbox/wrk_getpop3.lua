-- wrk script: POST GetPOP3 for resellerdocs.com to the sandbox.
--   . DIR/env
--   wrk -t2 -c200 -d5s -s sandbox/wrk_getpop3.lua "$ENOM_SANDBOX_URL"
-- Prints the number of non-2xx answers and of bodies missing Done=true.
-- Override credentials with ENOM_UID / ENOM_PW / ENOM_SLD / ENOM_TLD.

-- wrk calls these hooks by global name and reads the tallies back with
-- thread:get(), so they have to be globals.
-- luacheck: globals wrk setup init response done bad_status incomplete errcount

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = table.concat({
  "command=GetPOP3",
  "uid=" .. urlencode(env("ENOM_UID", "resellid")),
  "pw=" .. urlencode(env("ENOM_PW", "S4ndbox-Acct-Pass")),
  "sld=" .. urlencode(env("ENOM_SLD", "resellerdocs")),
  "tld=" .. urlencode(env("ENOM_TLD", "com")),
  "responsetype=Text",
}, "&")

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function init()
  bad_status, incomplete, errcount = 0, 0, 0
end

function response(status, _, body)
  if status < 200 or status > 299 then bad_status = bad_status + 1 end
  if not body:find("\nDone=true", 1, true) then incomplete = incomplete + 1 end
  if not body:find("\nErrCount=0", 1, true) then errcount = errcount + 1 end
end

function done()
  local b, inc, e = 0, 0, 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad_status")
    inc = inc + t:get("incomplete")
    e = e + t:get("errcount")
  end
  io.write(string.format("non-2xx: %d, without Done=true: %d, ErrCount>0: %d\n", b, inc, e))
end
