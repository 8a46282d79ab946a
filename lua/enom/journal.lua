--- The journal of intents: what a run is about to do that costs money or
-- makes a mailbox, written down (durably) before the request goes out and
-- struck off once its outcome is known.
--
-- A run that is killed in the middle (SIGKILL, a crash, a lost SSH
-- session, a lease holder paused past its ttl) leaves its intents open.
-- The next run on the domain, in any process on any host that shares the
-- lease backend, settles every open intent before it acts: a purchase is
-- looked for among the domain's paks and in eNom's order history, so it
-- is never bought twice; a mailbox being created is read back and, when
-- its password is the one the journal kept, handed out, so a created
-- mailbox's password is never lost. An intent that stays in doubt blocks
-- purchases for the domain until it is settled or an operator clears it
-- (`enom journal list|settle|clear`).
--
-- Entries are kept per lease key (account and domain) in a store that
-- follows the lease backend: files of mode 0600 in a private folder for
-- the process, host and default backends and inside nginx (workers of
-- one host), Redis for the redis backend. An entry is a table:
--   { id, kind = "purchase" | "create", domain, opened (wall clock),
--     token (the lease's), ... } and the kind's own fields. A `create`
--   entry holds the passwords it is about to set: the store is as
--   private as the password file.
--
-- @usage
-- local j = journal.new(journal.file_store())
-- local id = assert(j:open(key, { kind = "purchase", domain = "example.com", qty = 1 }, lease, true))
-- ... send the request, learn its outcome ...
-- j:close(key, id, "bought", lease)
local core = require "enom.core"
local errors = require "enom.errors"

local _M = {}

local type = type
local tostring = tostring
local setmetatable = setmetatable

local Journal = {}
Journal.__index = Journal
Journal.__name = "enom.journal"

local function new_id()
    return (core.random_bytes(8):gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- A journal over `store` (see `file_store`, and enom.lease's
-- `Locker:journal_store`).
function _M.new(store)
    return setmetatable({ store = store }, Journal)
end

function Journal.__tostring(self)
    return "enom.journal (" .. tostring(self.store.name) .. ")"
end

--- Write an intent down before acting on it.
-- @param key the lease key of the domain
-- @param entry the intent (its `id` and `opened` are set here)
-- @param lease the domain's lease: the write happens only while it is held
-- @param sync on the disk before returning (a purchase), not only out of
--   the process (the default)
-- @return the entry's id, or nil and an error (then do not act)
function Journal.open(self, key, entry, lease, sync)
    entry.id = entry.id or new_id()
    entry.opened = entry.opened or os.time()
    entry.token = lease and lease.token or nil
    local ok, err = self.store:put(key, entry, lease, sync)
    if not ok then
        return nil, err
    end
    return entry.id
end

--- Write the entry again (a field changed: sent, handed out...).
function Journal.update(self, key, entry, lease, sync)
    return self.store:put(key, entry, lease, sync)
end

--- Strike an intent off: its outcome is known.
-- @return true, or nil and an error
function Journal.close(self, key, id, lease)
    return self.store:del(key, id, lease)
end

--- The open intents of `key`, oldest first.
-- @return an array of entries, or nil and an error
function Journal.entries(self, key)
    local list, err = self.store:list(key)
    if not list then
        return nil, err
    end
    table.sort(list, function(a, b)
        if a.opened ~= b.opened then
            return (a.opened or 0) < (b.opened or 0)
        end
        return tostring(a.id) < tostring(b.id)
    end)
    return list
end

--- Every key that has open intents.
-- @return an array of keys, or nil and an error
function Journal.keys(self)
    return self.store:keys()
end

--- Drop what the store keeps for `key` once nothing is open.
function Journal.compact(self, key, lease)
    if self.store.compact then
        return self.store:compact(key, lease)
    end
    return true
end

-- ---- the file store ------------------------------------------------------

local FileStore = {}
FileStore.__index = FileStore

-- A key as a file name: bytes outside [A-Za-z0-9._-] as %XX.
local function file_name(key)
    return "journal-" .. key:gsub("[^%w%._%-]", function(c) return ("%%%02X"):format(c:byte()) end) .. ".jsonl"
end

local function key_of(name)
    local k = name:match("^journal%-(.*)%.jsonl$")
    return k and (k:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- The directories tried, in order, when no `dir` is given:
-- $ENOM_JOURNAL_DIR when it is set (the same for every run that must
-- meet: a cron job and a login shell), else durable across a reboot
-- (/var/tmp), then beside the host leases.
function _M.default_dirs()
    local set = os.getenv("ENOM_JOURNAL_DIR")
    if set and set ~= "" then
        return { set }
    end
    local euid = core.geteuid()
    return { "/var/tmp/enom-" .. euid, "/run/lock/enom-" .. euid, "/tmp/enom-" .. euid }
end

--- A store of files of mode 0600, one per key, in `dir` (made 0700 and
-- refused when another user owns it): an append-only log of JSON lines
-- per key, replayed to list what is open.
--
-- A log goes as soon as its last open intent is struck off under the
-- lease (the ids open per key are known from the last read and kept as
-- this process writes, and read again before the file goes): a run
-- writes about three lines per mailbox, and a log kept until the run's
-- end would grow with the domain.
function _M.file_store(dir)
    return setmetatable({ name = "file", want = dir, open = {} }, FileStore)
end

-- The most of one key's log read back: far above what a domain's run
-- leaves (its log goes when nothing is open), far below memory.
local READ_MAX = 256 * 1024 * 1024

local json

function FileStore.dir(self)
    if self.resolved then
        return self.resolved
    end
    local why = {}
    for _, d in ipairs(self.want and { self.want } or _M.default_dirs()) do
        local ok, err = core.lock_dir(d)
        if ok then
            self.resolved = d
            return d
        end
        why[#why + 1] = err
    end
    return nil, errors.new("io", "no usable journal folder: " .. table.concat(why, "; "), { maybe_delivered = false })
end

local function held(lease)
    if not lease then
        return true
    end
    return lease:check()
end

local function append(self, key, record, lease, sync)
    local ok, err = held(lease)
    if not ok then
        return nil, err
    end
    local dir
    dir, err = self:dir()
    if not dir then
        return nil, err
    end
    json = json or require "enom.json"
    ok, err = core.append_private(dir .. "/" .. file_name(key), json.encode(record) .. "\n", sync)
    if not ok then
        return nil, errors.new("io", "cannot write the journal: " .. tostring(err), { maybe_delivered = false })
    end
    return true
end

function FileStore.put(self, key, entry, lease, sync)
    local ok, err = append(self, key, { op = "put", entry = entry }, lease, sync)
    local open = self.open[key]
    if ok and open and not open.ids[entry.id] then
        open.ids[entry.id] = true
        open.n = open.n + 1
    end
    return ok, err
end

function FileStore.del(self, key, id, lease)
    local ok, err = append(self, key, { op = "del", id = id }, lease, false)
    local open = self.open[key]
    if ok and open and open.ids[id] then
        open.ids[id] = nil
        open.n = open.n - 1
        if open.n == 0 and lease then
            self:compact(key, lease)
        end
    end
    return ok, err
end

function FileStore.list(self, key)
    local dir, err = self:dir()
    if not dir then
        return nil, err
    end
    local text, rerr, reason = core.read_private(dir .. "/" .. file_name(key), READ_MAX)
    if not text then
        if reason == "absent" then
            self.open[key] = { ids = {}, n = 0 }
            return {}
        end
        return nil, errors.new("io", "cannot read the journal: " .. tostring(rerr), { maybe_delivered = false })
    end
    json = json or require "enom.json"
    local lines = {}
    for line in text:gmatch("[^\n]+") do
        lines[#lines + 1] = line
    end
    local open, order = {}, {}
    for n, line in ipairs(lines) do
        local rec = json.decode(line)
        if type(rec) ~= "table" then
            -- Only the last line may be cut short (a crash while it was
            -- written: the intent it held was never acted on, the write
            -- comes first); anything else is damage to report.
            if n ~= #lines then
                return nil, errors.new("io", "the journal of " .. key .. " is damaged at line " .. n,
                    { maybe_delivered = false })
            end
        elseif rec.op == "put" and type(rec.entry) == "table" and rec.entry.id then
            if not open[rec.entry.id] then
                order[#order + 1] = rec.entry.id
            end
            open[rec.entry.id] = rec.entry
        elseif rec.op == "del" then
            open[rec.id] = nil
        end
    end
    local out, ids = {}, { ids = {}, n = 0 }
    for _, id in ipairs(order) do
        if open[id] then
            out[#out + 1] = open[id]
            open[id] = nil
            ids.ids[id] = true
            ids.n = ids.n + 1
        end
    end
    self.open[key] = ids
    return out
end

function FileStore.keys(self)
    local dir, err = self:dir()
    if not dir then
        return nil, err
    end
    local names, lerr = core.list_dir(dir)
    if not names then
        return nil, errors.new("io", tostring(lerr), { maybe_delivered = false })
    end
    local out = {}
    for _, name in ipairs(names) do
        local key = key_of(name)
        if key then
            local list = self:list(key)
            if list and #list > 0 then
                out[#out + 1] = key
            end
        end
    end
    table.sort(out)
    return out
end

-- A log with nothing open goes; the next intent starts a new one.
function FileStore.compact(self, key, lease)
    local list, err = self:list(key)
    if not list then
        return nil, err
    end
    if #list == 0 and held(lease) then
        os.remove(self.resolved .. "/" .. file_name(key))
    end
    return true
end

return _M
