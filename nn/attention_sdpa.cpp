// Scaled dot-product attention: the blockwise fused op, its hand-written backward, and the plain
// composition of Var ops that both are tested against.
//
// THE BLOCKWISE FORWARD (FlashAttention's online softmax)
// For one block of queries (kBlockQ rows) the keys are visited a block (kBlockK) at a time.
// Each row keeps its running maximum m, its running sum l of exp(s - m), and an accumulator
// acc = sum_j exp(s_j - m) v_j. A new block of scores S_blk may raise the maximum to m'; then
// everything kept so far is rescaled by exp(m - m') before the block's own terms are added:
//
//   m' = max(m, rowmax(S_blk))       l' = l exp(m - m') + sum_j exp(S_blk,j - m')
//   acc' = acc exp(m - m') + exp(S_blk - m') V_blk
//
// After the last block Z = acc / l, exactly softmax(S) V, and the row's log-sum-exp
// lse = m + log(l) is saved: in backward alpha_ij = exp(s_ij - lse_i) comes back from one
// recomputed score, without any [Tq, Tk] matrix having been stored. A row that saw no key at all
// has l = 0: its Z is 0 and its lse is +inf, which makes every recomputed alpha 0.
//
// THE BLOCKWISE BACKWARD, g = dL/dZ, D_i = sum_c g_ic Z_ic (= sum_j alpha_ij dalpha_ij):
//   for each block of keys j, for each block of queries i that can see it:
//     S = Q_i K_j^T * scale,  P = exp(S - lse_i)      (recomputed, 0 where masked)
//     dV_j += P^T g_i         dP = g_i V_j^T          dS = P * (dP - D_i)
//     dQ_i += dS K_j * scale  dK_j += dS^T Q_i * scale
// Each (batch, head) matrix runs on one thread from start to end, so the sums into dQ, dK
// and dV happen in a fixed order whatever the thread count.
//
// The products are done by kernels::gemm on the blocks in place (any strides, no copies); inside
// the parallel region each gemm runs on its own thread.
#include "nn/attention_sdpa.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/dropout.h"
#include "tensor/kernels/gemm.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace lumen::nn {
namespace {

// Block sizes: 64 x 64 measured best on W6 ([8, 4, 256, 64], causal) among 32, 64 and 128.
constexpr int64_t kBlockQ = 64;  // query rows per block
constexpr int64_t kBlockK = 64;  // keys per block: the score block is kBlockQ x kBlockK

// ---- elementwise helpers on one row of a score block -----------------------------------------

// exp(x) for four floats at once, written with GCC's vector extensions (plain loops with a
// select stay scalar: GCC does not vectorise float compares unless -fno-trapping-math).
// x = n ln2 + r with |r| <= ln2/2, exp(r) from Cephes' degree-6 polynomial (relative error
// below 1e-7), and 2^n built from its exponent bits. Exactly 0 for x < -87 and for -inf, so
// masked scores give weights of exactly zero.
typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));

inline f32x4 splat(float v) { return f32x4{v, v, v, v}; }

inline f32x4 exp4(f32x4 x) {
  // Clamped so that n below is a small integer (for -inf and NaN too); the selects at the end
  // give 0 below -87 and pass NaN through.
  const f32x4 hi = x < 88.0f ? x : splat(88.0f);
  const f32x4 xc = hi > -88.0f ? hi : splat(-88.0f);  // NaN fails both compares: -88
  // round(x / ln2) by adding and subtracting 1.5 * 2^23, which rounds to an integer
  const f32x4 n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;
  const f32x4 r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;  // ln2 in two parts
  f32x4 p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const f32x4 e_r = p * r * r + r + 1.0f;
  const f32x4 two_n = std::bit_cast<f32x4>((__builtin_convertvector(n, i32x4) + 127) << 23);
  const f32x4 e = x < -87.0f ? splat(0.0f) : e_r * two_n;
  return x == x ? e : x;
}

// x[i] = exp(x[i] - shift)
inline void exp_shift(float* x, int64_t n, float shift) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    f32x4 v;
    std::memcpy(&v, x + i, sizeof v);
    v = exp4(v - shift);
    std::memcpy(x + i, &v, sizeof v);
  }
  if (i < n) {  // the tail, through a zero-padded vector
    const size_t bytes = static_cast<size_t>(n - i) * sizeof(float);
    f32x4 v = splat(0.0f);
    std::memcpy(&v, x + i, bytes);
    v = exp4(v - shift);
    std::memcpy(x + i, &v, bytes);
  }
}
// f64 is for checking gradients: the exact library exp.
inline void exp_shift(double* x, int64_t n, double shift) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - shift);
}
inline float exp_of(float x) { return exp4(splat(x))[0]; }
inline double exp_of(double x) { return std::exp(x); }

constexpr int kLanes = 8;  // independent partial results, so max and sum loops vectorise

