#pragma once
// Wrong answers to lessons/08_attention_layer_qkv/exercise_causal_attention.h. Each must fail
// `lumen exercise causal_attention` with the hint named in its comment.
#include <cmath>
#include <limits>

#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct AttentionForward {
  static constexpr const char* name = "causal_attention";
  static Tensor forward(Context& ctx, const Tensor& Q, const Tensor& K, const Tensor& V) {
    const int64_t T = Q.size(-2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
    Tensor S = masked_fill(matmul(Q, K.mT()) * scale, logical_not(tril_mask(T, T)),
                           -std::numeric_limits<double>::infinity());
    Tensor P = lumen::softmax(S, -1);
    ctx.save_for_backward({Q, K, V, P});
    ctx.values = {scale};
    return matmul(P, V);
  }
  // The right dL/dS [B, T, T], or its diagonal-only or sign-flipped versions.
  static Tensor dS(Context& ctx, const Tensor& grad, bool diagonal_only = false, double sign = 1.0) {
    const Tensor &V = ctx.saved_tensors()[2], &P = ctx.saved_tensors()[3];
    Tensor dP = matmul(grad, V.mT());
    return (diagonal_only ? P * sub(1.0, P) * dP : P * (dP - sum(dP * P, {-1}, true))) * sign;
  }
  static std::vector<Tensor> grads(Context& ctx, const Tensor& grad, const Tensor& dS, double scale) {
    const Tensor &Q = ctx.saved_tensors()[0], &K = ctx.saved_tensors()[1], &P = ctx.saved_tensors()[3];
    return {matmul(dS, K) * scale, matmul(dS.mT(), Q) * scale, matmul(P.mT(), grad)};
  }
};

// Hint: diagonal only (Q, K).
struct AttentionDiagonal : AttentionForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return grads(ctx, grad, dS(ctx, grad, true), ctx.values[0]);
  }
};

// Hint: transposed (V). dL/dV = P dL/dO.
struct AttentionUntransposedP : AttentionForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, grad, dS(ctx, grad), ctx.values[0]);
    g[2] = matmul(ctx.saved_tensors()[3], grad);
    return g;
  }
};

// Hint: transposed (K). dL/dK = dL/dS Q / sqrt(d).
struct AttentionUntransposedScores : AttentionForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    Tensor d = dS(ctx, grad);
    std::vector<Tensor> g = grads(ctx, grad, d, ctx.values[0]);
    g[1] = matmul(d, ctx.saved_tensors()[0]) * ctx.values[0];
    return g;
  }
};

// Hint: sign (Q, K). The softmax step's difference the wrong way round.
struct AttentionSign : AttentionForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return grads(ctx, grad, dS(ctx, grad, false, -1.0), ctx.values[0]);
  }
};

// Hint: constant factor (Q, K): the 1/sqrt(d) scale left out of backward.
struct AttentionMissingScale : AttentionForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return grads(ctx, grad, dS(ctx, grad), 1.0);
  }
};

}  // namespace lumen::wrong
