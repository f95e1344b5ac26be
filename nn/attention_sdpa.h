#pragma once
// Scaled dot-product attention, the core of every transformer (Vaswani et al. 2017):
//
//   S     = Q K^T / sqrt(d_k)          scores            [*, Tq, Tk]
//   alpha = softmax(S) over the keys   attention weights [*, Tq, Tk]  (0 where masked)
//   Z     = alpha V                    the output        [*, Tq, d_v]
//
// Q [*, Tq, d_k], K [*, Tk, d_k], V [*, Tk, d_v] with the same batch dims * (e.g. [B, H]).
//
// Masks say which keys each query may look at. `mask` is a bool tensor that broadcasts to
// [*, Tq, Tk], true where query i may attend to key j (padding: [B, 1, 1, Tk] from
// padding_mask(); anything else: any broadcastable shape). `causal` adds "no key after the
// query": query i sits at position Tk - Tq + i (the last Tq of the Tk positions, which is where
// new tokens sit when earlier keys come from a cache), and sees keys j <= Tk - Tq + i.
// Note the sense: true = attend, as everywhere in Lumen; PyTorch's key_padding_mask and bool
// attn_mask use true = ignore.
//
// A query whose keys are all masked gets alpha = 0 and Z = 0 (not NaN), with zero gradients.
//
// Two implementations compute the same function:
//  - sdpa_fused: the default. A blockwise ("flash") forward walks over blocks of keys with an
//    online softmax, so the [Tq, Tk] score matrix never exists: each thread holds one block of
//    it at a time. Its backward recomputes each block of scores from Q, K and the saved row
//    statistics. Fully masked blocks (above the causal diagonal) are skipped.
//  - sdpa_unfused: the composition of Var ops as written above (matmul, scale, masked_fill,
//    softmax, matmul). It returns alpha, for heatmaps, and supports dropout on alpha.
// scaled_dot_product_attention() picks the unfused one only when it must (weights asked for,
// or attention dropout while training).
#include <cstdint>

#include "autograd/var.h"
#include "tensor/random.h"

namespace lumen::nn {

struct SdpaOptions {
  bool causal = false;
  // Also return alpha [*, Tq, Tk] (materialises the score matrix: the unfused path).
  bool need_weights = false;
  // Scale of the scores; 0 means 1/sqrt(d_k).
  double scale = 0.0;
  // Dropout on alpha (unfused path only), with masks drawn from `gen` (default_generator()
  // when null). Applied only when `training` is true.
  double dropout_p = 0.0;
  bool training = false;
  Generator* gen = nullptr;
};

struct SdpaOutput {
  Var Z;      // [*, Tq, d_v]
  Var alpha;  // [*, Tq, Tk]; undefined unless need_weights
};

// Picks sdpa_fused or sdpa_unfused (see the top of this file).
SdpaOutput scaled_dot_product_attention(const Var& Q, const Var& K, const Var& V, const Tensor& mask = Tensor(),
                                        const SdpaOptions& options = {});

// The blockwise fused op: one graph node, "scaled_dot_product_attention". Returns Z only.
// Z's memory follows Q's layout: for Q a [B, H, T, d] view of a [B, T, H, d] tensor (heads
// split without a copy), Z is [B, H, T, d_v] stored as [B, T, H, d_v], so merging the heads
// back is a free view. Its backward is hand-written (blockwise, recomputing the scores); under
// create_graph it is written with Var ops instead, so it can be differentiated again.
Var sdpa_fused(const Var& Q, const Var& K, const Var& V, const Tensor& mask = Tensor(), bool causal = false,
               double scale = 0.0);

// The plain composition of Var ops (the reference the fused op is tested against).
SdpaOutput sdpa_unfused(const Var& Q, const Var& K, const Var& V, const Tensor& mask = Tensor(),
                        const SdpaOptions& options = {});

// ---- masks -------------------------------------------------------------------------------------
// bool [Tq, Tk], true where query i (at position Tk - Tq + i) may see key j: j <= Tk - Tq + i.
Tensor causal_mask(int64_t Tq, int64_t Tk);
// From a bool [B, Tk] (true at real tokens) to the [B, 1, 1, Tk] that broadcasts over heads and
// queries.
Tensor padding_mask(const Tensor& real);
// bool [B, T], true at positions t < lengths[b] (lengths i64 [B]).
Tensor lengths_mask(const Tensor& lengths, int64_t T);

// ---- the multi-head core -----------------------------------------------------------------------
// Attention over H heads read straight out of packed projections, and written straight into a
// [B, Tq, H*d_v] output, so that neither splitting the heads nor merging them copies anything
// (MultiHeadAttention's fast path; one graph node whose backward writes the packed gradient).
//   self-attention:  qkv [B, T, 3*H*d] holds Q, K, V side by side (nn.MultiheadAttention's
//                    in_proj order); head h of Q is columns [h*d, (h+1)*d).
//   cross-attention: q [B, Tq, H*d], kv [B, Tk, 2*H*d] (K then V).
// mask broadcasts to [B, H, Tq, Tk]. Returns Z [B, Tq, H*d].
Var multi_head_sdpa(const Var& qkv, int64_t heads, const Tensor& mask = Tensor(), bool causal = false);
Var multi_head_sdpa(const Var& q, const Var& kv, int64_t heads, const Tensor& mask = Tensor(), bool causal = false);

}  // namespace lumen::nn
