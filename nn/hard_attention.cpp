#include "nn/hard_attention.h"

#include <string>
#include <vector>

#include "autograd/ops.h"

namespace lumen::nn {
namespace {

void check_probabilities(const char* op, const Tensor& alpha) {
  if (!alpha.defined() || !is_floating(alpha.dtype()) || alpha.dim() != 2 || alpha.size(1) == 0)
    throw ShapeError(std::string(op) + ": alpha must be f32 or f64 [B, L] with L > 0, got " +
                     (alpha.defined() ? std::string(dtype_name(alpha.dtype())) + " " + shape_str(alpha.shape())
                                      : std::string("an undefined tensor")));
}

void check_locations(const char* op, const Tensor& location, int64_t B, int64_t L) {
  if (!location.defined() || location.dtype() != DType::i64 || location.shape() != Shape{B})
    throw ShapeError(std::string(op) + ": location must be i64 [" + std::to_string(B) + "], got " +
                     (location.defined() ? std::string(dtype_name(location.dtype())) + " " +
                                               shape_str(location.shape())
                                         : std::string("an undefined tensor")));
  const std::vector<double> loc = location.to_vector();
  for (size_t b = 0; b < loc.size(); ++b)
    if (loc[b] < 0 || loc[b] >= static_cast<double>(L))
      throw IndexError(std::string(op) + ": location[" + std::to_string(b) + "] = " +
                       std::to_string(static_cast<int64_t>(loc[b])) + " is outside [0, " + std::to_string(L) + ")");
}

}  // namespace

Tensor sample_locations(const Tensor& alpha, Generator& gen) {
  check_probabilities("sample_locations", alpha);
  const int64_t B = alpha.size(0), L = alpha.size(1);
  const std::vector<double> p = alpha.to_vector();  // row-major [B, L]
  std::vector<int64_t> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const double* row = p.data() + b * L;
    // Inverse CDF: the first location whose running sum passes u. Rounding can leave the
    // total a hair below u; then the last location with any probability is the answer.
    const double u = gen.uniform();
    double cumulative = 0.0;
    int64_t chosen = -1, last_positive = 0;
    for (int64_t i = 0; i < L; ++i) {
      if (row[i] < 0.0)
        throw ValueError("sample_locations: alpha[" + std::to_string(b) + ", " + std::to_string(i) + "] = " +
                         std::to_string(row[i]) + " is negative");
      if (row[i] > 0.0) last_positive = i;
      cumulative += row[i];
      if (chosen < 0 && cumulative > u && row[i] > 0.0) chosen = i;
    }
    out[static_cast<size_t>(b)] = chosen >= 0 ? chosen : last_positive;
  }
  return Tensor::from_vector(out, {B});
}

Tensor argmax_locations(const Tensor& alpha) {
  check_probabilities("argmax_locations", alpha);
  return argmax(alpha, 1);
}

Var hard_attention_context(const Var& a, const Tensor& location) {
  if (!a.defined() || a.dim() != 3)
    throw ShapeError("hard_attention_context: features must be [B, L, D], got " +
                     (a.defined() ? shape_str(a.shape()) : std::string("(undefined)")));
  const int64_t B = a.size(0), L = a.size(1), D = a.size(2);
  check_locations("hard_attention_context", location, B, L);
  // index [B, 1, D]: row b reads a[b, location[b], :]
  Tensor index = location.reshape({B, 1, 1}).expand({B, 1, D}).contiguous();
  return squeeze(gather(a, 1, index), 1);
}

double MovingAverageBaseline::update(const Tensor& reward) {
  if (!reward.defined() || reward.numel() == 0)
    throw ValueError("MovingAverageBaseline: needs a non-empty batch of rewards");
  const double batch_mean = lumen::mean(reward.to(DType::f64)).item();
  value_ = started_ ? decay_ * value_ + (1.0 - decay_) * batch_mean : batch_mean;
  started_ = true;
  return value_;
}

Var reinforce_loss(const Var& log_alpha, const Tensor& location, const Tensor& reward,
                   const ReinforceOptions& options) {
  if (!log_alpha.defined() || log_alpha.dim() != 2 || !is_floating(log_alpha.dtype()))
    throw ShapeError("reinforce_loss: log_alpha must be f32 or f64 [B, L], got " +
                     (log_alpha.defined() ? shape_str(log_alpha.shape()) : std::string("(undefined)")));
  const int64_t B = log_alpha.size(0), L = log_alpha.size(1);
  check_locations("reinforce_loss", location, B, L);
  if (!reward.defined() || reward.shape() != Shape{B} || !is_floating(reward.dtype()))
    throw ShapeError("reinforce_loss: reward must be floating [" + std::to_string(B) + "], got " +
                     (reward.defined() ? std::string(dtype_name(reward.dtype())) + " " + shape_str(reward.shape())
                                       : std::string("an undefined tensor")));
  // log alpha_{s_b} [B]: the log-probability of the location that was chosen
  Var log_p = squeeze(gather(log_alpha, 1, location.unsqueeze(1)), 1);
  // (R_b - b) is a constant weight: the reward is not differentiated.
  Tensor advantage = lumen::add(reward.to(log_alpha.dtype()), -options.baseline);
  Var loss = -mean(log_p * Var(advantage));
  if (options.entropy_weight != 0.0) {
    // H(alpha_b) = -sum_i alpha_bi log alpha_bi [B]
    Var entropy = -sum(exp(log_alpha) * log_alpha, {1});
    loss = loss - mean(entropy) * options.entropy_weight;
  }
  return loss;
}

}  // namespace lumen::nn
