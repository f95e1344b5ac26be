#pragma once
// A gradient check for a module's own parameters. gradcheck() differentiates against leaves it
// makes itself, but a module keeps its parameters; so here the numeric side nudges each
// parameter's memory in place and re-runs the forward, and the analytic side is the .grad()
// that backward left in the parameter. L = sum(w * f()) for a fixed random w, as in gradcheck.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::testing {

inline void require_param_grads(const nn::Module& m, const std::function<Var()>& f, double eps = 1e-6,
                                double atol = 1e-5, double rtol = 1e-3) {
  Var out = f();
  Generator gen(12345);
  Tensor w = randn(out.shape(), out.dtype(), gen);
  auto loss_of = [&](const Var& y) { return lumen::sum(lumen::mul(y.value(), w)).item(); };
  for (auto& [name, p] : m.named_parameters()) p.zero_grad();
  lumen::sum(out * Var(w)).backward();
  for (auto& [name, p] : m.named_parameters()) {
    REQUIRE(p.dtype() == DType::f64);
    REQUIRE(p.value().is_contiguous());
    double* data = p.value().data<double>();
    std::vector<double> analytic =
        p.grad().defined() ? p.grad().to_vector() : std::vector<double>(static_cast<size_t>(p.numel()), 0.0);
    for (int64_t i = 0; i < p.numel(); ++i) {
      const double saved = data[i];
      double up, down;
      {
        NoGradGuard no_grad;
        data[i] = saved + eps;
        up = loss_of(f());
        data[i] = saved - eps;
        down = loss_of(f());
      }
      data[i] = saved;
      const double numeric = (up - down) / (2 * eps);
      const double a = analytic[static_cast<size_t>(i)];
      INFO("parameter " << name << " element " << i << ": analytic " << a << ", numeric " << numeric);
      REQUIRE(std::abs(a - numeric) <= atol + rtol * std::abs(numeric));
    }
  }
}

}  // namespace lumen::testing
