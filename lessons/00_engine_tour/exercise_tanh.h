#pragma once
// Exercise (lesson 00): the backward of tanh, written as a custom op.
//
// Forward:  y = tanh(x), element by element.
// Shapes:   x [*] (any shape)  ->  y [*] (the same shape).
// Derive:   dL/dx from dL/dy (the `grad` argument). Every y_i depends on x_i only, so
//           dL/dx_i = dL/dy_i * dy_i/dx_i. Write dy/dx with the output y that forward saved.
//
// Then run `lumen exercise tanh`. docs/exercises.md explains the report and the hints;
// lessons/solutions/tanh.h has a reference answer (`lumen exercise tanh --solution`).
#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct Tanh {
  static constexpr const char* name = "tanh";

  // x [*] -> y [*]
  static Tensor forward(Context& ctx, const Tensor& x) {
    Tensor y = lumen::tanh(x);
    ctx.save_for_backward({y});
    return y;
  }

  // dL/dy [*] -> {dL/dx [*]}
  // Tensor ops you may want (tensor/ops.h): mul, sub(1.0, t), square.
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const Tensor& y = ctx.saved_tensors()[0];  // [*]
    // TODO: return {dL/dx};
    throw NotImplemented("Tanh::backward");
  }
};

}  // namespace lumen::exercises
