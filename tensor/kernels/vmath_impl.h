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
// The SSE2 build has no FMA, so it can differ from the others in the last bit; on one machine
// every call runs the same build, so results never depend on the thread count or the layout.
#include <cstdint>

namespace lumen::kernels::detail {
namespace {

struct VMath {
  static constexpr int W = LUMEN_VMATH_LANES;
  typedef float F __attribute__((vector_size(4 * W)));
  typedef int32_t I __attribute__((vector_size(4 * W)));
  // GELU is computed in double (see gelu below): half a float vector at a time.
  static constexpr int DW = W / 2;
  typedef float Fh __attribute__((vector_size(4 * DW)));
  typedef double D __attribute__((vector_size(8 * DW)));
  typedef int64_t L __attribute__((vector_size(8 * DW)));

  static F splat(float v) { return F{} + v; }
  static D splat_d(double v) { return D{} + v; }

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

  // ---- GELU, in double -------------------------------------------------------------------------
  // Phi(x) = erfc(-x / sqrt 2) / 2 needs exp(-x^2 / 2), and in float the rounding of x^2 alone
  // costs x^2 / 2 ulp (50 ulp at x = -10). In double that error is far below a float's ulp, and
  // one final rounding to float leaves the approximation's own error: erfc from the Chebyshev
  // fit in Numerical Recipes (section 6.2), relative error below 1.2e-7 for every argument.

  // exp in double for |x| <= 700, and exactly 0 below -700 (every caller's result underflows
  // a float long before). Degree-9 Taylor polynomial on |r| <= ln2 / 2: relative error below
  // 1e-11, far below a float's 6e-8.
  static D exp_d(D x) {
    const D xc = x > -700.0 ? (x < 700.0 ? x : splat_d(700.0)) : splat_d(-700.0);
    const double magic = 6755399441055744.0;  // 1.5 * 2^52: rounds to an integer when added
    const D n = (xc * 1.4426950408889634 + magic) - magic;
    // fdlibm's ln2_hi has 32 trailing zero bits, so n * ln2_hi is exact
    const D r = (xc - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    D p = splat_d(1.0 / 362880.0);
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // n's integer value sits in the low bits of n + magic
    const L ni = __builtin_bit_cast(L, n + magic) - __builtin_bit_cast(L, splat_d(magic));
    const D two_n = __builtin_bit_cast(D, (ni + 1023) << 52);
    return x < -700.0 ? splat_d(0.0) : p * two_n;
  }

  // Phi(x) = erfc(z) / 2 with z = -x / sqrt 2
  static D normal_cdf(D x) {
    const D z = x * -0.70710678118654752440;
    const D az = z < 0.0 ? -z : z;
    const D t = 1.0 / (1.0 + 0.5 * az);
    D q = splat_d(0.17087277);
    q = q * t - 0.82215223;
    q = q * t + 1.48851587;
    q = q * t - 1.13520398;
    q = q * t + 0.27886807;
    q = q * t - 0.18628806;
    q = q * t + 0.09678418;
    q = q * t + 0.37409196;
    q = q * t + 1.00002368;
    q = q * t - 1.26551223;
    const D ans = t * exp_d(q - az * az);  // erfc(|z|)
    return 0.5 * (z >= 0.0 ? ans : 2.0 - ans);
  }

  static D gelu_d(D x) { return x * normal_cdf(x); }
  static D gelu_grad_d(D x) { return normal_cdf(x) + x * (0.39894228040143267794 * exp_d(-0.5 * (x * x))); }

  // Runs a double function over a float vector, half at a time.
  template <D (*Fn)(D)>
  static F through_double(F x) {
    Fh half[2];
    __builtin_memcpy(half, &x, sizeof x);
    for (Fh& h : half) h = __builtin_convertvector(Fn(__builtin_convertvector(h, D)), Fh);
    F y;
    __builtin_memcpy(&y, half, sizeof y);
    return x == x ? y : x;
  }
  static F gelu(F x) { return through_double<gelu_d>(x); }
  static F gelu_grad(F x) { return through_double<gelu_grad_d>(x); }

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
