# The two commands of the README, and the rest. Each target first installs any missing Debian
# package (scripts/install-deps.sh), then configures and builds what it needs.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all deps configure build lessons test bench asan asan-unit fuzz docs clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: every lesson in order, then out/index.html linking their stories and figures.
lessons: build
	@bash scripts/run-lessons.sh $(BUILD)

# Every test: unit tests, gradchecks, lesson --quick runs, golden files, the install test.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Google Benchmark workloads W1-W6 (see docs/performance.md).
bench: build
	@$(BUILD)/bench/lumen_bench $(BENCH_ARGS)

# Every test under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan): the unit tests,
# every lesson in --quick mode and the lesson checks. Any report fails its test: UBSan is
# compiled with -fno-sanitize-recover and halts, ASan halts at its first error, LSan reports leaks
# at exit. asan-unit is the part .ci/run can afford: the library and a subset of the unit tests
# (lumen_tests_asan_subset in tests/CMakeLists.txt; docs/reliability.md says why).
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:check_initialization_order=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) -LE 'install|asan_subset' $(CTEST_ARGS)

asan-unit: deps
	@cmake --preset asan >/dev/null
	@cmake --build build-asan -j $(JOBS) --target lumen_tests_asan_subset
	@cd build-asan && $(ASAN_ENV) ctest --output-on-failure -L asan_subset $(CTEST_ARGS)

# libFuzzer targets, each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@bash scripts/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

# The pictures in docs/img/, drawn by the lumen tool.
docs: build
	@bash scripts/make-docs.sh $(BUILD)

clean:
	rm -rf build build-asan build-debug build-fuzz out
