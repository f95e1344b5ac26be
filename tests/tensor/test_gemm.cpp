// Tests for the gemm kernel (tensor/kernels/gemm.h): the fast kernels against the naive
// reference, on awkward shapes, every stride layout, alpha/beta cases, every micro-kernel this
// CPU can run, the batched entry point, and bit-identical results for any thread count.
//
// Every matrix lives in a buffer of exactly the size its strides need, so a read or write past
// the end shows up under AddressSanitizer.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/kernels/gemm.h"
#include "tensor/parallel.h"

namespace {

using lumen::kernels::gemm;
using lumen::kernels::gemm_batched;
using lumen::kernels::gemm_reference;

// Puts the thread count back when a test ends, however it ends.
struct ThreadsGuard {
  int saved = lumen::get_num_threads();
  ~ThreadsGuard() { lumen::set_num_threads(saved); }
};

// Puts the automatic kernel choice back when a test ends.
struct KernelGuard {
  ~KernelGuard() { lumen::kernels::gemm_force_kernel("auto"); }
};

// The kernels this CPU and build can run (the portable one always).
std::vector<std::string> available_kernels() {
  std::vector<std::string> names;
  for (const char* name : {"avx512", "avx2", "portable"}) {
    try {
      lumen::kernels::gemm_force_kernel(name);
      names.push_back(name);
    } catch (const std::runtime_error&) {
      WARN("gemm kernel '" << name << "' is not available on this CPU; not tested");
    }
  }
  lumen::kernels::gemm_force_kernel("auto");
  return names;
}

// A rows x cols matrix stored either row-major (rs = cols, cs = 1) or as the transpose of a
// row-major matrix (rs = 1, cs = rows), in a buffer of exactly rows*cols elements.
template <class T>
struct Matrix {
  int64_t rows = 0, cols = 0, rs = 0, cs = 0;
  std::vector<T> data;

  Matrix(int64_t r, int64_t c, bool transposed, std::mt19937& rng) : rows(r), cols(c) {
    rs = transposed ? 1 : c;
    cs = transposed ? r : 1;
    data.resize(size_t(r * c));
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (auto& x : data) x = T(u(rng));
  }
  T at(int64_t i, int64_t j) const { return data[size_t(i * rs + j * cs)]; }
};

// The element-wise error bound for C = alpha*A*B + beta*C computed in precision T:
// |error| <= (K + 2) * u * (|alpha| * sum_p |a_ip| |b_pj| + |beta| |c_ij|), u = unit roundoff.
// The factor 4 leaves room for the reference's own rounding. A bound per element (not one scale
// for the whole matrix) keeps the test tight for small entries too.
template <class T>
double error_bound(int64_t K, double abs_sum) {
  const double u = std::numeric_limits<T>::epsilon() / 2;
  return 4.0 * double(K + 2) * u * abs_sum + std::numeric_limits<T>::min();
}

// Runs gemm and gemm_reference on the same inputs and checks every element of C, and that no
// element outside C's m x n part (the gaps of a strided C) was touched.
template <class T>
void check_gemm(int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b, T alpha, T beta,
                int64_t c_col_stride, bool c_nan, uint32_t seed) {
  std::mt19937 rng(seed);
  const Matrix<T> A(M, K, trans_a, rng);
  const Matrix<T> B(K, N, trans_b, rng);
  // C: rows of N elements spaced c_col_stride apart, rows padded by 3 elements.
  const int64_t cs_c = c_col_stride, rs_c = N * c_col_stride + 3;
  const T sentinel = T(12345);
  std::vector<T> c0(size_t(std::max<int64_t>(M * rs_c, 1)), sentinel);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      c0[size_t(i * rs_c + j * cs_c)] = c_nan ? std::numeric_limits<T>::quiet_NaN() : T(u(rng));
  std::vector<T> c_fast = c0, c_ref = c0;

  gemm(M, N, K, alpha, A.data.data(), A.rs, A.cs, B.data.data(), B.rs, B.cs, beta, c_fast.data(),
       rs_c, cs_c);
  gemm_reference<T>(M, N, K, alpha, A.data.data(), A.rs, A.cs, B.data.data(), B.rs, B.cs, beta,
                    c_ref.data(), rs_c, cs_c);

  int failures = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double abs_sum = 0;
      for (int64_t p = 0; p < K; ++p) abs_sum += std::fabs(double(A.at(i, p)) * double(B.at(p, j)));
      abs_sum *= std::fabs(double(alpha));
      const T old = c0[size_t(i * rs_c + j * cs_c)];
      if (beta != T(0)) abs_sum += std::fabs(double(beta) * double(old));
      const double x = c_fast[size_t(i * rs_c + j * cs_c)];
      const double y = c_ref[size_t(i * rs_c + j * cs_c)];
      if (!(std::fabs(x - y) <= error_bound<T>(K, abs_sum)) && ++failures <= 5) {
        INFO("M=" << M << " N=" << N << " K=" << K << " transA=" << trans_a << " transB="
                  << trans_b << " alpha=" << alpha << " beta=" << beta << " cs_c=" << cs_c
                  << " at (" << i << ", " << j << "): fast " << x << " reference " << y
                  << " bound " << error_bound<T>(K, abs_sum));
        CHECK(std::fabs(x - y) <= error_bound<T>(K, abs_sum));
      }
    }
  // The gaps between C's elements must still hold the sentinel.
  for (size_t e = 0; e < c0.size(); ++e)
    if (c0[e] == sentinel && c_fast[e] != sentinel && ++failures <= 5) {
      INFO("gemm wrote outside C at storage index " << e);
      CHECK(c_fast[e] == sentinel);
    }
  CHECK(failures == 0);
}

