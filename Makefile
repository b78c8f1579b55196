# libdemi: the two commands of the README, and their helpers.
#   make demo   the main job: echo across two processes, latency table
#   make test   every test suite, plus the unit suite under ASan+UBSan
# Both install missing Debian packages first and build what they need.

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?=

.PHONY: all deps build build-asan test test-unit demo install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized $(MESON_OPTS)
	@ninja -C $(BUILD)

build-asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)
	@ninja -C $(ASAN_BUILD)

test: build build-asan
	@scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

test-unit: build
	@meson test -C $(BUILD) --suite unit --print-errorlogs

demo: build
	@scripts/demo.sh $(BUILD)

install: build
	@meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
