#pragma once
// Exercise (lesson 04): the backward of Bahdanau's additive attention score, as a custom op.
//
// Forward:  e_i = v . tanh(s W_s + h_i W_h)   for every encoder position i
//           s: the decoder state (s_{t-1} in the notes), h_i: encoder state i, e_i: its score
//           (the softmax over i that turns scores into weights is not part of this op).
// Shapes:   s [B, Ds], h [B, T, Dh], W_s [Ds, A], W_h [Dh, A], v [A]  ->  e [B, T]
//           (B batch, T encoder positions, A the attention size).
// Derive:   the gradients of all five inputs from dL/de (the `grad` argument). With
//           u = s W_s + h W_h [B, T, A] and a = tanh(u): dL/da = dL/de * v, dL/du = dL/da * (1 - a^2).
//           The one thing to get right: s W_s [B, A] was broadcast over the T positions, so
//           its gradient is a sum over T; v and W_h were likewise shared by every position and
//           batch row.
//
// Then run `lumen exercise additive_score`. docs/exercises.md explains the report and the
// hints; lessons/solutions/additive_score.h has a reference answer.
#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct AdditiveScore {
  static constexpr const char* name = "additive_score";

  // s [B, Ds], h [B, T, Dh], W_s [Ds, A], W_h [Dh, A], v [A] -> e [B, T]
  static Tensor forward(Context& ctx, const Tensor& s, const Tensor& h, const Tensor& W_s, const Tensor& W_h,
                        const Tensor& v) {
    Tensor q = matmul(s, W_s);                   // [B, A]
    Tensor k = matmul(h, W_h);                   // [B, T, A]
    Tensor a = lumen::tanh(k + q.unsqueeze(1));  // [B, T, A]: q broadcast over T
    Tensor e = matmul(a, v);                     // [B, T]
    ctx.save_for_backward({s, h, W_s, W_h, v, a});
    return e;
  }

  // dL/de [B, T] -> {dL/ds [B, Ds], dL/dh [B, T, Dh], dL/dW_s [Ds, A], dL/dW_h [Dh, A], dL/dv [A]}
  // Tensor ops you may want (tensor/ops.h): mul, sub(1.0, t), square, matmul (batched over
  // leading dims), t.mT(), t.unsqueeze(-1), sum(t, {dims}).
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const std::vector<Tensor>& saved = ctx.saved_tensors();
    // const Tensor& s = saved[0];    // [B, Ds]
    // const Tensor& h = saved[1];    // [B, T, Dh]
    // const Tensor& W_s = saved[2];  // [Ds, A]
    // const Tensor& W_h = saved[3];  // [Dh, A]
    // const Tensor& v = saved[4];    // [A]
    // const Tensor& a = saved[5];    // [B, T, A]
    // TODO: return {dL/ds, dL/dh, dL/dW_s, dL/dW_h, dL/dv};
    throw NotImplemented("AdditiveScore::backward");
  }
};

}  // namespace lumen::exercises
