#pragma once
// Wrong answers to lessons/01_seq2seq_bottleneck/exercise_rnn_cell.h. Each must fail
// `lumen exercise rnn_cell` with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct RnnForward {
  static constexpr const char* name = "rnn_cell";
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& h, const Tensor& W_xh, const Tensor& W_hh,
                        const Tensor& b) {
    Tensor h_next = lumen::tanh(matmul(x, W_xh) + matmul(h, W_hh) + b);
    ctx.save_for_backward({x, h, W_xh, W_hh, h_next});
    return h_next;
  }
  // The right answer with pieces to spoil: dz, and the five gradients from it.
  static Tensor dz(Context& ctx, const Tensor& grad) { return grad * sub(1.0, square(ctx.saved_tensors()[4])); }
  static std::vector<Tensor> grads(Context& ctx, const Tensor& dz) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    return {matmul(dz, s[2].mT()), matmul(dz, s[3].mT()), matmul(s[0].mT(), dz), matmul(s[1].mT(), dz), sum(dz, {0})};
  }
};

// Hint: transposed (W_xh). dL/dW_xh = dz^T x, of shape [H, D].
struct RnnTransposedWeight : RnnForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, dz(ctx, grad));
    g[2] = matmul(dz(ctx, grad).mT(), ctx.saved_tensors()[0]);
    return g;
  }
};

// Hint: broadcast not summed (b). dL/db = dz, of shape [B, H].
struct RnnBiasNotSummed : RnnForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, dz(ctx, grad));
    g[4] = dz(ctx, grad);
    return g;
  }
};

// Hint: sign. tanh' written h'^2 - 1.
struct RnnSign : RnnForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    return grads(ctx, grad * (square(ctx.saved_tensors()[4]) - 1.0));
  }
};

// Hint: missing term (tanh's derivative left out).
struct RnnNoTanhDerivative : RnnForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) { return grads(ctx, grad); }
};

// Hint: transposed (a matmul that does not fit). dL/dx = dz W_xh instead of dz W_xh^T.
struct RnnMatmulWithoutTranspose : RnnForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    std::vector<Tensor> g = grads(ctx, dz(ctx, grad));
    g[0] = matmul(dz(ctx, grad), ctx.saved_tensors()[2]);
    return g;
  }
};

}  // namespace lumen::wrong
