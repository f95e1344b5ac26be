#pragma once
// Dropout: while training, zero each element with probability p and scale the survivors by
// 1 / (1 - p) ("inverted" dropout), so the expected value of every element is unchanged and
// evaluation needs no rescaling: in eval mode it is the identity.
#include <cstdint>
#include <optional>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

// The functional form: `x` unchanged when !training or p == 0; otherwise a fresh mask from
// `gen`. Throws ValueError unless 0 <= p < 1.
Var dropout(const Var& x, double p, Generator& gen, bool training = true);

struct DropoutOptions {
  double p = 0.5;
  // The seed of this layer's own generator. Without one, the seed is drawn from
  // default_generator() when the layer is made: reproducible after manual_seed, and two
  // layers never share a mask sequence by accident.
  std::optional<uint64_t> seed = std::nullopt;
};

class Dropout : public Module {
 public:
  // Draws masks from a generator of its own.
  explicit Dropout(const DropoutOptions& options = {});
  // Draws masks from `gen`, which the caller keeps alive and may share with other layers
  // (options.seed is then unused).
  Dropout(const DropoutOptions& options, Generator& gen);

  // x [*] -> [*]. Const like every other forward (so a parent's const forward can call it),
  // although each call advances the generator: which mask comes next is not part of the
  // module's value, just as in PyTorch.
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  double p() const { return p_; }

 private:
  double p_;
  mutable Generator own_gen_;
  Generator* gen_;  // &own_gen_ or the caller's
};

}  // namespace lumen::nn
