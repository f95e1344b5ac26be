// W1: C = A * B for square fp32 matrices, A and B ~ U(-1, 1), into a preallocated C
// (the reference's cblas_sgemm(RowMajor, NoTrans, NoTrans, alpha = 1, beta = 0)).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "tensor/kernels/gemm.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

void W1_Sgemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  lumen::set_num_threads(static_cast<int>(state.range(1)));
  lumen::Generator gen(0);
  lumen::Tensor a = lumen::uniform({n, n}, -1, 1, lumen::DType::f32, gen);
  lumen::Tensor b = lumen::uniform({n, n}, -1, 1, lumen::DType::f32, gen);
  lumen::Tensor c = lumen::Tensor::zeros({n, n});
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = c.data<float>();
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    lumen::kernels::gemm(n, n, n, 1.0f, pa, n, 1, pb, n, 1, 0.0f, pc, n, 1);
    benchmark::DoNotOptimize(pc);
    benchmark::ClobberMemory();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // One entry against a double-precision dot product, so the timed code is known to be right.
  double expect = 0;
  for (int64_t p = 0; p < n; ++p) expect += double(pa[p]) * double(pb[p * n]);
  if (std::abs(expect - pc[0]) > 1e-3 * std::max(1.0, std::abs(expect))) state.SkipWithError("wrong C[0][0]");
  state.counters["GFLOPS"] = 2.0 * double(n) * double(n) * double(n) * double(state.iterations()) / seconds / 1e9;
}

BENCHMARK(W1_Sgemm)
    ->ArgNames({"n", "threads"})
    ->ArgsProduct({{64, 128, 256, 512, 1024, 2048}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
