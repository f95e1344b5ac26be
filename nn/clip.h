#pragma once
// Gradient clipping by global norm: when the gradients of all parameters, seen as one long
// vector, are longer than max_norm, scale them all down by the same factor so the step keeps its
// direction but not its size. It tames the exploding gradients of unrolled RNNs.
#include <vector>

#include "autograd/var.h"

namespace lumen::nn {

// Returns the total norm sqrt(sum of every gradient element squared), measured before clipping,
// and multiplies every gradient by max_norm / (total + 1e-6) when that factor is below 1
// (PyTorch's clip_grad_norm_). Parameters without a gradient are skipped. A NaN or Inf norm is
// returned as is and the gradients are left untouched, so the caller can see and skip the step.
double clip_grad_norm(const std::vector<Var>& params, double max_norm);

}  // namespace lumen::nn
