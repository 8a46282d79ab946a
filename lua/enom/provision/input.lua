--- Reading people and mailboxes from CSV and JSON files.
local json = require "enom.json"

local _M = {}

local concat = table.concat

-- Split one CSV record starting at `pos`; handles quoted fields with
-- commas, doubled quotes and line breaks. Returns fields, next position.
local function record(text, pos)
    local fields, n = {}, #text
    while true do
        local c = text:sub(pos, pos)
        if c == '"' then
            local buf, i = {}, pos + 1
            while true do
                local q = text:find('"', i, true)
                if not q then
                    return nil, "unterminated quoted field"
                end
                buf[#buf + 1] = text:sub(i, q - 1)
                if text:sub(q + 1, q + 1) == '"' then
                    buf[#buf + 1] = '"'
                    i = q + 2
                else
                    pos = q + 1
                    break
                end
            end
            fields[#fields + 1] = concat(buf)
        else
            local e = text:find("[,\r\n]", pos) or n + 1
            fields[#fields + 1] = text:sub(pos, e - 1)
            pos = e
        end
        local sep = text:sub(pos, pos)
        if sep == "," then
            pos = pos + 1
        elseif sep == "\r" or sep == "\n" or sep == "" then
            if sep == "\r" and text:sub(pos + 1, pos + 1) == "\n" then
                pos = pos + 1
            end
            return fields, pos + 1
        else
            return nil, "unexpected character after quoted field"
        end
    end
end

--- Parse CSV text with a header row into an array of records (tables
-- keyed by the header names, trimmed). Blank lines are skipped.
-- @param text the CSV text, its first line the header
function _M.parse_csv(text)
    if text:sub(1, 3) == "\239\187\191" then
        text = text:sub(4) -- a byte-order mark
    end
    local rows, pos, line = {}, 1, 0
    local header
    while pos <= #text do
        line = line + 1
        local fields, nxt = record(text, pos)
        if not fields then
            return nil, "CSV line " .. line .. ": " .. nxt
        end
        pos = nxt
        if not (#fields == 1 and fields[1] == "") then
            if not header then
                header = {}
                for i, h in ipairs(fields) do
                    header[i] = h:match("^%s*(.-)%s*$")
                end
            else
                local rec = {}
                for i, h in ipairs(header) do
                    local v = fields[i]
                    if v ~= nil and v ~= "" then
                        rec[h] = v:match("^%s*(.-)%s*$")
                    end
                end
                rows[#rows + 1] = rec
            end
        end
    end
    if not header then
        return nil, "CSV has no header row"
    end
    return rows
end

local function slurp(path)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local text = f:read("a")
    f:close()
    return text
end

--- Read a CSV file (header row first).
-- @param path the file to read
function _M.read_csv(path)
    local text, err = slurp(path)
    if not text then
        return nil, err
    end
    return _M.parse_csv(text)
end

--- Read a JSON file holding an array of records.
-- @param path the file to read
function _M.read_json(path)
    local text, err = slurp(path)
    if not text then
        return nil, err
    end
    return json.decode(text)
end

return _M
