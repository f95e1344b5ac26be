#include "nn/linear.h"

#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "nn/init.h"

namespace lumen::nn {

Var linear(const Var& x, const Var& weight, const Var& bias) {
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw ShapeError("linear: input of shape " + shape_str(x.shape()) + " does not fit a weight of shape " +
                     shape_str(weight.shape()) + " (need input [*, in] and weight [out, in])");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw ShapeError("linear: bias of shape " + shape_str(bias.shape()) + " does not fit a weight of shape " +
                     shape_str(weight.shape()) + " (need bias [out])");
  if (x.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != weight.dtype()))
    throw DTypeError("linear: dtypes differ: input " + std::string(dtype_name(x.dtype())) + ", weight " +
                     std::string(dtype_name(weight.dtype())) +
                     (bias.defined() ? ", bias " + std::string(dtype_name(bias.dtype())) : std::string()));
  // x [*, in] @ W^T [in, out] -> [*, out]; the transpose is a view, the gemm reads its strides.
  Var y = matmul(x, transpose(weight, 0, 1));
  return bias.defined() ? y + bias : y;  // bias [out] broadcasts over the rows
}

Linear::Linear(const LinearOptions& options, Generator& gen) : Module("Linear"), options_(options) {
  if (options.in < 0 || options.out < 0)
    throw ValueError("Linear: in and out must be >= 0, got in = " + std::to_string(options.in) +
                     " and out = " + std::to_string(options.out));
  if (!is_floating(options.dtype))
    throw DTypeError("Linear: dtype must be f32 or f64, got " + std::string(dtype_name(options.dtype)));
  Tensor w = Tensor::empty({options.out, options.in}, options.dtype);
  // kaiming_uniform(a = sqrt(5)): gain sqrt(2 / (1 + 5)) = 1/sqrt(3), std = gain / sqrt(in),
  // bound = sqrt(3) * std = 1 / sqrt(in). PyTorch keeps that old choice; so do we.
  init::kaiming_uniform_(w, {.a = std::sqrt(5.0)}, gen);
  weight_ = register_parameter("weight", w);
  if (options.bias) {
    Tensor b = Tensor::empty({options.out}, options.dtype);
    const double bound = options.in > 0 ? 1.0 / std::sqrt(static_cast<double>(options.in)) : 0.0;
    init::uniform_(b, -bound, bound, gen);
    bias_ = register_parameter("bias", b);
  }
}

Var Linear::forward(const Var& x) const {
  auto scope = enter_scope();
  return linear(x, weight_, bias_);
}

}  // namespace lumen::nn
