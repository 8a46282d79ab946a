# enom: Lua module with a C core for the eNom reseller API.
#
#   make deps      install the Debian packages every target needs (as root; idempotent)
#   make           build the Lua 5.4 core   -> build/5.4/enom/core.so
#   make luajit    build the LuaJIT core    -> build/jit/enom/core.so
#   make asan      build the sanitizer core -> build/asan/enom/core.so
#   make test      deps, all builds, then every spec against a local sandbox
#   make unit      the unit specs only: no sandbox, no sockets, a few seconds
#   make demo      deps, build, start the sandbox, provision a domain from a CSV
#   make sandbox   run the eNom sandbox in the foreground (Ctrl-C stops it)
#   make bench     benchmarks, results as ratios against in-run baselines
#   make fuzz      libFuzzer on the parsers and the encoder (FUZZ_SECONDS=60 each)
#   make doc       the Lua API reference (LDoc) and the enom(1) man page -> build/doc/
#   make install   install the module, the enom command and its man page into $(DESTDIR)$(PREFIX)
#   make install-luajit  the LuaJIT core and the Lua files where nginx's LuaJIT
#                  and OpenResty look: $(DESTDIR)$(PREFIX)/{lib,share}/lua/5.1
#
# Each target checks the Debian packages it needs (deps-build, deps-demo,
# deps-test, deps-doc, deps-bench, deps-fuzz): root gets them installed,
# anyone else gets the one command that installs them. DEPS=skip skips
# the check (another distribution, or packages installed some other way).
LUA_VERSION ?= 5.4
PREFIX      ?= /usr/local
LUA_LIBDIR  ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_SHAREDIR?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/enom
LUAJIT_LIBDIR   ?= $(PREFIX)/lib/lua/5.1
LUAJIT_SHAREDIR ?= $(PREFIX)/share/lua/5.1
CC          ?= cc
PKG_CONFIG  ?= pkg-config

LUA_PC      ?= lua5.4
LUAJIT_PC   ?= luajit

DEPS_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl libxml-2.0 2>/dev/null)
DEPS_LIBS   = $(shell $(PKG_CONFIG) --libs libcurl libxml-2.0 2>/dev/null)
LUA_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null)
JIT_CFLAGS  = $(shell $(PKG_CONFIG) --cflags $(LUAJIT_PC) 2>/dev/null)

WARN        ?= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
OPT         ?= -O2 -g
CFLAGS      ?=
LDFLAGS     ?=
BASE_CFLAGS  = -std=gnu99 -fPIC $(WARN) $(OPT) -D_GNU_SOURCE

