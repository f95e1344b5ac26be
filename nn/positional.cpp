#include "nn/positional.h"

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/init.h"

namespace lumen::nn {
namespace {

void check_options(const char* who, const PositionalEncodingOptions& o) {
  if (o.max_len < 0 || o.dim <= 0)
    throw ValueError(std::string(who) + ": need max_len >= 0 and dim > 0, got max_len = " + std::to_string(o.max_len) +
                     " and dim = " + std::to_string(o.dim));
  if (!is_floating(o.dtype))
    throw DTypeError(std::string(who) + ": dtype must be f32 or f64, got " + std::string(dtype_name(o.dtype)));
}

// The rows [offset, offset + T) that x [B, T, dim] needs, checked against the table.
void check_input(const char* who, const Var& x, int64_t offset, const PositionalEncodingOptions& o) {
  if (x.dim() != 3 || x.size(2) != o.dim)
    throw ShapeError(std::string(who) + ": input of shape " + shape_str(x.shape()) + " is not [B, T, " +
                     std::to_string(o.dim) + "]");
  if (offset < 0 || offset + x.size(1) > o.max_len)
    throw ValueError(std::string(who) + ": positions " + std::to_string(offset) + " to " +
                     std::to_string(offset + x.size(1) - 1) + " do not fit max_len = " + std::to_string(o.max_len));
  if (x.dtype() != o.dtype)
    throw DTypeError(std::string(who) + ": input is " + std::string(dtype_name(x.dtype())) + " but the table is " +
                     std::string(dtype_name(o.dtype)));
}

}  // namespace

Tensor sinusoidal_encoding(int64_t max_len, int64_t dim, DType dtype) {
  check_options("sinusoidal_encoding", {.max_len = max_len, .dim = dim, .dtype = dtype});
  std::vector<double> pe(static_cast<size_t>(max_len * dim));
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; 2 * i < dim; ++i) {
      // angle = pos / 10000^(2i/d), in double whatever the dtype
      const double angle = double(pos) / std::pow(10000.0, double(2 * i) / double(dim));
      pe[static_cast<size_t>(pos * dim + 2 * i)] = std::sin(angle);
      if (2 * i + 1 < dim) pe[static_cast<size_t>(pos * dim + 2 * i + 1)] = std::cos(angle);
    }
  return Tensor::from_vector(pe, {max_len, dim}, dtype);
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(const PositionalEncodingOptions& options)
    : Module("SinusoidalPositionalEncoding"), options_(options) {
  check_options("SinusoidalPositionalEncoding", options);
  pe_ = register_buffer("pe", sinusoidal_encoding(options.max_len, options.dim, options.dtype));
}

Var SinusoidalPositionalEncoding::forward(const Var& x, int64_t offset) const {
  auto scope = enter_scope();
  check_input("SinusoidalPositionalEncoding", x, offset, options_);
  // PE rows [T, dim] broadcast over the batch
  Var pe(pe_.slice(0, offset, offset + x.size(1)));
  pe.set_name("pe");
  return x + pe;
}

LearnedPositionalEncoding::LearnedPositionalEncoding(const PositionalEncodingOptions& options, Generator& gen)
    : Module("LearnedPositionalEncoding"), options_(options) {
  check_options("LearnedPositionalEncoding", options);
  Tensor w = Tensor::empty({options.max_len, options.dim}, options.dtype);
  init::normal_(w, 0.0, 1.0, gen);
  weight_ = register_parameter("weight", w);
}

Var LearnedPositionalEncoding::forward(const Var& x, int64_t offset) const {
  auto scope = enter_scope();
  check_input("LearnedPositionalEncoding", x, offset, options_);
  const bool whole = offset == 0 && x.size(1) == options_.max_len;
  return x + (whole ? weight_ : slice(weight_, 0, offset, offset + x.size(1)));  // [T, dim] over the batch
}

AnyPositionalEncoding::AnyPositionalEncoding(PositionalKind kind, const PositionalEncodingOptions& options,
                                             Generator& gen) {
  if (kind == PositionalKind::learned)
    learned_ = std::make_unique<LearnedPositionalEncoding>(options, gen);
  else
    sinusoidal_ = std::make_unique<SinusoidalPositionalEncoding>(options);
}

Var AnyPositionalEncoding::forward(const Var& x, int64_t offset) const {
  return learned_ ? learned_->forward(x, offset) : sinusoidal_->forward(x, offset);
}

Module& AnyPositionalEncoding::module() {
  if (learned_) return *learned_;
  return *sinusoidal_;
}

}  // namespace lumen::nn
