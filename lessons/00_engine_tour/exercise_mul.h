#pragma once
// Exercise (lesson 00): the backward of a broadcasting multiply, written as a custom op.
//
// Forward:  y = a * b, element by element, with NumPy broadcasting: a size-1 or missing dim of
//           one operand is repeated to match the other.
// Shapes:   a [*a], b [*b]  ->  y [broadcast(*a, *b)], e.g. a [3, 4] * b [4] -> y [3, 4].
// Derive:   dL/da and dL/db from dL/dy (the `grad` argument). Elementwise, dy/da = b and
//           dy/db = a. The one thing to get right: an operand that was broadcast was used many
//           times, so its gradient collects every use: sum it back to the operand's own shape.
//
// Then run `lumen exercise mul`. docs/exercises.md explains the report and the hints;
// lessons/solutions/mul.h has a reference answer (`lumen exercise mul --solution`).
#include "lessons/common/exercise.h"

namespace lumen::exercises {

struct Mul {
  static constexpr const char* name = "mul";

  // a [*a], b [*b] -> y [broadcast(*a, *b)]
  static Tensor forward(Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return lumen::mul(a, b);
  }

  // dL/dy [*y] -> {dL/da [*a], dL/db [*b]}
  // Tensor ops you may want (tensor/ops.h): mul, sum_to(t, shape) (sums t down to `shape`,
  // undoing a broadcast).
  // (Remove [[maybe_unused]] once you use the arguments.)
  static std::vector<Tensor> backward([[maybe_unused]] Context& ctx, [[maybe_unused]] const Tensor& grad) {
    // const Tensor& a = ctx.saved_tensors()[0];  // [*a]
    // const Tensor& b = ctx.saved_tensors()[1];  // [*b]
    // TODO: return {dL/da, dL/db};
    throw NotImplemented("Mul::backward");
  }
};

}  // namespace lumen::exercises
