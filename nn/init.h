#pragma once
// Weight initialisation, as torch.nn.init defines it: each function overwrites a tensor in place
// with values drawn from a Generator, so a seed fixes a model's starting point.
//
// The tensors are taken by const reference because a Tensor is a handle: the handle stays as it
// is, the memory it points at is written. That lets a parameter be initialised in place:
//   init::xavier_uniform_(layer.weight().value(), 1.0, gen);
//
// Fans follow PyTorch: a weight has at least two dims, [out, in, *kernel]; fan_in = in * k and
// fan_out = out * k, where k is the number of kernel elements (1 for a Linear weight).
#include <cstdint>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace lumen::nn::init {

// The nonlinearity a layer feeds, which sets the gain that keeps activations at unit scale.
enum class Nonlinearity { linear, conv, sigmoid, tanh, relu, leaky_relu, selu };

// Whether kaiming_* keeps the forward activations (fan_in) or the backward gradients (fan_out)
// at unit variance.
enum class FanMode { fan_in, fan_out };

// PyTorch's recommended gains: 1 for linear, conv and sigmoid, 5/3 for tanh, sqrt(2) for relu,
// sqrt(2 / (1 + slope^2)) for leaky_relu (slope 0.01 unless given), 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

struct Fans {
  int64_t fan_in = 0;
  int64_t fan_out = 0;
};
// Throws ValueError for fewer than two dims: a bias has no fan-out.
Fans calculate_fans(const Shape& shape);

// Each of these throws DTypeError for a non-floating tensor.
void uniform_(const Tensor& t, double lo, double hi, Generator& gen = default_generator());
void normal_(const Tensor& t, double mean, double std, Generator& gen = default_generator());
void zeros_(const Tensor& t);
void ones_(const Tensor& t);

// Glorot & Bengio: variance gain^2 * 2 / (fan_in + fan_out).
// uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)); normal: N(0, that std^2).
void xavier_uniform_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());
void xavier_normal_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());

// He et al.: std = gain / sqrt(fan), with gain = calculate_gain(nonlinearity, a).
// uniform: U(-b, b) with b = sqrt(3) * std; normal: N(0, std^2).
// PyTorch's defaults: a = 0, fan_in, leaky_relu (whose gain with a = 0 is sqrt(2), as relu).
struct KaimingOptions {
  double a = 0.0;  // negative slope of the leaky_relu that follows
  FanMode mode = FanMode::fan_in;
  Nonlinearity nonlinearity = Nonlinearity::leaky_relu;
};
void kaiming_uniform_(const Tensor& t, KaimingOptions options = {}, Generator& gen = default_generator());
void kaiming_normal_(const Tensor& t, KaimingOptions options = {}, Generator& gen = default_generator());

}  // namespace lumen::nn::init
