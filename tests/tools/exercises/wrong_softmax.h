#pragma once
// Wrong answers to lessons/08_attention_layer_qkv/exercise_softmax.h. Each must fail
// `lumen exercise softmax` with the hint named in its comment.
#include "lessons/common/exercise.h"

namespace lumen::wrong {

struct SoftmaxForward {
  static constexpr const char* name = "softmax";
  static Tensor forward(Context& ctx, const Tensor& x) {
    Tensor y = lumen::softmax(x, -1);
    ctx.save_for_backward({y});
    return y;
  }
};

// Hint: diagonal only. dL/dx = dL/dy * y * (1 - y), as if y_i depended on x_i alone.
struct SoftmaxDiagonal : SoftmaxForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& y = ctx.saved_tensors()[0];
    return {grad * y * sub(1.0, y)};
  }
};

// Hint: sign. The difference taken the wrong way round.
struct SoftmaxSign : SoftmaxForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& y = ctx.saved_tensors()[0];
    return {y * (sum(grad * y, {-1}, true) - grad)};
  }
};

// Hint: dropped axis (a sum without keepdim). Right for 1-D x, a ShapeError for
// [3, 4], and wrong values for a square [4, 4].
struct SoftmaxNoKeepdim : SoftmaxForward {
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    const Tensor& y = ctx.saved_tensors()[0];
    return {y * (grad - sum(grad * y, {-1}))};
  }
};

}  // namespace lumen::wrong