template <class T>
T row_max(const T* x, int64_t n) {
  T m[kLanes];
  std::fill(m, m + kLanes, -std::numeric_limits<T>::infinity());
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) m[l] = m[l] < x[i + l] ? x[i + l] : m[l];
  for (; i < n; ++i) m[0] = m[0] < x[i] ? x[i] : m[0];
  T out = m[0];
  for (int l = 1; l < kLanes; ++l) out = out < m[l] ? m[l] : out;
  return out;
}

// x[i] = exp(x[i] - shift); returns the sum of the new values.
template <class T>
T exp_shift_sum(T* x, int64_t n, T shift) {
  exp_shift(x, n, shift);
  T s[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += x[i + l];
  for (; i < n; ++i) s[0] += x[i];
  T out = 0;
  for (int l = 0; l < kLanes; ++l) out += s[l];
  return out;
}

// ---- operands: N matrices with shared row and column strides ----------------------------------

template <class P>
struct Mat {
  P* p = nullptr;
  std::vector<int64_t> off;  // element offset of matrix n
  int64_t rs = 0, cs = 0;
  P* row(int64_t n, int64_t i) const { return p + off[static_cast<size_t>(n)] + i * rs; }
};

// t [batch..., rows, cols] (any strides, stride 0 for broadcast dims) as N = prod(batch) matrices.
template <class P>
Mat<P> mat_of(const Tensor& t) {
  Mat<P> m;
  m.p = t.data<std::remove_const_t<P>>();
  const int64_t nb = t.dim() - 2;
  m.rs = t.strides()[static_cast<size_t>(nb)];
  m.cs = t.strides()[static_cast<size_t>(nb + 1)];
  int64_t N = 1;
  for (int64_t d = 0; d < nb; ++d) N *= t.size(d);
  m.off.resize(static_cast<size_t>(N));
  std::vector<int64_t> idx(static_cast<size_t>(nb), 0);
  int64_t off = 0;
  for (int64_t n = 0; n < N; ++n) {
    m.off[static_cast<size_t>(n)] = off;
    for (int64_t d = nb - 1; d >= 0; --d) {  // odometer over the batch dims
      const size_t k = static_cast<size_t>(d);
      off += t.strides()[k];
      if (++idx[k] < t.size(d)) break;
      off -= t.strides()[k] * t.size(d);
      idx[k] = 0;
    }
  }
  return m;
}

template <class T>
struct Problem {
  int64_t N = 0, Tq = 0, Tk = 0, dk = 0, dv = 0;
  T scale = 1;
  bool causal = false;
  int64_t shift = 0;  // with causal: query i sees keys j <= i + shift (shift = Tk - Tq)
  Mat<const T> Q, K, V;
  Mat<const bool> M;  // M.p == nullptr: no mask
};

// Sets the scores of block rows [i0, i0+m) x keys [j0, j0+nk) that query i may not see to -inf.
// s has row stride ld.
template <class T>
void mask_block(const Problem<T>& a, int64_t n, int64_t i0, int64_t m, int64_t j0, int64_t nk, T* s, int64_t ld) {
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  const bool causal_cut = a.causal && j0 + nk - 1 > i0 + a.shift;  // some row of the block is cut
  if (!causal_cut && !a.M.p) return;
  for (int64_t r = 0; r < m; ++r) {
    T* row = s + r * ld;
    if (causal_cut) {
      const int64_t visible = std::clamp<int64_t>(i0 + r + a.shift - j0 + 1, 0, nk);
      std::fill(row + visible, row + nk, ninf);
    }
    if (a.M.p) {
      const bool* mrow = a.M.row(n, i0 + r) + j0 * a.M.cs;
      for (int64_t c = 0; c < nk; ++c)
        if (!mrow[c * a.M.cs]) row[c] = ninf;
    }
  }
}

// The keys [0, end) that any query of the block [i0, i0+m) may see.
template <class T>
int64_t keys_end(const Problem<T>& a, int64_t i0, int64_t m) {
  return a.causal ? std::clamp<int64_t>(i0 + m + a.shift, 0, a.Tk) : a.Tk;
}

bool worth_threads(int64_t tasks, double flops) { return tasks > 1 && flops > 2e6 && get_num_threads() > 1; }

// Z [N, Tq, dv] (strides in O), lse [N * Tq] contiguous.
template <class T>
void flash_forward(const Problem<T>& a, const Mat<T>& O, T* lse) {
  const int64_t nqb = (a.Tq + kBlockQ - 1) / kBlockQ;
  const int64_t tasks = a.N * nqb;
  const double flops = 2.0 * double(a.N) * double(a.Tq) * double(a.Tk) * double(a.dk + a.dv);
#pragma omp parallel if (worth_threads(tasks, flops)) num_threads(get_num_threads())
  {
    std::vector<T> S(kBlockQ * kBlockK), acc(static_cast<size_t>(kBlockQ * a.dv));
    T mx[kBlockQ], l[kBlockQ];
#pragma omp for schedule(dynamic, 1)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t n = task / nqb, i0 = (task % nqb) * kBlockQ, m = std::min(kBlockQ, a.Tq - i0);
      std::fill(mx, mx + m, -std::numeric_limits<T>::infinity());
      std::fill(l, l + m, T(0));
      std::fill(acc.begin(), acc.begin() + m * a.dv, T(0));
      const int64_t kend = keys_end(a, i0, m);
      for (int64_t j0 = 0; j0 < kend; j0 += kBlockK) {
        const int64_t nk = std::min(kBlockK, kend - j0);
        // S [m, nk] = scale * Q_i [m, dk] K_j^T [dk, nk]
        kernels::gemm(m, nk, a.dk, a.scale, a.Q.row(n, i0), a.Q.rs, a.Q.cs, a.K.row(n, j0), a.K.cs, a.K.rs, T(0),
                      S.data(), kBlockK, 1);
        mask_block(a, n, i0, m, j0, nk, S.data(), kBlockK);
        for (int64_t r = 0; r < m; ++r) {
          T* s = S.data() + r * kBlockK;
          const T m_new = std::max(mx[r], row_max(s, nk));
          if (m_new == -std::numeric_limits<T>::infinity()) {  // nothing visible yet in this row
            std::fill(s, s + nk, T(0));
            continue;
          }
          const T corr = exp_of(mx[r] - m_new);  // 0 on the first visible block
          l[r] = l[r] * corr + exp_shift_sum(s, nk, m_new);
          mx[r] = m_new;
          if (corr != T(1)) {
            T* acc_r = acc.data() + r * a.dv;
            for (int64_t c = 0; c < a.dv; ++c) acc_r[c] *= corr;
          }
        }
        // acc [m, dv] += P [m, nk] V_j [nk, dv]
        kernels::gemm(m, a.dv, nk, T(1), S.data(), kBlockK, 1, a.V.row(n, j0), a.V.rs, a.V.cs, T(1), acc.data(),
                      a.dv, 1);
      }
      for (int64_t r = 0; r < m; ++r) {
        const T inv = l[r] > 0 ? T(1) / l[r] : T(0);  // a row that saw no key: Z = 0
        T* z = O.row(n, i0 + r);
        const T* acc_r = acc.data() + r * a.dv;
        for (int64_t c = 0; c < a.dv; ++c) z[c * O.cs] = acc_r[c] * inv;
        lse[n * a.Tq + i0 + r] = l[r] > 0 ? mx[r] + std::log(l[r]) : std::numeric_limits<T>::infinity();
      }
    }
  }
}

