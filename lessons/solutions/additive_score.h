#pragma once
// Reference solution to lessons/04_bahdanau_attention/exercise_additive_score.h.
//
// With q = s W_s [B, A], u = h W_h + q (q broadcast over T) [B, T, A], a = tanh(u), e = a v:
//   dL/dv    = sum over B and T of dL/de * a         [A]
//   dL/du    = (dL/de * v) * (1 - a^2)                [B, T, A]
//   dL/dq    = sum over T of dL/du                    [B, A]   (q was broadcast over T)
//   dL/ds    = dL/dq W_s^T,  dL/dW_s = s^T dL/dq       [B, Ds], [Ds, A]
//   dL/dh    = dL/du W_h^T                            [B, T, Dh]
//   dL/dW_h  = sum over B of h_b^T dL/du_b            [Dh, A]
#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct AdditiveScore {
  static constexpr const char* name = "additive_score";

  // s [B, Ds], h [B, T, Dh], W_s [Ds, A], W_h [Dh, A], v [A] -> e [B, T]
  static Tensor forward(Context& ctx, const Tensor& s, const Tensor& h, const Tensor& W_s, const Tensor& W_h,
                        const Tensor& v) {
    Tensor q = matmul(s, W_s);
    Tensor k = matmul(h, W_h);
    Tensor a = lumen::tanh(k + q.unsqueeze(1));
    Tensor e = matmul(a, v);
    ctx.save_for_backward({s, h, W_s, W_h, v, a});
    return e;
  }

  // dL/de [B, T] -> {dL/ds [B, Ds], dL/dh [B, T, Dh], dL/dW_s [Ds, A], dL/dW_h [Dh, A], dL/dv [A]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const std::vector<Tensor>& saved = ctx.saved_tensors();
    const Tensor& s = saved[0];
    const Tensor& h = saved[1];
    const Tensor& W_s = saved[2];
    const Tensor& W_h = saved[3];
    const Tensor& v = saved[4];
    const Tensor& a = saved[5];
    Tensor g = grad.unsqueeze(-1);                  // [B, T, 1]
    Tensor dv = sum(g * a, {0, 1});                 // [A]
    Tensor du = g * v * sub(1.0, square(a));        // [B, T, A]
    Tensor dq = sum(du, {1});                       // [B, A]
    Tensor dW_h = sum(matmul(h.mT(), du), {0});     // [B, Dh, A] summed over B
    return {matmul(dq, W_s.mT()), matmul(du, W_h.mT()), matmul(s.mT(), dq), dW_h, dv};
  }
};

}  // namespace lumen::solutions
