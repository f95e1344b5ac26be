#pragma once
// Hard attention: look at ONE location instead of a blend. Show, Attend and Tell's stochastic
// variant samples the location s_t ~ Categorical(alpha_t) and uses z_t = a_{s_t}.
//
// The choice of a location is not differentiable: autograd sees an index, and no gradient
// reaches alpha_t through it. REINFORCE gets one anyway. For a reward R(s) of the chosen
// location, grad E_{s ~ alpha}[R(s)] = E[(R(s) - b) grad log alpha_s] for any baseline b that
// does not depend on s. So a surrogate loss
//   L = -mean_batch (R - b) log alpha_s
// has, in expectation, the gradient -grad E[R]: minimising it maximises the expected reward.
// A moving average of past rewards makes a good b (it lowers the variance, not the mean), and
// an entropy bonus keeps alpha from collapsing too early.
#include <cstdint>

#include "autograd/var.h"
#include "tensor/random.h"

namespace lumen::nn {

// One location per row drawn from probabilities alpha [B, L] (rows sum to 1, f32 or f64)
// with `gen`: i64 [B]. The same seed draws the same locations.
Tensor sample_locations(const Tensor& alpha, Generator& gen);
// The most probable location of each row (the deterministic "argmax" hard attention): i64 [B].
Tensor argmax_locations(const Tensor& alpha);

// z_t = a_{s_t}: the feature at each row's location. a [B, L, D], location i64 [B] -> [B, D].
// a gets its gradient (at the chosen rows); the location, an index, gets none.
Var hard_attention_context(const Var& a, const Tensor& location);

// b <- decay * b + (1 - decay) * mean(reward), starting from the first batch's mean.
class MovingAverageBaseline {
 public:
  explicit MovingAverageBaseline(double decay = 0.9) : decay_(decay) {}
  double value() const { return value_; }
  bool started() const { return started_; }
  // Folds in a batch of rewards [B] and returns the new value.
  double update(const Tensor& reward);

 private:
  double decay_;
  double value_ = 0.0;
  bool started_ = false;
};

struct ReinforceOptions {
  double baseline = 0.0;        // b: must not depend on this batch's sampled locations
  double entropy_weight = 0.0;  // beta: the loss also subtracts beta * mean_batch H(alpha)
};

// The REINFORCE surrogate loss, a scalar:
//   L = -mean_b (R_b - baseline) * log_alpha[b, s_b]  -  entropy_weight * mean_b H(alpha_b)
// log_alpha [B, L] (log-probabilities, e.g. log_softmax(e)), location i64 [B], reward [B]
// (a plain tensor: no gradient flows into the reward). Its gradient with respect to whatever
// produced log_alpha is the REINFORCE estimate of -grad E[R] (minus the entropy's gradient).
Var reinforce_loss(const Var& log_alpha, const Tensor& location, const Tensor& reward,
                   const ReinforceOptions& options = {});

}  // namespace lumen::nn