// Rows [i0, i0 + rows) of matrix n set to zero.
template <class T>
void zero_rows(const Mat<T>& X, int64_t n, int64_t i0, int64_t rows, int64_t cols) {
  for (int64_t i = i0; i < i0 + rows; ++i) {
    T* x = X.row(n, i);
    for (int64_t c = 0; c < cols; ++c) x[c * X.cs] = T(0);
  }
}

// sum_c a[c*sa] b[c*sb], in lanes when both are contiguous (so the loop vectorises).
template <class T>
T dot(const T* a, int64_t sa, const T* b, int64_t sb, int64_t n) {
  if (sa != 1 || sb != 1) {
    T s = 0;
    for (int64_t c = 0; c < n; ++c) s += a[c * sa] * b[c * sb];
    return s;
  }
  T s[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += a[c + l] * b[c + l];
  for (; c < n; ++c) s[0] += a[c] * b[c];
  T out = 0;
  for (int l = 0; l < kLanes; ++l) out += s[l];
  return out;
}

// Z and g = dL/dZ [N, Tq, dv]; writes dQ [N, Tq, dk], dK [N, Tk, dk], dV [N, Tk, dv].
// Each block of dQ, dK, dV is overwritten (beta = 0) by its first product and accumulated into
// by the later ones, so the gradients are written in one pass; a block that no product reaches
// (its keys seen by no query, or its queries seeing no key) is zeroed at the end.
template <class T>
void flash_backward(const Problem<T>& a, const Mat<const T>& Z, const T* lse, const Mat<const T>& G,
                    const Mat<T>& dQ, const Mat<T>& dK, const Mat<T>& dV) {
  const double flops = 4.0 * double(a.N) * double(a.Tq) * double(a.Tk) * double(a.dk + a.dv);
  const int64_t nqb = (a.Tq + kBlockQ - 1) / kBlockQ, nkb = (a.Tk + kBlockK - 1) / kBlockK;
#pragma omp parallel if (worth_threads(a.N, flops)) num_threads(get_num_threads())
  {
    std::vector<T> P(kBlockQ * kBlockK), dS(kBlockQ * kBlockK), D(static_cast<size_t>(a.Tq));
    std::vector<char> q_started(static_cast<size_t>(nqb)), kv_started(static_cast<size_t>(nkb));
#pragma omp for schedule(dynamic, 1)
    for (int64_t n = 0; n < a.N; ++n) {
      for (int64_t i = 0; i < a.Tq; ++i)  // D_i = sum_c g_ic Z_ic
        D[static_cast<size_t>(i)] = dot(G.row(n, i), G.cs, Z.row(n, i), Z.cs, a.dv);
      std::fill(q_started.begin(), q_started.end(), 0);
      std::fill(kv_started.begin(), kv_started.end(), 0);
      const T* lse_n = lse + n * a.Tq;
      for (int64_t j0 = 0; j0 < a.Tk; j0 += kBlockK) {
        const int64_t nk = std::min(kBlockK, a.Tk - j0);
        char& kv_on = kv_started[static_cast<size_t>(j0 / kBlockK)];
        // The first query block with a row that sees key j0 (rows i with i + shift >= j0).
        const int64_t first = a.causal ? std::max<int64_t>(0, j0 - a.shift) / kBlockQ * kBlockQ : 0;
        for (int64_t i0 = first; i0 < a.Tq; i0 += kBlockQ) {
          const int64_t m = std::min(kBlockQ, a.Tq - i0);
          if (keys_end(a, i0, m) <= j0) continue;
          char& q_on = q_started[static_cast<size_t>(i0 / kBlockQ)];
          // P [m, nk] = exp(scale * Q_i K_j^T - lse_i), 0 where masked
          kernels::gemm(m, nk, a.dk, a.scale, a.Q.row(n, i0), a.Q.rs, a.Q.cs, a.K.row(n, j0), a.K.cs, a.K.rs, T(0),
                        P.data(), kBlockK, 1);
          mask_block(a, n, i0, m, j0, nk, P.data(), kBlockK);
          for (int64_t r = 0; r < m; ++r) exp_shift(P.data() + r * kBlockK, nk, lse_n[i0 + r]);
          // dV_j [nk, dv] (+)= P^T [nk, m] g_i [m, dv]
          kernels::gemm(nk, a.dv, m, T(1), P.data(), 1, kBlockK, G.row(n, i0), G.rs, G.cs, T(kv_on), dV.row(n, j0),
                        dV.rs, dV.cs);
          // dP [m, nk] = g_i [m, dv] V_j^T [dv, nk]
          kernels::gemm(m, nk, a.dv, T(1), G.row(n, i0), G.rs, G.cs, a.V.row(n, j0), a.V.cs, a.V.rs, T(0), dS.data(),
                        kBlockK, 1);
          // dS = P * (dP - D_i)
          for (int64_t r = 0; r < m; ++r) {
            T* ds = dS.data() + r * kBlockK;
            const T* p = P.data() + r * kBlockK;
            const T d = D[static_cast<size_t>(i0 + r)];
            for (int64_t c = 0; c < nk; ++c) ds[c] = p[c] * (ds[c] - d);
          }
          // dQ_i [m, dk] (+)= scale * dS [m, nk] K_j [nk, dk]
          kernels::gemm(m, a.dk, nk, a.scale, dS.data(), kBlockK, 1, a.K.row(n, j0), a.K.rs, a.K.cs, T(q_on),
                        dQ.row(n, i0), dQ.rs, dQ.cs);
          // dK_j [nk, dk] (+)= scale * dS^T [nk, m] Q_i [m, dk]
          kernels::gemm(nk, a.dk, m, a.scale, dS.data(), 1, kBlockK, a.Q.row(n, i0), a.Q.rs, a.Q.cs, T(kv_on),
                        dK.row(n, j0), dK.rs, dK.cs);
          q_on = kv_on = 1;
        }
      }
      for (int64_t b = 0; b < nqb; ++b)
        if (!q_started[static_cast<size_t>(b)]) zero_rows(dQ, n, b * kBlockQ, std::min(kBlockQ, a.Tq - b * kBlockQ), a.dk);
      for (int64_t b = 0; b < nkb; ++b)
        if (!kv_started[static_cast<size_t>(b)]) {
          zero_rows(dK, n, b * kBlockK, std::min(kBlockK, a.Tk - b * kBlockK), a.dk);
          zero_rows(dV, n, b * kBlockK, std::min(kBlockK, a.Tk - b * kBlockK), a.dv);
        }
    }
  }
}

// ---- checks and layouts ---------------------------------------------------------------------

std::string dt(const Tensor& t) { return std::string(dtype_name(t.dtype())); }

// Q [*, Tq, dk], K [*, Tk, dk], V [*, Tk, dv]: the batch dims *.
Shape check_qkv(const char* op, const Tensor& Q, const Tensor& K, const Tensor& V) {
  if (!Q.defined() || !K.defined() || !V.defined()) throw ValueError(std::string(op) + ": Q, K and V must be defined");
  auto shapes = [&] {
    return std::string(op) + ": Q " + shape_str(Q.shape()) + ", K " + shape_str(K.shape()) + ", V " +
           shape_str(V.shape());
  };
  if (!is_floating(Q.dtype()) || Q.dtype() != K.dtype() || Q.dtype() != V.dtype())
    throw DTypeError(std::string(op) + ": Q, K and V must share one floating dtype, got " + dt(Q) + ", " + dt(K) +
                     " and " + dt(V));
  if (Q.dim() < 2 || K.dim() != Q.dim() || V.dim() != Q.dim())
    throw ShapeError(shapes() + ": need Q [*, Tq, d_k], K [*, Tk, d_k], V [*, Tk, d_v] of one rank >= 2");
  if (K.size(-1) != Q.size(-1)) throw ShapeError(shapes() + ": Q and K need the same last dim d_k");
  if (V.size(-2) != K.size(-2)) throw ShapeError(shapes() + ": K and V need the same number of keys Tk");
  Shape batch(Q.shape().begin(), Q.shape().end() - 2);
  if (Shape(K.shape().begin(), K.shape().end() - 2) != batch || Shape(V.shape().begin(), V.shape().end() - 2) != batch)
    throw ShapeError(shapes() + ": Q, K and V need the same batch dims");
  return batch;
}

// The mask broadcast to batch + [Tq, Tk] (a view with stride-0 dims), or undefined.
Tensor expand_mask(const char* op, const Tensor& mask, const Shape& batch, int64_t Tq, int64_t Tk) {
  if (!mask.defined()) return Tensor();
  if (mask.dtype() != DType::boolean)
    throw DTypeError(std::string(op) + ": mask must be bool (true = may attend), got " + dt(mask) + " of shape " +
                     shape_str(mask.shape()));
  Shape full = batch;
  full.push_back(Tq);
  full.push_back(Tk);
  bool fits = mask.dim() <= static_cast<int64_t>(full.size());
  for (int64_t d = 1; fits && d <= mask.dim(); ++d) {
    const int64_t have = mask.size(-d), want = full[full.size() - static_cast<size_t>(d)];
    fits = have == want || have == 1;
  }
  if (!fits)
    throw ShapeError(std::string(op) + ": mask of shape " + shape_str(mask.shape()) + " does not broadcast to " +
                     shape_str(full) + " ([*, Tq, Tk])");
  return mask.expand(full);
}

double default_scale(double scale, int64_t dk) {
  return scale != 0.0 ? scale : 1.0 / std::sqrt(static_cast<double>(dk));
}

// An uninitialised tensor of `shape` whose memory order follows `like` (same rank): dims sorted
// by like's strides, largest outermost, the last dim always innermost. For Q a [B, H, T, d] view
// of a [B, T, H, d] tensor that stores the result as [B, T, H, d], so merging heads is a view.
Tensor empty_in_layout(const Shape& shape, const Tensor& like) {
  const int64_t r = static_cast<int64_t>(shape.size());
  std::vector<int64_t> order(static_cast<size_t>(r));
  for (int64_t d = 0; d < r; ++d) order[static_cast<size_t>(d)] = d;
  std::stable_sort(order.begin(), order.end() - 1, [&](int64_t x, int64_t y) {
    return like.strides()[static_cast<size_t>(x)] > like.strides()[static_cast<size_t>(y)];
  });
  Shape stored = Shape::filled(static_cast<size_t>(r), 0);
  std::vector<int64_t> where(static_cast<size_t>(r));
  for (int64_t k = 0; k < r; ++k) {
    stored[static_cast<size_t>(k)] = shape[static_cast<size_t>(order[static_cast<size_t>(k)])];
    where[static_cast<size_t>(order[static_cast<size_t>(k)])] = k;
  }
  return Tensor::empty(stored, like.dtype()).permute(where);
}

// ---- running the kernels on tensor views ----------------------------------------------------

template <class T>
Problem<T> problem_of(const Tensor& Q, const Tensor& K, const Tensor& V, const Tensor& mask_full, bool causal,
                      double scale) {
  Problem<T> a;
  a.Q = mat_of<const T>(Q);
  a.K = mat_of<const T>(K);
  a.V = mat_of<const T>(V);
  if (mask_full.defined()) a.M = mat_of<const bool>(mask_full);
  a.N = static_cast<int64_t>(a.Q.off.size());
  a.Tq = Q.size(-2);
  a.Tk = K.size(-2);
  a.dk = Q.size(-1);
  a.dv = V.size(-1);
  a.scale = static_cast<T>(scale);
  a.causal = causal;
  a.shift = a.Tk - a.Tq;
  return a;
}

// Writes Z into `Z` (a view of batch + [Tq, dv]); returns lse [N, Tq].
Tensor run_forward(const Tensor& Q, const Tensor& K, const Tensor& V, const Tensor& mask_full, bool causal,
                   double scale, const Tensor& Z) {
  int64_t N = 1;
  for (int64_t d = 0; d + 2 < Q.dim(); ++d) N *= Q.size(d);
  Tensor lse = Tensor::empty({N, Q.size(-2)}, Q.dtype());
  if (N == 0 || Q.size(-2) == 0) return lse;
  visit_floating(Q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Problem<T> a = problem_of<T>(Q, K, V, mask_full, causal, scale);
    flash_forward(a, mat_of<T>(Z), lse.data<T>());
  });
  return lse;
}

