#pragma once
// Encoder-decoder models, as in the notes' cheat-sheet:
//
//   encode:   h_i = f_enc(h_{i-1}, x_i)                        (nn/encoder.h)
//   decode:   s_t = f_dec(s_{t-1}, emb(y_{t-1}), c)            the decoder state
//   attend:   e_ti = score(s, h_i), alpha_t = softmax(e_t), c_t = sum_i alpha_ti h_i
//   predict:  p(y_t) = softmax(W_o [s_t; c_t] + b_o)
//
// Without attention the context is one fixed vector, the encoder's final state (the
// bottleneck of lesson 01). With attention it is recomputed at every step, scored with
// s_{t-1} before the state update (Bahdanau) or with s_t after it (Luong). Input feeding
// gives the state update a context too: c_t when it is scored with s_{t-1}, c_{t-1} when it
// is scored with s_t.
//
// Training uses teacher forcing: the decoder reads the gold y_{t-1}, and the loss is the
// cross-entropy of every step's prediction. Decoding reads its own predictions: greedily, or
// keeping the `width` best partial sequences (beam search).
#include <cstdint>
#include <memory>
#include <optional>

#include "autograd/var.h"
#include "nn/attention.h"
#include "nn/decoding.h"
#include "nn/embedding.h"
#include "nn/encoder.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/rnn.h"
#include "tensor/random.h"

namespace lumen::nn {

enum class AttentionType { none, bahdanau, luong };
const char* attention_type_name(AttentionType type);

// Which decoder state scores the memory: s_{t-1} (Bahdanau) or s_t (Luong). `automatic`
// picks the paper's choice for the attention type.
enum class AttentionQuery { automatic, previous_state, current_state };

struct DecoderOptions {
  int64_t vocab_size;   // target vocabulary V (for the embedding and the output layer)
  int64_t embed_dim;    // size of emb(y)
  int64_t hidden_size;  // size of s_t
  int64_t context_dim;  // size of h_i and c_t: the encoder's output_size()
  CellType cell = CellType::gru;
  AttentionType attention = AttentionType::bahdanau;
  LuongScore luong_score = LuongScore::general;
  AttentionQuery query = AttentionQuery::automatic;
  bool input_feeding = true;
  int64_t attn_dim = 0;     // Bahdanau and Luong concat: the score's hidden size (0: hidden_size)
  int64_t max_src_len = 0;  // Luong location: the longest source
  // s_0 = tanh(W_init h_final) from the encoder's final state; false: s_0 = 0.
  bool init_from_encoder = true;
  std::optional<int64_t> padding_idx = std::nullopt;  // of the target embedding
  DType dtype = DType::f32;
};

// Everything a decoder step reads and updates. Row b of every field belongs to sequence b, so
// beam search can reorder the rows (reorder()).
struct DecoderState {
  CellState s;  // s_{t-1}
  Var c;        // c_{t-1}, or the fixed context when there is no attention
  Var h;        // [B, S, context_dim]: the memory h_i
  Var keys;     // the memory's part of the scores (Attention::precompute_keys)
  Tensor mask;  // bool [B, S] or undefined
};
// The state of rows `index` (i64 [N]) -> a state of N rows.
DecoderState reorder(const DecoderState& state, const Tensor& index);

struct DecoderStepOutput {
  Var logits;   // [B, V]: o_t = W_o [s_t; c_t] + b_o
  Var alpha_t;  // [B, S]; undefined without attention
};

struct DecoderOutput {
  Var logits;  // [B, T, V]
  Var alphas;  // [B, T, S]: alpha_t of every step; undefined without attention
};

class Decoder : public Module {
 public:
  explicit Decoder(const DecoderOptions& options, Generator& gen = default_generator());

  // s_0, c_0 and the memory from the encoder's output (whose h is [B, S, context_dim]).
  DecoderState start(const EncoderOutput& enc) const;
  // One step: reads y_{t-1} (i64 [B]), updates `state` to s_t and returns the prediction.
  DecoderStepOutput step(DecoderState& state, const Tensor& y_prev) const;
  // Teacher forcing over a whole target: y_in i64 [B, T] holds y_0 = BOS, y_1, ..., y_{T-1}.
  // Step t runs in the name scope "t<t+1>".
  DecoderOutput forward(const EncoderOutput& enc, const Tensor& y_in) const;

