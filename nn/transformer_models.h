#pragma once
// The three transformer families, built from the blocks in nn/transformer.h:
//
//   EncoderOnly (BERT-style)      tokens -> bidirectional encoder -> a masked-token head (predict
//                                 the hidden tokens) and a [CLS] classifier head (position 0)
//   DecoderOnly (GPT-style)       tokens -> causal blocks -> next-token logits; generation by
//                                 greedy decoding or by sampling (temperature, top-k), with a
//                                 key-value cache so each new token costs one position's work
//   EncoderDecoder (the original) source -> encoder; target prefix -> decoder with cross-attention
//                                 -> next-token logits; greedy and beam decoding
//
// Token ids are i64. "real" masks are bool [B, T], true at real tokens and false at padding;
// undefined means "no padding".
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "autograd/var.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/positional.h"
#include "nn/seq2seq.h"
#include "nn/transformer.h"
#include "tensor/random.h"

namespace lumen::nn {

// ---- BERT-style ------------------------------------------------------------------------------

struct EncoderOnlyOptions {
  int64_t vocab_size;
  int64_t max_len;
  int64_t d_model;
  int64_t heads;
  int64_t ffn;
  int64_t num_layers;
  int64_t num_classes = 2;  // the [CLS] classifier's outputs
  double dropout = 0.1;
  Activation activation = Activation::gelu;
  bool norm_first = false;  // BERT is post-norm
  PositionalKind positional = PositionalKind::learned;
  DType dtype = DType::f32;
};

// Children: tok (Embedding), pos, emb_norm (LayerNorm of the embeddings, as BERT), drop,
// encoder (TransformerEncoder: encoder.blocks.0, ...), the masked-token head mlm_dense (D -> D),
// mlm_norm, mlm_out (D -> V), and the classifier head pooler (D -> D, tanh) and classifier (D -> C).
class EncoderOnly : public Module {
 public:
  explicit EncoderOnly(const EncoderOnlyOptions& options, Generator& gen = default_generator());

  // ids [B, T] -> the encoder's output H [B, T, D]. need_weights fills self_alphas (one
  // [B, H, T, T] per block) for heatmaps.
  StackOutput encode(const Tensor& ids, const Tensor& real = Tensor(), bool need_weights = false) const;
  // H [B, T, D] -> [B, T, V]: a prediction of the token at every position.
  Var mlm_logits(const Var& H) const;
  // H [B, T, D] -> [B, C] from the first position, the [CLS] token.
  Var cls_logits(const Var& H) const;

  // Shorthands: ids -> mlm logits, ids -> class logits.
  Var forward_mlm(const Tensor& ids, const Tensor& real = Tensor()) const { return mlm_logits(encode(ids, real).out); }
  Var forward_cls(const Tensor& ids, const Tensor& real = Tensor()) const { return cls_logits(encode(ids, real).out); }

  const EncoderOnlyOptions& options() const { return options_; }
  const Embedding& tok() const { return tok_; }
  const TransformerEncoder& encoder() const { return encoder_; }

 private:
  EncoderOnlyOptions options_;
  Embedding tok_;
  AnyPositionalEncoding pos_;
  LayerNorm emb_norm_;
  Dropout drop_;
  TransformerEncoder encoder_;
  Linear mlm_dense_;
  LayerNorm mlm_norm_;
  Linear mlm_out_;
  Linear pooler_, classifier_;
};

struct MaskTokensOptions {
  int64_t mask_id;        // the [MASK] token
  int64_t vocab_size;     // random replacements are drawn from [first_random, vocab_size)
  int64_t first_random = 0;
  double prob = 0.15;     // the share of (real) positions to predict
  int64_t ignore_index = -100;
};
struct MaskedTokens {
  Tensor inputs;   // i64 [B, T]: the ids with the chosen positions hidden
  Tensor targets;  // i64 [B, T]: the original id at chosen positions, ignore_index elsewhere
};
// BERT's masking: each real position (real undefined: every position) is chosen with
// probability `prob`; a chosen one becomes [MASK] 80% of the time, a random token 10%, and stays
// as it is 10%.
MaskedTokens mask_tokens(const Tensor& ids, const MaskTokensOptions& options, Generator& gen,
                         const Tensor& real = Tensor());

// ---- GPT-style -------------------------------------------------------------------------------

struct DecoderOnlyOptions {
  int64_t vocab_size;
  int64_t max_len;  // the longest context (learned positions exist only up to it)
  int64_t d_model;
  int64_t heads;
  int64_t ffn;
  int64_t num_layers;
  double dropout = 0.0;
  Activation activation = Activation::gelu;
  bool norm_first = true;  // pre-norm, with a final LayerNorm ln_f (GPT-2)
  bool tie_embeddings = false;  // the output layer reuses tok.weight (no head)
  bool bias = true;
  PositionalKind positional = PositionalKind::learned;
  DType dtype = DType::f32;
};

// One KV cache per block, and how many positions they hold.
struct GenerationCache {
  std::vector<KVCache> layers;
  int64_t length() const { return layers.empty() ? 0 : layers.front().length; }
  void clear() { layers.clear(); }
};

struct GenerateOptions {
  int64_t max_new_tokens;
  bool greedy = true;        // pick the most probable token; otherwise sample
  double temperature = 1.0;  // sampling: divides the logits (< 1 sharper, > 1 flatter)
  int64_t top_k = 0;         // sampling: only the k most probable tokens (0: all)
  bool use_cache = true;     // false recomputes the whole sequence at every step
  Generator* gen = nullptr;  // sampling: default_generator() when null
};

// Children: tok (Embedding), pos, drop, blocks (blocks.0, blocks.1, ...: causal
// TransformerEncoderBlocks), ln_f (pre-norm only), head (Linear D -> V; absent when tied).
class DecoderOnly : public Module {
 public:
  explicit DecoderOnly(const DecoderOnlyOptions& options, Generator& gen = default_generator());

