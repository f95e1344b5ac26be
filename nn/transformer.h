#pragma once
// Transformer blocks (Vaswani et al. 2017, section 3.1) and stacks of them.
//
//   FeedForward:              FFN(x) = W_2 act(W_1 x + b_1) + b_2, the same for every position
//   TransformerEncoderBlock:  self-attention, then FFN
//   TransformerDecoderBlock:  masked (causal) self-attention, then cross-attention over the
//                             encoder's output ("memory"), then FFN
//
// Every sub-layer sits on a residual connection, with dropout on its output, and a LayerNorm:
//   post-norm (the paper):   x = LayerNorm(x + Dropout(Sublayer(x)))
//   pre-norm (GPT-2 on):     x = x + Dropout(Sublayer(LayerNorm(x)))
// Pre-norm keeps an un-normalised residual path from input to output, which trains deep stacks
// without warm-up; a stack of pre-norm blocks then needs one final LayerNorm.
//
// Names and layouts follow PyTorch's nn.TransformerEncoderLayer / nn.TransformerDecoderLayer
// (batch_first=True, norm_first = pre-norm), so their state_dicts load across:
//   encoder block: self_attn.{in_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias},
//                  linear1, linear2, norm1, norm2
//   decoder block: self_attn.*, multihead_attn.*, linear1, linear2, norm1, norm2, norm3
// The blocks therefore keep linear1 and linear2 themselves and run them through feed_forward(),
// the same function FeedForward runs. Stacks hold their blocks in a ModuleList registered as
// "blocks": paths read "blocks.0.self_attn.in_proj_weight".
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "nn/dropout.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/multihead.h"
#include "tensor/random.h"

namespace lumen::nn {

// ---- a list of modules named "0", "1", ... -----------------------------------------------------

template <class M>
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  // Adds `m` under the name "<index>". Fill the list before registering it with its parent, so
  // that its items' parameters learn their full paths.
  M& push_back(std::unique_ptr<M> m) {
    M& ref = *m;
    items_.push_back(std::move(m));
    register_module(std::to_string(items_.size() - 1), ref);
    return ref;
  }
  size_t size() const { return items_.size(); }
  // The list's name scope, for the loop that runs its items (a list has no forward of its own),
  // so graphs group them under "blocks.0", "blocks.1", ...
  NameScope scope() const { return enter_scope(); }
  const M& operator[](size_t i) const { return *items_.at(i); }
  M& operator[](size_t i) { return *items_.at(i); }

 private:
  std::vector<std::unique_ptr<M>> items_;
};

// ---- feed-forward ------------------------------------------------------------------------------

enum class Activation { relu, gelu };
const char* activation_name(Activation a);
Var activate(const Var& x, Activation a);

// linear2(dropout(act(linear1(x)))): the position-wise feed-forward, as PyTorch's layers run it.
Var feed_forward(const Var& x, const Linear& linear1, const Linear& linear2, Activation act, const Dropout& dropout);

struct FeedForwardOptions {
  int64_t dim;     // d_model
  int64_t hidden;  // the inner size (4 * d_model in the paper)
  Activation activation = Activation::relu;
  double dropout = 0.0;  // after the activation
  bool bias = true;
  DType dtype = DType::f32;
};

class FeedForward : public Module {
 public:
  explicit FeedForward(const FeedForwardOptions& options, Generator& gen = default_generator());
  // x [*, dim] -> [*, dim]
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }
  const Linear& linear1() const { return linear1_; }
  const Linear& linear2() const { return linear2_; }
  const FeedForwardOptions& options() const { return options_; }

 private:
  FeedForwardOptions options_;
  Linear linear1_, linear2_;
  Dropout dropout_;
};

// ---- blocks ------------------------------------------------------------------------------------

struct TransformerBlockOptions {
  int64_t d_model;
  int64_t heads;
  int64_t ffn;            // the feed-forward's inner size (PyTorch's dim_feedforward)
  double dropout = 0.1;   // on every sub-layer's output, inside the FFN and on the attention weights
  Activation activation = Activation::relu;
  bool norm_first = false;  // pre-norm; false is the paper's post-norm
  double layer_norm_eps = 1e-5;
  bool bias = true;         // every Linear and the attention projections
  DType dtype = DType::f32;
};

