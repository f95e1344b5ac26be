#pragma once
#ifndef LUMEN_VMATH_LANES
#error "define LUMEN_VMATH_LANES (floats per vector) before including vmath_impl.h"
#endif
// The bodies of the vectorised float functions of vmath.h, written once with GCC's vector
// extensions for a vector of W = LUMEN_VMATH_LANES floats. vmath.cpp (W = 4, plain SSE2),
// vmath_avx2.cpp (W = 8) and vmath_avx512.cpp (W = 16) define the width and include this file
// after their `#pragma GCC target`, so each compiles it for its own instruction set. (A macro,
// not a template parameter: GCC 12 rejects __builtin_convertvector on dependent vector types.) Everything here is in an anonymous namespace: each
// of the three files keeps its own copy, and the linker can never swap an AVX-512 copy into
// code that runs on an older CPU. For the same reason this file calls no library function
// (only compiler builtins).
//
// GCC fuses a * b + c into one FMA instruction where the target has one (AVX2, AVX-512): the
// polynomials then cost half as many instructions and round once per step instead of twice.
// The SSE2 build has no FMA, so it can differ from the others in the last bit (GELU, which
// rounds more often: by a few ulp); on one machine every call runs the same build, so results
// never depend on the thread count or the layout.
#include <cstdint>

namespace lumen::kernels::detail {
namespace {

struct VMath {
  static constexpr int W = LUMEN_VMATH_LANES;
  typedef float F __attribute__((vector_size(4 * W)));
  typedef int32_t I __attribute__((vector_size(4 * W)));

  static F splat(float v) { return F{} + v; }

  // ---- exp -------------------------------------------------------------------------------------
  // x = n ln2 + r with |r| <= ln2 / 2; exp(r) from Cephes' degree-5 polynomial (under 1 ulp),
  // then times 2^n. 2^n is applied as 2^(n/2) 2^(n - n/2): each half is a normal float for every
  // n from -150 (the result rounds through the denormals to 0) to 128 (exp(88.72) is just below
  // FLT_MAX, and one step more overflows to inf), so nothing needs a special case but NaN.
  static F exp(F x) {
    const F hi = x < 89.0f ? x : splat(89.0f);
    const F xc = hi > -104.0f ? hi : splat(-104.0f);  // NaN fails both: -104, restored at the end
    // round(x / ln2): adding 1.5 * 2^23 leaves no bits for the fraction
    const F n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    // ln2 in two parts: n * 0.693359375 is exact (9 significant bits times at most 8), and
    // x - n * ln2_hi is exact because the two are close
    const F r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    F p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const F er = (p * r * r + r) + 1.0f;
    const I ni = __builtin_convertvector(n, I);
    const I n1 = ni >> 1;  // floor(n / 2)
    const I n2 = ni - n1;
    const F s1 = __builtin_bit_cast(F, (n1 + 127) << 23);
    const F s2 = __builtin_bit_cast(F, (n2 + 127) << 23);
    const F e = (er * s1) * s2;  // er * s1 is exact; the one rounding is the last multiply
    return x == x ? e : x;
  }

  static F abs(F x) { return __builtin_bit_cast(F, __builtin_bit_cast(I, x) & 0x7fffffff); }

  // ---- tanh ------------------------------------------------------------------------------------
  // |x| < 0.625: the odd polynomial x + x^3 P(x^2) (Cephes' tanhf). Beyond: 1 - 2 / (exp(2|x|) + 1)
  // with x's sign, where the subtraction cannot cancel (the result is above 0.55). From |x| = 9.1
  // on that rounds to exactly 1; |x| is capped at 10 so exp never overflows.
  // Both branches work on |x| and x's sign goes back on at the end (so tanh(-0) = -0).
  static F tanh(F x) {
    const F ax = abs(x);
    const F z = ax * ax;
    F p = splat(-5.70498872745e-3f);
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    const F small = (p * z) * ax + ax;  // a denormal stays itself
    const F e = exp((ax < 10.0f ? ax : splat(10.0f)) * 2.0f);
    const F large = 1.0f - 2.0f / (e + 1.0f);
    const F y = ax < 0.625f ? small : large;
    const I sign = __builtin_bit_cast(I, x) & static_cast<int32_t>(0x80000000u);
    const F signed_y = __builtin_bit_cast(F, __builtin_bit_cast(I, y) | sign);
    return x == x ? signed_y : x;
  }

  // ---- sigmoid ---------------------------------------------------------------------------------
  // exp only ever sees -|x|, so it lies in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below,
  // the same two branches as the scalar op.
  static F sigmoid(F x) {
    const F e = exp(-abs(x));
    const F r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;  // NaN: e is NaN, and so is e * r
  }

  // ---- GELU ------------------------------------------------------------------------------------
  // Phi(-a) for a = |x| >= 0 is phi(a) M(a): the normal density exp(-a^2 / 2) / sqrt(2 pi) times
  // Mills' ratio M, which falls smoothly from sqrt(pi / 2) at 0 to about 1 / a. Written that way
  // Phi(x) keeps its relative accuracy deep in the negative tail (10^-45 near x = -14), where
  // 1 + erf would have cancelled to 0, and phi comes for free for the derivative.
  //
  // The one hard part is exp(-a^2 / 2). Rounding a^2 to a float costs a^2 / 2 ulp in the result
  // (50 ulp at a = 10), so a is split into a_hi, its top 12 bits, and a_lo = a - a_hi: a_hi^2 / 2
  // is exact, and the rest of a^2 / 2, a_lo (a + a_hi) / 2, is below 0.12 and goes into exp's
  // reduced argument, where its rounding error is as small as the argument.
  //
  // Results come out times 2^64 so that, when they lie among the denormals (x below about -13),
  // the only rounding there is the last multiply by 2^-64, not two or three of them.

