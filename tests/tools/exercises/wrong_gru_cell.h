#pragma once
// Wrong answers to lessons/01_seq2seq_bottleneck/exercise_gru_cell.h. Each must fail
// `lumen exercise gru_cell` with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct GruForward {
  static constexpr const char* name = "gru_cell";
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& h, const Tensor& W_x, const Tensor& W_h,
                        const Tensor& b) {
    std::vector<Tensor> a = chunk(matmul(x, W_x) + b, 3, -1);
    std::vector<Tensor> c = chunk(matmul(h, W_h), 3, -1);
    Tensor r = sigmoid(a[0] + c[0]);
    Tensor z = sigmoid(a[1] + c[1]);
    Tensor n = lumen::tanh(a[2] + r * c[2]);
    ctx.save_for_backward({x, h, W_x, W_h, r, z, n, c[2]});
    return sub(1.0, z) * n + z * h;
  }

  // The parts of the right backward, for the fixtures to spoil one at a time.
  struct Parts {
    Tensor da, dc, dh_direct;  // [B, 3H], [B, 3H], [B, H]
  };
  static Parts parts(Context& ctx, const Tensor& grad, double z_sign = 1.0) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    const Tensor &h = s[1], &r = s[4], &z = s[5], &n = s[6], &c_n = s[7];
    Tensor dn_pre = grad * sub(1.0, z) * sub(1.0, square(n));
    Tensor dz_pre = grad * (h - n) * z * sub(1.0, z) * z_sign;
    Tensor dr_pre = dn_pre * c_n * r * sub(1.0, r);
    return {concat({dr_pre, dz_pre, dn_pre}, -1), concat({dr_pre, dz_pre, dn_pre * r}, -1), grad * z};
  }
  static std::vector<Tensor> grads(Context& ctx, const Parts& p) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    const Tensor &x = s[0], &h = s[1], &W_x = s[2], &W_h = s[3];
    return {matmul(p.da, W_x.mT()), p.dh_direct + matmul(p.dc, W_h.mT()), matmul(x.mT(), p.da),
            matmul(h.mT(), p.dc), sum(p.da, {0})};
  }
};

// Hint: missing term. dL/dh without the direct path z * dL/dh'.
struct GruNoDirectPath : GruForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    Parts p = parts(ctx, grad);
    p.dh_direct = zeros_like(p.dh_direct);
    return grads(ctx, p);
  }
  static Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype()); }
};

// Hint: broadcast not summed (b).
struct GruBiasNotSummed : GruForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    Parts p = parts(ctx, grad);
    std::vector<Tensor> g = grads(ctx, p);
    g[4] = p.da;
    return g;
  }
};

// Hint: transposed (W_h). dL/dW_h = dc^T h, of shape [3H, H].
struct GruTransposedWeight : GruForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    Parts p = parts(ctx, grad);
    std::vector<Tensor> g = grads(ctx, p);
    g[3] = matmul(p.dc.mT(), ctx.saved_tensors()[1]);
    return g;
  }
};

// No known pattern: dL/dz taken as dL/dh' * (n - h), the sign of one path only. Fails without
// a hint (no single input is simply negated).
struct GruUpdateGateSign : GruForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) { return grads(ctx, parts(ctx, grad, -1.0)); }
};

}  // namespace lumen::wrong
