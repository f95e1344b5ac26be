#pragma once
// Conv1d and Conv2d, by im2col + one matrix product (see nn/im2col.h): every window position
// becomes a row of the input values under it, and all filters are applied at once as
// rows [B, L, C*k] @ weight^T [C*k, O]. Weights have PyTorch's layout and names
// (weight [O, C, k] or [O, C, kh, kw], bias [O]); padding is zeros on both sides.
#include <cstdint>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

// x [B, C, L], weight [O, C, k], bias [O] or undefined -> [B, O, (L + 2p - k) / s + 1]
Var conv1d(const Var& x, const Var& weight, const Var& bias = Var(), int64_t stride = 1, int64_t padding = 0);
// x [B, C, H, W], weight [O, C, kh, kw], bias [O] or undefined
//   -> [B, O, (H + 2p - kh) / s + 1, (W + 2p - kw) / s + 1]
Var conv2d(const Var& x, const Var& weight, const Var& bias = Var(), int64_t stride = 1, int64_t padding = 0);

struct Conv1dOptions {
  int64_t in;      // input channels
  int64_t out;     // output channels (filters)
  int64_t kernel;  // kernel width
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
  DType dtype = DType::f32;
};

// Square kernels, strides and paddings: what the lessons need.
struct Conv2dOptions {
  int64_t in;
  int64_t out;
  int64_t kernel;  // kernel height and width
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
  DType dtype = DType::f32;
};

// Both initialise as PyTorch's reset_parameters: weight and bias uniform in +-1/sqrt(fan_in),
// fan_in = in * kernel elements.
class Conv1d : public Module {
 public:
  explicit Conv1d(const Conv1dOptions& options, Generator& gen = default_generator());
  // x [B, in, L] -> [B, out, L']
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
  const Var& weight() const { return weight_; }  // [out, in, kernel]
  const Var& bias() const { return bias_; }      // [out], undefined without bias
  const Conv1dOptions& options() const { return options_; }

 private:
  Conv1dOptions options_;
  Var weight_;
  Var bias_;
};

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options, Generator& gen = default_generator());
  // x [B, in, H, W] -> [B, out, H', W']
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
  const Var& weight() const { return weight_; }  // [out, in, kernel, kernel]
  const Var& bias() const { return bias_; }      // [out], undefined without bias
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
  Var weight_;
  Var bias_;
};

}  // namespace lumen::nn
