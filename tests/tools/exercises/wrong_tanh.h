#pragma once
// Wrong answers to lessons/00_engine_tour/exercise_tanh.h, as learners write them. Each must
// fail `lumen exercise tanh` with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

// Forward as in the exercise; the fixtures differ in backward only.
struct TanhForward {
  static constexpr const char* name = "tanh";
  static Tensor forward(Context& ctx, const Tensor& x) {
    Tensor y = lumen::tanh(x);
    ctx.save_for_backward({x, y});
    return y;
  }
};

// Hint: sign. 1 - y^2 written y^2 - 1.
struct TanhSign : TanhForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& y = ctx.saved_tensors()[1];
    return {grad * (square(y) - 1.0)};
  }
};

// Hint: factor of 2. A stray 2 from d(y^2)/dy.
struct TanhTwice : TanhForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& y = ctx.saved_tensors()[1];
    return {grad * sub(1.0, square(y)) * 2.0};
  }
};

// Hint: the known mistake "1 - x^2 instead of 1 - y^2".
struct TanhWithInput : TanhForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& x = ctx.saved_tensors()[0];
    return {grad * sub(1.0, square(x))};
  }
};

// No known pattern: dL/dy is never multiplied in. Fails without a hint.
struct TanhNoChainRule : TanhForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor&) {
    const Tensor& y = ctx.saved_tensors()[1];
    return {sub(1.0, square(y))};
  }
};

}  // namespace lumen::wrong