struct Shape {
  int64_t M, N, K;
};

// Sizes 0, 1 and odd sizes around the register tiles (MR = 4..8, NR = 8..32), plus shapes that
// cross the cache blocks (MC = 126..256, KC = 512, NC = 1024..2048) and shapes whose A or B is
// too big (> 256 KiB) to be read in place, so that the packing code runs on every layout.
const std::vector<Shape> kShapes = {
    {0, 5, 3},    {5, 0, 3},     {5, 3, 0},      {1, 1, 1},      {7, 7, 7},
    {17, 33, 65}, {33, 17, 7},   {65, 65, 65},   {1, 257, 33},   {65, 7, 129},
    {257, 1, 17}, {7, 65, 257},  {33, 129, 600}, {600, 40, 20},  {3, 4200, 2},
    {257, 65, 300}, {65, 300, 257},
};

}  // namespace

TEST_CASE("gemm matches the reference on awkward shapes, all layouts, every kernel",
          "[tensor][gemm]") {
  KernelGuard restore_kernel;
  for (const std::string& kernel : available_kernels()) {
    lumen::kernels::gemm_force_kernel(kernel.c_str());
    INFO("kernel " << kernel);
    uint32_t seed = 1;
    for (const Shape& s : kShapes)
      for (int layout = 0; layout < 4; ++layout) {
        const bool ta = layout & 1, tb = layout & 2;
        check_gemm<float>(s.M, s.N, s.K, ta, tb, 1.0f, 0.0f, 1, true, seed++);
        check_gemm<double>(s.M, s.N, s.K, ta, tb, 1.0, 0.0, 1, true, seed++);
      }
  }
}

TEST_CASE("gemm handles alpha, beta and a strided C", "[tensor][gemm]") {
  KernelGuard restore_kernel;
  struct AlphaBeta {
    double alpha, beta;
    bool c_nan;  // C starts as NaN: only allowed with beta == 0, which must not read it
  };
  const std::vector<AlphaBeta> cases = {
      {1.0, 0.0, true}, {1.0, 1.0, false}, {0.5, 1.0, false}, {-1.5, 0.25, false},
      {0.0, 2.0, false}, {0.0, 0.0, true}};
  for (const std::string& kernel : available_kernels()) {
    lumen::kernels::gemm_force_kernel(kernel.c_str());
    INFO("kernel " << kernel);
    uint32_t seed = 100;
    for (const AlphaBeta& ab : cases)
      for (int64_t cs_c : {1, 2})
        for (const Shape& s : {Shape{17, 33, 65}, Shape{65, 65, 300}, Shape{1, 257, 33}}) {
          check_gemm<float>(s.M, s.N, s.K, false, true, float(ab.alpha), float(ab.beta), cs_c,
                            ab.c_nan, seed++);
          check_gemm<double>(s.M, s.N, s.K, true, false, ab.alpha, ab.beta, cs_c, ab.c_nan,
                             seed++);
        }
  }
}