  // ids [B, T] (T <= max_len) -> logits [B, T, V]: position t predicts token t + 1.
  Var forward(const Tensor& ids) const;
  // The same, but also every block's attention weights [B, H, T, T] (for heatmaps).
  std::vector<Var> attention_weights(const Tensor& ids) const;
  // ids [B, Tn]: the next tokens after what `cache` holds -> logits [B, Tn, V] for them. Runs
  // without a graph; the positions continue from cache.length().
  Var forward_cached(const Tensor& ids, GenerationCache& cache) const;
  // prompt [B, T0] -> [B, T0 + max_new_tokens]: the prompt and what follows it.
  Tensor generate(const Tensor& prompt, const GenerateOptions& options) const;

  const DecoderOnlyOptions& options() const { return options_; }
  const ModuleList<TransformerEncoderBlock>& blocks() const { return blocks_; }
  const Embedding& tok() const { return tok_; }

 private:
  Var embed(const Tensor& ids, int64_t offset) const;
  Var logits(const Var& h) const;

  DecoderOnlyOptions options_;
  Embedding tok_;
  AnyPositionalEncoding pos_;
  Dropout drop_;
  ModuleList<TransformerEncoderBlock> blocks_;
  std::unique_ptr<LayerNorm> ln_f_;
  std::unique_ptr<Linear> head_;
};

// The next token from logits [B, V] (greedy: the first maximum; else sampled as in options).
Tensor next_token(const Tensor& logits, const GenerateOptions& options);

// ---- the original transformer ----------------------------------------------------------------

struct EncoderDecoderOptions {
  int64_t src_vocab;
  int64_t tgt_vocab;
  int64_t max_len;  // longest source and longest target
  int64_t d_model;
  int64_t heads;
  int64_t ffn;
  int64_t num_encoder_layers;
  int64_t num_decoder_layers;
  double dropout = 0.1;
  Activation activation = Activation::relu;
  bool norm_first = false;  // the paper's post-norm
  PositionalKind positional = PositionalKind::sinusoidal;
  bool scale_embeddings = true;  // embeddings times sqrt(d_model), as in section 3.4
  DType dtype = DType::f32;
};

// Children: src_emb, tgt_emb (Embeddings), src_pos, tgt_pos, drop, encoder, decoder (stacks, each
// with a final "norm" when pre-norm), out (Linear D -> tgt_vocab).
class EncoderDecoder : public Module {
 public:
  explicit EncoderDecoder(const EncoderDecoderOptions& options, Generator& gen = default_generator());

  // src [B, S] -> memory [B, S, D]
  Var encode(const Tensor& src, const Tensor& src_real = Tensor()) const;
  // tgt_in [B, T] (BOS, y_1, ..., y_{T-1}), memory [B, S, D] -> logits [B, T, tgt_vocab].
  // need_weights: cross_alphas gets the cross-attention weights of every block.
  Var decode(const Tensor& tgt_in, const Var& memory, const Tensor& src_real = Tensor(),
             const Tensor& tgt_real = Tensor(), StackOutput* weights = nullptr) const;
  // Teacher forcing: both at once.
  Var forward(const Tensor& src, const Tensor& tgt_in, const Tensor& src_real = Tensor(),
              const Tensor& tgt_real = Tensor()) const;

  // Decoding (no graph). alphas holds the last block's cross-attention, averaged over heads.
  Decoded greedy_decode(const Tensor& src, const Tensor& src_real, const DecodeOptions& options) const;
  // Keeps the `width` best partial outputs per source; width 1 is greedy_decode.
  Decoded beam_search(const Tensor& src, const Tensor& src_real, int64_t width, const DecodeOptions& options) const;

  const EncoderDecoderOptions& options() const { return options_; }
  const TransformerEncoder& encoder() const { return encoder_; }
  const TransformerDecoder& decoder() const { return decoder_; }

 private:
  Var embed(const Embedding& emb, const AnyPositionalEncoding& pos, const Tensor& ids) const;

  EncoderDecoderOptions options_;
  Embedding src_emb_, tgt_emb_;
  AnyPositionalEncoding src_pos_, tgt_pos_;
  Dropout drop_;
  TransformerEncoder encoder_;
  TransformerDecoder decoder_;
  Linear out_;
};

}  // namespace lumen::nn