// Writes dQ, dK, dV (views shaped like Q, K, V).
void run_backward(const Tensor& Q, const Tensor& K, const Tensor& V, const Tensor& mask_full, bool causal,
                  double scale, const Tensor& Z, const Tensor& lse, const Tensor& g, const Tensor& dQ,
                  const Tensor& dK, const Tensor& dV) {
  visit_floating(Q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    Problem<T> a = problem_of<T>(Q, K, V, mask_full, causal, scale);
    if (a.N == 0) return;
    if (a.Tq == 0 || a.Tk == 0) {  // nothing attended: every gradient is zero
      for (const Tensor* t : {&dQ, &dK, &dV}) {
        Tensor x = *t;
        x.fill_(0.0);
      }
      return;
    }
    flash_backward(a, mat_of<const T>(Z), lse.data<T>(), mat_of<const T>(g), mat_of<T>(dQ), mat_of<T>(dK),
                   mat_of<T>(dV));
  });
}

// ---- the Var-op composition -------------------------------------------------------------------

// true where query i may attend key j: the user's mask and the causal cut, or undefined for "all".
Tensor allowed_mask(const Tensor& mask_full, bool causal, int64_t Tq, int64_t Tk) {
  if (!causal) return mask_full;
  Tensor c = causal_mask(Tq, Tk);
  return mask_full.defined() ? logical_and(mask_full, c) : c;
}

