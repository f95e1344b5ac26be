#pragma once
// Wrong answers to lessons/04_bahdanau_attention/exercise_additive_score.h. Each must fail
// `lumen exercise additive_score` with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct AdditiveForward {
  static constexpr const char* name = "additive_score";
  static Tensor forward(Context& ctx, const Tensor& s, const Tensor& h, const Tensor& W_s, const Tensor& W_h,
                        const Tensor& v) {
    Tensor a = lumen::tanh(matmul(h, W_h) + matmul(s, W_s).unsqueeze(1));
    ctx.save_for_backward({s, h, W_s, W_h, v, a});
    return matmul(a, v);
  }
  // The right backward from du = dL/du [B, T, A], for the fixtures to spoil.
  static std::vector<Tensor> grads(Context& ctx, const Tensor& grad, const Tensor& du) {
    const std::vector<Tensor>& k = ctx.saved_tensors();
    const Tensor &s = k[0], &h = k[1], &W_s = k[2], &W_h = k[3], &a = k[5];
    Tensor dq = sum(du, {1});
    return {matmul(dq, W_s.mT()), matmul(du, W_h.mT()), matmul(s.mT(), dq), sum(matmul(h.mT(), du), {0}),
            sum(grad.unsqueeze(-1) * a, {0, 1})};
  }
  static Tensor du(Context& ctx, const Tensor& grad, double sign = 1.0) {
    const Tensor &v = ctx.saved_tensors()[4], &a = ctx.saved_tensors()[5];
    return grad.unsqueeze(-1) * v * sub(1.0, square(a)) * sign;
  }
};

// Hint: broadcast not summed (s). dL/ds from dL/du without the sum over the T positions.
struct AdditiveNotSummedOverT : AdditiveForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    Tensor d = du(ctx, grad);
    std::vector<Tensor> g = grads(ctx, grad, d);
    g[0] = matmul(d, ctx.saved_tensors()[2].mT());  // [B, T, Ds]
    return g;
  }
};

// Hint: broadcast not summed (v). dL/dv = dL/de * a, kept at [B, T, A].
struct AdditiveVNotSummed : AdditiveForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, grad, du(ctx, grad));
    g[4] = grad.unsqueeze(-1) * ctx.saved_tensors()[5];
    return g;
  }
};

// Hint: transposed (W_h). dL/dW_h = sum_b du_b^T h_b, of shape [A, Dh].
struct AdditiveTransposedWeight : AdditiveForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    Tensor d = du(ctx, grad);
    std::vector<Tensor> g = grads(ctx, grad, d);
    g[3] = sum(matmul(d.mT(), ctx.saved_tensors()[1]), {0});
    return g;
  }
};

// Hint: sign (s, h, W_s, W_h; v stays right). tanh' written a^2 - 1.
struct AdditiveSign : AdditiveForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return grads(ctx, grad, du(ctx, grad, -1.0));
  }
};

}  // namespace lumen::wrong
