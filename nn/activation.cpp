#include "nn/activation.h"

#include "autograd/ops.h"

namespace lumen::nn {

Var Tanh::forward(const Var& x) const {
  auto scope = enter_scope();
  return tanh(x);
}

Var Sigmoid::forward(const Var& x) const {
  auto scope = enter_scope();
  return sigmoid(x);
}

Var ReLU::forward(const Var& x) const {
  auto scope = enter_scope();
  return relu(x);
}

Var GELU::forward(const Var& x) const {
  auto scope = enter_scope();
  return gelu(x);
}

}  // namespace lumen::nn
