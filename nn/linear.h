#pragma once
// Linear: y = x W^T + b, applied to the last dim, with PyTorch's names and layout
// (weight [out, in], bias [out]) so weights move across unchanged.
#include <cstdint>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

// x [*, in], weight [out, in], bias [out] or undefined -> [*, out].
Var linear(const Var& x, const Var& weight, const Var& bias = Var());

struct LinearOptions {
  int64_t in;
  int64_t out;
  bool bias = true;
  DType dtype = DType::f32;
};

class Linear : public Module {
 public:
  // Initialised as PyTorch's reset_parameters: weight and bias uniform in +-1/sqrt(in)
  // (kaiming_uniform with a = sqrt(5) works out to exactly that), drawn from `gen`.
  explicit Linear(const LinearOptions& options, Generator& gen = default_generator());

  // x [*, in] -> [*, out]
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }  // undefined when options.bias is false
  const LinearOptions& options() const { return options_; }

 private:
  LinearOptions options_;
  Var weight_;  // [out, in]
  Var bias_;    // [out]
};

}  // namespace lumen::nn
