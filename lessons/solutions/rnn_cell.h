#pragma once
// Reference solution to lessons/01_seq2seq_bottleneck/exercise_rnn_cell.h.
//
// With z = x W_xh + h W_hh + b and h' = tanh(z):
//   dL/dz    = dL/dh' * (1 - h'^2)        [B, H]
//   dL/dx    = dL/dz W_xh^T               [B, H] [H, D] -> [B, D]
//   dL/dh    = dL/dz W_hh^T               [B, H] [H, H] -> [B, H]
//   dL/dW_xh = x^T dL/dz                  [D, B] [B, H] -> [D, H]: a sum over the batch
//   dL/dW_hh = h^T dL/dz                  [H, B] [B, H] -> [H, H]
//   dL/db    = sum over the batch of dL/dz   [H]
#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct RnnCell {
  static constexpr const char* name = "rnn_cell";

  // x [B, D], h [B, H], W_xh [D, H], W_hh [H, H], b [H] -> h' [B, H]
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& h, const Tensor& W_xh, const Tensor& W_hh,
                        const Tensor& b) {
    Tensor h_next = lumen::tanh(matmul(x, W_xh) + matmul(h, W_hh) + b);
    ctx.save_for_backward({x, h, W_xh, W_hh, h_next});
    return h_next;
  }

  // dL/dh' [B, H] -> {dL/dx [B, D], dL/dh [B, H], dL/dW_xh [D, H], dL/dW_hh [H, H], dL/db [H]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    const Tensor& x = s[0];
    const Tensor& h = s[1];
    const Tensor& W_xh = s[2];
    const Tensor& W_hh = s[3];
    const Tensor& h_next = s[4];
    Tensor dz = grad * sub(1.0, square(h_next));  // [B, H]
    return {matmul(dz, W_xh.mT()), matmul(dz, W_hh.mT()), matmul(x.mT(), dz), matmul(h.mT(), dz), sum(dz, {0})};
  }
};

}  // namespace lumen::solutions
