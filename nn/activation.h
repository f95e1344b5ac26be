#pragma once
// The activations as modules, for models that list their layers: each one applies the Var op of
// the same name and has no parameters.
#include "autograd/var.h"
#include "nn/module.h"

namespace lumen::nn {

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
};

// The exact form x * Phi(x), as PyTorch's default (approximate = "none").
class GELU : public Module {
 public:
  GELU() : Module("GELU") {}
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
};

}  // namespace lumen::nn
