#pragma once
// Reference solution to lessons/00_engine_tour/exercise_mul.h.
//
// Elementwise, dL/da = dL/dy * b and dL/db = dL/dy * a, both of the output's shape [*y]. An
// operand that was broadcast took part in several output elements, so its gradient is the sum
// of those contributions: sum_to folds [*y] back to the operand's shape.
#include "lessons/common/exercise.h"

namespace lumen::solutions {

struct Mul {
  static constexpr const char* name = "mul";

  // a [*a], b [*b] -> y [broadcast(*a, *b)]
  static Tensor forward(Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return lumen::mul(a, b);
  }

  // dL/dy [*y] -> {dL/da [*a], dL/db [*b]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];
    return {sum_to(grad * b, a.shape()), sum_to(grad * a, b.shape())};
  }
};

}  // namespace lumen::solutions
