#pragma once
// Exercise (lesson 14): the backward of layer norm, written as a custom op.
//
// Forward:  mu = mean(x),  var = mean((x - mu)^2)       over the last dim, per row
//           x_hat = (x - mu) / sqrt(var + eps)         eps = 1e-5
//           y = x_hat * gamma + beta
// Shapes:   x [*, D], gamma [D], beta [D]  ->  y [*, D]   (mu, var: [*, 1])
// Derive:   dL/dx, dL/dgamma, dL/dbeta from dL/dy (the `grad` argument). gamma and beta are
//           shared by every row, so their gradients are sums over the rows. The one thing to
//           derive for x: mu and var depend on x too, so each x_j reaches x_hat_i three ways
//           (directly, through mu, through var). Write dL/dx with g = dL/dx_hat = dL/dy * gamma,
//           x_hat and 1 / sqrt(var + eps): it comes to three terms that need only row means
//           (of g and of g * x_hat), never a D x D matrix.
//
// Then run `lumen exercise layer_norm`. docs/exercises.md explains the report and the hints;
// lessons/solutions/layer_norm.h has a reference answer (`lumen exercise layer_norm --solution`).
#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct LayerNorm {
  static constexpr const char* name = "layer_norm";

  // x [*, D], gamma [D], beta [D] -> y [*, D]
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
    const double eps = 1e-5;
    Tensor mu = mean(x, {-1}, true);                          // [*, 1]
    Tensor xc = x - mu;                                       // [*, D]
    Tensor rstd = rsqrt(mean(square(xc), {-1}, true) + eps);  // [*, 1]: 1 / sqrt(var + eps)
    Tensor x_hat = xc * rstd;                                 // [*, D]
    ctx.save_for_backward({x_hat, rstd, gamma});
    return x_hat * gamma + beta;
  }

  // dL/dy [*, D] -> {dL/dx [*, D], dL/dgamma [D], dL/dbeta [D]}
  // Tensor ops you may want (tensor/ops.h): mul, sub, mean(t, {-1}, true), sum_to(t, shape).
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const std::vector<Tensor>& s = ctx.saved_tensors();
    // const Tensor& x_hat = s[0];  // [*, D]
    // const Tensor& rstd = s[1];   // [*, 1]
    // const Tensor& gamma = s[2];  // [D]
    // TODO: return {dL/dx, dL/dgamma, dL/dbeta};
    throw NotImplemented("LayerNorm::backward");
  }
};

}  // namespace lumen::exercises
