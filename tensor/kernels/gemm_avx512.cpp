// AVX-512 micro-kernels for gemm (see gemm.h, namespace detail, for the contract).
//
// This file is compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma, so nothing in it
// may run before gemm.cpp has checked the CPU. That is also why it includes no standard
// library header with inline functions: an inline function compiled here with AVX-512
// instructions could be picked by the linker for the whole program and crash an older CPU.
//
// The idea of a micro-kernel: keep an MR x NR tile of C in registers for the whole sum over k.
// Each step p loads one row of the packed B panel (NR numbers, NR/16 vector loads), broadcasts
// each of the MR numbers of A's column p, and does MR * NR/16 fused multiply-adds. So every
// number loaded is used many times, and the FMA units, not the loads, set the pace.
//
// Tile shapes (one zmm register holds 16 floats or 8 doubles; there are 32 registers):
//   f32: 8 x 32 -> 16 accumulators, + 2 for the row of B, + 1 for the broadcast of A.
//   f64: 8 x 16 -> the same shape in registers.
// Why 16 accumulators: an FMA takes 4 cycles to produce its result and a Zen 4/5 core starts up
// to two per cycle, so at least 8 independent sums must be in flight; 16 leaves slack for the
// loads. 8 rows also divide the common sizes (64, 128, ...) exactly, so there is no ragged edge.
#include "tensor/kernels/gemm.h"

#if defined(__AVX512F__)
#include <immintrin.h>

namespace lumen::kernels::detail {
namespace {

// The few vector operations the kernel needs, for float and for double, so that one kernel
// template serves both types.
template <class T>
struct Zmm;

template <>
struct Zmm<float> {
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};

template <>
struct Zmm<double> {
  using V = __m512d;
  static constexpr int kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
};

// C = alpha * acc + beta * C for one vector of a row. Every tile, full or edge, goes through
// this one formula, so an element's value does not depend on where the tile edges fall.
template <class Z>
inline typename Z::V update(typename Z::V acc, typename Z::V c_old, typename Z::V alpha,
                            typename Z::V beta, bool beta_is_zero) {
  return beta_is_zero ? Z::mul(alpha, acc) : Z::fmadd(alpha, acc, Z::mul(beta, c_old));
}

template <class T, int MR, int NV>
void micro_kernel(int64_t k, const T* a, int64_t rs_a, int64_t cs_a, const T* b,
                  int64_t rs_b, const CTile<T>& out) {
  using Z = Zmm<T>;
  using V = typename Z::V;
  constexpr int L = Z::kLanes;
  constexpr int NR = NV * L;

  // Ask for the C tile now: the sum below takes thousands of cycles, long enough for C to
  // arrive from L3 or memory by the time it is updated.
  for (int64_t i = 0; i < out.m; ++i) {
    const T* ci = out.c + i * out.rs_c;
    _mm_prefetch(reinterpret_cast<const char*>(ci), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(ci + (out.n - 1) * out.cs_c), _MM_HINT_T0);
  }

  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = Z::zero();

  if (rs_a == 1 && cs_a == MR) {
    // The hot loop, on a packed A panel: per step, NV loads of B, MR broadcasts of A and
    // MR*NV FMAs. (Unaligned loads: as fast as aligned ones when the data is aligned, as
    // packed B is, and B in place may not be.)
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; ++p) {
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = Z::loadu(b + v * L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const V ai = Z::set1(a[i]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = Z::fmadd(ai, bv[v], acc[i][v]);
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
      // A in place may not be in cache yet (in a batch, every product brings new operands),
      // and MR rows read one number at a time are hard for the hardware prefetcher to
      // follow: ask for each row 16 steps ahead (a cache line is 16 floats).
      if ((p & 7) == 0 && p + 16 < k) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(row[i] + off + 16 * cs_a), _MM_HINT_T0);
      }
      V bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) bv[v] = Z::loadu(b + v * L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const V ai = Z::set1(row[i][off]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = Z::fmadd(ai, bv[v], acc[i][v]);
      }
      b += rs_b;
    }
  }

  // Only now read where the tile goes (see CTile in gemm.h).
  T* const c = out.c;
  const int64_t rs_c = out.rs_c, cs_c = out.cs_c, m = out.m, n = out.n;
  const V va = Z::set1(out.alpha);
  const V vb = Z::set1(out.beta);
  const bool beta_is_zero = (out.beta == T(0));
  if (m == MR && n == NR && cs_c == 1) {
    // Full tile with contiguous rows: update C in place.
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* ci = c + i * rs_c;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const V old = beta_is_zero ? Z::zero() : Z::loadu(ci + v * L);
        Z::storeu(ci + v * L, update<Z>(acc[i][v], old, va, vb, beta_is_zero));
      }
    }
    return;
  }

  // Edge tile (or strided C): copy the valid m x n part of C into a full-size scratch tile,
  // update the tile with the same vector code, and copy the valid part back. Vector loads and
  // stores only ever touch the scratch tile, never memory past the end of C.
  alignas(64) T tile[MR * NR] = {};
  if (!beta_is_zero)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) tile[i * NR + j] = c[i * rs_c + j * cs_c];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      T* t = tile + i * NR + v * L;
      const V old = beta_is_zero ? Z::zero() : Z::loadu(t);
      Z::storeu(t, update<Z>(acc[i][v], old, va, vb, beta_is_zero));
    }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * rs_c + j * cs_c] = tile[i * NR + j];
}

}  // namespace

const MicroKernelInfo<float> avx512_f32 = {8, 32, &micro_kernel<float, 8, 2>};
const MicroKernelInfo<double> avx512_f64 = {8, 16, &micro_kernel<double, 8, 2>};

}  // namespace lumen::kernels::detail

#else  // built without AVX-512 flags: the dispatcher sees a null kernel and never picks it

namespace lumen::kernels::detail {
const MicroKernelInfo<float> avx512_f32 = {8, 32, nullptr};
const MicroKernelInfo<double> avx512_f64 = {8, 16, nullptr};
}  // namespace lumen::kernels::detail

#endif
