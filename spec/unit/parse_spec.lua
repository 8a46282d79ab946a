-- enom.core.parse: eNom's XML, Text and HTML responses to one table shape.

local core = require "enom.core"

local concat = table.concat

local DIR = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "../fixtures/parse/"

-- A string that must never appear in an error message.
local SECRET = "S3cretPassw0rd!"

local function fixture(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function parse_fixture(name)
  local fmt = name:match("%.xml$") and "xml" or name:match("%.html$") and "html" or "text"
  return core.parse(fixture(name), fmt)
end

-- Integers are Lua integers on 5.3+ and whole numbers on LuaJIT.
local function is_integer(v)
  if type(v) ~= "number" then return false end
  if math.type then return math.type(v) == "integer" end
  return v == math.floor(v)
end

local function without(t, ...)
  local copy = {}
  for k, v in pairs(t) do copy[k] = v end
  for _, k in ipairs({ ... }) do copy[k] = nil end
  return copy
end

local function normalised(t)
  return {
    command = t.command,
    err_count = t.err_count,
    errors = t.errors,
    done = t.done,
    responses = t.responses,
  }
end

local function assert_parse_error(t, err)
  assert.is_nil(t)
  assert.is_string(err)
  assert.matches("^parse error: ", err)
end

-- A GetPOP3 answer with n mailboxes, in XML and in Text.
local function big_getpop3(n)
  local x, txt = { "<interface-response>" }, { ";URL Interface", ";Machine is SJL0VWRESELL_T1" }
  for i = 1, n do
    local u, p = "user" .. i, "pw" .. i .. "&x"
    x[#x + 1] = concat({
      " <pop>", "  <username>" .. u .. "</username>", "  <password>" .. p:gsub("&", "&amp;") .. "</password>",
      "  <quota>1024</quota>", "  <expdate>5/3/2010 2:14:59 AM</expdate>", "  <BundleId>26770</BundleId>",
      "  <AutoRenew>0</AutoRenew>", "  <admin>0</admin>", "  <quotaused>" .. i .. "</quotaused>", " </pop>",
    }, "\n")
    txt[#txt + 1] = concat({
      "Username" .. i .. "=" .. u, "Password" .. i .. "=" .. p, "Quota" .. i .. "=1024",
      "ExpDate" .. i .. "=5/3/2010 2:14:59 AM", "BundleId" .. i .. "=26770", "AutoRenew" .. i .. "=0",
      "admin" .. i .. "=0", "quotaused" .. i .. "=" .. i,
    }, "\r\n")
  end
  local trailer = { EmailCount = tostring(n), Command = "GETPOP3", ErrCount = "0", Done = "true" }
  for _, k in ipairs({ "EmailCount", "Command", "ErrCount", "Done" }) do
    x[#x + 1] = " <" .. k .. ">" .. trailer[k] .. "</" .. k .. ">"
    txt[#txt + 1] = k .. "=" .. trailer[k]
  end
  x[#x + 1] = "</interface-response>"
  return concat(x, "\n") .. "\n", concat(txt, "\r\n") .. "\r\n"
end

describe("core.parse", function()
  describe("SetUpPOP3User samples from eNom's command page", function()
    local xml = assert(parse_fixture("setuppop3user.xml"))
    local html = assert(parse_fixture("setuppop3user.html"))
    local text = assert(parse_fixture("setuppop3user.txt"))

    it("parse in all three formats", function()
      for _, t in ipairs({ xml, html, text }) do
        assert.equal("SETUPPOP3USER", t.command)
        assert.is_true(t.done)
        assert.equal("1", t.fields.AccountsCreated)
        assert.equal("True", t.fields.Success)
        assert.equal("SETUPPOP3USER", t.fields.Command)
        assert.equal("true", t.fields.Done)
        assert.same({}, t.responses)
      end
    end)

    it("XML reports no error", function()
      assert.equal(0, xml.err_count)
      assert.is_true(is_integer(xml.err_count))
      assert.same({}, xml.errors)
      assert.equal("0", xml.fields.ErrCount)
      assert.same({}, xml.indexed)
      assert.same({}, xml.records)
    end)

    it("HTML and Text report the error beside Success=True", function()
      for _, t in ipairs({ html, text }) do
        assert.equal(1, t.err_count)
        assert.is_true(is_integer(t.err_count))
        assert.same({ "Invalid Item specified" }, t.errors)
        assert.is_nil(t.fields.Err1)
        assert.equal("", t.fields.IsLockable)
        assert.equal("", t.fields.IsRealTimeTLD)
        assert.equal("2/5/2015 3:40:01 PM", html.fields.RequestDateTime)
        assert.same({}, t.indexed)
        assert.same({}, t.records)
      end
      assert.equal("2/5/2015 3:41:19 PM", text.fields.RequestDateTime)
      assert.same(without(html.fields, "ExecTime", "TrackingKey", "RequestDateTime"),
        without(text.fields, "ExecTime", "TrackingKey", "RequestDateTime"))
    end)
  end)

  describe("GetPOP3, the same data in three formats", function()
    local xml = assert(parse_fixture("getpop3.xml"))
    local text = assert(parse_fixture("getpop3.txt"))
    local html = assert(parse_fixture("getpop3.html"))

    it("gives the same normalised parts", function()
      local want = {
        command = "GETPOP3", err_count = 0, errors = {}, done = true, responses = {},
      }
      assert.same(want, normalised(xml))
      assert.same(want, normalised(text))
      assert.same(want, normalised(html))
    end)

    it("gives the same scalar fields (XML adds its <debug/>)", function()
      assert.equal("", xml.fields.debug)
      assert.same(without(xml.fields, "debug"), text.fields)
      assert.same(text.fields, html.fields)
      assert.equal("8", text.fields.EmailCount)
      assert.equal("", text.fields.AdditionalHostAcctLogin)
      assert.is_nil(text.fields.Username1)
    end)

    it("Text and HTML index the mailboxes the same way", function()
      assert.same(text.indexed, html.indexed)
      assert.same({ "dell", "hp", "lenovo", "sss", "facebook", "google", "instragram", "twitter" },
        text.indexed.username)
      assert.same({ "26770", "26771" }, text.indexed.pakbundleid)
      assert.same({ "0", "0", "0", "0", "0", "0", "0", "0" }, text.indexed.admin)
      assert.same({}, text.records)
    end)

    it("XML gives the mailboxes as records, matching Text's indexed keys", function()
      assert.same({}, xml.indexed)
      local pops = xml.records.pop
      assert.equal(8, #pops)
      assert.same({
        username = "dell", password = "78910", quota = "1024", expdate = "5/3/2010 2:14:59 AM",
        bundleid = "26770", autorenew = "0", admin = "0", quotaused = "0",
      }, pops[1])
      for i, pop in ipairs(pops) do
        for _, k in ipairs({ "username", "password", "quota", "expdate", "bundleid", "autorenew", "admin",
                             "quotaused" }) do
          assert.equal(text.indexed[k][i], pop[k])
        end
      end
      assert.same({ {} }, xml.records.paks)
      assert.equal(2, #xml.records.pak)
      for i, pak in ipairs(xml.records.pak) do
        assert.equal(text.indexed.pakbundleid[i], pak.bundleid)
        assert.equal(text.indexed.pakqtyavailable[i], pak.qtyavailable)
        assert.equal(text.indexed.pakprodtype[i], pak.prodtype)
      end
      -- leaves below the root stay in their record
      assert.is_nil(xml.fields.username)
      assert.is_nil(xml.fields.QtyPurchased)
    end)
  end)

  describe("an error answer with responses", function()
    it("is the same in all three formats", function()
      local xml = assert(parse_fixture("getpop3_error.xml"))
      local text = assert(parse_fixture("getpop3_error.txt"))
      local html = assert(parse_fixture("getpop3_error.html"))
      local want = {
        command = "GETPOP3", err_count = 1, errors = { "Bad User name or Password" }, done = true,
        responses = { { number = 304155, string = "Bad User name or Password" } },
      }
      for _, t in ipairs({ xml, text, html }) do
        assert.same(want, normalised(t))
        assert.is_true(is_integer(t.responses[1].number))
        assert.equal("1", t.fields.ResponseCount)
        assert.is_nil(t.fields.Err1)
        assert.is_nil(t.fields.ResponseNumber1)
        assert.same({}, t.records)
      end
      assert.same(without(xml.fields, "debug"), text.fields)
      assert.same(text.fields, html.fields)
      assert.is_nil(xml.fields.errors)
      assert.is_nil(xml.fields.responses)
    end)

    it("keeps a response number that is not an integer as a string", function()
      local t = assert(core.parse("ResponseNumber1=30415X\nResponseString1=odd\nDone=true\n", "text"))
      assert.same({ { number = "30415X", string = "odd" } }, t.responses)
    end)

    it("orders errors by index and closes gaps", function()
      local t = assert(core.parse("Err3=third\nErr1=first\nErrCount=2\n", "text"))
      assert.same({ "first", "third" }, t.errors)
      t = assert(core.parse("Err2=second\nErr1=first\n", "text"))
      assert.same({ "first", "second" }, t.errors)
      t = assert(core.parse([[
<interface-response><errors><Err2>b</Err2><Err1>a</Err1></errors><ErrCount>2</ErrCount></interface-response>]], "xml"))
      assert.same({ "a", "b" }, t.errors)
      assert.equal(2, t.err_count)
    end)
  end)

  describe("Text", function()
    it("splits on the first '=' only", function()
      local t = assert(core.parse("Err1=a=b\nURL=https://x.example/?a=1&b=2\nDone=true\n", "text"))
      assert.same({ "a=b" }, t.errors)
      assert.equal("https://x.example/?a=1&b=2", t.fields.URL)
    end)

    it("accepts CRLF, LF and a last line without a newline", function()
      local crlf = assert(core.parse("Command=GETPOP3\r\nErrCount=0\r\nDone=true", "text"))
      assert.equal("GETPOP3", crlf.command)
      assert.equal(0, crlf.err_count)
      assert.is_true(crlf.done)
      assert.equal("true", crlf.fields.Done)
      assert.equal("GETPOP3", crlf.fields.Command)
    end)

    it("accepts 'Key: Value' lines, deciding the separator per line", function()
      local t = assert(core.parse(concat({
        "ExpDate1: 11/6/2015 2:14:59 AM",
        "Note=a: b",
        "Other: c=d",
        "IsLockable:",
        "Empty=",
        "Done: true",
      }, "\n"), "text"))
      -- one ExpDate1 and no count that says it is a list: a field by its name
      assert.equal("11/6/2015 2:14:59 AM", t.fields.ExpDate1)
      assert.equal("a: b", t.fields.Note)
      assert.equal("c=d", t.fields.Other)
      assert.equal("", t.fields.IsLockable)
      assert.equal("", t.fields.Empty)
      assert.is_true(t.done)
      local p = assert(parse_fixture("purchasepopbundle.txt"))
      assert.equal("161808176", p.fields.orderid)
      assert.same({ "1004952", "1004953" }, p.indexed.bundleid)
      assert.equal("PURCHASEPOPBUNDLE", p.command)
      assert.is_true(p.done)
    end)

    it("skips ';' lines and blank lines and trims keys and values", function()
      local t = assert(core.parse(";URL Interface\n;Machine is X\n\n  \r\n  Site =  eNom  \r\n\t\nDone=true\n", "text"))
      assert.equal("eNom", t.fields.Site)
      for k in pairs(t.fields) do
        assert.not_matches("^;", k)
        assert.not_matches("Machine", k)
      end
      local n = 0
      for _ in pairs(t.fields) do n = n + 1 end
      assert.equal(2, n)
    end)

    it("files list columns under indexed, by lower-cased base, when a count says so", function()
      local t = assert(core.parse("Username1=neil\nUserName2=bob\nadmin1=1\nadmin2=0\nEmailCount=2\n" ..
        "PakBundleId1=1003774\nCount=1\nDone=true\n", "text"))
      assert.same({ username = { "neil", "bob" }, admin = { "1", "0" }, pakbundleid = { "1003774" } }, t.indexed)
      assert.is_nil(t.fields.Username1)
    end)

    it("files three or more consecutive indexes under indexed without a count", function()
      local t = assert(core.parse("Type1=a\nType2=b\nType3=c\nDone=true\n", "text"))
      assert.same({ type = { "a", "b", "c" } }, t.indexed)
    end)

    it("keeps names that merely end in digits as fields, as XML does", function()
      local t = assert(core.parse("RegistrantAddress1=1 Main St\nRegistrantAddress2=\nTechAddress1=2 Side St\n" ..
        "TechAddress2=Suite 3\nErrCount=2\nErr1=a\nErr2=b\nDone=true\n", "text"))
      assert.same({}, t.indexed)
      assert.equal("1 Main St", t.fields.RegistrantAddress1)
      assert.equal("", t.fields.RegistrantAddress2)
      assert.equal("Suite 3", t.fields.TechAddress2)
      assert.same({ "a", "b" }, t.errors)
      -- one index and no count that matches: a name
      local g = assert(core.parse("Name1=a\nItemCount=2\nDone=true\n", "text"))
      assert.same({}, g.indexed)
      assert.equal("a", g.fields.Name1)
    end)

    it("is done only when a Done field says true", function()
      assert.is_true(assert(core.parse("done=TRUE\n", "text")).done)
      assert.is_false(assert(core.parse("Done=false\n", "text")).done)
      assert.is_false(assert(core.parse("Done=\n", "text")).done)
    end)

    it("parses a body cut before Done, with done = false", function()
      local body = fixture("getpop3.txt")
      local cut = body:find("Done=", 1, true) - 1
      local t = assert(core.parse(body:sub(1, cut), "text"))
      assert.is_false(t.done)
      assert.equal("GETPOP3", t.command)
      -- cut anywhere: never an error once a field has been seen, never done
      local first = body:find("\n[^;]") + 1
      for n = first + 20, cut, 97 do
        local u = assert(core.parse(body:sub(1, n), "text"))
        assert.is_false(u.done)
      end
    end)

    it("gives err_count nil when ErrCount is not a number", function()
      local t = assert(core.parse("ErrCount=many\nDone=true\n", "text"))
      assert.is_nil(t.err_count)
      assert.equal("many", t.fields.ErrCount)
      assert.is_nil(assert(core.parse("Done=true\n", "text")).err_count)
      assert.is_nil(t.command)
    end)

    it("rejects garbage", function()
      assert_parse_error(core.parse(fixture("garbage.txt"), "text"))
      assert_parse_error(core.parse("just some words\nand more", "text"))
      -- an HTML body read as Text has no Key=Value line
      assert_parse_error(core.parse(fixture("setuppop3user.html"), "text"))
      local _, err = core.parse(fixture("garbage.txt"), "text")
      assert.equal("parse error: no fields found", err)
    end)
  end)

  describe("HTML", function()
    it("reads '<STRONG>Key: </ STRONG>' and '<STRONG>Key:</STRONG>' fields", function()
      local t = assert(core.parse(concat({
        ";URL Interface<br>",
        "<HTML><BODY>",
        "<STRONG>Command: </ STRONG>GETPOP3<br>",
        "<strong>Site:</strong>eNom<br>",
        "<STRONG>IsLockable:</ STRONG><br>",
        "<STRONG>Done: </ STRONG>true<br>",
        "</BODY></HTML>",
      }, "\r\n"), "html"))
      assert.equal("GETPOP3", t.command)
      assert.equal("eNom", t.fields.Site)
      assert.equal("", t.fields.IsLockable)
      assert.is_true(t.done)
    end)

    it("decodes entities in values", function()
      local t = assert(core.parse(
        "<STRONG>Password1: </ STRONG>a&amp;b&lt;c&gt;d&quot;e&#39;f&#65;&#x42;&#233;&bogus;&#0;&<br>\n" ..
        "<STRONG>Done: </ STRONG>true<br>\n", "html"))
      assert.equal("a&b<c>d\"e'fAB\195\169&bogus;&#0;&", t.fields.Password1)
    end)

    it("parses fields that share one line", function()
      local t = assert(core.parse("<HTML><BODY><STRONG>A: </ STRONG>1<br><STRONG>B: </ STRONG>2<br></BODY></HTML>",
        "html"))
      assert.same({ A = "1", B = "2" }, t.fields)
    end)

    it("rejects garbage and parses a cut body with done = false", function()
      assert_parse_error(core.parse(fixture("garbage.txt"), "html"))
      assert_parse_error(core.parse(fixture("setuppop3user.txt"), "html"))
      local body = fixture("getpop3.html")
      local t = assert(core.parse(body:sub(1, body:find("<STRONG>Done") - 1), "html"))
      assert.is_false(t.done)
      assert.equal("GETPOP3", t.command)
    end)
  end)

  describe("a name repeated without an index", function()
    -- The order fields of eNom's GetOrderList page (Text rendering), newest first.
    local ORDER_IDS = { "161807262", "161807261", "161807260", "161807259" }
    local ORDER_DATES = { "2/1/2015 6:37:28 PM", "2/1/2015 6:37:04 PM", "2/1/2015 6:36:47 PM", "2/1/2015 6:35:59 PM" }
    local DOMAINS = { "test123456test123456.us", "test123456test123456.ca", "test123456test123456.com" }

    -- The `Key: Value` lines of a Text answer as eNom's HTML form writes them.
    local function as_html(text)
      local out = { "<HTML><BODY>" }
      for line in text:gmatch("[^\n]+") do
        local k, v = line:match("^(%a[%w ]*): ?(.*)$")
        if line:find("^;") then
          out[#out + 1] = line .. "<br>"
        elseif k then
          out[#out + 1] = "<STRONG>" .. k .. ": </ STRONG>" .. v .. "<br>"
        end
      end
      out[#out + 1] = "</BODY></HTML>"
      return concat(out, "\n")
    end

    -- XML leaves at the top level of an answer as Text lines.
    local function xml_as_text(xml)
      local out = { ";URL Interface" }
      for k, v in xml:gmatch("<(%w+)>([^<]*)</%1>") do
        out[#out + 1] = k .. "=" .. v
      end
      return concat(out, "\n")
    end

    it("keeps every OrderID of eNom's GetOrderList page, in order (Text)", function()
      local t = assert(parse_fixture("getorderlist.txt"))
      assert.same(ORDER_IDS, t.fields.OrderID)
      assert.same(ORDER_DATES, t.fields.OrderDate)
      -- given once: a string, as before
      assert.equal("Order complete", t.fields.StatusDesc)
      assert.equal("1370", t.fields.RecordCount)
      assert.equal("GETORDERLIST", t.command)
      assert.is_true(t.done)
      assert.same({}, t.indexed)
    end)

    it("keeps them the same way in HTML and in Text written Key=Value", function()
      local text = fixture("getorderlist.txt")
      local html = assert(core.parse(as_html(text), "html"))
      local eq = assert(core.parse((text:gsub("\n(%a%w*): ", "\n%1=")), "text"))
      for _, t in ipairs({ html, eq }) do
        assert.same(ORDER_IDS, t.fields.OrderID)
        assert.same(ORDER_DATES, t.fields.OrderDate)
        assert.equal("Order complete", t.fields.StatusDesc)
        assert.is_true(t.done)
      end
    end)

    it("keeps every <Domain> of a recorded multi-domain Check (XML, top level)", function()
      local t = assert(parse_fixture("check_tldlist.xml"))
      assert.same(DOMAINS, t.fields.Domain)
      assert.same({ "210", "210", "210" }, t.fields.RRPCode)
      assert.same({ "Domain available", "Domain available", "Domain available" }, t.fields.RRPText)
      assert.equal("3", t.fields.DomainCount)
      assert.equal("CHECK", t.command)
      assert.equal(0, t.err_count)
      assert.is_true(t.done)
    end)

    it("gives the Check's domains alike in Text and HTML", function()
      local text = xml_as_text(fixture("check_tldlist.xml"))
      for _, t in ipairs({ assert(core.parse(text, "text")), assert(core.parse(as_html(text:gsub("=", ": ")), "html")) }) do
        assert.same(DOMAINS, t.fields.Domain)
        assert.same({ "210", "210", "210" }, t.fields.RRPCode)
        assert.equal("3", t.fields.DomainCount)
        assert.is_true(t.done)
      end
    end)

    it("has one representation: a repeated leaf in a record is an array of the same kind", function()
      local t = assert(core.parse([[
<interface-response>
  <Domain>a.com</Domain><Domain>a.net</Domain>
  <rec><Domain>b.com</Domain><Domain>b.net</Domain></rec>
  <Done>true</Done>
</interface-response>]], "xml"))
      assert.same({ "a.com", "a.net" }, t.fields.Domain)
      assert.same({ { domain = { "b.com", "b.net" } } }, t.records.rec)
    end)

    it("keeps empty values and values with '=' in their place", function()
      local t = assert(core.parse("A=1\nA=\nA=x=y\nA=4\nDone=true", "text"))
      assert.same({ "1", "", "x=y", "4" }, t.fields.A)
    end)

    it("leaves an indexed key and a name spelt in another case apart", function()
      local t = assert(core.parse("Name1=a\nName1=b\nName2=c\nName3=d\nName=x\nname=y\nDone=true", "text"))
      -- a list column: the index decides, the last value of an index wins
      assert.same({ "b", "c", "d" }, t.indexed.name)
      assert.equal("x", t.fields.Name)
      assert.equal("y", t.fields.name)
    end)

    it("takes the last Done, Command and ErrCount for the envelope", function()
      local t = assert(core.parse("Command=A\nDone=true\nCommand=B\nErrCount=0\nDone=false", "text"))
      assert.equal("B", t.command)
      assert.is_false(t.done)
      assert.same({ "true", "false" }, t.fields.Done)
    end)
  end)

  describe("XML", function()
    it("makes repeated leaves of one record an array", function()
      local t = assert(parse_fixture("purchasepopbundle.xml"))
      assert.same({ { bundleid = { "30823", "30824" } } }, t.records.bundles)
      assert.equal("157781024", t.fields.orderid)
      assert.equal("", t.fields.debug)
    end)

    it("keeps CDATA, decodes character references, trims leaf text, ignores attributes", function()
      local t = assert(core.parse([==[
<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<Interface-Response>
  <Command a="1">  GETPOP3
  </Command>
  <debug><![CDATA[ <b>x</b> & y ]]></debug>
  <Name>A &amp; B &#233;</Name>
  <ErrCount> 0 </ErrCount>
  <Done>TRUE</Done>
</Interface-Response>]==], "xml"))
      assert.equal("GETPOP3", t.command)
      assert.equal("<b>x</b> & y", t.fields.debug)
      assert.equal("A & B \195\169", t.fields.Name)
      assert.equal(0, t.err_count)
      assert.is_true(t.done)
    end)

    it("does not expand entities: billion laughs", function()
      local t, err = parse_fixture("billion_laughs.xml")
      if t then
        assert.not_matches("lol", t.fields.Value)
      else
        assert_parse_error(t, err)
      end
    end)

    it("does not read files through external entities", function()
      for _, name in ipairs({ "xxe_file.xml", "xxe_parameter.xml", "external_dtd.xml" }) do
        local t, err = parse_fixture(name)
        if t then
          for _, v in pairs(t.fields) do
            assert.not_matches("root:", v)
          end
          assert.equal("", t.fields.Value or "")
        else
          assert_parse_error(t, err)
          assert.not_matches("root:", err)
        end
      end
    end)

    it("rejects malformed and truncated XML", function()
      assert_parse_error(parse_fixture("malformed.xml"))
      assert_parse_error(parse_fixture("truncated.xml"))
      local _, err = parse_fixture("malformed.xml")
      assert.matches("at line 3", err)
      assert_parse_error(core.parse("not xml at all", "xml"))
      assert_parse_error(core.parse("   \n ", "xml"))
      assert_parse_error(core.parse("<interface-response><a>1</a></interface-response><x/>", "xml"))
    end)

    it("rejects every truncation of a GetPOP3 answer", function()
      local body = fixture("getpop3.xml")
      local last = #body - #"</interface-response>\n"
      for n = 1, last + 19, 7 do
        assert_parse_error(core.parse(body:sub(1, n), "xml"))
      end
      assert.truthy(core.parse(body:sub(1, #body - 1), "xml"))
    end)

    it("rejects a root other than <interface-response>", function()
      local t, err = parse_fixture("wrong_root.xml")
      assert_parse_error(t, err)
      assert.equal("parse error: root element is <html>, expected <interface-response>", err)
    end)

    it("rejects absurd nesting", function()
      local body = "<interface-response>" .. ("<a>"):rep(5000) .. ("</a>"):rep(5000) .. "</interface-response>"
      assert_parse_error(core.parse(body, "xml"))
    end)

    it("gives an answer with no fields, not an error, for an empty root", function()
      local t = assert(core.parse("<interface-response/>", "xml"))
      assert.same({}, t.fields)
      assert.is_false(t.done)
      assert.is_nil(t.command)
    end)
  end)

  describe("error messages", function()
    it("never carry body content", function()
      local bodies = {
        { fixture("malformed.xml"), "xml" },
        { fixture("wrong_root.xml"), "xml" },
        { "<interface-response><password>" .. SECRET .. "</password>", "xml" },
        { "<" .. SECRET .. "/>", "xml" },
        { "<interface-response><pw>" .. SECRET .. "&" .. SECRET .. ";</pw></interface-response>", "xml" },
        { SECRET .. "\n" .. SECRET, "text" },
        { "<p>" .. SECRET .. "</p>", "html" },
      }
      for _, b in ipairs(bodies) do
        local t, err = core.parse(b[1], b[2])
        assert_parse_error(t, err)
        assert.not_matches(SECRET, err, 1, true)
        assert.not_matches("S3cret", err, 1, true)
      end
    end)

    it("report an empty body in every format", function()
      for _, fmt in ipairs({ "xml", "text", "html" }) do
        local t, err = core.parse("", fmt)
        assert_parse_error(t, err)
        assert.equal("parse error: empty body", err)
      end
    end)
  end)

  describe("arguments", function()
    it("raise when wrong", function()
      assert.has_error(function() core.parse() end)
      assert.has_error(function() core.parse(nil, "xml") end)
      assert.has_error(function() core.parse(123, "text") end)
      assert.has_error(function() core.parse({}, "text") end)
      assert.has_error(function() core.parse("Done=true", "json") end)
      assert.has_error(function() core.parse("Done=true", 1) end)
    end)

    it("default to Text", function()
      assert.is_true(assert(core.parse("Done=true\n")).done)
      assert.is_true(assert(core.parse("Done=true\n", nil)).done)
    end)
  end)

  describe("a GetPOP3 answer with 1,000 mailboxes", function()
    it("gives the same mailboxes in XML and Text", function()
      local xbody, tbody = big_getpop3(1000)
      local x = assert(core.parse(xbody, "xml"))
      local t = assert(core.parse(tbody, "text"))
      assert.equal(1000, #x.records.pop)
      assert.equal(1000, #t.indexed.username)
      for i = 1, 1000, 37 do
        assert.equal(t.indexed.username[i], x.records.pop[i].username)
        assert.equal(t.indexed.password[i], x.records.pop[i].password)
        assert.equal(tostring(i), x.records.pop[i].quotaused)
      end
      assert.equal("pw1000&x", x.records.pop[1000].password)
      assert.same(normalised(x), normalised(t))
      assert.same(x.fields, t.fields)
    end)
  end)
  describe("libxml2's diagnostics", function()
    -- A child process, so that anything libxml2 prints lands in a file we
    -- can read: nothing may reach stderr, the bytes of a body least of all.
    local function stderr_of(body)
      local dir = os.tmpname()
      os.remove(dir)
      assert(os.execute("mkdir -m 700 " .. dir))
      local f = assert(io.open(dir .. "/body", "wb"))
      f:write(body)
      f:close()
      local script = dir .. "/parse.lua"
      f = assert(io.open(script, "w"))
      f:write([[
local core = require "enom.core"
local body = assert(io.open(arg[1], "rb")):read("a")
local t, err = core.parse(body, "xml")
io.stdout:write(tostring(t and "table" or err), "\n")
]])
      f:close()
      local lua = arg and arg[-1] or "lua5.4"
      local cmd = string.format("LUA_CPATH=%q LUA_PATH=%q %s %s %s/body >%s/out 2>%s/err", package.cpath,
        package.path, lua, script, dir, dir, dir)
      os.execute(cmd)
      local out = assert(io.open(dir .. "/out")):read("a")
      local err = assert(io.open(dir .. "/err")):read("a")
      os.execute("rm -rf " .. dir)
      return out, err
    end

    it("never reach stderr, also for a badly encoded body (bytes 0xFF 0x3C)", function()
      local bodies = {
        '<?xml version="1.0" encoding="ISO-2022-JP"?><interface-response>\255\60Pass</interface-response>',
        '<?xml version="1.0" encoding="utf-16"?><interface-response>\255\60</interface-response>',
        '<?xml version="1.0" encoding="no-such-encoding"?><interface-response/>',
        "<interface-response><Password1>\255\60secret</Password1></interface-response>",
      }
      for _, body in ipairs(bodies) do
        local out, err = stderr_of(body)
        assert.equal("", err)
        assert.matches("^parse error: ", out)
      end
      assert.matches("^parse error: badly encoded XML", (stderr_of(bodies[1])))
    end)

    it("are put back: a later parse still reports its own errors", function()
      local t, err = core.parse("<interface-response><a></interface-response>", "xml")
      assert.is_nil(t)
      assert.matches("malformed XML at line 1", err)
      assert.is_table(assert(core.parse("<interface-response><Done>true</Done></interface-response>", "xml")))
    end)
  end)
end)
