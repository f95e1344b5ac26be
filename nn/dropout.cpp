#include "nn/dropout.h"

#include <cmath>
#include <string>

#include "autograd/ops.h"

namespace lumen::nn {
namespace {

void check_p(const char* op, double p) {
  // Written as a negated test so that NaN is rejected too.
  if (!(p >= 0.0 && p < 1.0))
    throw ValueError(std::string(op) + ": p must be in [0, 1), got " + std::to_string(p));
}

uint64_t fresh_seed() {
  Generator& g = default_generator();
  return (uint64_t{g.next_u32()} << 32) | g.next_u32();
}

}  // namespace

Var dropout(const Var& x, double p, Generator& gen, bool training) {
  check_p("dropout", p);
  if (!training || p == 0.0) return x;
  if (!is_floating(x.dtype()))
    throw DTypeError("dropout: expected a floating tensor (f32 or f64), got " + std::string(dtype_name(x.dtype())) +
                     " of shape " + shape_str(x.shape()));
  // keep [*]: true with probability 1 - p. The mask holds 0 or 1/(1-p) in x's dtype, so one
  // multiply both drops and rescales, and the gradient is the same mask times g.
  Tensor keep = bernoulli(x.shape(), 1.0 - p, gen);
  Tensor scale = lumen::mul(keep.to(x.dtype()), 1.0 / (1.0 - p));
  return x * Var(scale);
}

Dropout::Dropout(const DropoutOptions& options)
    : Module("Dropout"), p_(options.p), own_gen_(options.seed ? *options.seed : fresh_seed()), gen_(&own_gen_) {
  check_p("Dropout", options.p);
}

Dropout::Dropout(const DropoutOptions& options, Generator& gen)
    : Module("Dropout"), p_(options.p), own_gen_(0), gen_(&gen) {
  check_p("Dropout", options.p);
}

Var Dropout::forward(const Var& x) const {
  auto scope = enter_scope();
  return dropout(x, p_, *gen_, is_training());
}

}  // namespace lumen::nn
