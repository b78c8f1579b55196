# libdemi: the two commands of the README, and their helpers.
#   make demo   the main job: echo across two processes, latency table
#   make test   every suite; unit + packet scripts also under ASan+UBSan; every
#               fuzz target for FUZZ_SECONDS (30) each
#   make bench  latency/throughput/scale tables, bench/results/, docs/performance.md
# They install missing Debian packages first and build what they need.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?=
# Warnings are errors in every build the Makefile makes (and so in CI), never
# in the defaults a user or packager gets from meson setup.
MESON_OPTS ?=
WERROR := -Dwerror=true

.PHONY: all deps build build-asan build-fuzz test test-unit fuzz demo bench install clean

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

test: build build-asan build-fuzz
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

# FUZZ_SECONDS is per target (make test runs every target that long).
# A longer session: make fuzz FUZZ_SECONDS=3600 [FUZZ_TARGETS="fuzz_tcp fuzz_api"]
fuzz: build-fuzz
	@scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-unit: build
	@meson test -C $(BUILD) --suite unit --print-errorlogs

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@bench/run-bench.sh $(BUILD)

install: build
	@meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
