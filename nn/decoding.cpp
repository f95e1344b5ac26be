#include "nn/decoding.h"

#include <algorithm>
#include <cmath>

namespace lumen::nn {

Decoded empty_decoded(int64_t B, int64_t S, const DecodeOptions& o, DType alpha_dtype) {
  return Decoded{.tokens = Tensor::full({B, o.max_len}, static_cast<double>(o.pad), DType::i64),
                 .lengths = Tensor::zeros({B}, DType::i64),
                 .scores = Tensor::zeros({B}, DType::f64),
                 .alphas = Tensor::zeros({B, o.max_len, S}, alpha_dtype)};
}

Beam::Beam(int64_t width, const DecodeOptions& options) : width_(width), options_(options), active_(1) {}

double Beam::normalised(const Hypothesis& h) const {
  if (options_.length_penalty == 0.0) return h.score;
  return h.score / std::pow(static_cast<double>(std::max<size_t>(h.tokens.size(), 1)), options_.length_penalty);
}

std::vector<int64_t> Beam::advance(const Tensor& log_p, const Tensor& alpha) {
  struct Candidate {
    double score;
    int64_t parent;  // index of the active hypothesis it extends
    int64_t token;
  };
  const int64_t n = static_cast<int64_t>(active_.size());
  const int64_t V = log_p.size(1);
  const int64_t S = alpha.defined() ? alpha.size(1) : 0;
  const std::vector<double> lp = log_p.to_vector();
  const std::vector<double> al = alpha.defined() ? alpha.to_vector() : std::vector<double>();

  std::vector<Candidate> cands;
  cands.reserve(static_cast<size_t>(n * V));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t v = 0; v < V; ++v)
      cands.push_back({active_[static_cast<size_t>(i)].score + lp[static_cast<size_t>(i * V + v)], i, v});
  // Best first; ties go to the lower (parent, token), as argmax takes the first maximum, so
  // that width 1 is exactly greedy decoding.
  const size_t keep = std::min(cands.size(), static_cast<size_t>(2 * width_));
  std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep), cands.end(),
                    [](const Candidate& a, const Candidate& b) {
                      if (a.score != b.score) return a.score > b.score;
                      return a.parent != b.parent ? a.parent < b.parent : a.token < b.token;
                    });

  std::vector<Hypothesis> next;
  std::vector<int64_t> parents;
  for (size_t rank = 0; rank < keep && static_cast<int64_t>(next.size()) < width_; ++rank) {
    const Candidate& c = cands[rank];
    Hypothesis h = active_[static_cast<size_t>(c.parent)];
    h.tokens.push_back(c.token);
    h.score = c.score;
    if (S > 0) h.alphas.emplace_back(al.begin() + c.parent * S, al.begin() + (c.parent + 1) * S);
    if (c.token == options_.eos) {
      if (static_cast<int64_t>(rank) < width_) finished_.push_back(std::move(h));
    } else {
      next.push_back(std::move(h));
      parents.push_back(c.parent);
    }
  }
  active_ = std::move(next);
  // Scores only fall as tokens are added, so once `width` sequences have finished and the best
  // of them beats every active one, nothing still growing can overtake it. (With a length
  // penalty this is the usual heuristic rather than a guarantee.)
  if (static_cast<int64_t>(finished_.size()) >= width_ && !active_.empty()) {
    double best_finished = -INFINITY;
    for (const Hypothesis& h : finished_) best_finished = std::max(best_finished, normalised(h));
    if (best_finished >= active_.front().score) {
      active_.clear();
      parents.clear();
    }
  }
  return parents;
}

Hypothesis Beam::best() const {
  const Hypothesis* best = nullptr;
  for (const auto* pool : {&finished_, &active_})
    for (const Hypothesis& h : *pool)
      if (best == nullptr || normalised(h) > normalised(*best)) best = &h;
  return best == nullptr ? Hypothesis{} : *best;
}

void write_row(Decoded& out, int64_t b, const Hypothesis& h) {
  const int64_t L = out.tokens.size(1);
  const int64_t n = static_cast<int64_t>(h.tokens.size());
  const int64_t S = out.alphas.size(2);
  for (int64_t t = 0; t < n; ++t) out.tokens.data<int64_t>()[b * L + t] = h.tokens[static_cast<size_t>(t)];
  out.lengths.data<int64_t>()[b] = n;
  out.scores.data<double>()[b] = h.score;
  for (int64_t t = 0; t < static_cast<int64_t>(h.alphas.size()); ++t)
    out.alphas.select(0, b).select(0, t).copy_(Tensor::from_vector(h.alphas[static_cast<size_t>(t)], {S}, out.alphas.dtype()));
}

}  // namespace lumen::nn
