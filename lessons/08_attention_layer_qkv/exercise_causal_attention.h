#pragma once
// Exercise (lesson 08): the backward of scaled dot-product attention with a causal mask, as a
// custom op.
//
// Forward:  S = Q K^T / sqrt(d)                 scores
//           S_ij = -inf where j > i            the causal mask: no looking ahead
//           P = softmax(S) along the last dim  attention weights (0 where masked)
//           O = P V                            outputs
// Shapes:   Q [B, T, d], K [B, T, d], V [B, T, dv]  ->  O [B, T, dv]   (S and P: [B, T, T])
// Derive:   dL/dQ, dL/dK, dL/dV from dL/dO (the `grad` argument). Go back one line at a time:
//           O = P V gives dL/dP and dL/dV; the softmax gives dL/dS (as in exercise_softmax.h,
//           row by row: every P_ij depends on the whole row of S); S = Q K^T / sqrt(d) gives dL/dQ
//           and dL/dK. The masked entries need no special case: P is 0 there.
//
// Then run `lumen exercise causal_attention`. docs/exercises.md explains the report and the
// hints; lessons/solutions/causal_attention.h has a reference answer.
#include <cmath>
#include <limits>

#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct CausalAttention {
  static constexpr const char* name = "causal_attention";

  // Q [B, T, d], K [B, T, d], V [B, T, dv] -> O [B, T, dv]
  static Tensor forward(Context& ctx, const Tensor& Q, const Tensor& K, const Tensor& V) {
    const int64_t T = Q.size(-2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
    Tensor S = matmul(Q, K.mT()) * scale;                     // [B, T, T]
    Tensor future = logical_not(tril_mask(T, T));             // [T, T], true where j > i
    S = masked_fill(S, future, -std::numeric_limits<double>::infinity());
    Tensor P = lumen::softmax(S, -1);                         // [B, T, T]
    Tensor O = matmul(P, V);                                  // [B, T, dv]
    ctx.save_for_backward({Q, K, V, P});
    ctx.values = {scale};
    return O;
  }

  // dL/dO [B, T, dv] -> {dL/dQ [B, T, d], dL/dK [B, T, d], dL/dV [B, T, dv]}
  // Tensor ops you may want (tensor/ops.h): matmul (batched), t.mT(), mul, sub,
  // sum(t, {-1}, true), t * scale.
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const std::vector<Tensor>& s = ctx.saved_tensors();
    // const Tensor& Q = s[0];  // [B, T, d]
    // const Tensor& K = s[1];  // [B, T, d]
    // const Tensor& V = s[2];  // [B, T, dv]
    // const Tensor& P = s[3];  // [B, T, T]
    // const double scale = ctx.values[0];  // 1 / sqrt(d)
    // TODO: return {dL/dQ, dL/dK, dL/dV};
    throw NotImplemented("CausalAttention::backward");
  }
};

}  // namespace lumen::exercises
