#include "nn/embedding.h"

#include <string>

#include "autograd/ops.h"
#include "nn/init.h"

namespace lumen::nn {

Embedding::Embedding(const EmbeddingOptions& options, Generator& gen) : Module("Embedding"), options_(options) {
  if (options.num < 0 || options.dim < 0)
    throw ValueError("Embedding: num and dim must be >= 0, got num = " + std::to_string(options.num) +
                     " and dim = " + std::to_string(options.dim));
  if (!is_floating(options.dtype))
    throw DTypeError("Embedding: dtype must be f32 or f64, got " + std::string(dtype_name(options.dtype)));
  if (options.padding_idx) {
    const int64_t p = *options.padding_idx;
    if (p < -options.num || p >= options.num)
      throw ValueError("Embedding: padding_idx " + std::to_string(p) + " is out of range for num = " +
                       std::to_string(options.num) + " (need -num <= padding_idx < num)");
    padding_idx_ = p < 0 ? p + options.num : p;
  }
  Tensor w = Tensor::empty({options.num, options.dim}, options.dtype);
  init::normal_(w, 0.0, 1.0, gen);
  if (padding_idx_ >= 0) w.select(0, padding_idx_).fill_(0.0);
  weight_ = register_parameter("weight", w);
}

Var Embedding::forward(const Tensor& ids) const {
  auto scope = enter_scope();
  // The autograd op checks the ids (i64, in range) and masks the padding row's gradient.
  return embedding(weight_, ids, padding_idx_);
}

}  // namespace lumen::nn