TEST_CASE("gemm with K == 0 scales C by beta", "[tensor][gemm]") {
  std::vector<float> c = {1, 2, 3, 4, 5, 6};
  gemm(2, 3, 0, 1.0f, nullptr, 0, 0, nullptr, 0, 0, 0.5f, c.data(), 3, 1);
  CHECK(c == std::vector<float>{0.5f, 1, 1.5f, 2, 2.5f, 3});
  std::vector<double> d(4, std::numeric_limits<double>::quiet_NaN());
  gemm(2, 2, 0, 1.0, nullptr, 0, 0, nullptr, 0, 0, 0.0, d.data(), 2, 1);
  CHECK(d == std::vector<double>(4, 0.0));
}

TEST_CASE("gemm matches the reference on a large product across threads", "[tensor][gemm]") {
  ThreadsGuard restore_threads;
  KernelGuard restore_kernel;
  for (int threads : {1, 2}) {
    lumen::set_num_threads(threads);
    INFO("threads " << threads);
    // Big enough to use threads, several K blocks, and partial tiles on both edges.
    check_gemm<float>(257, 300, 520, false, false, 1.0f, 0.0f, 1, true, 7);
    check_gemm<float>(300, 257, 260, true, true, 0.5f, 1.0f, 1, false, 8);
    check_gemm<double>(130, 257, 300, false, true, 1.0, 0.0, 1, true, 9);
    check_gemm<float>(64, 4200, 8, false, false, 1.0f, 0.0f, 1, true, 10);  // two NC blocks
  }
}

