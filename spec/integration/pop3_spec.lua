-- The POP3 family: every command against the sandbox, in all three
-- response formats, giving identical tables.
local H = require "helper"

local FORMATS = { "xml", "text", "html" }

-- What differs from answer to answer: eNom's tracking key and its
-- server's time.
local function strip(t)
    t.tracking_key = nil
    t.exec_time = nil
    return t
end

-- Drops what eNom sends in XML only ("count", or "hosts.host_id" for a
-- column of every record), so that the Text/HTML results compare.
local function without(t, xml_only)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    for _, path in ipairs(xml_only) do
        local list, col = path:match("^([%w_]+)%.([%w_]+)$")
        if list then
            local recs = {}
            for i, r in ipairs(c[list]) do
                local copy = {}
                for k, v in pairs(r) do copy[k] = v end
                copy[col] = nil
                recs[i] = copy
            end
            c[list] = recs
        else
            c[path] = nil
        end
    end
    return c
end

-- Run `fn(client)` once per format, over HTTPS and over HTTP, each time
-- from the same fresh state; check the six results are equal. eNom's
-- Text and HTML answers lack a few keys of its XML (DeletePOP3's
-- AccountsDeleted, GetMailHosts' hostID): `xml_only` names them; they must
-- be present in XML and absent from Text and HTML.
local function same_in_all_formats(fn, xml_only)
    xml_only = xml_only or {}
    local out = {}
    for _, scheme in ipairs { "https", "http" } do
        for _, rt in ipairs(FORMATS) do
            H.reset()
            local c = H.client { response_type = rt, http = scheme == "http" }
            local res, err = fn(c)
            assert.is_nil(err, scheme .. " " .. rt .. ": " .. tostring(err))
            out[scheme .. " " .. rt] = strip(res)
            c:close()
        end
    end
    local xml = out["https xml"]
    for name, res in pairs(out) do
        if name:find("xml") then
            assert.same(xml, res, name)
        else
            assert.same(without(xml, xml_only), res, name)
            assert.same(res, without(res, xml_only), name .. " has no XML-only key")
        end
    end
    return xml
end

local DOMAIN = { sld = "resellerdocs", tld = "com" }
local function with(extra)
    local t = { sld = DOMAIN.sld, tld = DOMAIN.tld }
    for k, v in pairs(extra or {}) do
        t[k] = v
    end
    return t
end

describe("POP3 family", function()
    it("get_pop3: mailboxes and paks, typed, without passwords unless asked", function()
        local res = same_in_all_formats(function(c) return c:get_pop3(with()) end)
        assert.equal(2, #res.mailboxes)
        assert.equal(2, res.email_count)
        local james
        for _, m in ipairs(res.mailboxes) do
            if m.username == "james" then james = m end
            assert.is_nil(m.password)
        end
        assert.is_true(james.admin)
        assert.equal(5134, james.bundle_id)
        assert.equal(1024, james.quota)
        assert.equal(12, james.quota_used)
        assert.equal("boolean", type(james.auto_renew))
        assert.equal(1, #res.paks)
        assert.same(5134, res.paks[1].bundle_id)
        assert.equal(10, res.paks[1].purchased)
        assert.equal(8, res.paks[1].free)
        local with_pw = same_in_all_formats(function(c) return c:get_pop3(with { include_passwords = true }) end)
        assert.equal("Mbx-Jx4-Secret1", with_pw.mailboxes[1].password)
    end)

    it("setup_pop3_users", function()
        local res = same_in_all_formats(function(c)
            return c:setup_pop3_users(with { bundle_id = 5134, users = { { username = "kim", password = "Lark-Pass-77" } } })
        end)
        assert.equal(1, res.accounts_created)
        assert.truthy(H.mailboxes("resellerdocs.com").kim)
    end)

    it("setup_pop3_users splits a long list into several requests", function()
        H.reset()
        local c = H.client()
        local bought = assert(c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 1 })
        local users = {}
        for i = 1, 9 do
            users[i] = { username = "u" .. i, password = "Pass-" .. i .. "-Xyz" }
        end
        local before = H.received("SetUpPOP3User")
        local res = assert(c:setup_pop3_users { sld = "emptydomain", tld = "com", bundle_id = bought.bundle_ids[1],
            users = users, batch_size = 4 })
        assert.equal(9, res.accounts_created)
        assert.equal(before + 3, H.received("SetUpPOP3User"))
    end)

    it("purchase_pop_bundle returns the new bundle ids", function()
        local res = same_in_all_formats(function(c)
            return c:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 2 }
        end)
        assert.same({ 6001, 6002 }, res.bundle_ids)
        assert.equal(2, res.bundle_count)
        assert.truthy(res.order_id)
    end)

    it("modify_pop3 computes EmailCount itself", function()
        local res = same_in_all_formats(function(c)
            return c:modify_pop3(with { users = {
                { username = "support", admin = true }, { username = "james", password = "New-Pass-123" },
            } })
        end)
        assert.equal(2, res.accounts_modified)
        local m = H.mailboxes("resellerdocs.com")
        assert.is_true(m.support.admin)
        assert.equal("New-Pass-123", m.james.password)
    end)

    it("delete_pop3 takes names or records", function()
        local res = same_in_all_formats(function(c) return c:delete_pop3(with { users = { "support" } }) end,
            { "accounts_deleted" })
        assert.is_true(res.success)
        assert.equal(1, res.accounts_deleted)
        assert.is_nil(H.mailboxes("resellerdocs.com").support)
    end)

    it("delete_pop_pak refuses a pak with mailboxes, deletes an empty one", function()
        H.reset()
        local c = H.client()
        local _, err = c:delete_pop_pak(with { bundle_id = 5134 })
        assert.equal("api", err.kind)
        local res = same_in_all_formats(function(cl)
            local b = assert(cl:purchase_pop_bundle { sld = "emptydomain", tld = "com" })
            return cl:delete_pop_pak { sld = "emptydomain", tld = "com", bundle_id = b.bundle_ids[1] }
        end)
        assert.same({}, res.errors)
        assert.equal(0, #H.domain("emptydomain.com").paks)
    end)

    it("delete_all_pop_paks", function()
        local res = same_in_all_formats(function(cl)
            assert(cl:purchase_pop_bundle { sld = "emptydomain", tld = "com", quantity = 3 })
            return cl:delete_all_pop_paks { sld = "emptydomain", tld = "com" }
        end)
        assert.equal(3, res.paks_removed)
    end)

    it("get_pop_forwarding", function()
        local res = same_in_all_formats(function(c) return c:get_pop_forwarding(with { username = "james" }) end,
            { "count" })
        assert.equal(1, res.count)
        assert.equal("resellerdocs.com", res.forwards[1].domain)
        assert.equal("james", res.forwards[1].username)
        assert.equal(1, #res.forwards)
        assert.equal("james.doe@example.net", res.forwards[1].forward_to)
        assert.is_true(res.forwards[1].active)
    end)

    it("get_mail_hosts", function()
        local res = same_in_all_formats(function(c) return c:get_mail_hosts(with()) end,
            { "email_forwarding", "hosts.host_id" })
        assert.equal(1, res.hosts[1].host_id)
        assert.equal(2, #res.hosts)
        assert.equal(2, res.count)
        assert.equal("MX", res.hosts[1].record_type)
        assert.equal(10, res.hosts[1].mx_pref)
    end)

    it("set_forwarding replaces the set and refuses an accidental empty one", function()
        local res = same_in_all_formats(function(c)
            return c:set_forwarding(with { forwards = { { address = "help", forward_to = "desk@example.net" } } })
        end)
        assert.equal(1, res.mail_count)
        local c = H.client()
        local _, err = c:set_forwarding(with { forwards = {} })
        assert.equal("invalid", err.kind)
        assert.truthy(err.message:find("allow_empty"))
        local got = assert(c:get_forwarding(with()))
        assert.equal(1, #got.forwards)
        assert.equal("help", got.forwards[1].alias)
    end)

    it("get_forwarding", function()
        local res = same_in_all_formats(function(c) return c:get_forwarding(with()) end)
        assert.equal(2, #res.forwards)
        assert.equal(100, res.max_email)
        assert.equal(0, res.forwards[1].status) -- a code: 0 forwarding on
        assert.equal("sales-team@example.net", res.forwards[2].forward_to)
    end)

    it("get_catch_all", function()
        local res = same_in_all_formats(function(c) return c:get_catch_all(with()) end)
        assert.equal("james@resellerdocs.com", res.catch_all)
    end)

    it("get_dot_name_forwarding and set_dot_name_forwarding", function()
        local res = same_in_all_formats(function(c) return c:get_dot_name_forwarding { sld = "example", tld = "name" } end)
        assert.equal("someone@example.org", res.address)
        local set = same_in_all_formats(function(c)
            return c:set_dot_name_forwarding { sld = "example", tld = "name", forward_to = "me@example.org" }
        end)
        assert.same({}, set.errors)
        local _, err = H.client():get_dot_name_forwarding(with())
        assert.equal("api", err.kind)
    end)

    it("get_balance", function()
        local res = same_in_all_formats(function(c) return c:get_balance {} end)
        assert.equal(1000, res.balance)
    end)
end)
