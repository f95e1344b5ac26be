#pragma once
// Reference solution to lessons/08_attention_layer_qkv/exercise_softmax.h.
//
// dL/dx_i = sum_j dL/dy_j y_j (delta_ij - y_i) = y_i (dL/dy_i - sum_j dL/dy_j y_j):
// the j = i term gives y_i dL/dy_i, the whole sum subtracts y_i times one number per row.
#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct Softmax {
  static constexpr const char* name = "softmax";

  // x [*, N] -> y [*, N]
  static Tensor forward(Context& ctx, const Tensor& x) {
    Tensor y = lumen::softmax(x, -1);
    ctx.save_for_backward({y});
    return y;
  }

  // dL/dy [*, N] -> {dL/dx [*, N]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& y = ctx.saved_tensors()[0];
    Tensor row = sum(grad * y, {-1}, true);  // [*, 1]
    return {y * (grad - row)};
  }
};

}  // namespace lumen::solutions
