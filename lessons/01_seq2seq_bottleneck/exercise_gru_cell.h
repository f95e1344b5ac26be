#pragma once
// Exercise (lesson 01): the backward of one step of a GRU cell, written as a custom op.
//
// Forward:  a = x W_x + b,  c = h W_h          (each [B, 3H], split in thirds: r, z, n parts)
//           r  = sigmoid(a_r + c_r)            reset gate
//           z  = sigmoid(a_z + c_z)            update gate
//           n  = tanh(a_n + r * c_n)           candidate state
//           h' = (1 - z) * n + z * h           new hidden state
//           (PyTorch's GRUCell, with a single bias b.)
// Shapes:   x [B, D], h [B, H], W_x [D, 3H], W_h [H, 3H], b [3H]  ->  h' [B, H]
// Derive:   the gradients of all five inputs from dL/dh' (the `grad` argument). Work backwards
//           through the four lines, one local derivative at a time (sigmoid' = s (1 - s),
//           tanh' = 1 - t^2). The one thing not to miss: h reaches h' by two paths, directly
//           through z * h and through c = h W_h, so dL/dh is the sum of both.
//
// Then run `lumen exercise gru_cell`. docs/exercises.md explains the report and the hints;
// lessons/solutions/gru_cell.h has a reference answer (`lumen exercise gru_cell --solution`).
#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct GruCell {
  static constexpr const char* name = "gru_cell";

  // x [B, D], h [B, H], W_x [D, 3H], W_h [H, 3H], b [3H] -> h' [B, H]
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& h, const Tensor& W_x, const Tensor& W_h,
                        const Tensor& b) {
    std::vector<Tensor> a = chunk(matmul(x, W_x) + b, 3, -1);  // a_r, a_z, a_n: [B, H] each
    std::vector<Tensor> c = chunk(matmul(h, W_h), 3, -1);      // c_r, c_z, c_n: [B, H] each
    Tensor r = sigmoid(a[0] + c[0]);                           // [B, H]
    Tensor z = sigmoid(a[1] + c[1]);                           // [B, H]
    Tensor n = lumen::tanh(a[2] + r * c[2]);                   // [B, H]
    Tensor h_next = sub(1.0, z) * n + z * h;                   // [B, H]
    ctx.save_for_backward({x, h, W_x, W_h, r, z, n, c[2]});
    return h_next;
  }

  // dL/dh' [B, H] -> {dL/dx [B, D], dL/dh [B, H], dL/dW_x [D, 3H], dL/dW_h [H, 3H], dL/db [3H]}
  // Tensor ops you may want (tensor/ops.h): mul, sub, sub(1.0, t), square, matmul, t.mT(),
  // sum(t, {0}), concat({p, q, r}, -1) (joins [B, H] parts into [B, 3H]).
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const std::vector<Tensor>& s = ctx.saved_tensors();
    // const Tensor& x = s[0];    // [B, D]
    // const Tensor& h = s[1];    // [B, H]
    // const Tensor& W_x = s[2];  // [D, 3H]
    // const Tensor& W_h = s[3];  // [H, 3H]
    // const Tensor& r = s[4];    // [B, H]
    // const Tensor& z = s[5];    // [B, H]
    // const Tensor& n = s[6];    // [B, H]
    // const Tensor& c_n = s[7];  // [B, H]
    // TODO: return {dL/dx, dL/dh, dL/dW_x, dL/dW_h, dL/db};
    throw NotImplemented("GruCell::backward");
  }
};

}  // namespace lumen::exercises
