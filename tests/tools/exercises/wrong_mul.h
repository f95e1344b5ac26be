#pragma once
// Wrong answers to lessons/00_engine_tour/exercise_mul.h. Each must fail `lumen exercise mul`
// with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct MulForward {
  static constexpr const char* name = "mul";
  static Tensor forward(Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    return lumen::mul(a, b);
  }
};

// Hint: broadcast not summed. The gradients keep the output's shape.
struct MulNotSummed : MulForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];
    return {grad * b, grad * a};
  }
};

// Hint: broadcast not summed (averaged). Each gradient is the mean over the broadcast copies.
struct MulAveraged : MulForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];
    const double n = static_cast<double>(grad.numel());
    return {sum_to(grad * b, a.shape()) * (static_cast<double>(a.numel()) / n),
            sum_to(grad * a, b.shape()) * (static_cast<double>(b.numel()) / n)};
  }
};

// Hint: sign.
struct MulSign : MulForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];
    return {-sum_to(grad * b, a.shape()), -sum_to(grad * a, b.shape())};
  }
};

// Hint: the known mistake "operands swapped".
struct MulSwapped : MulForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];
    return {sum_to(grad * a, a.shape()), sum_to(grad * b, b.shape())};
  }
};

}  // namespace lumen::wrong
