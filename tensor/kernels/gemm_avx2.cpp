// AVX2 + FMA micro-kernels for gemm (see gemm.h, namespace detail, for the contract), for CPUs
// without AVX-512. Same design as gemm_avx512.cpp, with 256-bit ymm registers (8 floats or
// 4 doubles) and only 16 of them.
//
// This file is compiled with -mavx2 -mfma and must not run before gemm.cpp has checked the CPU;
// like the AVX-512 file it includes no standard library header with inline functions.
//
// Tile shapes:
//   f32: 6 x 16 -> 12 accumulators + 2 for the row of B + 1 broadcast = 15 of the 16 registers.
//   f64: 6 x 8  -> the same register shape.
// 12 independent sums are enough to cover the FMA latency (4-5 cycles at 2 per cycle).
//
// It also holds the SIMD packing routines, which the AVX-512 kernels use too (every AVX-512
// CPU has AVX2, and packing is limited by memory traffic rather than by vector width).
#include "tensor/kernels/gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace lumen::kernels::detail {
namespace {

template <class T>
struct Ymm;

template <>
struct Ymm<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  // Transposes the 8 x 8 block held in r[0..7] (r[i] = row i) in place.
  static void transpose(V r[8]) {
    const V t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const V t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const V t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const V t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const V s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const V s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const V s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const V s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
  }
};

template <>
struct Ymm<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  // Transposes the 4 x 4 block held in r[0..3] in place.
  static void transpose(V r[4]) {
    const V t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const V t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

// C = alpha * acc + beta * C, the one formula for full and edge tiles alike.
template <class Y>
inline typename Y::V update(typename Y::V acc, typename Y::V c_old, typename Y::V alpha,
                            typename Y::V beta, bool beta_is_zero) {
  return beta_is_zero ? Y::mul(alpha, acc) : Y::fmadd(alpha, acc, Y::mul(beta, c_old));
}

template <class T, int MR, int NV>
void micro_kernel(int64_t k, const T* a, int64_t rs_a, int64_t cs_a, const T* b,
                  int64_t rs_b, const CTile<T>& out) {
  using Y = Ymm<T>;
  using V = typename Y::V;
  constexpr int L = Y::kLanes;
  constexpr int NR = NV * L;

  // Ask for the C tile now, so it has arrived by the time the sum below is done.
  for (int64_t i = 0; i < out.m; ++i) {
    const T* ci = out.c + i * out.rs_c;
    _mm_prefetch(reinterpret_cast<const char*>(ci), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(ci + (out.n - 1) * out.cs_c), _MM_HINT_T0);
  }

  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = Y::zero();

  if (rs_a == 1 && cs_a == MR) {
    // The hot loop, on a packed A panel: per step, NV loads of B, MR broadcasts of A and
    // MR*NV FMAs. (Unaligned loads: as fast as aligned ones when the data is aligned, as
    // packed B is, and B in place may not be.)
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; ++p) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = Y::loadu(b + v * L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const V ai = Y::set1(a[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = Y::fmadd(ai, bv[v], acc[i][v]);
      }
      a += MR;
      b += rs_b;
    }
  } else {
    // The same on A in place (small products, see gemm.cpp). A broadcast reads one number, so
    // A's layout does not matter; rows past the edge (i >= m) re-read row m-1 instead of
    // reading outside A, and their results are thrown away.
    const T* row[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) row[i] = a + (i < out.m ? i : out.m - 1) * rs_a;
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; ++p) {
      const int64_t off = p * cs_a;
      // Fetch A ahead: in place, it may not be in cache yet (see gemm_avx512.cpp).
      if ((p & 7) == 0 && p + 16 < k) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(row[i] + off + 16 * cs_a), _MM_HINT_T0);
      }
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = Y::loadu(b + v * L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const V ai = Y::set1(row[i][off]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = Y::fmadd(ai, bv[v], acc[i][v]);
      }
      b += rs_b;
    }
  }

  // Only now read where the tile goes (see CTile in gemm.h).
  T* const c = out.c;
  const int64_t rs_c = out.rs_c, cs_c = out.cs_c, m = out.m, n = out.n;
  const V va = Y::set1(out.alpha);
  const V vb = Y::set1(out.beta);
  const bool beta_is_zero = (out.beta == T(0));
  if (m == MR && n == NR && cs_c == 1) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * rs_c;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const V old = beta_is_zero ? Y::zero() : Y::loadu(ci + v * L);
        Y::storeu(ci + v * L, update<Y>(acc[i][v], old, va, vb, beta_is_zero));
      }
    }
    return;
  }

  // Edge tile or strided C: work on a scratch copy so no vector access goes past C's end.
  alignas(32) T tile[MR * NR] = {};
  if (!beta_is_zero)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) tile[i * NR + j] = c[i * rs_c + j * cs_c];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      T* t = tile + i * NR + v * L;
      const V old = beta_is_zero ? Y::zero() : Y::loadu(t);
      Y::storeu(t, update<Y>(acc[i][v], old, va, vb, beta_is_zero));
    }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * rs_c + j * cs_c] = tile[i * NR + j];
}

