#include "nn/clip.h"

#include <cmath>
#include <string>

#include "autograd/grad_mode.h"

namespace lumen::nn {

namespace {

// Sum of squares of one gradient, in double. Eight running sums (element i goes to sum i % 8)
// let the additions overlap instead of waiting on each other, and the fixed assignment keeps the
// result the same on every run and thread count.
double sum_of_squares(const Tensor& g) {
  Tensor flat = g.contiguous();
  return visit_floating(flat.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = flat.data<T>();
    const int64_t n = flat.numel();
    double acc[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(x[i + k]) * static_cast<double>(x[i + k]);
    for (; i < n; ++i) acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  });
}

void scale_in_place(const Tensor& g, double factor) {
  visit_floating(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = g.data<T>();
    const T f = static_cast<T>(factor);
    for (int64_t i = 0, n = g.numel(); i < n; ++i) x[i] *= f;
  });
}

}  // namespace

double clip_grad_norm(const std::vector<Var>& params, double max_norm) {
  if (!(max_norm >= 0) || !std::isfinite(max_norm))
    throw ValueError("clip_grad_norm: max_norm must be finite and >= 0, got " + std::to_string(max_norm));
  NoGradGuard no_grad;
  double total_sq = 0;
  for (const Var& p : params) {
    if (!p.defined()) throw ValueError("clip_grad_norm: got an undefined Var");
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (!is_floating(g.dtype()))
      throw DTypeError("clip_grad_norm: gradient of '" + p.name() + "' is " + std::string(dtype_name(g.dtype())));
    total_sq += sum_of_squares(g);
  }
  double total = std::sqrt(total_sq);
  if (!std::isfinite(total)) return total;  // scaling by 0 would turn an Inf into NaNs: leave it be
  double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;  // short enough already
  for (const Var& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    // A contiguous gradient is scaled where it lies. A strided one (say, an expanded view with
    // stride 0, where one element stands for many) is replaced by a scaled contiguous copy.
    if (g.is_contiguous()) {
      scale_in_place(g, coef);
    } else {
      Tensor copy = g.clone();
      scale_in_place(copy, coef);
      Var(p).set_grad(copy);
    }
  }
  return total;
}

}  // namespace lumen::nn
