#include "nn/layer_norm.h"

#include <string>

#include "autograd/ops.h"

namespace lumen::nn {

LayerNorm::LayerNorm(const LayerNormOptions& options) : Module("LayerNorm"), options_(options) {
  if (options.dim <= 0) throw ValueError("LayerNorm: dim must be positive, got " + std::to_string(options.dim));
  if (!(options.eps >= 0.0)) throw ValueError("LayerNorm: eps must be >= 0, got " + std::to_string(options.eps));
  if (!is_floating(options.dtype))
    throw DTypeError("LayerNorm: dtype must be f32 or f64, got " + std::string(dtype_name(options.dtype)));
  if (options.affine) {
    weight_ = register_parameter("weight", Tensor::ones({options.dim}, options.dtype));
    bias_ = register_parameter("bias", Tensor::zeros({options.dim}, options.dtype));
  }
}

Var LayerNorm::forward(const Var& x) const {
  auto scope = enter_scope();
  if (x.dim() < 1 || x.size(-1) != options_.dim)
    throw ShapeError("LayerNorm: input of shape " + shape_str(x.shape()) + " does not end in dim = " +
                     std::to_string(options_.dim));
  return layer_norm(x, weight_, bias_, options_.eps);
}

}  // namespace lumen::nn