SRCS := $(wildcard csrc/*.c)
HDRS := $(wildcard csrc/*.h)
LUA_FILES := $(shell find lua -name '*.lua' | sort)

# Debian packages, by purpose.
PKGS_BUILD   := gcc make pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev libxml2-dev ca-certificates
PKGS_LUAJIT  := luajit2 libluajit2-5.1-dev
PKGS_CLI     := lua-argparse lua-cjson lua-term
PKGS_SANDBOX := nginx-light libnginx-mod-http-lua lua-resty-core openssl curl procps iproute2
PKGS_DOC     := lua-ldoc lua-markdown man-db
PKGS_DEMO    := $(PKGS_BUILD) $(PKGS_CLI) $(PKGS_SANDBOX)
# The self-service panel and its checks: the owners' password hashes (luaossl),
# a real browser over WebDriver (spec/browser/), promtool and a real Prometheus.
PKGS_BROWSER := lua-luaossl chromium chromium-driver python3-selenium prometheus
PKGS_TEST    := $(PKGS_DEMO) $(PKGS_LUAJIT) $(PKGS_DOC) $(PKGS_BROWSER) lua-busted lua-check luarocks lua-socket \
	lua-sec valgrind redis-server lua-redis lua-nginx-redis tmux wrk passwd util-linux
# The unit specs: no server, no browser (the panel's hashes need luaossl).
PKGS_UNIT    := $(PKGS_BUILD) $(PKGS_CLI) lua-busted lua-luaossl
PKGS_BENCH   := $(PKGS_TEST) lua-expat
PKGS_FUZZ    := $(PKGS_BUILD) clang
PKGS_ALL     := $(sort $(PKGS_BENCH) $(PKGS_FUZZ))

.PHONY: all luajit asan deps deps-build deps-luajit deps-demo deps-test deps-unit deps-doc deps-bench deps-fuzz \
	test unit test-fast demo sandbox bench fuzz doc install install-luajit uninstall clean lint

# $(call need,TARGET,PACKAGES): the Debian packages TARGET needs are
# there; root has the missing ones installed (no service started), anyone
# else is told which are missing and the one command that installs them.
DEPS ?= check
.DEFAULT_GOAL := all
define need
@if [ "$(DEPS)" != skip ]; then \
	missing=""; for p in $(2); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "make $(1) needs these Debian packages:$$missing" >&2; \
			echo "install them as root with:  apt-get install --no-install-recommends$$missing" >&2; \
			echo "(or, as root in this folder: make deps-$(1); DEPS=skip skips this check)" >&2; \
			exit 1; \
		fi; \
		echo "make $(1): installing$$missing"; \
		log=$$(mktemp); \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; } \
			> "$$log" 2>&1; \
		rc=$$?; rm -f /usr/sbin/policy-rc.d; \
		if [ $$rc -ne 0 ]; then tail -n 30 "$$log" >&2; echo "make $(1): apt-get failed" >&2; fi; \
		rm -f "$$log"; exit $$rc; \
	fi; \
fi
endef

deps:
	$(call need,deps,$(PKGS_ALL))
deps-build:
	$(call need,build,$(PKGS_BUILD))
deps-luajit:
	$(call need,luajit,$(PKGS_BUILD) $(PKGS_LUAJIT))
deps-demo:
	$(call need,demo,$(PKGS_DEMO))
deps-test:
	$(call need,test,$(PKGS_TEST))
deps-unit:
	$(call need,unit,$(PKGS_UNIT))
deps-doc:
	$(call need,doc,$(PKGS_BUILD) $(PKGS_CLI) $(PKGS_DOC))
deps-bench:
	$(call need,bench,$(PKGS_BENCH))
deps-fuzz:
	$(call need,fuzz,$(PKGS_FUZZ))

# Each build first checks its packages (an order-only prerequisite: it
# never makes a build stale), and the compiler flags are asked of
# pkg-config only then (=, not :=), after any package was installed.
# Debian's make 4.3 orders prerequisites only in a serial make.
.NOTPARALLEL:

all: build/5.4/enom/core.so

build/5.4/enom/core.so: $(SRCS) $(HDRS) | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LUA_CFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -shared -o $@ $(SRCS) $(DEPS_LIBS) $(LDFLAGS)

luajit: build/jit/enom/core.so

build/jit/enom/core.so: $(SRCS) $(HDRS) | deps-luajit
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(JIT_CFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -shared -o $@ $(SRCS) $(DEPS_LIBS) $(LDFLAGS)

asan: build/asan/enom/core.so build/asan/keep_loaded.so

build/asan/keep_loaded.so: spec/support/keep_loaded.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -o $@ $<

build/asan/enom/core.so: $(SRCS) $(HDRS) | deps-build
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		$(LUA_CFLAGS) $(DEPS_CFLAGS) $(CFLAGS) -shared -o $@ $(SRCS) $(DEPS_LIBS) $(LDFLAGS)

test: deps-test all luajit asan
	@bash spec/run

unit: deps-unit all
	@lua5.4 /usr/bin/busted --cpath='build/5.4/?.so' spec/unit

test-fast: deps-test all luajit
	@ENOM_SKIP_ASAN=1 bash spec/run

demo: deps-demo all
	@bash examples/run_demo

sandbox: deps-demo
	@sandbox/sandbox run

bench: deps-bench all luajit build/bench/delaylink
	@bash bench/run

# The latency benchmark's link between two network namespaces.
build/bench/delaylink: bench/delaylink.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu99 $(WARN) $(OPT) -D_GNU_SOURCE $(CFLAGS) -o $@ $< $(LDFLAGS)

lint:
	luacheck -q lua spec examples bench sandbox bin/enom doc/man.lua doc/ldoc_items.lua doc/methods.lua

# libFuzzer, under ASan and UBSan, FUZZ_SECONDS for each harness:
#   parse_fuzz   the response parsers, seeded with the spec fixtures
#   encode_fuzz  enom.core.encode on random parameter tables and groups,
#                with metatables whose __index runs code and collects
# Needs clang with libFuzzer (Debian: apt-get install clang).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Icsrc
fuzz: deps-fuzz
	@mkdir -p build/fuzz/corpus build/fuzz/encode_corpus
	$(FUZZ_CC) $(FUZZ_FLAGS) $$($(PKG_CONFIG) --cflags lua5.4 libxml-2.0) -o build/fuzz/parse_fuzz \
		fuzz/parse_fuzz.c csrc/parse.c csrc/parse_xml.c csrc/parse_kv.c csrc/parse_result.c csrc/buffer.c \
		$$($(PKG_CONFIG) --libs lua5.4 libxml-2.0)
	$(FUZZ_CC) $(FUZZ_FLAGS) $$($(PKG_CONFIG) --cflags lua5.4) -o build/fuzz/encode_fuzz \
		fuzz/encode_fuzz.c csrc/encode.c csrc/buffer.c $$($(PKG_CONFIG) --libs lua5.4) -lm
	@for f in spec/fixtures/parse/*; do \
		case $$f in *.xml) p='\000';; *.html) p='\002';; *) p='\001';; esac; \
		{ printf "$$p"; cat "$$f"; } > "build/fuzz/corpus/$$(basename "$$f")"; \
	done
	build/fuzz/parse_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 build/fuzz/corpus
	build/fuzz/encode_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 build/fuzz/encode_corpus

# The reference: LDoc over the public modules (a warning fails the
# build), and the man page from the command's own help texts.
doc: deps-doc all build/doc/src/methods.lua build/doc/ldoc/ldoc.ltp
	@mkdir -p build/doc/man
	@# Pages of modules that moved or went must not stay behind.
	@rm -rf build/doc/modules build/doc/topics
	cd doc && ldoc --fatalwarnings -c config.ld .
	@$(MAKE) --no-print-directory build/doc/man/enom.1

# The typed methods' reference, written from the command table.
build/doc/src/methods.lua: doc/methods.lua lua/enom/commands.lua
	@mkdir -p $(dir $@)
	LUA_PATH="lua/?.lua;;" lua5.4 doc/methods.lua > $@.tmp && mv $@.tmp $@

# LDoc's own page template, written here rather than by ldoc into /tmp
# (where it would stay behind, one folder per user); doc/ldoc.css styles it.
build/doc/ldoc/ldoc.ltp: doc/config.ld
	@mkdir -p $(dir $@)
	lua5.1 -e 'io.write(require("ldoc.html.ldoc_ltp"))' > $@.tmp && mv $@.tmp $@

build/doc/man/enom.1: bin/enom doc/man.lua lua/enom/cli.lua $(wildcard lua/enom/cli/*.lua) build/5.4/enom/core.so
	@mkdir -p $(dir $@)
	ENOM_DOCDIR="$(DOCDIR)" LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/5.4/?.so;;" \
		lua5.4 doc/man.lua > $@.tmp && mv $@.tmp $@

# The man page names $(DOCDIR): it is written for this PREFIX.
install: all
	@$(MAKE) --no-print-directory -B build/doc/man/enom.1 >/dev/null
	install -d $(DESTDIR)$(LUA_LIBDIR)/enom $(DESTDIR)$(LUA_SHAREDIR)/enom $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DOCDIR)
	install -m 0755 build/5.4/enom/core.so $(DESTDIR)$(LUA_LIBDIR)/enom/core.so
	cd lua && for f in $$(find . -name '*.lua'); do \
		install -D -m 0644 $$f $(DESTDIR)$(LUA_SHAREDIR)/$$f; done
	install -m 0755 bin/enom $(DESTDIR)$(BINDIR)/enom
	install -m 0644 build/doc/man/enom.1 $(DESTDIR)$(MANDIR)/man1/enom.1
	install -m 0644 README.md LICENSE doc/*.md $(DESTDIR)$(DOCDIR)/

# For nginx (Debian's lua-nginx-module, OpenResty): LuaJIT reads Lua 5.1
# folders, and nginx's workers (user nobody or www-data) can read these.
install-luajit: luajit
	install -d $(DESTDIR)$(LUAJIT_LIBDIR)/enom $(DESTDIR)$(LUAJIT_SHAREDIR)/enom
	install -m 0755 build/jit/enom/core.so $(DESTDIR)$(LUAJIT_LIBDIR)/enom/core.so
	cd lua && for f in $$(find . -name '*.lua'); do \
		install -D -m 0644 $$f $(DESTDIR)$(LUAJIT_SHAREDIR)/$$f; done

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/enom $(DESTDIR)$(LUA_SHAREDIR)/enom $(DESTDIR)$(LUA_SHAREDIR)/enom.lua
	rm -rf $(DESTDIR)$(LUAJIT_LIBDIR)/enom $(DESTDIR)$(LUAJIT_SHAREDIR)/enom $(DESTDIR)$(LUAJIT_SHAREDIR)/enom.lua
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(BINDIR)/enom $(DESTDIR)$(MANDIR)/man1/enom.1

clean:
	rm -rf build
