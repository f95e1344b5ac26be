#pragma once
// Exercise (lesson 01): the backward of one step of a vanilla RNN cell, written as a custom op.
//
// Forward:  h' = tanh(x W_xh + h W_hh + b)
//           x: this step's input, h: the previous hidden state, h': the new one.
// Shapes:   x [B, D], h [B, H], W_xh [D, H], W_hh [H, H], b [H]  ->  h' [B, H]
//           (B batch rows, D input features, H hidden units; b is broadcast over the batch).
// Derive:   the gradients of all five inputs from dL/dh' (the `grad` argument). Go through
//           z = x W_xh + h W_hh + b first: dL/dz = dL/dh' * (1 - h'^2). Then every matrix
//           product Y = A W gives dL/dA = dL/dY W^T and dL/dW = A^T dL/dY (check each by its
//           shape), and b, used once per batch row, collects a sum over the batch.
//
// Then run `lumen exercise rnn_cell`. docs/exercises.md explains the report and the hints;
// lessons/solutions/rnn_cell.h has a reference answer (`lumen exercise rnn_cell --solution`).
#include "lessons/common/exercise.h"

namespace lumen::exercises {

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
  // Tensor ops you may want (tensor/ops.h): mul, sub(1.0, t), square, matmul, t.mT() (the
  // transpose of the last two dims), sum(t, {0}) (sum over dim 0).
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const std::vector<Tensor>& s = ctx.saved_tensors();
    // const Tensor& x = s[0];       // [B, D]
    // const Tensor& h = s[1];       // [B, H]
    // const Tensor& W_xh = s[2];    // [D, H]
    // const Tensor& W_hh = s[3];    // [H, H]
    // const Tensor& h_next = s[4];  // [B, H]
    // TODO: return {dL/dx, dL/dh, dL/dW_xh, dL/dW_hh, dL/db};
    throw NotImplemented("RnnCell::backward");
  }
};

}  // namespace lumen::exercises