// alpha [*, Tq, Tk] = softmax(Q K^T * scale) over the allowed keys, exactly 0 elsewhere.
// Blocked scores are set to the lowest finite number rather than -inf: a row with no allowed
// key then gives a uniform softmax (not 0/0 = NaN), which the second masked_fill turns into 0,
// with zero gradients.
Var attention_weights(const Var& Q, const Var& K, const Tensor& allowed, double scale) {
  Var S = matmul(Q, transpose(K, -2, -1)) * scale;
  if (!allowed.defined()) return softmax(S, -1);
  Tensor blocked = logical_not(allowed);
  const double lowest = Q.dtype() == DType::f32 ? double(std::numeric_limits<float>::lowest())
                                                 : std::numeric_limits<double>::lowest();
  return masked_fill(softmax(masked_fill(S, blocked, lowest), -1), blocked, 0.0);
}

// dL/dQ, dL/dK, dL/dV written with Var ops, so they can be differentiated again (create_graph).
Grads composed_backward(const Var& Q, const Var& K, const Var& V, const Tensor& allowed, double scale,
                        const Var& g) {
  Var alpha = attention_weights(Q, K, allowed, scale);               // [*, Tq, Tk]
  Var dV = matmul(transpose(alpha, -2, -1), g);                      // [*, Tk, dv]
  Var dA = matmul(g, transpose(V, -2, -1));                          // [*, Tq, Tk]
  Var dS = alpha * (dA - sum(dA * alpha, {-1}, true));               // softmax backward
  return {matmul(dS, K) * scale, matmul(transpose(dS, -2, -1), Q) * scale, dV};
}

