#pragma once
// Multi-head attention (Vaswani et al. 2017, section 3.2.2):
//
//   Q_h = query W_q,h    K_h = key W_k,h    V_h = value W_v,h      h = 1..H, each of size d = D/H
//   Z_h = softmax(Q_h K_h^T / sqrt(d)) V_h                         one attention per head
//   out = [Z_1; ...; Z_H] W_o + b_o                                 the heads side by side, projected
//
// Parameters as in PyTorch's nn.MultiheadAttention(D, H, batch_first=True), so weights load
// across unchanged: in_proj_weight [3D, D] (rows W_q, then W_k, then W_v; head h owns rows
// h*d .. (h+1)*d of each third), in_proj_bias [3D], out_proj.weight [D, D], out_proj.bias [D].
//
// Self-attention passes the same Var as query, key and value; cross-attention passes the
// decoder's states as query and the encoder's output as key and value. Both run on one packed
// projection and the fused attention core (nn/attention_sdpa.h), so heads are split and merged
// without copies. Asking for the weights (heatmaps) or using attention dropout while training
// runs the unfused path instead.
//
// Masks use Lumen's sense, true = may attend (PyTorch's masks use true = ignore):
//   key_padding_mask  bool [B, Tk], true at real keys;
//   attn_mask         bool, broadcastable to [B, H, Tq, Tk] (e.g. [Tq, Tk]), true where allowed;
//   causal            query i sees keys j <= Tk - Tq + i.
#include <cstdint>

#include "autograd/var.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

struct MultiHeadAttentionOptions {
  int64_t embed_dim;     // D
  int64_t num_heads;     // H; each head has size D / H
  bool bias = true;      // in_proj_bias and out_proj.bias
  double dropout = 0.0;  // on the attention weights, while training
  DType dtype = DType::f32;
};

// The keys and values of the positions seen so far, for generating one token at a time: each
// new token's query attends to every cached key, and only the new keys and values are computed.
// For decoding only: nothing that goes through the cache records a gradient.
struct KVCache {
  Tensor K = {}, V = {};  // [B, H, capacity, d], filled up to `length`
  int64_t length = 0;     // positions cached so far
  int64_t capacity = 0;   // positions to reserve at the first call (0: as many as needed, growing)
  void clear() { length = 0; }
};

// Masks and extras of one attention call.
struct AttentionArgs {
  Tensor key_padding_mask = {};  // bool [B, Tk], true at real keys (undefined: all real)
  Tensor attn_mask = {};         // bool, broadcastable to [B, H, Tq, Tk], true where allowed
  bool causal = false;           // no key after the query
  bool need_weights = false;     // also return alpha [B, H, Tq, Tk]
  // Self-attention only: append this call's keys and values to the cache and attend over all
  // of it. The call then runs without recording a graph.
  KVCache* cache = nullptr;
};

struct MultiHeadAttentionOutput {
  Var Z;      // [B, Tq, D], after the output projection
  Var alpha;  // [B, H, Tq, Tk], per head; undefined unless need_weights
};

// The combined mask for attention over [B, H, Tq, Tk]: key_padding_mask [B, Tk] and attn_mask,
// either or both undefined. Returns an undefined Tensor when there is none.
Tensor combine_masks(const Tensor& key_padding_mask, const Tensor& attn_mask);

class MultiHeadAttention : public Module {
 public:
  // in_proj_weight: xavier_uniform; out_proj.weight: Linear's default; both biases zero, as in
  // PyTorch. The dropout masks come from a generator of its own, seeded from `gen`.
  explicit MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen = default_generator());

  // query [B, Tq, D], key and value [B, Tk, D] -> Z [B, Tq, D] and (if asked) alpha [B, H, Tq, Tk]
  MultiHeadAttentionOutput forward(const Var& query, const Var& key, const Var& value,
                                   const AttentionArgs& args = {}) const;
  // forward(x, x, x, args)
  MultiHeadAttentionOutput self_attention(const Var& x, const AttentionArgs& args = {}) const {
    return forward(x, x, x, args);
  }

  const MultiHeadAttentionOptions& options() const { return options_; }
  int64_t head_dim() const { return options_.embed_dim / options_.num_heads; }
  const Var& in_proj_weight() const { return in_proj_weight_; }  // [3D, D]
  const Var& in_proj_bias() const { return in_proj_bias_; }      // [3D], undefined without bias
  const Linear& out_proj() const { return out_proj_; }

 private:
  // Rows [first, first + count) of the input projection, applied to x [B, T, D].
  Var project(const Var& x, int64_t first, int64_t count) const;
  MultiHeadAttentionOutput forward_cached(const Var& x, const Tensor& mask, const AttentionArgs& args) const;

  MultiHeadAttentionOptions options_;
  Linear out_proj_;
  Var in_proj_weight_;
  Var in_proj_bias_;
  mutable Generator dropout_gen_;
};

}  // namespace lumen::nn
