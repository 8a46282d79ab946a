package = "enom"
version = "0.1.0-1"
source = {
   url = "git+file:///dev/null",
   tag = "v0.1.0",
}
description = {
   summary = "The eNom reseller API from Lua: POP3 mailboxes, with a C core",
   detailed = [[
      Set up, change and remove eNom POP3 mailboxes from Lua scripts and
      from nginx/OpenResty. A C core does form encoding with indexed
      parameters, libcurl transport (connection reuse, TLS, time-outs,
      concurrency) and parsing of eNom's XML, Text and HTML answers; the
      Lua layer adds typed methods, validation, batches and provisioning
      with safe retries.
   ]],
   license = "MIT",
}
-- The C core is written against the Lua 5.2+ C API (luaL_setfuncs,
-- luaL_newlib, luaL_testudata, luaL_setmetatable, lua_rawlen): it builds
-- with Lua 5.2, 5.3 and 5.4 and is tested on 5.4. PUC Lua 5.1 lacks that
-- API. LuaJIT 2.1 (OpenResty) has it, but LuaRocks counts LuaJIT as 5.1:
-- build for LuaJIT with `make luajit` (csrc/compat.h bridges the rest).
dependencies = {
   "lua >= 5.2",
   -- The enom command also needs argparse (Debian: lua-argparse).
}
external_dependencies = {
   -- Debian keeps curl's header in a multiarch folder the compiler
   -- already searches, so curl is found by its library.
   CURL = { library = "curl" },
   LIBXML2 = { header = "libxml2/libxml/parser.h" },
}
build = {
   type = "builtin",
   modules = {
      ["enom.core"] = {
         sources = {
            "csrc/buffer.c", "csrc/client.c", "csrc/core.c", "csrc/encode.c", "csrc/lock.c",
            "csrc/parse.c", "csrc/parse_kv.c", "csrc/parse_result.c", "csrc/parse_xml.c",
            "csrc/signal.c", "csrc/system.c", "csrc/transfer.c", "csrc/url.c",
         },
         defines = { "_GNU_SOURCE" },
         libraries = { "curl", "xml2" },
         incdirs = { "$(LIBXML2_INCDIR)/libxml2" },
         libdirs = { "$(CURL_LIBDIR)" },
      },
      enom = "lua/enom.lua",
      ["enom.batch"] = "lua/enom/batch.lua",
      ["enom.cli"] = "lua/enom/cli.lua",
      ["enom.cli.account"] = "lua/enom/cli/account.lua",
      ["enom.cli.apply"] = "lua/enom/cli/apply.lua",
      ["enom.cli.catchall"] = "lua/enom/cli/catchall.lua",
      ["enom.cli.config"] = "lua/enom/cli/config.lua",
      ["enom.cli.context"] = "lua/enom/cli/context.lua",
      ["enom.cli.desired"] = "lua/enom/cli/desired.lua",
      ["enom.cli.forwarding"] = "lua/enom/cli/forwarding.lua",
      ["enom.cli.journal"] = "lua/enom/cli/journal.lua",
      ["enom.cli.mailboxes"] = "lua/enom/cli/mailboxes.lua",
      ["enom.cli.output"] = "lua/enom/cli/output.lua",
      ["enom.cli.paks"] = "lua/enom/cli/paks.lua",
      ["enom.cli.passwords"] = "lua/enom/cli/passwords.lua",
      ["enom.cli.plan"] = "lua/enom/cli/plan.lua",
      ["enom.cli.progress"] = "lua/enom/cli/progress.lua",
      ["enom.cli.queue"] = "lua/enom/cli/queue.lua",
      ["enom.cli.sandbox"] = "lua/enom/cli/sandbox.lua",
      ["enom.client"] = "lua/enom/client.lua",
      ["enom.clock"] = "lua/enom/clock.lua",
      ["enom.commands"] = "lua/enom/commands.lua",
      ["enom.defaults"] = "lua/enom/defaults.lua",
      ["enom.errors"] = "lua/enom/errors.lua",
      ["enom.journal"] = "lua/enom/journal.lua",
      ["enom.json"] = "lua/enom/json.lua",
      ["enom.lease"] = "lua/enom/lease.lua",
      ["enom.lease.host"] = "lua/enom/lease/host.lua",
      ["enom.lease.process"] = "lua/enom/lease/process.lua",
      ["enom.lease.redis"] = "lua/enom/lease/redis.lua",
      ["enom.lease.shdict"] = "lua/enom/lease/shdict.lua",
      ["enom.metrics"] = "lua/enom/metrics.lua",
      ["enom.names"] = "lua/enom/names.lua",
      ["enom.password"] = "lua/enom/password.lua",
      ["enom.provision.buy"] = "lua/enom/provision/buy.lua",
      ["enom.provision.create"] = "lua/enom/provision/create.lua",
      ["enom.provision.delete"] = "lua/enom/provision/delete.lua",
      ["enom.provision.domain"] = "lua/enom/provision/domain.lua",
      ["enom.provision.forwards"] = "lua/enom/provision/forwards.lua",
      ["enom.provision"] = "lua/enom/provision/init.lua",
      ["enom.provision.input"] = "lua/enom/provision/input.lua",
      ["enom.provision.inventory"] = "lua/enom/provision/inventory.lua",
      ["enom.provision.modify"] = "lua/enom/provision/modify.lua",
      ["enom.provision.orders"] = "lua/enom/provision/orders.lua",
      ["enom.provision.paks"] = "lua/enom/provision/paks.lua",
      ["enom.provision.plan"] = "lua/enom/provision/plan.lua",
      ["enom.provision.planner"] = "lua/enom/provision/planner.lua",
      ["enom.provision.policy"] = "lua/enom/provision/policy.lua",
      ["enom.provision.renew"] = "lua/enom/provision/renew.lua",
      ["enom.provision.report"] = "lua/enom/provision/report.lua",
      ["enom.provision.run"] = "lua/enom/provision/run.lua",
      ["enom.provision.scheduler"] = "lua/enom/provision/scheduler.lua",
      ["enom.provision.templates"] = "lua/enom/provision/templates.lua",
      ["enom.queue"] = "lua/enom/queue.lua",
      ["enom.ratelimit"] = "lua/enom/ratelimit.lua",
      ["enom.redis"] = "lua/enom/redis.lua",
      ["enom.request"] = "lua/enom/request.lua",
      ["enom.responses"] = "lua/enom/responses.lua",
      ["enom.results"] = "lua/enom/results.lua",
      ["enom.transport.curl"] = "lua/enom/transport/curl.lua",
      ["enom.transport.http1"] = "lua/enom/transport/http1.lua",
      ["enom.transport.ngx"] = "lua/enom/transport/ngx.lua",
      ["enom.transport.ngx_threads"] = "lua/enom/transport/ngx_threads.lua",
      ["enom.validate"] = "lua/enom/validate.lua",
   },
   install = {
      -- The command line; LuaRocks wraps it so it finds the tree's modules.
      bin = { enom = "bin/enom" },
   },
}
