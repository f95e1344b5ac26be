#include "nn/attention.h"

#include <string>

#include "autograd/ops.h"

namespace lumen::nn {
namespace {

// Far below any real score, yet finite: next to a real score exp(kMaskedScore - max) is exactly
// 0, and a row with no real score stays finite (uniform) instead of giving inf - inf = NaN.
constexpr double kMaskedScore = -1e30;

std::string shape_of(const Var& v) { return v.defined() ? shape_str(v.shape()) : std::string("(undefined)"); }

}  // namespace

Var masked_softmax(const Var& e, const Tensor& mask) {
  if (!mask.defined()) return softmax(e, -1);
  if (mask.dtype() != DType::boolean || mask.shape() != e.shape())
    throw ShapeError("masked_softmax: mask must be bool of the scores' shape " + shape_str(e.shape()) + ", got " +
                     std::string(dtype_name(mask.dtype())) + " " + shape_str(mask.shape()));
  const Tensor pad = logical_not(mask);
  // masked_fill sends no gradient to the places it filled: padding gets exactly zero gradient.
  Var alpha = softmax(masked_fill(e, pad, kMaskedScore), -1);
  // Only a row without any real position puts weight on padding (uniformly); zero it too.
  return masked_fill(alpha, pad, 0.0);
}

Var attention_context(const Var& alpha, const Var& h) {
  if (alpha.dim() != 2 || h.dim() != 3 || alpha.size(0) != h.size(0) || alpha.size(1) != h.size(1))
    throw ShapeError("attention_context: weights of shape " + shape_of(alpha) + " do not fit a memory of shape " +
                     shape_of(h) + " (need alpha [B, T] and h [B, T, D])");
  // [B, 1, T] @ [B, T, D] -> [B, 1, D] -> [B, D]
  return squeeze(matmul(unsqueeze(alpha, 1), h), 1);
}

// ---- Attention --------------------------------------------------------------------------------

Attention::Attention(const char* type_name, int64_t query_dim, int64_t key_dim, DType dtype)
    : Module(type_name), query_dim_(query_dim), key_dim_(key_dim), dtype_(dtype) {
  if (query_dim <= 0 || key_dim <= 0)
    throw ValueError(std::string(type_name) + ": query_dim and key_dim must be > 0, got " +
                     std::to_string(query_dim) + " and " + std::to_string(key_dim));
  if (!is_floating(dtype))
    throw DTypeError(std::string(type_name) + ": dtype must be f32 or f64, got " + std::string(dtype_name(dtype)));
}

void Attention::check_inputs(const Var& s, const Var& h, const Tensor& mask) const {
  const std::string& op = type_name();
  if (!s.defined() || s.dim() != 2 || s.size(1) != query_dim_ || !h.defined() || h.dim() != 3 ||
      h.size(0) != s.size(0) || h.size(2) != key_dim_)
    throw ShapeError(op + ": query of shape " + shape_of(s) + " and memory of shape " + shape_of(h) +
                     " do not fit (need query [B, " + std::to_string(query_dim_) + "] and memory [B, T, " +
                     std::to_string(key_dim_) + "])");
  if (s.dtype() != dtype_ || h.dtype() != dtype_)
    throw DTypeError(op + ": the module is " + std::string(dtype_name(dtype_)) + " but the query is " +
                     std::string(dtype_name(s.dtype())) + " and the memory " + std::string(dtype_name(h.dtype())));
  if (mask.defined() && (mask.dtype() != DType::boolean || mask.shape() != Shape{h.size(0), h.size(1)}))
    throw ShapeError(op + ": mask of " + std::string(dtype_name(mask.dtype())) + " " + shape_str(mask.shape()) +
                     " does not fit a memory of shape " + shape_str(h.shape()) + " (need bool [B, T])");
}

// ---- Bahdanau ---------------------------------------------------------------------------------

BahdanauAttention::BahdanauAttention(const BahdanauAttentionOptions& o, Generator& gen)
    : Attention("BahdanauAttention", o.query_dim, o.key_dim, o.dtype),
      options_(o),
      W_s_({.in = o.query_dim, .out = o.attn_dim, .bias = true, .dtype = o.dtype}, gen),
      W_h_({.in = o.key_dim, .out = o.attn_dim, .bias = false, .dtype = o.dtype}, gen),
      v_({.in = o.attn_dim, .out = 1, .bias = false, .dtype = o.dtype}, gen) {
  register_module("W_s", W_s_);
  register_module("W_h", W_h_);
  register_module("v", v_);
}

Var BahdanauAttention::precompute_keys(const Var& h) const {
  auto scope = enter_scope();
  return W_h_(h);  // [B, T, attn_dim]
}

Var BahdanauAttention::scores(const Var& s, const Var& keys) const {
  // W_s s [B, A] is added to every position's W_h h_i [B, T, A]; v maps each to one number.
  return squeeze(v_(tanh(keys + unsqueeze(W_s_(s), 1))), 2);  // e [B, T]
}

AttentionOutput BahdanauAttention::forward(const Var& s, const Var& keys, const Var& h, const Tensor& mask) const {
  auto scope = enter_scope();
  check_inputs(s, h, mask);
  if (!keys.defined() || keys.shape() != Shape{h.size(0), h.size(1), options_.attn_dim})
    throw ShapeError("BahdanauAttention: keys of shape " + shape_of(keys) + " do not fit memory " +
                     shape_str(h.shape()) + " (pass precompute_keys(h), [B, T, " +
                     std::to_string(options_.attn_dim) + "])");
  Var e_t = scores(s, keys);                  // [B, T]
  Var alpha_t = masked_softmax(e_t, mask);    // [B, T]
  return {attention_context(alpha_t, h), alpha_t};
}

// ---- Luong ------------------------------------------------------------------------------------

const char* luong_score_name(LuongScore score) {
  switch (score) {
    case LuongScore::dot: return "dot";
    case LuongScore::general: return "general";
    case LuongScore::concat: return "concat";
    case LuongScore::location: return "location";
  }
  return "?";
}

LuongAttention::LuongAttention(const LuongAttentionOptions& o, Generator& gen)
    : Attention("LuongAttention", o.query_dim, o.key_dim, o.dtype), options_(o) {
  auto linear = [&](int64_t in, int64_t out) {
    return std::make_unique<Linear>(LinearOptions{.in = in, .out = out, .bias = false, .dtype = o.dtype}, gen);
  };
  switch (o.score) {
    case LuongScore::dot:
      if (o.query_dim != o.key_dim)
        throw ValueError("LuongAttention: the dot score needs query_dim == key_dim, got " +
                         std::to_string(o.query_dim) + " and " + std::to_string(o.key_dim));
      break;
    case LuongScore::general:
      W_a_ = linear(o.key_dim, o.query_dim);
      break;
    case LuongScore::concat:
      if (o.attn_dim <= 0)
        throw ValueError("LuongAttention: the concat score needs attn_dim > 0, got " + std::to_string(o.attn_dim));
      W_a_ = linear(o.query_dim + o.key_dim, o.attn_dim);
      v_a_ = linear(o.attn_dim, 1);
      break;
    case LuongScore::location:
      if (o.max_len <= 0)
        throw ValueError("LuongAttention: the location score needs max_len > 0, got " + std::to_string(o.max_len));
      W_a_ = linear(o.query_dim, o.max_len);
      break;
  }
  if (W_a_) register_module("W_a", *W_a_);
  if (v_a_) register_module("v_a", *v_a_);
}

Var LuongAttention::precompute_keys(const Var& h) const {
  auto scope = enter_scope();
  const int64_t Q = options_.query_dim;
  switch (options_.score) {
    case LuongScore::general:
      return (*W_a_)(h);  // W_a h_i [B, T, query_dim]
    case LuongScore::concat: {
      // W_a [s; h_i] = W_a[:, :Q] s + W_a[:, Q:] h_i: the h_i half once per sequence.
      const Var& W = W_a_->weight();  // [attn, Q + K]
      return matmul(h, transpose(slice(W, 1, Q, W.size(1)), 0, 1));  // [B, T, attn]
    }
    case LuongScore::dot:
    case LuongScore::location:
      break;
  }
  return h;
}

Var LuongAttention::scores(const Var& s, const Var& keys) const {
  const int64_t Q = options_.query_dim;
  switch (options_.score) {
    case LuongScore::dot:
    case LuongScore::general:
      // keys [B, T, Q] @ s [B, Q, 1] -> [B, T]
      return squeeze(matmul(keys, unsqueeze(s, 2)), 2);
    case LuongScore::concat: {
      const Var& W = W_a_->weight();
      Var query = matmul(s, transpose(slice(W, 1, 0, Q), 0, 1));  // W_a[:, :Q] s [B, attn]
      return squeeze((*v_a_)(tanh(keys + unsqueeze(query, 1))), 2);
    }
    case LuongScore::location: {
      const int64_t T = keys.size(1);
      if (T > options_.max_len)
        throw ShapeError("LuongAttention: a memory of " + std::to_string(T) + " positions is longer than max_len " +
                         std::to_string(options_.max_len) + " of the location score");
      Var e = (*W_a_)(s);  // [B, max_len]
      return T == options_.max_len ? e : slice(e, 1, 0, T);
    }
  }
  throw ValueError("LuongAttention: unknown score");
}

AttentionOutput LuongAttention::forward(const Var& s, const Var& keys, const Var& h, const Tensor& mask) const {
  auto scope = enter_scope();
  check_inputs(s, h, mask);
  if (!keys.defined() || keys.dim() != 3 || keys.size(0) != h.size(0) || keys.size(1) != h.size(1))
    throw ShapeError("LuongAttention: keys of shape " + shape_of(keys) + " do not fit memory " + shape_str(h.shape()) +
                     " (pass precompute_keys(h))");
  Var e_t = scores(s, keys);
  Var alpha_t = masked_softmax(e_t, mask);
  return {attention_context(alpha_t, h), alpha_t};
}

// ---- Show, Attend and Tell --------------------------------------------------------------------

SoftAttention::SoftAttention(const SoftAttentionOptions& o, Generator& gen)
    : Attention("SoftAttention", o.hidden_dim, o.feature_dim, o.dtype),
      options_(o),
      W_a_({.in = o.feature_dim, .out = o.attn_dim, .bias = false, .dtype = o.dtype}, gen),
      W_h_({.in = o.hidden_dim, .out = o.attn_dim, .bias = true, .dtype = o.dtype}, gen),
      v_({.in = o.attn_dim, .out = 1, .bias = false, .dtype = o.dtype}, gen) {
  register_module("W_a", W_a_);
  register_module("W_h", W_h_);
  register_module("v", v_);
}

Var SoftAttention::precompute_keys(const Var& a) const {
  auto scope = enter_scope();
  return W_a_(a);  // [B, L, attn_dim]
}

Var SoftAttention::scores(const Var& h, const Var& keys) const {
  return squeeze(v_(tanh(keys + unsqueeze(W_h_(h), 1))), 2);  // e [B, L]
}

AttentionOutput SoftAttention::forward(const Var& h, const Var& keys, const Var& a, const Tensor& mask) const {
  auto scope = enter_scope();
  check_inputs(h, a, mask);
  if (!keys.defined() || keys.shape() != Shape{a.size(0), a.size(1), options_.attn_dim})
    throw ShapeError("SoftAttention: keys of shape " + shape_of(keys) + " do not fit features " +
                     shape_str(a.shape()) + " (pass precompute_keys(a), [B, L, " +
                     std::to_string(options_.attn_dim) + "])");
  Var e_t = scores(h, keys);                // [B, L]
  Var alpha_t = masked_softmax(e_t, mask);  // [B, L]
  return {attention_context(alpha_t, a), alpha_t};  // z_t [B, D]
}

Var doubly_stochastic_penalty(const Var& alphas, double lambda, const Tensor& step_mask) {
  if (alphas.dim() != 3)
    throw ShapeError("doubly_stochastic_penalty: alphas must be [B, T, L], got " + shape_of(alphas));
  Var a = alphas;
  if (step_mask.defined()) {
    if (step_mask.dtype() != DType::boolean || step_mask.shape() != Shape{alphas.size(0), alphas.size(1)})
      throw ShapeError("doubly_stochastic_penalty: step_mask must be bool [B, T] = " +
                       shape_str({alphas.size(0), alphas.size(1)}) + ", got " +
                       std::string(dtype_name(step_mask.dtype())) + " " + shape_str(step_mask.shape()));
    a = masked_fill(alphas, logical_not(step_mask).unsqueeze(2), 0.0);
  }
  Var received = sum(a, {1});                                   // sum_t alpha_ti [B, L]
  Var per_image = sum(square(1.0 - received), {1});             // [B]
  return mean(per_image) * lambda;
}

}  // namespace lumen::nn
