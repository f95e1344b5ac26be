// Google Benchmark's main: nothing else may write to stdout, so --benchmark_format=json stays valid.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