std::string attrs_of(bool causal, bool masked, double scale) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%sscale=%.4g", causal ? "causal " : "", masked ? "masked " : "", scale);
  return buf;
}

// ---- the multi-head core: heads as strided views of packed projections ----------------------

// Columns [col, col + H*d) of x [B, T, C] as [B, H, T, d]: head h is columns col + h*d ... .
Tensor heads_view(const Tensor& x, int64_t col, int64_t H, int64_t d) {
  const Strides& s = x.strides();
  return Tensor(x.storage(), {x.size(0), H, x.size(1), d}, {s[0], d * s[2], s[1], s[2]}, x.offset() + col * s[2],
                x.dtype());
}

// The same with Var ops (for the create_graph backward): slice, split the heads, move them out.
Var heads_var(const Var& x, int64_t col, int64_t H, int64_t d) {
  Var cols = slice(x, 2, col, col + H * d);
  return transpose(reshape(cols, {x.size(0), x.size(1), H, d}), 1, 2);
}
// [B, H, T, d] -> [B, T, H*d]
Var merge_heads(const Var& x) {
  return reshape(transpose(x, 1, 2), {x.size(0), x.size(2), x.size(1) * x.size(3)});
}

// Self-attention (q_src == kv_src, one input) or cross-attention (two inputs).
Var multi_head_core(const Var& q_src, const Var& kv_src, bool self, int64_t H, const Tensor& mask, bool causal) {
  const char* op = "multi_head_sdpa";
  const Tensor& qs = q_src.value();
  const Tensor& kvs = kv_src.value();
  if (qs.dim() != 3 || kvs.dim() != 3 || qs.size(0) != kvs.size(0))
    throw ShapeError(std::string(op) + ": need [B, T, C] projections with one batch size, got " +
                     shape_str(qs.shape()) + " and " + shape_str(kvs.shape()));
  if (!is_floating(qs.dtype()) || qs.dtype() != kvs.dtype())
    throw DTypeError(std::string(op) + ": projections must share one floating dtype, got " + dt(qs) + " and " + dt(kvs));
  if (H <= 0) throw ValueError(std::string(op) + ": heads must be > 0, got " + std::to_string(H));
  const int64_t D = self ? qs.size(2) / 3 : qs.size(2);
  const bool fits = self ? qs.size(2) % 3 == 0 : kvs.size(2) == 2 * D;
  if (!fits || D % H != 0)
    throw ShapeError(std::string(op) + ": " +
                     (self ? "qkv " + shape_str(qs.shape()) + " must be [B, T, 3*D]"
                           : "q " + shape_str(qs.shape()) + " and kv " + shape_str(kvs.shape()) +
                                 " must be [B, Tq, D] and [B, Tk, 2*D]") +
                     " with D divisible by " + std::to_string(H) + " heads");
  const int64_t B = qs.size(0), Tq = qs.size(1), Tk = kvs.size(1), d = D / H;
  const int64_t k_col = self ? D : 0, v_col = self ? 2 * D : D;
  const Tensor Q = heads_view(qs, 0, H, d), K = heads_view(kvs, k_col, H, d), V = heads_view(kvs, v_col, H, d);
  const Tensor mask_full = expand_mask(op, mask, {B, H}, Tq, Tk);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));

  // Z [B, Tq, D], filled through its [B, H, Tq, d] view
  Tensor Z = Tensor::empty({B, Tq, D}, qs.dtype());
  Tensor lse = run_forward(Q, K, V, mask_full, causal, scale, heads_view(Z, 0, H, d));

  std::vector<Var> inputs{q_src};
  if (!self) inputs.push_back(kv_src);
  std::vector<Var> extra{Var(lse)};
  if (mask_full.defined()) extra.push_back(Var(mask_full));
  Var out = record(
      "multi_head_sdpa", Z, std::move(inputs),
      [self, H, d, causal, scale, k_col, v_col](const Node& n, const Var& g) -> Grads {
        const Var& q_src = n.input(0);
        const Var& kv_src = self ? n.input(0) : n.input(1);
        const Tensor mask_full = n.saved_spec().extra.size() > 1 ? n.saved(1).value() : Tensor();
        if (grad_enabled()) {  // create_graph: the same gradients, written with Var ops
          const Var Qv = heads_var(q_src, 0, H, d), Kv = heads_var(kv_src, k_col, H, d),
                    Vv = heads_var(kv_src, v_col, H, d);
          Grads gr = composed_backward(Qv, Kv, Vv, allowed_mask(mask_full, causal, Qv.size(2), Kv.size(2)), scale,
                                       transpose(reshape(g, {g.size(0), g.size(1), H, d}), 1, 2));
          Var dq = merge_heads(gr[0]), dk = merge_heads(gr[1]), dv = merge_heads(gr[2]);
          if (self) return {concat({dq, dk, dv}, 2)};
          return {dq, concat({dk, dv}, 2)};
        }
        const Tensor& qs = q_src.value();
        const Tensor& kvs = kv_src.value();
        Tensor dq = Tensor::empty(qs.shape(), qs.dtype());
        Tensor dkv = self ? dq : Tensor::empty(kvs.shape(), kvs.dtype());
        run_backward(heads_view(qs, 0, H, d), heads_view(kvs, k_col, H, d), heads_view(kvs, v_col, H, d), mask_full,
                     causal, scale, heads_view(n.output().value(), 0, H, d), n.saved(0).value(),
                     heads_view(g.value(), 0, H, d), heads_view(dq, 0, H, d), heads_view(dkv, k_col, H, d),
                     heads_view(dkv, v_col, H, d));
        if (self) return {Var(dq)};
        return {Var(dq), Var(dkv)};
      },
      Saved{.inputs = true, .output = true, .extra = std::move(extra)});
  if (out.node()) out.node()->set_attrs("heads=" + std::to_string(H) + " " + attrs_of(causal, mask.defined(), scale));
  return out;
}

}  // namespace

