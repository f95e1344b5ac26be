#pragma once
// Wrong answers to lessons/14_transformer_block/exercise_layer_norm.h. Each must fail
// `lumen exercise layer_norm` with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct LayerNormForward {
  static constexpr const char* name = "layer_norm";
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
    Tensor xc = x - mean(x, {-1}, true);
    Tensor rstd = rsqrt(mean(square(xc), {-1}, true) + 1e-5);
    Tensor x_hat = xc * rstd;
    ctx.save_for_backward({x_hat, rstd, gamma});
    return x_hat * gamma + beta;
  }
  static std::vector<Tensor> grads(Context& ctx, const Tensor& grad) {
    const Tensor &x_hat = ctx.saved_tensors()[0], &rstd = ctx.saved_tensors()[1], &gamma = ctx.saved_tensors()[2];
    Tensor g = grad * gamma;
    return {rstd * (g - mean(g, {-1}, true) - x_hat * mean(g * x_hat, {-1}, true)),
            sum_to(grad * x_hat, gamma.shape()), sum_to(grad, gamma.shape())};
  }
};

// Hint: missing term (x). The mean and variance treated as constants.
struct LayerNormConstantStats : LayerNormForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, grad);
    g[0] = grad * ctx.saved_tensors()[2] * ctx.saved_tensors()[1];
    return g;
  }
};

// Hint: broadcast not summed (gamma). dL/dgamma kept at x's shape.
struct LayerNormGammaNotSummed : LayerNormForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, grad);
    g[1] = grad * ctx.saved_tensors()[0];
    return g;
  }
};

// Hint: broadcast not summed (beta, averaged). dL/dbeta as a mean over the rows.
struct LayerNormBetaAveraged : LayerNormForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, grad);
    g[2] = mean(grad.reshape({-1, grad.size(-1)}), {0});
    return g;
  }
};

// Hint: sign (x).
struct LayerNormSign : LayerNormForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, grad);
    g[0] = -g[0];
    return g;
  }
};

}  // namespace lumen::wrong
