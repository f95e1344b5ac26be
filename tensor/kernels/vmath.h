#pragma once
// Vectorised float math for the elementwise ops that dominate small models: exp, tanh, sigmoid,
// and GELU with its derivative (the exact erf form). libm computes these one number at a time,
// and in a Bahdanau decoder or a transformer's feed-forward that is a third of the training
// step; here 4, 8 or 16 numbers go through one polynomial at a time.
//
//   y[i] = f(x[i]) for 0 <= i < n.  x == y (in place) is allowed; otherwise they must not overlap.
//
// Accuracy, measured by tests/tensor/test_vmath.cpp against the exact function (libm in double):
// exp, tanh and sigmoid within 3 ulp, gelu within 4 ulp (relative, also deep in the negative
// tail; where the result is a denormal, 1.6 denormal spacings at most), gelu_grad within 4 ulp of
// the larger of its two terms (it crosses zero near x = -0.75, where no float formula has a small
// relative error). Edge values behave like the library functions: exp overflows to inf and
// underflows through the denormals to 0, tanh and sigmoid saturate to exactly +-1 / 0 / 1, -0
// keeps its sign where the function is odd, NaN stays NaN.
//
// Float only: the f64 ops keep the library functions, so gradient checks in double see exact
// values. The same code is compiled for AVX-512, AVX2 and plain SSE2 and the widest the CPU
// runs is picked at run time. A result never depends on where in an array (or on which thread)
// an element is computed; the SSE2 build, which has no fused multiply-add, may differ from the
// other two in the last bit (gelu and gelu_grad, which round more often, by a few ulp).
#include <cstdint>

namespace lumen::kernels {

void vexp(const float* x, float* y, int64_t n);
void vtanh(const float* x, float* y, int64_t n);
// 1 / (1 + exp(-x))
void vsigmoid(const float* x, float* y, int64_t n);
// x * Phi(x), Phi the standard normal distribution function
void vgelu(const float* x, float* y, int64_t n);
// Phi(x) + x * phi(x), phi the standard normal density: gelu's derivative
void vgelu_grad(const float* x, float* y, int64_t n);

// Which build runs: "avx512", "avx2" or "portable".
const char* vmath_kernel_name();
// For tests: use the named build ("avx512", "avx2", "portable"), or the best for this CPU with
// "auto". Throws std::invalid_argument for an unknown name and std::runtime_error when this CPU
// cannot run it.
void vmath_force_kernel(const char* name);

}  // namespace lumen::kernels
