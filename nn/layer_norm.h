#pragma once
// LayerNorm over the last dim: each row is shifted to mean 0 and scaled to variance 1, then
// given a learned scale (weight, ones at first) and shift (bias, zeros at first).
#include <cstdint>

#include "autograd/var.h"
#include "nn/module.h"

namespace lumen::nn {

struct LayerNormOptions {
  int64_t dim;         // size of the last dim (PyTorch's normalized_shape, one dim only)
  double eps = 1e-5;   // added to the variance, so a constant row does not divide by zero
  bool affine = true;  // learn weight and bias (PyTorch's elementwise_affine)
  DType dtype = DType::f32;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);

  // x [*, dim] -> [*, dim]
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  const Var& weight() const { return weight_; }  // [dim], undefined without affine
  const Var& bias() const { return bias_; }      // [dim], undefined without affine
  const LayerNormOptions& options() const { return options_; }

 private:
  LayerNormOptions options_;
  Var weight_;
  Var bias_;
};

}  // namespace lumen::nn
