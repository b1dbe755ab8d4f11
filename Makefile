# Thin wrapper: everything real is in CMake. `make demo` and `make test`
# each install their Debian dependencies first (idempotent).
SHELL := /bin/bash
PRESET ?= default
BUILD_DIR := build
export CCACHE_DIR ?= $(HOME)/.cache/rampart-ccache
# Paths relative to the checkout in ccache's keys, so that every clone (CI
# clones afresh) hits the same cache entries.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

.PHONY: all deps configure build test test-unit test-integration test-hostile test-package test-asan test-tsan demo package fuzz format format-check clean

all: build

deps:
	@tools/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt CMakePresets.json
	cmake --preset $(PRESET)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build --preset $(PRESET)

# All tiers: unit, integration, package (root needed for the privileged ones;
# with RAMPART_REQUIRE_KERNEL=1 a privileged test that cannot run fails).
test: build
	ctest --preset $(PRESET) -j2

test-unit: build
	ctest --preset $(PRESET) -j2 -L unit

test-integration: build
	ctest --preset $(PRESET) -j2 -L integration

# Smuggling and slowloris against a live rampartd (part of `test` too).
test-hostile: build
	ctest --preset $(PRESET) --output-on-failure -L hostile

test-package: build
	ctest --preset $(PRESET) -L package

# The unit, kernel and integration tiers again under the sanitizers: ASan +
# UBSan (leaks included) and TSan, each its own build (build-asan,
# build-tsan). A report fails the test that triggered it; a rampartd a test
# starts runs sanitized too and exits on its first report. The two heaviest
# lab tests (label integration-heavy, tests/CMakeLists.txt) run in `test`
# only, and TSan leaves out what runs on one thread (unit-one-thread).
SANITIZED_TIERS := 'unit|bpf|integration|hostile'
test-asan: deps
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan -j2 -L $(SANITIZED_TIERS) -LE integration-heavy

test-tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan
	ctest --preset tsan -j2 -L $(SANITIZED_TIERS) -LE 'integration-heavy|unit-one-thread'

package: build
	cd $(BUILD_DIR) && cpack

demo: build
	@tools/demo.sh $(BUILD_DIR)

# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS on
# its seed corpus (tests/fuzz/corpus/<name>); a crash fails the target.
FUZZ_SECONDS ?= 30
fuzz: deps
	cmake --preset fuzz
	cmake --build --preset fuzz
	@tools/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

format:
	@git ls-files '*.cpp' '*.hpp' '*.h' '*.c' ':!tests/abi' | xargs clang-format -i

format-check:
	@git ls-files '*.cpp' '*.hpp' '*.h' '*.c' ':!tests/abi' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD_DIR)
