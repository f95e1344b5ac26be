#include "nn/multihead.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/init.h"

namespace lumen::nn {
namespace {

std::string dt(DType d) { return std::string(dtype_name(d)); }

// x [B, T, H*d] -> [B, H, T, d] (a view when x is contiguous)
Var split_heads(const Var& x, int64_t H) {
  return transpose(reshape(x, {x.size(0), x.size(1), H, x.size(2) / H}), 1, 2);
}
// [B, H, T, d] -> [B, T, H*d] (a view when the heads are stored as [B, T, H, d])
Var merge_heads(const Var& z) {
  return reshape(transpose(z, 1, 2), {z.size(0), z.size(2), z.size(1) * z.size(3)});
}

// Tensor views of the same, for the cache.
Tensor split_heads(const Tensor& x, int64_t H) {
  return x.reshape({x.size(0), x.size(1), H, x.size(2) / H}).transpose(1, 2);
}

// Makes room for `needed` positions, keeping what is cached.
void reserve(KVCache& cache, int64_t B, int64_t H, int64_t d, int64_t needed, DType dtype) {
  const bool fits = cache.K.defined() && cache.K.size(2) >= needed && cache.K.size(0) == B && cache.K.size(1) == H &&
                    cache.K.size(3) == d && cache.K.dtype() == dtype;
  if (fits) return;
  if (cache.K.defined() && cache.length > 0 && (cache.K.size(0) != B || cache.K.size(1) != H || cache.K.size(3) != d))
    throw ShapeError("MultiHeadAttention: the KV cache holds keys of shape " + shape_str(cache.K.shape()) +
                     " but this call has batch " + std::to_string(B) + ", " + std::to_string(H) +
                     " heads of size " + std::to_string(d) + " (clear the cache between sequences)");
  const int64_t old = cache.K.defined() ? cache.K.size(2) : 0;
  const int64_t cap = std::max({needed, cache.capacity, 2 * old});
  Tensor K = Tensor::zeros({B, H, cap, d}, dtype), V = Tensor::zeros({B, H, cap, d}, dtype);
  if (cache.length > 0) {
    K.slice(2, 0, cache.length).copy_(cache.K.slice(2, 0, cache.length));
    V.slice(2, 0, cache.length).copy_(cache.V.slice(2, 0, cache.length));
  }
  cache.K = K;
  cache.V = V;
}

}  // namespace

Tensor combine_masks(const Tensor& key_padding_mask, const Tensor& attn_mask) {
  Tensor padding;
  if (key_padding_mask.defined()) {
    if (key_padding_mask.dtype() != DType::boolean || key_padding_mask.dim() != 2)
      throw ValueError("MultiHeadAttention: key_padding_mask must be bool [B, Tk] (true at real keys), got " +
                       dt(key_padding_mask.dtype()) + " of shape " + shape_str(key_padding_mask.shape()));
    padding = padding_mask(key_padding_mask);  // [B, 1, 1, Tk]
  }
  if (attn_mask.defined() && attn_mask.dtype() != DType::boolean)
    throw DTypeError("MultiHeadAttention: attn_mask must be bool (true = may attend), got " + dt(attn_mask.dtype()) +
                     " of shape " + shape_str(attn_mask.shape()));
  if (!padding.defined()) return attn_mask;
  if (!attn_mask.defined()) return padding;
  return logical_and(padding, attn_mask);
}

MultiHeadAttention::MultiHeadAttention(const MultiHeadAttentionOptions& options, Generator& gen)
    : Module("MultiHeadAttention"),
      options_(options),
      out_proj_({.in = options.embed_dim, .out = options.embed_dim, .bias = options.bias, .dtype = options.dtype}, gen),
      dropout_gen_(gen.next_u32()) {
  const int64_t D = options.embed_dim, H = options.num_heads;
  if (D <= 0 || H <= 0 || D % H != 0)
    throw ValueError("MultiHeadAttention: embed_dim " + std::to_string(D) + " must be a positive multiple of num_heads " +
                     std::to_string(H));
  if (!(options.dropout >= 0.0 && options.dropout < 1.0))
    throw ValueError("MultiHeadAttention: dropout must be in [0, 1), got " + std::to_string(options.dropout));
  Tensor w = Tensor::empty({3 * D, D}, options.dtype);
  init::xavier_uniform_(w, 1.0, gen);
  in_proj_weight_ = register_parameter("in_proj_weight", w);
  if (options.bias) {
    in_proj_bias_ = register_parameter("in_proj_bias", Tensor::zeros({3 * D}, options.dtype));
    Tensor b = out_proj_.bias().value();
    b.fill_(0.0);
  }
  register_module("out_proj", out_proj_);
}

Var MultiHeadAttention::project(const Var& x, int64_t first, int64_t count) const {
  const bool all = first == 0 && count == in_proj_weight_.size(0);
  Var W = all ? in_proj_weight_ : slice(in_proj_weight_, 0, first, first + count);
  Var b = !in_proj_bias_.defined() ? Var() : all ? in_proj_bias_ : slice(in_proj_bias_, 0, first, first + count);
  return linear(x, W, b);
}

MultiHeadAttentionOutput MultiHeadAttention::forward(const Var& query, const Var& key, const Var& value,
                                                     const AttentionArgs& args) const {
  auto scope = enter_scope();
  const int64_t D = options_.embed_dim, H = options_.num_heads;
  auto shapes = [&] {
    return "MultiHeadAttention: query " + shape_str(query.shape()) + ", key " + shape_str(key.shape()) + ", value " +
           shape_str(value.shape());
  };
  if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3 || query.size(2) != D || key.size(2) != D ||
      value.size(2) != D || key.size(0) != query.size(0) || value.size(0) != query.size(0) ||
      value.size(1) != key.size(1))
    throw ShapeError(shapes() + ": need query [B, Tq, " + std::to_string(D) + "] and key, value [B, Tk, " +
                     std::to_string(D) + "]");
  if (query.dtype() != options_.dtype || key.dtype() != options_.dtype || value.dtype() != options_.dtype)
    throw DTypeError(shapes() + ": inputs are " + dt(query.dtype()) + ", " + dt(key.dtype()) + ", " +
                     dt(value.dtype()) + " but the parameters are " + dt(options_.dtype));
  const Tensor mask = combine_masks(args.key_padding_mask, args.attn_mask);
  if (args.cache) {
    if (!query.same_as(key) || !key.same_as(value))
      throw ValueError("MultiHeadAttention: a KV cache is for self-attention (query, key and value the same Var)");
    return forward_cached(query, mask, args);
  }

