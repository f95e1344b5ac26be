// vmath.h's functions compiled for AVX-512: 16 floats at a time. Nothing here may run before
// vmath.cpp has checked the CPU; see vmath_impl.h for why that file includes no library code.
#include <cstdint>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#define LUMEN_VMATH_LANES 16
#include "tensor/kernels/vmath_impl.h"

namespace lumen::kernels::detail {

using V16 = VMath;
void vexp_avx512(const float* x, float* y, int64_t n) { V16::apply<V16::exp>(x, y, n); }
void vtanh_avx512(const float* x, float* y, int64_t n) { V16::apply<V16::tanh>(x, y, n); }
void vsigmoid_avx512(const float* x, float* y, int64_t n) { V16::apply<V16::sigmoid>(x, y, n); }
void vgelu_avx512(const float* x, float* y, int64_t n) { V16::apply<V16::gelu>(x, y, n); }
void vgelu_grad_avx512(const float* x, float* y, int64_t n) { V16::apply<V16::gelu_grad>(x, y, n); }

}  // namespace lumen::kernels::detail
#pragma GCC pop_options