struct BlockOutput {
  Var out;          // [B, T, d_model]
  Var self_alpha;   // [B, H, T, T] when asked for (AttentionArgs::need_weights)
  Var cross_alpha;  // [B, H, T, S], decoder blocks only
};

class TransformerEncoderBlock : public Module {
 public:
  explicit TransformerEncoderBlock(const TransformerBlockOptions& options, Generator& gen = default_generator());
  // x [B, T, d_model]; args: the self-attention's masks (causal for a GPT block), weights, cache.
  BlockOutput forward(const Var& x, const AttentionArgs& args = {}) const;

  const TransformerBlockOptions& options() const { return options_; }
  const MultiHeadAttention& self_attn() const { return self_attn_; }
  const LayerNorm& norm1() const { return norm1_; }
  const LayerNorm& norm2() const { return norm2_; }

 private:
  TransformerBlockOptions options_;
  MultiHeadAttention self_attn_;
  Linear linear1_, linear2_;
  LayerNorm norm1_, norm2_;
  Dropout dropout_, dropout1_, dropout2_;
};

class TransformerDecoderBlock : public Module {
 public:
  explicit TransformerDecoderBlock(const TransformerBlockOptions& options, Generator& gen = default_generator());
  // x [B, T, d_model], memory [B, S, d_model] (the encoder's output).
  // self_args: the masked self-attention (causal by default); cross_args: attention over memory
  // (its key_padding_mask is the source's padding).
  BlockOutput forward(const Var& x, const Var& memory, const AttentionArgs& self_args = {.causal = true},
                      const AttentionArgs& cross_args = {}) const;

  const TransformerBlockOptions& options() const { return options_; }
  const MultiHeadAttention& self_attn() const { return self_attn_; }
  const MultiHeadAttention& multihead_attn() const { return multihead_attn_; }

 private:
  TransformerBlockOptions options_;
  MultiHeadAttention self_attn_, multihead_attn_;
  Linear linear1_, linear2_;
  LayerNorm norm1_, norm2_, norm3_;
  Dropout dropout_, dropout1_, dropout2_, dropout3_;
};

// ---- stacks ------------------------------------------------------------------------------------

struct TransformerStackOptions {
  TransformerBlockOptions block;
  int64_t num_layers;
  // A LayerNorm "norm" after the last block: what a pre-norm stack needs, since its blocks
  // leave the residual stream un-normalised.
  bool final_norm = false;
};

struct StackOutput {
  Var out;                         // [B, T, d_model]
  std::vector<Var> self_alphas;    // one [B, H, T, T] per block, when asked for
  std::vector<Var> cross_alphas;   // one [B, H, T, S] per block (decoder), when asked for
};

class TransformerEncoder : public Module {
 public:
  explicit TransformerEncoder(const TransformerStackOptions& options, Generator& gen = default_generator());
  // x [B, T, d_model]. With `caches` (one per block) each block's self-attention uses its cache.
  StackOutput forward(const Var& x, const AttentionArgs& args = {}, std::vector<KVCache>* caches = nullptr) const;
  const ModuleList<TransformerEncoderBlock>& blocks() const { return blocks_; }
  const TransformerStackOptions& options() const { return options_; }

 private:
  TransformerStackOptions options_;
  ModuleList<TransformerEncoderBlock> blocks_;
  std::unique_ptr<LayerNorm> norm_;
};

class TransformerDecoder : public Module {
 public:
  explicit TransformerDecoder(const TransformerStackOptions& options, Generator& gen = default_generator());
  // x [B, T, d_model], memory [B, S, d_model].
  StackOutput forward(const Var& x, const Var& memory, const AttentionArgs& self_args = {.causal = true},
                      const AttentionArgs& cross_args = {}) const;
  const ModuleList<TransformerDecoderBlock>& blocks() const { return blocks_; }
  const TransformerStackOptions& options() const { return options_; }

 private:
  TransformerStackOptions options_;
  ModuleList<TransformerDecoderBlock> blocks_;
  std::unique_ptr<LayerNorm> norm_;
};

}  // namespace lumen::nn
