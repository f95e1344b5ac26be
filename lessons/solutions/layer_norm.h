#pragma once
// Reference solution to lessons/14_transformer_block/exercise_layer_norm.h.
//
// With g = dL/dx_hat = dL/dy * gamma and r = 1 / sqrt(var + eps), per row:
//   dx_hat_i/dx_j = r (delta_ij - 1/D - x_hat_i x_hat_j / D)
// (the 1/D term through mu, the x_hat x_hat term through var), so
//   dL/dx = r (g - mean(g) - x_hat * mean(g * x_hat))
// and gamma, beta, shared by every row, collect sums over the rows:
//   dL/dgamma = sum over rows of dL/dy * x_hat,  dL/dbeta = sum over rows of dL/dy.
#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct LayerNorm {
  static constexpr const char* name = "layer_norm";

  // x [*, D], gamma [D], beta [D] -> y [*, D]
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
    const double eps = 1e-5;
    Tensor mu = mean(x, {-1}, true);
    Tensor xc = x - mu;
    Tensor rstd = rsqrt(mean(square(xc), {-1}, true) + eps);
    Tensor x_hat = xc * rstd;
    ctx.save_for_backward({x_hat, rstd, gamma});
    return x_hat * gamma + beta;
  }

  // dL/dy [*, D] -> {dL/dx [*, D], dL/dgamma [D], dL/dbeta [D]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    const Tensor& x_hat = s[0];
    const Tensor& rstd = s[1];
    const Tensor& gamma = s[2];
    Tensor g = grad * gamma;  // [*, D]
    Tensor dx = rstd * (g - mean(g, {-1}, true) - x_hat * mean(g * x_hat, {-1}, true));
    return {dx, sum_to(grad * x_hat, gamma.shape()), sum_to(grad, gamma.shape())};
  }
};

}  // namespace lumen::solutions
