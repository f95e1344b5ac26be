#include "nn/init.h"

#include <cmath>
#include <string>

namespace lumen::nn::init {
namespace {

void check_floating(const char* op, const Tensor& t) {
  if (!t.defined()) throw ValueError(std::string(op) + ": got an undefined tensor");
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string(op) + ": expected a floating tensor (f32 or f64), got " +
                     std::string(dtype_name(t.dtype())) + " of shape " + shape_str(t.shape()));
}

// Draws a fresh tensor and copies it in: copy_ handles any strides, and the draw order is the
// row-major order of the shape, so a transposed view gets the same values as a fresh tensor.
void fill_from(const Tensor& t, const Tensor& values) {
  Tensor dst = t;  // a second handle to the same memory
  dst.copy_(values);
}

Fans fans_of(const char* op, const Shape& shape) {
  if (shape.size() < 2)
    throw ValueError(std::string(op) + ": fan in and fan out need a tensor with at least 2 dims, got shape " +
                     shape_str(shape));
  // Every kernel position is one more input (and output) connection per channel.
  int64_t receptive_field = 1;
  for (size_t d = 2; d < shape.size(); ++d) receptive_field *= shape[d];
  return {.fan_in = shape[1] * receptive_field, .fan_out = shape[0] * receptive_field};
}

double fan_for(const char* op, const Tensor& t, FanMode mode) {
  Fans f = fans_of(op, t.shape());
  return static_cast<double>(mode == FanMode::fan_in ? f.fan_in : f.fan_out);
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::conv:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    case Nonlinearity::selu: return 3.0 / 4.0;
  }
  return 1.0;
}

Fans calculate_fans(const Shape& shape) { return fans_of("calculate_fans", shape); }

void uniform_(const Tensor& t, double lo, double hi, Generator& gen) {
  check_floating("uniform_", t);
  fill_from(t, lumen::uniform(t.shape(), lo, hi, t.dtype(), gen));
}

void normal_(const Tensor& t, double mean, double std, Generator& gen) {
  check_floating("normal_", t);
  fill_from(t, lumen::normal(t.shape(), mean, std, t.dtype(), gen));
}

void zeros_(const Tensor& t) {
  check_floating("zeros_", t);
  Tensor(t).fill_(0.0);
}

void ones_(const Tensor& t) {
  check_floating("ones_", t);
  Tensor(t).fill_(1.0);
}

void xavier_uniform_(const Tensor& t, double gain, Generator& gen) {
  check_floating("xavier_uniform_", t);
  Fans f = fans_of("xavier_uniform_", t.shape());
  if (t.numel() == 0) return;  // nothing to draw, and the fans may be 0
  // U(-b, b) has variance b^2 / 3, so b = sqrt(3) * std.
  double std = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(const Tensor& t, double gain, Generator& gen) {
  check_floating("xavier_normal_", t);
  Fans f = fans_of("xavier_normal_", t.shape());
  if (t.numel() == 0) return;
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)), gen);
}

void kaiming_uniform_(const Tensor& t, KaimingOptions options, Generator& gen) {
  check_floating("kaiming_uniform_", t);
  double fan = fan_for("kaiming_uniform_", t, options.mode);
  if (t.numel() == 0) return;
  double std = calculate_gain(options.nonlinearity, options.a) / std::sqrt(fan);
  double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(const Tensor& t, KaimingOptions options, Generator& gen) {
  check_floating("kaiming_normal_", t);
  double fan = fan_for("kaiming_normal_", t, options.mode);
  if (t.numel() == 0) return;
  normal_(t, 0.0, calculate_gain(options.nonlinearity, options.a) / std::sqrt(fan), gen);
}

}  // namespace lumen::nn::init
