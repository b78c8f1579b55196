# libdemi: the two commands of the README, and their helpers.
#   make demo   the main job: echo across two processes, latency table
#   make test   every suite; unit + packet scripts also under ASan+UBSan; every
#               fuzz target for FUZZ_SECONDS (30) each, one per core; the
#               portable builds (GCC -O3, GCC plain, clang -O3) compiled, the
#               unit suite of the -O3 ones; install check
#   make format the C sources to .clang-format (make test checks them)
#   make install PREFIX=DIR   a release build of the library, headers, tools,
#               examples and man pages only, installed under DIR (/usr/local)
#   make bench  latency/throughput/scale tables, bench/results/, docs/performance.md
# They install missing Debian packages first and build what they need.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# The builds a packager or user makes (make test checks they compile with
# warnings as errors), those of them that also run the unit suite (plain is
# -O0 like the ASan build, which runs it), and make install's own.
PORTABLE_BUILDS ?= build-release build-plain build-clang
PORTABLE_UNIT_BUILDS ?= build-release build-clang
INSTALL_BUILD ?= build-install
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
# Warnings are errors in every build the Makefile makes (and so in CI), never
# in the defaults a user or packager gets from meson setup.
MESON_OPTS ?=
WERROR := -Dwerror=true

.PHONY: all deps build build-asan build-fuzz build-portable test test-unit fuzz demo bench install format clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized $(WERROR) $(MESON_OPTS)
	@ninja -C $(BUILD)

build-asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false $(WERROR) $(MESON_OPTS)
	@ninja -C $(ASAN_BUILD)

# libFuzzer needs clang; the fuzz targets build only with -Dfuzzing=true.
build-fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized \
		-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false $(WERROR) $(MESON_OPTS)
	@ninja -C $(FUZZ_BUILD)

# GCC release (-O3), GCC plain (no -O, no -g) and clang release: what
# `meson setup` gives a packager, with warnings as errors here.
build-portable: deps
	@[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release $(WERROR) $(MESON_OPTS)
	@[ -f build-plain/build.ninja ] || meson setup build-plain --buildtype=plain $(WERROR) $(MESON_OPTS)
	@[ -f build-clang/build.ninja ] || CC=clang meson setup build-clang --buildtype=release $(WERROR) $(MESON_OPTS)
	@for b in $(PORTABLE_BUILDS); do ninja -C $$b || exit 1; done

test: build build-asan build-fuzz build-portable
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) PORTABLE_BUILDS="$(PORTABLE_BUILDS)" \
		PORTABLE_UNIT_BUILDS="$(PORTABLE_UNIT_BUILDS)" \
		scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

# FUZZ_SECONDS is per target (make test runs every target that long).
# A longer session: make fuzz FUZZ_SECONDS=3600 [FUZZ_TARGETS="fuzz_tcp fuzz_api"]
fuzz: build-fuzz
	@scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Rewrite the C sources to .clang-format (make test checks they follow it).
format: deps
	@scripts/check-format.sh --fix

test-unit: build
	@meson test -C $(BUILD) --suite unit --print-errorlogs

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@bench/run-bench.sh $(BUILD)

# Its own release build without tests or benchmarks, so PREFIX and the
# build type never leak into the developer build.
install: deps
	@if [ -f $(INSTALL_BUILD)/build.ninja ]; then \
		meson configure $(INSTALL_BUILD) --prefix="$(abspath $(PREFIX))" >/dev/null; \
	else \
		meson setup $(INSTALL_BUILD) --buildtype=release --prefix="$(abspath $(PREFIX))" -Dtests=false $(WERROR) $(MESON_OPTS); \
	fi
	@ninja -C $(INSTALL_BUILD)
	@meson install -C $(INSTALL_BUILD) $(if $(DESTDIR),--destdir "$(DESTDIR)")

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(PORTABLE_BUILDS) $(INSTALL_BUILD)
