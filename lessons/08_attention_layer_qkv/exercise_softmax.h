#pragma once
// Exercise (lesson 08): the backward of softmax, written as a custom op.
//
// Forward:  y_i = exp(x_i) / sum_j exp(x_j)   along the last dim
// Shapes:   x [*, N]  ->  y [*, N]
// Derive:   dL/dx from dL/dy (the `grad` argument). Unlike tanh, every y_j depends on every
//           x_i (they share the denominator): dy_j/dx_i = y_j (delta_ij - y_i). Sum over j,
//           all of it, not only j = i, and write the result without building the N x N Jacobian.
//
// Then run `lumen exercise softmax`. docs/exercises.md explains the report and the hints;
// lessons/solutions/softmax.h has a reference answer (`lumen exercise softmax --solution`).
#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct Softmax {
  static constexpr const char* name = "softmax";

  // x [*, N] -> y [*, N]
  static Tensor forward(Context& ctx, const Tensor& x) {
    Tensor y = lumen::softmax(x, -1);
    ctx.save_for_backward({y});
    return y;
  }

  // dL/dy [*, N] -> {dL/dx [*, N]}
  // Tensor ops you may want (tensor/ops.h): mul, sub, sum(t, {-1}, true) (keepdim = true
  // keeps the summed dim as size 1, so the result broadcasts back against [*, N]).
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const Tensor& y = ctx.saved_tensors()[0];  // [*, N]
    // TODO: return {dL/dx};
    throw NotImplemented("Softmax::backward");
  }
};

}  // namespace lumen::exercises