  // exp(hi + lo) = (1 + em1) 2^n, for hi + lo in [-113, 0] and |lo| <= 0.12. The reduction is
  // exp's above, except that n ln2 comes off hi (exactly) before lo joins in. The result is left
  // in pieces, em1 and 2^(n + 64) as two normal factors s1 s2, so that a caller multiplying it by
  // v rounds once, in v + v em1, and not also in 1 + em1 (see times).
  struct ExpParts {
    F em1, s1, s2;
  };
  static ExpParts exp_parts(F hi, F lo) {
    const F n = ((hi + lo) * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const F r = ((hi - n * 0.693359375f) + lo) - n * -2.12194440e-4f;
    F p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const I ni = __builtin_convertvector(n, I) + 64;  // from -99 to 64: both halves are normal
    const I n1 = ni >> 1;
    const I n2 = ni - n1;
    return {p * r * r + r, __builtin_bit_cast(F, (n1 + 127) << 23), __builtin_bit_cast(F, (n2 + 127) << 23)};
  }
  // v (1 + em1) s1 s2; the two scalings are exact (the results here are normal floats).
  static F times(F v, F em1, const ExpParts& e) { return ((v * em1 + v) * e.s1) * e.s2; }

  // Sets phi_s = phi(x) 2^64 and q_s = Phi(-|x|) 2^64. Beyond |x| = 15 both are 0 (their true
  // values, 5e-50 and below, would not survive the final 2^-64 anyway).
  //
  // M(a) / sqrt(2 pi) = P(u) / (1 + a / 2), u = (1 - 19 a / 30) / (1 + a / 2), which maps a in
  // [0, 15] onto u in [-1, 1]. P is a degree-11 fit of relative error 4e-9 (fitted for this file
  // by iteratively reweighted least squares against Mills' ratio computed with 40 digits).
  static void normal_tail(F x, F& q_s, F& phi_s) {
    const F ax = abs(x);
    const F a = ax < 15.0f ? ax : splat(15.0f);  // NaN too; the callers restore it
    const F a_hi = __builtin_bit_cast(F, __builtin_bit_cast(I, a) & static_cast<int32_t>(0xfffff000u));
    const F a_lo = a - a_hi;
    const ExpParts e = exp_parts((a_hi * a_hi) * -0.5f, (a_lo * (a + a_hi)) * -0.5f);
    // d = 1 + a / 2 rounds, by up to half an ulp of d: a whole ulp of the result near a = 0, so
    // the rounding error d_err (exact: a / 2 and d - 1 are both exact) is put back at the end.
    const F half_a = a * 0.5f;
    const F d = 1.0f + half_a;
    const F d_err = half_a - (d - 1.0f);
    const F t = 1.0f / d;
    const F u = (1.0f - 0.633333333f * a) * t;
    F p = splat(8.258950083039815e-06f);
    p = p * u - 9.073348504491923e-06f;
    p = p * u - 4.18549878223405e-05f;
    p = p * u + 1.1365300522358188e-04f;
    p = p * u - 2.6627240844674907e-05f;
    p = p * u - 5.49282523674422e-04f;
    p = p * u + 1.3878747796486266e-03f;
    p = p * u + 9.243744755426064e-04f;
    p = p * u - 1.2391403391499724e-02f;
    p = p * u + 6.190352433596034e-03f;
    p = p * u + 1.4852592388005545e-01f;
    p = p * u + 3.558678053416304e-01f;
    // P / (d + d_err) = (P / d) (1 - d_err / d): the correction joins exp's em1, where its own
    // rounding is negligible.
    const F pd = p / d;
    const F in_range = ax < 15.0f ? splat(1.0f) : F{};
    phi_s = times(in_range * 0.398942280401432678f, e.em1, e);
    q_s = times(in_range * pd, e.em1 - d_err * t, e);
  }

  // x Phi(x): below 0, x Phi(-|x|) scaled back; above, x (1 - Phi(-x)), where 1 - q >= 1/2 cannot
  // cancel. -inf gives -inf * 0 = NaN, as x * Phi(x) does in the library.
  static F gelu(F x) {
    F q_s, phi_s;
    normal_tail(x, q_s, phi_s);
    const F neg = (x * q_s) * 0x1p-64f;
    const F pos = x * (1.0f - q_s * 0x1p-64f);
    return x < 0.0f ? neg : pos;  // NaN takes pos, which is NaN
  }

  // Phi(x) + x phi(x), with the same two branches. +-inf: x * phi = inf * 0 = NaN, as in the library.
  static F gelu_grad(F x) {
    F q_s, phi_s;
    normal_tail(x, q_s, phi_s);
    const F neg = (q_s + x * phi_s) * 0x1p-64f;
    const F pos = (1.0f - q_s * 0x1p-64f) + (x * phi_s) * 0x1p-64f;
    const F y = x < 0.0f ? neg : pos;
    return x == x ? y : x;
  }

  // ---- arrays ----------------------------------------------------------------------------------
  // Whole vectors, then the tail through a zero-padded vector: every element goes through the
  // same lanes' arithmetic, wherever it sits.
  template <F (*Fn)(F)>
  static void apply(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W) {
      F v;
      __builtin_memcpy(&v, x + i, sizeof v);
      v = Fn(v);
      __builtin_memcpy(y + i, &v, sizeof v);
    }
    if (i < n) {
      const unsigned long bytes = static_cast<unsigned long>(n - i) * sizeof(float);
      F v = F{};
      __builtin_memcpy(&v, x + i, bytes);
      v = Fn(v);
      __builtin_memcpy(y + i, &v, bytes);
    }
  }
};

}  // namespace
}  // namespace lumen::kernels::detail
