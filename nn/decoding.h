#pragma once
// Decoding: what greedy and beam search return, and beam search's bookkeeping. The RNN decoder
// (nn/seq2seq.h) and the transformer decoders (nn/transformer_models.h) score the next token
// in their own ways; which partial outputs to keep from those scores is the same for both, so
// it lives here once.

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace lumen::nn {

struct DecodeOptions {
  int64_t bos;          // y_0, the token that starts every output
  int64_t eos = -1;     // a sequence ends after emitting it (-1: run max_len steps)
  int64_t max_len = 0;  // at most this many tokens are emitted
  int64_t pad = 0;      // fills the tokens after eos
  // Beam search ranks finished sequences by score / length^length_penalty (0: raw score).
  double length_penalty = 0.0;
};

struct Decoded {
  Tensor tokens;   // i64 [B, max_len]: the emitted tokens (eos included), then pad
  Tensor lengths;  // i64 [B]: how many tokens were emitted
  Tensor scores;   // f64 [B]: the sum of the emitted tokens' log-probabilities
  Tensor alphas;   // [B, max_len, S]: alpha_t of every emitted token (zero elsewhere and without attention)
};

// An empty result for B sources of length S: every token pad, every weight zero.
Decoded empty_decoded(int64_t B, int64_t S, const DecodeOptions& options, DType alpha_dtype);

// One partial (or finished) output of beam search.
struct Hypothesis {
  std::vector<int64_t> tokens;              // emitted so far, eos included once finished
  std::vector<std::vector<double>> alphas;  // one row of S attention weights per token
  double score = 0.0;                       // sum of the tokens' log-probabilities
};

// The beam of one source sentence. Each step extends every active hypothesis by every token,
// keeps the 2 * width best candidates, retires those ending in eos (if they rank in the top
// width), and keeps the best `width` others growing.
class Beam {
 public:
  Beam(int64_t width, const DecodeOptions& options);

  // The hypotheses still growing, best first; at the start, one empty hypothesis.
  const std::vector<Hypothesis>& active() const { return active_; }
  bool done() const { return active_.empty(); }

  // log_p [n, V]: the next-token log-probabilities of the n active hypotheses; alpha [n, S]:
  // their attention weights, or undefined. Returns, for every hypothesis now active, the index
  // of the one it extends, so a decoder can reorder its state rows to match.
  std::vector<int64_t> advance(const Tensor& log_p, const Tensor& alpha);

  // The best output: finished, or still active when max_len cut it off.
  Hypothesis best() const;

 private:
  double normalised(const Hypothesis& h) const;

  int64_t width_;
  DecodeOptions options_;
  std::vector<Hypothesis> active_;
  std::vector<Hypothesis> finished_;
};

// Writes hypothesis h as row b of out (tokens, length, score, attention weights).
void write_row(Decoded& out, int64_t b, const Hypothesis& h);

}  // namespace lumen::nn
