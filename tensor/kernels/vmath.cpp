// vmath.h: the portable build (4 floats at a time, SSE2, which every x86-64 CPU has) and the
// run-time choice between it and the AVX2 and AVX-512 builds (vmath_avx2.cpp, vmath_avx512.cpp).
#include "tensor/kernels/vmath.h"

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#pragma GCC push_options
#define LUMEN_VMATH_LANES 4
#include "tensor/kernels/vmath_impl.h"
#pragma GCC pop_options

namespace lumen::kernels {
namespace detail {

#if defined(__x86_64__)
void vexp_avx512(const float* x, float* y, int64_t n);
void vtanh_avx512(const float* x, float* y, int64_t n);
void vsigmoid_avx512(const float* x, float* y, int64_t n);
void vgelu_avx512(const float* x, float* y, int64_t n);
void vgelu_grad_avx512(const float* x, float* y, int64_t n);
void vexp_avx2(const float* x, float* y, int64_t n);
void vtanh_avx2(const float* x, float* y, int64_t n);
void vsigmoid_avx2(const float* x, float* y, int64_t n);
void vgelu_avx2(const float* x, float* y, int64_t n);
void vgelu_grad_avx2(const float* x, float* y, int64_t n);
#endif

}  // namespace detail
namespace {

using Fn = void (*)(const float*, float*, int64_t);
struct Build {
  const char* name;
  Fn exp, tanh, sigmoid, gelu, gelu_grad;
};

using V4 = detail::VMath;
constexpr Build kPortable{"portable", V4::apply<V4::exp>, V4::apply<V4::tanh>, V4::apply<V4::sigmoid>,
                          V4::apply<V4::gelu>, V4::apply<V4::gelu_grad>};
#if defined(__x86_64__)
constexpr Build kAvx2{"avx2", detail::vexp_avx2, detail::vtanh_avx2, detail::vsigmoid_avx2, detail::vgelu_avx2,
                      detail::vgelu_grad_avx2};
constexpr Build kAvx512{"avx512", detail::vexp_avx512, detail::vtanh_avx512, detail::vsigmoid_avx512,
                        detail::vgelu_avx512, detail::vgelu_grad_avx512};
#endif

// __builtin_cpu_supports also checks that the operating system saves the wide registers.
bool supports(const std::string& name) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (name == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && supports("avx2");
  if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return name == "portable";
}

const Build* build_named(const std::string& name) {
#if defined(__x86_64__)
  if (name == "avx512") return &kAvx512;
  if (name == "avx2") return &kAvx2;
#endif
  if (name == "portable") return &kPortable;
  return nullptr;
}

const Build* best_build() {
  for (const char* name : {"avx512", "avx2"})
    if (supports(name)) return build_named(name);
  return &kPortable;
}

std::atomic<const Build*>& active() {
  static std::atomic<const Build*> build{best_build()};
  return build;
}

const Build& current() { return *active().load(std::memory_order_relaxed); }

}  // namespace

void vexp(const float* x, float* y, int64_t n) { current().exp(x, y, n); }
void vtanh(const float* x, float* y, int64_t n) { current().tanh(x, y, n); }
void vsigmoid(const float* x, float* y, int64_t n) { current().sigmoid(x, y, n); }
void vgelu(const float* x, float* y, int64_t n) { current().gelu(x, y, n); }
void vgelu_grad(const float* x, float* y, int64_t n) { current().gelu_grad(x, y, n); }

const char* vmath_kernel_name() { return current().name; }

void vmath_force_kernel(const char* name) {
  const std::string n = name ? name : "";
  const Build* b = n == "auto" ? best_build() : build_named(n);
  if (b == nullptr && n != "avx512" && n != "avx2")
    throw std::invalid_argument("vmath_force_kernel: unknown build '" + n + "' (expected avx512, avx2, portable or auto)");
  if (b == nullptr || (n != "auto" && !supports(n)))
    throw std::runtime_error("vmath_force_kernel: this CPU (or this build) cannot run the '" + n + "' build");
  active().store(b, std::memory_order_relaxed);
}

}  // namespace lumen::kernels