// Packing (contract in gemm.h, PackPanels). Small products spend a large share of their time
// here, and big ones are limited by memory traffic while they pack, so the two common layouts
// get vector code that reads the source in long sequential runs:
//   - the panel dimension is contiguous (row-major B, transposed A): copy, one source row at
//     a time across all the panels;
//   - the summed dimension is contiguous (row-major A, transposed B): L x L transposes in
//     registers (8 x 8 floats, 4 x 4 doubles), when the panel width R is a multiple of L.
template <class T>
void pack_panels(T* dst, const T* src, int64_t s_i, int64_t s_p, int64_t count, int64_t kc,
                 int64_t R) {
  using Y = Ymm<T>;
  using V = typename Y::V;
  constexpr int L = Y::kLanes;
  const int64_t panels = (count + R - 1) / R;

  if (s_i == 1) {
    for (int64_t p = 0; p < kc; ++p) {
      const T* s = src + p * s_p;
      for (int64_t q = 0; q < panels; ++q) {
        T* d = dst + q * R * kc + p * R;
        const T* sq = s + q * R;
        const int64_t n = count - q * R < R ? count - q * R : R;
        int64_t i = 0;
        for (; i + L <= n; i += L) Y::storeu(d + i, Y::loadu(sq + i));
        for (; i < n; ++i) d[i] = sq[i];
        for (; i < R; ++i) d[i] = T(0);
      }
    }
    return;
  }

  int64_t done = 0;  // rows [0, done) are packed by the transposes
  if (s_p == 1 && R % L == 0) {
    done = count / L * L;
    for (int64_t i0 = 0; i0 < done; i0 += L) {
      const T* s = src + i0 * s_i;
      T* d = dst + (i0 / R) * R * kc + i0 % R;  // a group of L rows never straddles two panels
      int64_t p = 0;
      for (; p + L <= kc; p += L) {
        V r[L];
        for (int q = 0; q < L; ++q) r[q] = Y::loadu(s + q * s_i + p);
        Y::transpose(r);
        for (int q = 0; q < L; ++q) Y::storeu(d + (p + q) * R, r[q]);
      }
      for (; p < kc; ++p)
        for (int q = 0; q < L; ++q) d[p * R + q] = s[q * s_i + p];
    }
  }
  // The rows left (any strides, or a last group of fewer than L rows), then the zero padding.
  for (int64_t i = done; i < panels * R; ++i) {
    T* d = dst + (i / R) * R * kc + i % R;
    if (i < count)
      for (int64_t p = 0; p < kc; ++p) d[p * R] = src[i * s_i + p * s_p];
    else
      for (int64_t p = 0; p < kc; ++p) d[p * R] = T(0);
  }
}

}  // namespace

void pack_panels_avx2(float* dst, const float* src, int64_t s_i, int64_t s_p, int64_t count,
                      int64_t kc, int64_t R) {
  pack_panels<float>(dst, src, s_i, s_p, count, kc, R);
}
void pack_panels_avx2(double* dst, const double* src, int64_t s_i, int64_t s_p, int64_t count,
                      int64_t kc, int64_t R) {
  pack_panels<double>(dst, src, s_i, s_p, count, kc, R);
}

const MicroKernelInfo<float> avx2_f32 = {6, 16, &micro_kernel<float, 6, 2>};
const MicroKernelInfo<double> avx2_f64 = {6, 8, &micro_kernel<double, 6, 2>};

}  // namespace lumen::kernels::detail

#else  // built without AVX2 flags: the dispatcher never picks a null kernel

namespace lumen::kernels::detail {
const MicroKernelInfo<float> avx2_f32 = {6, 16, nullptr};
const MicroKernelInfo<double> avx2_f64 = {6, 8, nullptr};
// Never called: gemm.cpp only uses these when avx2_f32.kernel is not null.
void pack_panels_avx2(float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t) {}
void pack_panels_avx2(double*, const double*, int64_t, int64_t, int64_t, int64_t, int64_t) {}
}  // namespace lumen::kernels::detail

#endif
