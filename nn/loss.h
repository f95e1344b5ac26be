#pragma once
// Losses. cross_entropy is one fused op: its forward computes log-softmax and the negative
// log-likelihood in a single pass over each row (never forming the [N, C] log-probabilities),
// and its backward is the famous softmax minus target, written out by hand.
#include <cstdint>

#include "autograd/var.h"

namespace lumen::nn {

enum class Reduction { mean, sum, none };

struct CrossEntropyOptions {
  // Targets equal to this contribute no loss and no gradient (padding in a batch of sequences).
  int64_t ignore_index = -100;
  // PyTorch's label smoothing eps in [0, 1]: the target distribution is
  // (1 - eps) * onehot(target) + eps / C, spreading eps of the mass evenly over all C classes.
  double label_smoothing = 0.0;
  // mean: divided by the number of targets that are not ignored. If every target is ignored the
  // mean is 0 with a zero gradient (PyTorch gives NaN, 0 / 0; a batch of pure padding should
  // not poison training). sum: the plain sum. none: one loss per target, 0 where ignored.
  Reduction reduction = Reduction::mean;
};

// logits [*, C] (classes along the LAST dim: [N, C], or [B, T, C] for sequences; unlike
// PyTorch, which wants [N, C, d1, ...] for more than two dims), targets [*] (i64, the same
// leading shape, each in [0, C) or equal to ignore_index).
// Returns a scalar for mean and sum, and a tensor of the targets' shape for none.
// Finite for logits as large as +-1e4 in f32. A target outside [0, C) that is not ignore_index
// throws IndexError naming the value and C.
Var cross_entropy(const Var& logits, const Tensor& targets, const CrossEntropyOptions& options = {});

// (pred - target)^2, reduced: pred and target must have the same shape (no broadcasting:
// a [N] vs [N, 1] mix-up would silently compute an [N, N] loss). Both may require grad.
Var mse_loss(const Var& pred, const Var& target, Reduction reduction = Reduction::mean);

}  // namespace lumen::nn