// ---- public ops -------------------------------------------------------------------------------

Var sdpa_fused(const Var& Q, const Var& K, const Var& V, const Tensor& mask, bool causal, double scale) {
  const char* op = "scaled_dot_product_attention";
  const Shape batch = check_qkv(op, Q.value(), K.value(), V.value());
  const int64_t Tq = Q.size(-2), Tk = K.size(-2);
  const Tensor mask_full = expand_mask(op, mask, batch, Tq, Tk);
  scale = default_scale(scale, Q.size(-1));

  // Q [*, Tq, dk], K [*, Tk, dk], V [*, Tk, dv] -> Z [*, Tq, dv] (stored in Q's layout), lse [N, Tq]
  Shape z_shape = batch;
  z_shape.push_back(Tq);
  z_shape.push_back(V.size(-1));
  Tensor Z = empty_in_layout(z_shape, Q.value());
  Tensor lse = run_forward(Q.value(), K.value(), V.value(), mask_full, causal, scale, Z);

  std::vector<Var> extra{Var(lse)};
  if (mask_full.defined()) extra.push_back(Var(mask_full));
  Var out = record(
      "scaled_dot_product_attention", Z, {Q, K, V},
      [causal, scale](const Node& n, const Var& g) -> Grads {
        const Var& Q = n.input(0);
        const Var& K = n.input(1);
        const Var& V = n.input(2);
        const Tensor mask_full = n.saved_spec().extra.size() > 1 ? n.saved(1).value() : Tensor();
        if (grad_enabled())  // create_graph: the same gradients, written with Var ops
          return composed_backward(Q, K, V, allowed_mask(mask_full, causal, Q.size(-2), K.size(-2)), scale, g);
        // dQ, dK, dV in the layouts of Q, K, V, so the views that made them undo for free
        Tensor dQ = empty_in_layout(Q.shape(), Q.value());
        Tensor dK = empty_in_layout(K.shape(), K.value());
        Tensor dV = empty_in_layout(V.shape(), V.value());
        run_backward(Q.value(), K.value(), V.value(), mask_full, causal, scale, n.output().value(),
                     n.saved(0).value(), g.value(), dQ, dK, dV);
        return {Q.requires_grad() ? Var(dQ) : Var(), K.requires_grad() ? Var(dK) : Var(),
                V.requires_grad() ? Var(dV) : Var()};
      },
      Saved{.inputs = true, .output = true, .extra = std::move(extra)});
  if (out.node()) out.node()->set_attrs(attrs_of(causal, mask.defined(), scale));
  return out;
}

