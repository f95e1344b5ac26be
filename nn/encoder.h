#pragma once
// Encoder: runs a recurrent cell over a padded batch of sequences, h_i = f_enc(h_{i-1}, x_i),
// and keeps every h_i: the memory the decoder's attention reads.
//
// Sequences of different lengths share one [B, T] batch; `lengths` [B] says how many steps of
// each row are real. Past its length a row's state is carried unchanged and its h_i are zero,
// so the final state is the state after the row's own last token. Bidirectional encoders also
// run a second cell from each row's own last real token back to its first, and concatenate
// the two directions: h_i = [h_i(fwd); h_i(bwd)].
//
// Every time step runs inside the name scope "t1", "t2", ... so graph exports draw one cluster
// per step; position i's forward and backward steps share the cluster "t<i+1>".
#include <cstdint>
#include <memory>
#include <optional>

#include "autograd/var.h"
#include "nn/embedding.h"
#include "nn/module.h"
#include "nn/rnn.h"
#include "tensor/random.h"

namespace lumen::nn {

struct EncoderOptions {
  int64_t input_size;   // E: the size of each x_i (the embedding size when vocab_size > 0)
  int64_t hidden_size;  // H per direction
  CellType cell = CellType::gru;
  bool bidirectional = false;
  // > 0: the encoder owns an Embedding(vocab_size, input_size) and reads token ids.
  int64_t vocab_size = 0;
  std::optional<int64_t> padding_idx = std::nullopt;  // for that embedding
  DType dtype = DType::f32;
};

struct EncoderOutput {
  Var h;              // [B, T, H * dirs]: h_i for every position, zero at padded positions
  CellState final;    // [B, H * dirs]: [fwd state after the last real token; bwd state at the first]
  Tensor mask;        // bool [B, T], true at real tokens; undefined when no lengths were given
};

// mask[b, t] = t < lengths[b]: bool [B, T] from i64 lengths [B] (each in [0, T]).
Tensor length_mask(const Tensor& lengths, int64_t T);

class Encoder : public Module {
 public:
  explicit Encoder(const EncoderOptions& options, Generator& gen = default_generator());

  // x [B, T, E] (any strides) and optional i64 lengths [B] (undefined: every row has T steps).
  EncoderOutput forward(const Var& x, const Tensor& lengths = Tensor()) const;
  // Token ids i64 [B, T], embedded by the encoder's own Embedding (needs vocab_size > 0).
  EncoderOutput forward(const Tensor& ids, const Tensor& lengths = Tensor()) const;

  const EncoderOptions& options() const { return options_; }
  int64_t directions() const { return options_.bidirectional ? 2 : 1; }
  // The size of h_i and of the final state: hidden_size * directions.
  int64_t output_size() const { return options_.hidden_size * directions(); }
  const RecurrentCell& fwd() const { return *fwd_; }
  const RecurrentCell* bwd() const { return bwd_.get(); }     // null unless bidirectional
  const Embedding* embedding() const { return embedding_.get(); }  // null unless vocab_size > 0

 private:
  // x_at(t) gives the input [B, E] at step t.
  template <class InputAt>
  EncoderOutput run(const InputAt& x_at, int64_t B, int64_t T, const Tensor& lengths) const;

  EncoderOptions options_;
  std::unique_ptr<Embedding> embedding_;
  std::unique_ptr<RecurrentCell> fwd_, bwd_;
};

}  // namespace lumen::nn