  const DecoderOptions& options() const { return options_; }
  // The resolved query (never automatic).
  AttentionQuery query() const { return query_; }
  const Attention* attention() const { return attn_.get(); }  // null without attention
  const RecurrentCell& cell() const { return *cell_; }
  const Embedding& embedding() const { return embedding_; }

 private:
  DecoderState start_impl(const EncoderOutput& enc) const;
  DecoderStepOutput step_impl(DecoderState& state, const Tensor& y_prev) const;

  DecoderOptions options_;
  AttentionQuery query_;
  Embedding embedding_;
  std::unique_ptr<Linear> init_;
  std::unique_ptr<Attention> attn_;
  std::unique_ptr<RecurrentCell> cell_;
  Linear out_;
};

// ---- decoding ---------------------------------------------------------------------------------

// Picks the most probable token at every step. Runs without recording a graph.
Decoded greedy_decode(const Decoder& decoder, const EncoderOutput& enc, const DecodeOptions& options);
// Keeps the `width` most probable partial outputs; width 1 gives exactly greedy_decode.
// Runs without recording a graph.
Decoded beam_search(const Decoder& decoder, const EncoderOutput& enc, int64_t width, const DecodeOptions& options);

// ---- the whole model --------------------------------------------------------------------------

struct Seq2SeqOptions {
  int64_t src_vocab;
  int64_t tgt_vocab;
  int64_t embed_dim;    // both embeddings
  int64_t hidden_size;  // the encoder's, per direction
  int64_t decoder_hidden = 0;  // 0: hidden_size
  CellType cell = CellType::gru;
  bool bidirectional = true;
  AttentionType attention = AttentionType::bahdanau;
  LuongScore luong_score = LuongScore::general;
  AttentionQuery query = AttentionQuery::automatic;
  bool input_feeding = true;
  int64_t attn_dim = 0;     // 0: the decoder's hidden size
  int64_t max_src_len = 0;  // Luong location only
  std::optional<int64_t> padding_idx = std::nullopt;  // of both embeddings
  DType dtype = DType::f32;
};

// Encoder + decoder, registered as "encoder" and "decoder": parameter paths read
// "encoder.fwd.weight_ih", "decoder.attn.W_s.weight", ...
class Seq2Seq : public Module {
 public:
  explicit Seq2Seq(const Seq2SeqOptions& options, Generator& gen = default_generator());

  // src i64 [B, S], src_lengths i64 [B] (undefined: all S), y_in i64 [B, T] -> logits, alphas.
  DecoderOutput forward(const Tensor& src, const Tensor& src_lengths, const Tensor& y_in) const;
  // The teacher-forced loss: mean cross-entropy of every step's prediction against y_out
  // [B, T]; targets equal to ignore_index (the padding) count for nothing.
  Var loss(const Tensor& src, const Tensor& src_lengths, const Tensor& y_in, const Tensor& y_out,
           int64_t ignore_index = -100) const;

  EncoderOutput encode(const Tensor& src, const Tensor& src_lengths) const { return encoder_.forward(src, src_lengths); }
  Decoded greedy_decode(const Tensor& src, const Tensor& src_lengths, const DecodeOptions& options) const;
  Decoded beam_search(const Tensor& src, const Tensor& src_lengths, int64_t width, const DecodeOptions& options) const;

  const Seq2SeqOptions& options() const { return options_; }
  const Encoder& encoder() const { return encoder_; }
  const Decoder& decoder() const { return decoder_; }

 private:
  Seq2SeqOptions options_;
  Encoder encoder_;
  Decoder decoder_;
};

// ---- helpers for training and scoring ---------------------------------------------------------

// The decoder's input for teacher forcing: [BOS, y_1, ..., y_{T-1}] from y [B, T] (i64).
Tensor shift_right(const Tensor& y, int64_t bos);
// bool [B]: pred [B, T'] matches target [B, T] at every position where target != pad
// (a position beyond pred's width counts as wrong).
Tensor sequence_correct(const Tensor& pred, const Tensor& target, int64_t pad);
// The fraction of whole sequences that are right (as sequence_correct).
double sequence_accuracy(const Tensor& pred, const Tensor& target, int64_t pad);
// The fraction of target tokens (target != pad) that pred gets right.
double token_accuracy(const Tensor& pred, const Tensor& target, int64_t pad);

}  // namespace lumen::nn
