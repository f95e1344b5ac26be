// W1, OpenBLAS side: C = A * B with cblas_sgemm (row-major, no transposes, alpha 1, beta 0)
// into a preallocated C, for square fp32 matrices, A and B ~ U(-1, 1). The yardstick for
// Lumen's own GEMM (bench/w1_sgemm.cpp).
//
// Not part of the CMake build (Lumen itself never links a BLAS); bench/compare.py compiles it:
//   g++ -O2 -std=c++20 bench/openblas/w1_sgemm.cpp -o w1_sgemm_openblas -lopenblas
// Run: w1_sgemm_openblas THREADS [SAMPLES=25]
// A sample repeats the call until about 0.2 GFLOP of work is done, so that small sizes are
// not timer noise. One RESULT line per size goes to stdout, for compare.py.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

// Not declared by every cblas.h; OpenBLAS exports them.
extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);

namespace {

struct Timing {
  double median_ms, min_ms;
};

template <class F>
Timing time_samples(F&& fn, int warmup, int samples, int calls_per_sample) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup * calls_per_sample; ++i) fn();
  std::vector<double> per_call;
  for (int s = 0; s < samples; ++s) {
    const auto start = Clock::now();
    for (int r = 0; r < calls_per_sample; ++r) fn();
    per_call.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() /
                       calls_per_sample);
  }
  std::sort(per_call.begin(), per_call.end());
  return {per_call[per_call.size() / 2], per_call.front()};
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int samples = argc > 2 ? std::atoi(argv[2]) : 25;
  if (threads < 1 || samples < 1) {
    std::fprintf(stderr, "usage: %s THREADS [SAMPLES]\n", argv[0]);
    return 2;
  }
  openblas_set_num_threads(threads);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int n : {64, 128, 256, 512, 1024, 2048}) {
    const size_t nn = size_t(n) * size_t(n);
    std::vector<float> a(nn), b(nn), c(nn);
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
    const double flop = 2.0 * n * n * n;
    const int calls = std::max(1, int(2e8 / flop));
    const Timing t = time_samples(
        [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n,
                      b.data(), n, 0.0f, c.data(), n);
        },
        3, samples, calls);
    // One entry against a double-precision dot product: the timed call computes the right thing.
    double expect = 0;
    for (int p = 0; p < n; ++p) expect += double(a[size_t(p)]) * double(b[size_t(p) * n]);
    if (std::abs(expect - c[0]) > 1e-3 * std::max(1.0, std::abs(expect))) {
      std::fprintf(stderr, "error: wrong C[0][0] at n = %d\n", n);
      return 1;
    }
    const double gflops = flop / (t.median_ms * 1e-3) / 1e9;
    std::fprintf(stderr, "n=%5d median %9.4f ms  %7.1f GFLOP/s  (%s)\n", n, t.median_ms, gflops,
                 openblas_get_corename());
    std::printf(
        "RESULT {\"workload\":\"W1\",\"name\":\"W1_Sgemm\",\"impl\":\"openblas\",\"n\":%d,"
        "\"threads\":%d,\"median_ms\":%.6f,\"min_ms\":%.6f,\"gflops\":%.2f,\"samples\":%d,"
        "\"calls_per_sample\":%d,\"openblas_core\":\"%s\"}\n",
        n, threads, t.median_ms, t.min_ms, gflops, samples, calls, openblas_get_corename());
    std::fflush(stdout);
  }
  return 0;
}
