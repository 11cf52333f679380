# The README's two commands:
#   make run    installs what is missing, builds, and starts hearth serve (ARGS="..." for other verbs)
#   make test   installs what is missing, builds, and runs the whole test suite
SHELL := /bin/bash
BUILD ?= build/release
ASAN ?= build/asan
FUZZ ?= build/fuzz
HEARTH_SHARED ?= $(abspath ../shared)
JOBS ?= $(shell nproc)
ARGS ?= serve
FUZZ_SECONDS ?= 15
export HEARTH_SHARED

.PHONY: run test setup build build-asan build-fuzz test-release test-asan test-fuzz npm clean

run: setup build
	$(BUILD)/apps/hearth/hearth $(ARGS)

test: setup npm build test-release build-asan test-asan build-fuzz test-fuzz
	@echo "make test: all suites passed"

setup:
	@./scripts/setup

# The official OpenAI, Ollama and Anthropic clients for the end-to-end tests (package.json).
npm:
	npm ci --no-audit --no-fund --loglevel=error

build:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  -DHEARTH_SANITIZE=ON -DHEARTH_BENCH=OFF >/dev/null
	cmake --build $(ASAN) -j $(JOBS) --target hearth_tests

build-fuzz:
	CXX=clang++ cmake -S . -B $(FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
	  -DHEARTH_FUZZ=ON -DHEARTH_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz_targets

# Every label in the release build: unit, conformance, e2e.
test-release:
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit and conformance tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan:
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|conformance'

# Each libFuzzer target for a bounded time, seeded from ../shared (or the
# repository's tests/fuzz/... when its .seeds file names one).
test-fuzz:
	@set -eo pipefail; for t in $(FUZZ)/tests/fuzz/fuzz_*; do \
	  [ -x "$$t" ] || continue; name=$$(basename $$t); \
	  mkdir -p $(FUZZ)/corpus/$$name; \
	  seeds=$$(cat tests/fuzz/$$name.seeds); case $$seeds in tests/*) ;; *) seeds=$(HEARTH_SHARED)/$$seeds;; esac; \
	  echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	    $(FUZZ)/corpus/$$name $$seeds 2>&1 | tail -n 12; \
	done

clean:
	rm -rf build