TEST_CASE("gemm results are bit-identical for 1 and 2 threads", "[tensor][gemm]") {
  ThreadsGuard restore_threads;
  KernelGuard restore_kernel;
  // Square, tall (threads split M), wide (threads split N), several K blocks, tiny (no threads).
  const std::vector<Shape> shapes = {
      {256, 256, 256}, {1000, 40, 300}, {16, 1000, 600}, {129, 131, 700}, {64, 4200, 8}, {9, 9, 9}};
  for (const std::string& kernel : available_kernels()) {
    lumen::kernels::gemm_force_kernel(kernel.c_str());
    for (const Shape& s : shapes) {
      INFO("kernel " << kernel << " M=" << s.M << " N=" << s.N << " K=" << s.K);
      std::mt19937 rng(42);
      const Matrix<float> A(s.M, s.K, false, rng);
      const Matrix<float> B(s.K, s.N, true, rng);
      std::vector<float> c1(size_t(s.M * s.N), 0.25f), c2 = c1;
      lumen::set_num_threads(1);
      gemm(s.M, s.N, s.K, 1.0f, A.data.data(), A.rs, A.cs, B.data.data(), B.rs, B.cs, 0.5f,
           c1.data(), s.N, 1);
      lumen::set_num_threads(2);
      gemm(s.M, s.N, s.K, 1.0f, A.data.data(), A.rs, A.cs, B.data.data(), B.rs, B.cs, 0.5f,
           c2.data(), s.N, 1);
      CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("gemm_batched matches per-product references, with broadcast operands",
          "[tensor][gemm]") {
  ThreadsGuard restore_threads;
  struct Case {
    int64_t batch, M, N, K;
    bool broadcast_a, broadcast_b;
  };
  // Many small products (threads over the batch), and a few big ones (threads inside each).
  const std::vector<Case> cases = {{8, 64, 64, 64, false, false}, {5, 17, 33, 9, true, false},
                                   {6, 33, 7, 65, false, true},   {3, 260, 130, 260, false, false},
                                   {0, 4, 4, 4, false, false},    {4, 1, 1, 1, true, true}};
  for (int threads : {1, 2}) {
    lumen::set_num_threads(threads);
    for (const Case& c : cases) {
      INFO("threads " << threads << " batch " << c.batch << " M=" << c.M << " N=" << c.N
                      << " K=" << c.K << " broadcast A " << c.broadcast_a << " B "
                      << c.broadcast_b);
      std::mt19937 rng(3);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      const int64_t bs_a = c.broadcast_a ? 0 : c.M * c.K;
      const int64_t bs_b = c.broadcast_b ? 0 : c.K * c.N;
      const int64_t bs_c = c.M * c.N;
      std::vector<float> A(size_t(std::max<int64_t>(1, c.broadcast_a ? c.M * c.K : c.batch * bs_a)));
      std::vector<float> B(size_t(std::max<int64_t>(1, c.broadcast_b ? c.K * c.N : c.batch * bs_b)));
      std::vector<float> C(size_t(std::max<int64_t>(1, c.batch * bs_c)));
      for (auto& x : A) x = u(rng);
      for (auto& x : B) x = u(rng);
      for (auto& x : C) x = u(rng);
      std::vector<float> c_ref = C;
      // A is stored transposed (rs = 1, cs = M) to exercise strides inside a batch too.
      gemm_batched(c.batch, c.M, c.N, c.K, 0.5f, A.data(), bs_a, 1, c.M, B.data(), bs_b, c.N, 1,
                   1.0f, C.data(), bs_c, c.N, 1);
      for (int64_t b = 0; b < c.batch; ++b)
        gemm_reference<float>(c.M, c.N, c.K, 0.5f, A.data() + b * bs_a, 1, c.M,
                              B.data() + b * bs_b, c.N, 1, 1.0f, c_ref.data() + b * bs_c, c.N, 1);
      double worst = 0;
      for (size_t e = 0; e < C.size(); ++e) worst = std::max(worst, double(std::fabs(C[e] - c_ref[e])));
      // Inputs in [-1, 1]: each |sum| is at most K, so this is the bound of error_bound().
      CHECK(worst <= error_bound<float>(c.K, 0.5 * double(c.K) + 1.0));
    }
  }
}

TEST_CASE("gemm_batched is bit-identical for 1 and 2 threads", "[tensor][gemm]") {
  ThreadsGuard restore_threads;
  for (const Shape& s : {Shape{64, 64, 64}, Shape{200, 150, 300}}) {
    const int64_t batch = 6;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> A(size_t(batch * s.M * s.K)), B(size_t(s.K * s.N));
    for (auto& x : A) x = u(rng);
    for (auto& x : B) x = u(rng);
    std::vector<float> c1(size_t(batch * s.M * s.N)), c2(c1.size());
    for (int threads : {1, 2}) {
      lumen::set_num_threads(threads);
      gemm_batched(batch, s.M, s.N, s.K, 1.0f, A.data(), s.M * s.K, s.K, 1, B.data(), 0, 1, s.K,
                   0.0f, threads == 1 ? c1.data() : c2.data(), s.M * s.N, s.N, 1);
    }
    CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("gemm rejects bad arguments with clear errors", "[tensor][gemm]") {
  float x = 0;
  CHECK_THROWS_AS(gemm(-1, 1, 1, 1.0f, &x, 1, 1, &x, 1, 1, 0.0f, &x, 1, 1), std::invalid_argument);
  CHECK_THROWS_AS(gemm_batched(2, 1, 1, 1, 1.0f, &x, 0, 1, 1, &x, 0, 1, 1, 0.0f, &x, 0, 1, 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(lumen::kernels::gemm_force_kernel("sse9"), std::invalid_argument);
  CHECK_THROWS_AS(lumen::set_num_threads(0), std::invalid_argument);
  CHECK_THROWS_WITH(lumen::set_num_threads(-3), Catch::Contains("-3"));
  const std::string name = lumen::kernels::gemm_kernel_name();
  CHECK((name == "avx512" || name == "avx2" || name == "portable"));
}
