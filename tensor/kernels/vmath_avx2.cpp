// vmath.h's functions compiled for AVX2: 8 floats at a time. Nothing here may run before
// vmath.cpp has checked the CPU; see vmath_impl.h for why that file includes no library code.
#include <cstdint>

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define LUMEN_VMATH_LANES 8
#include "tensor/kernels/vmath_impl.h"

namespace lumen::kernels::detail {

using V8 = VMath;
void vexp_avx2(const float* x, float* y, int64_t n) { V8::apply<V8::exp>(x, y, n); }
void vtanh_avx2(const float* x, float* y, int64_t n) { V8::apply<V8::tanh>(x, y, n); }
void vsigmoid_avx2(const float* x, float* y, int64_t n) { V8::apply<V8::sigmoid>(x, y, n); }
void vgelu_avx2(const float* x, float* y, int64_t n) { V8::apply<V8::gelu>(x, y, n); }
void vgelu_grad_avx2(const float* x, float* y, int64_t n) { V8::apply<V8::gelu_grad>(x, y, n); }

}  // namespace lumen::kernels::detail
#pragma GCC pop_options
