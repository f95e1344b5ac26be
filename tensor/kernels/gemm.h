#pragma once
// Matrix multiply: the one kernel that decides how fast training is.
//
//   C = alpha * A * B + beta * C        A is M x K, B is K x N, C is M x N
//
// Every matrix is given as a pointer plus a row stride and a column stride, in elements:
// element (i, p) of A is A[i*rs_a + p*cs_a], (p, j) of B is B[p*rs_b + j*cs_b] and (i, j) of C
// is C[i*rs_c + j*cs_c]. A transposed view is therefore just swapped strides (rs_a = 1,
// cs_a = lda), and no transpose copy is ever made: the packing step in gemm.cpp reads any
// strides. C must not overlap A or B.
//
// Special cases, as in BLAS:
//   - any of M, N, K may be 0; K == 0 or alpha == 0 leaves C = beta * C (A and B are not read);
//   - beta == 0 overwrites C without reading it, so C may hold garbage (even NaN) beforehand.
//
// The result does not depend on the number of threads: threads split the rows and columns of C
// between them, never the sum over K, so every element is added up in the same order.
#include <cstdint>

namespace lumen::kernels {

void gemm(int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t rs_a, int64_t cs_a,
          const float* B, int64_t rs_b, int64_t cs_b,
          float beta, float* C, int64_t rs_c, int64_t cs_c);
void gemm(int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t rs_a, int64_t cs_a,
          const double* B, int64_t rs_b, int64_t cs_b,
          double beta, double* C, int64_t rs_c, int64_t cs_c);

// `batch` independent products: product b uses A + b*bs_a, B + b*bs_b, C + b*bs_c.
// A batch stride of 0 broadcasts that operand (e.g. one weight matrix for every batch entry).
// bs_c must not be 0 when batch > 1 (every product would write the same C).
// Many small products (attention: batch*heads of 64x64) are spread over threads one product
// each; a few big ones are threaded inside each product instead.
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t bs_a, int64_t rs_a, int64_t cs_a,
                  const float* B, int64_t bs_b, int64_t rs_b, int64_t cs_b,
                  float beta, float* C, int64_t bs_c, int64_t rs_c, int64_t cs_c);
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, double alpha,
                  const double* A, int64_t bs_a, int64_t rs_a, int64_t cs_a,
                  const double* B, int64_t bs_b, int64_t rs_b, int64_t cs_b,
                  double beta, double* C, int64_t bs_c, int64_t rs_c, int64_t cs_c);

// The naive triple loop, kept next to the fast kernel so tests can compare the two.
// Sums in double (also for float), so it is the more accurate of the two.
// Defined in gemm.cpp for T = float and T = double.
template <class T>
void gemm_reference(int64_t M, int64_t N, int64_t K, T alpha,
                    const T* A, int64_t rs_a, int64_t cs_a,
                    const T* B, int64_t rs_b, int64_t cs_b,
                    T beta, T* C, int64_t rs_c, int64_t cs_c);

// Which micro-kernel gemm uses on this CPU: "avx512", "avx2" or "portable".
const char* gemm_kernel_name();

// For tests and benchmarks: use the named kernel ("avx512", "avx2", "portable"), or go back to
// the best one for this CPU with "auto". Throws std::invalid_argument for an unknown name and
// std::runtime_error when this CPU (or this build) cannot run the kernel.
void gemm_force_kernel(const char* name);

namespace detail {
// Internal: the contract between gemm.cpp (packing, blocking, threads) and the files that hold
// the SIMD micro-kernels, gemm_avx512.cpp and gemm_avx2.cpp, which are compiled with their own
// instruction-set flags.
//
// A micro-kernel computes one MR x NR tile of C from a panel of A and a packed panel of B:
//   a: MR x k, element (i, p) at a[i*rs_a + p*cs_a]. A packed panel, stored column after
//      column, has rs_a = 1 and cs_a = MR; a small product may pass A in place instead.
//   b: k x NR, element (p, j) at b[p*rs_b + j]: the NR numbers of a row are contiguous.
//      A packed panel has rs_b = NR; a small product may pass B in place (whole panels only).
// and writes  C(i, j) = alpha * sum_p a(i, p) * b(p, j) + beta * C(i, j)  for i < m, j < n
// (m <= MR, n <= NR: the tile may hang over the edge of C. Packed panels are zero-padded, so
// the kernel always computes the full tile but only touches the m x n valid part of C; rows
// i >= m of A are never read). beta == 0 means C is not read.
//
// Where the tile goes is passed by reference, not as separate arguments, so that none of it
// occupies a register during the sum over k (the AVX2 kernel needs all 16 vector registers).
template <class T>
struct CTile {
  T* c;                  // element (0, 0) of the tile
  int64_t rs_c, cs_c;    // strides of C
  int64_t m, n;          // the valid part of the tile
  T alpha, beta;
};

template <class T>
using MicroKernel = void (*)(int64_t k, const T* a, int64_t rs_a, int64_t cs_a, const T* b,
                             int64_t rs_b, const CTile<T>& out);

template <class T>
struct MicroKernelInfo {
  int mr;                  // rows of the register tile
  int nr;                  // columns of the register tile (a multiple of the vector width)
  MicroKernel<T> kernel;   // nullptr when this build has no such kernel (e.g. not x86)
};

// Packing copies a `count` x kc slice of A or B into ceil(count / R) panels of width R
// (R = MR for A, NR for B), stored one after another, each R x kc and zero-padded to R:
//   dst[(i / R) * R*kc + p*R + i % R] = src[i*s_i + p*s_p]   for i < count, p < kc.
// For A, i runs over rows (s_i = rs_a) and p over columns (s_p = cs_a); for B, i runs over
// columns (s_i = cs_b) and p over rows (s_p = rs_b).
template <class T>
using PackPanels = void (*)(T* dst, const T* src, int64_t s_i, int64_t s_p, int64_t count,
                            int64_t kc, int64_t R);
// The AVX2 versions (gemm_avx2.cpp) serve the AVX2 and the AVX-512 kernels alike; they may only
// be called when avx2_f32.kernel is not null.
void pack_panels_avx2(float* dst, const float* src, int64_t s_i, int64_t s_p, int64_t count,
                      int64_t kc, int64_t R);
void pack_panels_avx2(double* dst, const double* src, int64_t s_i, int64_t s_p, int64_t count,
                      int64_t kc, int64_t R);

// Defined in gemm_avx512.cpp and gemm_avx2.cpp.
extern const MicroKernelInfo<float> avx512_f32;
extern const MicroKernelInfo<double> avx512_f64;
extern const MicroKernelInfo<float> avx2_f32;
extern const MicroKernelInfo<double> avx2_f64;
}  // namespace detail

}  // namespace lumen::kernels