SdpaOutput sdpa_unfused(const Var& Q, const Var& K, const Var& V, const Tensor& mask, const SdpaOptions& options) {
  const char* op = "scaled_dot_product_attention";
  const Shape batch = check_qkv(op, Q.value(), K.value(), V.value());
  const int64_t Tq = Q.size(-2), Tk = K.size(-2);
  const Tensor mask_full = expand_mask(op, mask, batch, Tq, Tk);
  const double scale = default_scale(options.scale, Q.size(-1));
  Var alpha = attention_weights(Q, K, allowed_mask(mask_full, options.causal, Tq, Tk), scale);  // [*, Tq, Tk]
  Var kept = alpha;
  if (options.dropout_p > 0.0 && options.training)
    kept = dropout(alpha, options.dropout_p, options.gen ? *options.gen : default_generator(), true);
  Var Z = matmul(kept, V);  // [*, Tq, dv]
  return {Z, options.need_weights ? alpha : Var()};
}

SdpaOutput scaled_dot_product_attention(const Var& Q, const Var& K, const Var& V, const Tensor& mask,
                                        const SdpaOptions& options) {
  const bool dropping = options.dropout_p > 0.0 && options.training;
  if (options.need_weights || dropping) return sdpa_unfused(Q, K, V, mask, options);
  return {sdpa_fused(Q, K, V, mask, options.causal, options.scale), Var()};
}

Var multi_head_sdpa(const Var& qkv, int64_t heads, const Tensor& mask, bool causal) {
  return multi_head_core(qkv, qkv, true, heads, mask, causal);
}

Var multi_head_sdpa(const Var& q, const Var& kv, int64_t heads, const Tensor& mask, bool causal) {
  return multi_head_core(q, kv, false, heads, mask, causal);
}

// ---- masks ------------------------------------------------------------------------------------

Tensor causal_mask(int64_t Tq, int64_t Tk) {
  if (Tq < 0 || Tk < 0)
    throw ValueError("causal_mask: sizes must be >= 0, got Tq = " + std::to_string(Tq) + ", Tk = " + std::to_string(Tk));
  return tril_mask(Tq, Tk, Tk - Tq);
}

Tensor padding_mask(const Tensor& real) {
  if (!real.defined() || real.dtype() != DType::boolean || real.dim() != 2)
    throw ValueError("padding_mask: need a bool [B, Tk] tensor (true at real tokens), got " +
                     (real.defined() ? dt(real) + " of shape " + shape_str(real.shape()) : std::string("undefined")));
  return real.reshape({real.size(0), 1, 1, real.size(1)});
}

Tensor lengths_mask(const Tensor& lengths, int64_t T) {
  if (!lengths.defined() || lengths.dtype() != DType::i64 || lengths.dim() != 1)
    throw ValueError("lengths_mask: need an i64 [B] tensor of lengths, got " +
                     (lengths.defined() ? dt(lengths) + " of shape " + shape_str(lengths.shape())
                                        : std::string("undefined")));
  // positions [1, T] < lengths [B, 1]
  return lt(Tensor::arange(T).unsqueeze(0), lengths.unsqueeze(1));
}

}  // namespace lumen::nn