  const bool dropping = options_.dropout > 0.0 && is_training();
  const bool self = query.same_as(key) && key.same_as(value);
  if (!args.need_weights && !dropping && key.same_as(value)) {
    // The fast path: one packed projection, heads read and written in place by the fused core.
    Var Z = self ? multi_head_sdpa(project(query, 0, 3 * D), H, mask, args.causal)
                 : multi_head_sdpa(project(query, 0, D), project(key, D, 2 * D), H, mask, args.causal);
    return {out_proj_.forward(Z), Var()};
  }
  // The general path: each projection on its own, heads as views, attention that may return
  // its weights or drop some of them.
  Var Q = split_heads(project(query, 0, D), H);      // [B, H, Tq, d]
  Var K = split_heads(project(key, D, D), H);        // [B, H, Tk, d]
  Var V = split_heads(project(value, 2 * D, D), H);  // [B, H, Tk, d]
  SdpaOutput att = scaled_dot_product_attention(Q, K, V, mask,
                                                {.causal = args.causal,
                                                 .need_weights = args.need_weights,
                                                 .dropout_p = options_.dropout,
                                                 .training = is_training(),
                                                 .gen = &dropout_gen_});
  return {out_proj_.forward(merge_heads(att.Z)), att.alpha};
}

MultiHeadAttentionOutput MultiHeadAttention::forward_cached(const Var& x, const Tensor& mask,
                                                            const AttentionArgs& args) const {
  NoGradGuard no_grad;
  KVCache& cache = *args.cache;
  const int64_t B = x.size(0), Tn = x.size(1), D = options_.embed_dim, H = options_.num_heads, d = head_dim();
  const int64_t start = cache.length, end = start + Tn;
  reserve(cache, B, H, d, end, x.dtype());
  Tensor qkv = project(x, 0, 3 * D).value();  // [B, Tn, 3D]
  // The new keys and values go into the cache; the queries attend to everything cached.
  cache.K.slice(2, start, end).copy_(split_heads(qkv.slice(2, D, 2 * D), H));
  cache.V.slice(2, start, end).copy_(split_heads(qkv.slice(2, 2 * D, 3 * D), H));
  cache.length = end;
  Var Q(split_heads(qkv.slice(2, 0, D), H));  // [B, H, Tn, d]
  Var K(cache.K.slice(2, 0, end)), V(cache.V.slice(2, 0, end));
  SdpaOutput att = scaled_dot_product_attention(Q, K, V, mask, {.causal = args.causal, .need_weights = args.need_weights});
  return {out_proj_.forward(merge_heads(att.Z)), att.alpha};
}

}  // namespace lumen::nn
