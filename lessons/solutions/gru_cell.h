#pragma once
// Reference solution to lessons/01_seq2seq_bottleneck/exercise_gru_cell.h.
//
// Backwards through the four lines of forward, g = dL/dh' [B, H]:
//   h' = (1 - z) n + z h:   dL/dn = g (1 - z),  dL/dz = g (h - n),  dL/dh += g z (direct path)
//   n = tanh(a_n + r c_n):  dL/d(pre_n) = dL/dn (1 - n^2),  dL/dr = dL/d(pre_n) c_n,
//                           dL/dc_n = dL/d(pre_n) r,  dL/da_n = dL/d(pre_n)
//   r, z = sigmoid(...):    dL/d(pre_r) = dL/dr r (1 - r),  dL/d(pre_z) = dL/dz z (1 - z),
//                           which go to both a and c
//   a = x W_x + b, c = h W_h: the matrix-product rule, with dL/dh adding the second path.
#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct GruCell {
  static constexpr const char* name = "gru_cell";

  // x [B, D], h [B, H], W_x [D, 3H], W_h [H, 3H], b [3H] -> h' [B, H]
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& h, const Tensor& W_x, const Tensor& W_h,
                        const Tensor& b) {
    std::vector<Tensor> a = chunk(matmul(x, W_x) + b, 3, -1);
    std::vector<Tensor> c = chunk(matmul(h, W_h), 3, -1);
    Tensor r = sigmoid(a[0] + c[0]);
    Tensor z = sigmoid(a[1] + c[1]);
    Tensor n = lumen::tanh(a[2] + r * c[2]);
    Tensor h_next = sub(1.0, z) * n + z * h;
    ctx.save_for_backward({x, h, W_x, W_h, r, z, n, c[2]});
    return h_next;
  }

  // dL/dh' [B, H] -> {dL/dx [B, D], dL/dh [B, H], dL/dW_x [D, 3H], dL/dW_h [H, 3H], dL/db [3H]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    const Tensor& x = s[0];
    const Tensor& h = s[1];
    const Tensor& W_x = s[2];
    const Tensor& W_h = s[3];
    const Tensor& r = s[4];
    const Tensor& z = s[5];
    const Tensor& n = s[6];
    const Tensor& c_n = s[7];
    Tensor dn_pre = grad * sub(1.0, z) * sub(1.0, square(n));  // [B, H]
    Tensor dz_pre = grad * (h - n) * z * sub(1.0, z);         // [B, H]
    Tensor dr_pre = dn_pre * c_n * r * sub(1.0, r);           // [B, H]
    Tensor da = concat({dr_pre, dz_pre, dn_pre}, -1);         // [B, 3H]
    Tensor dc = concat({dr_pre, dz_pre, dn_pre * r}, -1);     // [B, 3H]
    Tensor dh = grad * z + matmul(dc, W_h.mT());              // both paths
    return {matmul(da, W_x.mT()), dh, matmul(x.mT(), da), matmul(h.mT(), dc), sum(da, {0})};
  }
};

}  // namespace lumen::solutions
