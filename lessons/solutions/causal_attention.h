#pragma once
// Reference solution to lessons/08_attention_layer_qkv/exercise_causal_attention.h.
//
// Backwards, g = dL/dO [B, T, dv]:
//   O = P V:         dL/dP = g V^T [B, T, T],   dL/dV = P^T g [B, T, dv]
//   P = softmax(S):  dL/dS = P * (dL/dP - rowsum(dL/dP * P))   (0 where masked, since P is 0)
//   S = Q K^T / sqrt(d): dL/dQ = dL/dS K / sqrt(d),  dL/dK = dL/dS^T Q / sqrt(d)
#include <cmath>
#include <limits>

#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct CausalAttention {
  static constexpr const char* name = "causal_attention";

  // Q [B, T, d], K [B, T, d], V [B, T, dv] -> O [B, T, dv]
  static Tensor forward(Context& ctx, const Tensor& Q, const Tensor& K, const Tensor& V) {
    const int64_t T = Q.size(-2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
    Tensor S = matmul(Q, K.mT()) * scale;
    Tensor future = logical_not(tril_mask(T, T));
    S = masked_fill(S, future, -std::numeric_limits<double>::infinity());
    Tensor P = lumen::softmax(S, -1);
    Tensor O = matmul(P, V);
    ctx.save_for_backward({Q, K, V, P});
    ctx.values = {scale};
    return O;
  }

  // dL/dO [B, T, dv] -> {dL/dQ [B, T, d], dL/dK [B, T, d], dL/dV [B, T, dv]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const std::vector<Tensor>& s = ctx.saved_tensors();
    const Tensor& Q = s[0];
    const Tensor& K = s[1];
    const Tensor& V = s[2];
    const Tensor& P = s[3];
    const double scale = ctx.values[0];
    Tensor dP = matmul(grad, V.mT());                  // [B, T, T]
    Tensor dS = P * (dP - sum(dP * P, {-1}, true));    // [B, T, T]
    return {matmul(dS, K) * scale, matmul(dS.mT(), Q) * scale, matmul(P.mT(), grad)};
  }
};

}  // namespace lumen::solutions
