#pragma once
// Attention over a memory of vectors, as in the first half of the lecture:
//
//   e_ti    = score(s, h_i)                  one number per memory position i
//   alpha_t = softmax_i(e_ti)                a distribution over positions
//   c_t     = sum_i alpha_ti h_i             the context: a weighted blend of the memory
//
// The memory is the encoder states h_i [B, T, H_enc] (seq2seq) or the image features a_i
// [B, L, D] (captioning); the query s is the decoder state [B, H_dec]. The modules differ only
// in the score:
//   BahdanauAttention   e_ti = v^T tanh(W_s s + W_h h_i)                 (additive)
//   LuongAttention      dot: s^T h_i, general: s^T W_a h_i,
//                       concat: v_a^T tanh(W_a [s; h_i]), location: (W_a s)_i
//   SoftAttention       e_ti = v^T tanh(W_h h + W_a a_i), Show, Attend and Tell's MLP f_att
//
// A source mask (bool [B, T], true at real tokens) gives padded positions exactly zero weight
// and exactly zero gradient; a row with no real position gets all-zero weights (not NaN).
#include <cstdint>
#include <memory>

#include "autograd/var.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

struct AttentionOutput {
  Var c_t;      // [B, H_enc]: the context (z_t in Show, Attend and Tell)
  Var alpha_t;  // [B, T]: the weights, each row sums to 1 over its real positions
};

// softmax over the last dim of e [B, T] where mask [B, T] is true; exactly zero elsewhere, in
// value and in gradient. An undefined mask is a plain softmax.
Var masked_softmax(const Var& e, const Tensor& mask);

// c_t = sum_i alpha_ti h_i: alpha [B, T], h [B, T, D] -> [B, D] (one batched matmul).
Var attention_context(const Var& alpha, const Var& h);

// The common face of the attention modules, so a decoder can use any of them.
class Attention : public Module {
 public:
  // The part of the scores that depends only on the memory h [B, T, key_dim] (W_h h_i for
  // Bahdanau): computed once per source sequence, not once per decoder step. Returns h
  // itself when there is no such part.
  virtual Var precompute_keys(const Var& h) const = 0;
  // s [B, query_dim], keys = precompute_keys(h), h [B, T, key_dim], mask bool [B, T] or undefined.
  virtual AttentionOutput forward(const Var& s, const Var& keys, const Var& h, const Tensor& mask = Tensor()) const = 0;
  // The same, computing the keys on the spot (for a single step).
  AttentionOutput forward(const Var& s, const Var& h, const Tensor& mask = Tensor()) const {
    return forward(s, precompute_keys(h), h, mask);
  }

  int64_t query_dim() const { return query_dim_; }
  int64_t key_dim() const { return key_dim_; }

 protected:
  Attention(const char* type_name, int64_t query_dim, int64_t key_dim, DType dtype);
  // Checks s [B, query_dim], h [B, T, key_dim], mask bool [B, T]; names the module in errors.
  void check_inputs(const Var& s, const Var& h, const Tensor& mask) const;

  int64_t query_dim_, key_dim_;
  DType dtype_;
};

// ---- Bahdanau (additive) ----------------------------------------------------------------------

struct BahdanauAttentionOptions {
  int64_t query_dim;  // size of the decoder state s
  int64_t key_dim;    // size of each h_i
  int64_t attn_dim;   // the hidden size of the score's MLP
  DType dtype = DType::f32;
};

// e_ti = v^T tanh(W_s s_{t-1} + W_h h_i), with W_s: Linear(query -> attn, bias),
// W_h: Linear(key -> attn, no bias), v: Linear(attn -> 1, no bias).
class BahdanauAttention : public Attention {
 public:
  explicit BahdanauAttention(const BahdanauAttentionOptions& options, Generator& gen = default_generator());
  using Attention::forward;

  // h [B, T, key_dim] -> W_h h [B, T, attn_dim], once per sequence.
  Var precompute_keys(const Var& h) const override;
  // s [B, query_dim], keys [B, T, attn_dim] -> e [B, T]
  Var scores(const Var& s, const Var& keys) const;
  AttentionOutput forward(const Var& s, const Var& keys, const Var& h, const Tensor& mask = Tensor()) const override;

  const BahdanauAttentionOptions& options() const { return options_; }
  const Linear& W_s() const { return W_s_; }
  const Linear& W_h() const { return W_h_; }
  const Linear& v() const { return v_; }

 private:
  BahdanauAttentionOptions options_;
  Linear W_s_, W_h_, v_;
};

// ---- Luong (multiplicative and friends) -------------------------------------------------------

enum class LuongScore { dot, general, concat, location };
const char* luong_score_name(LuongScore score);

struct LuongAttentionOptions {
  LuongScore score = LuongScore::dot;
  int64_t query_dim = 0;  // size of the decoder state s
  int64_t key_dim = 0;    // size of each h_i (dot needs key_dim == query_dim)
  int64_t attn_dim = 0;   // concat only: the hidden size of the score's MLP
  int64_t max_len = 0;    // location only: the longest source it can score
  DType dtype = DType::f32;
};

// dot:      e_ti = s^T h_i                                        (no parameters)
// general:  e_ti = s^T W_a h_i       W_a: Linear(key -> query, no bias)
// concat:   e_ti = v_a^T tanh(W_a [s; h_i])
//                                    W_a: Linear(query + key -> attn, no bias), v_a: Linear(attn -> 1, no bias)
// location: e_t  = W_a s             W_a: Linear(query -> max_len, no bias); looks at no h_i at all
class LuongAttention : public Attention {
 public:
  explicit LuongAttention(const LuongAttentionOptions& options, Generator& gen = default_generator());
  using Attention::forward;

  // dot, location: h itself; general: W_a h [B, T, query_dim]; concat: the h_i half of W_a [s; h_i].
  Var precompute_keys(const Var& h) const override;
  // s [B, query_dim], keys -> e [B, T] (location: T is keys.size(1), at most max_len)
  Var scores(const Var& s, const Var& keys) const;
  AttentionOutput forward(const Var& s, const Var& keys, const Var& h, const Tensor& mask = Tensor()) const override;

  const LuongAttentionOptions& options() const { return options_; }
  const Linear* W_a() const { return W_a_.get(); }  // null for dot
  const Linear* v_a() const { return v_a_.get(); }  // concat only

 private:
  LuongAttentionOptions options_;
  std::unique_ptr<Linear> W_a_, v_a_;
};

// ---- Show, Attend and Tell --------------------------------------------------------------------

struct SoftAttentionOptions {
  int64_t feature_dim;  // D: size of each image feature a_i
  int64_t hidden_dim;   // size of the decoder state h
  int64_t attn_dim;     // the hidden size of f_att
  DType dtype = DType::f32;
};

// Soft attention over a grid of L image features a [B, L, D]: the MLP f_att scores each
// location, e_ti = v^T tanh(W_h h_{t-1} + W_a a_i), alpha_t = softmax(e_t), z_t = sum_i alpha_ti a_i.
// W_a: Linear(D -> attn, no bias), W_h: Linear(hidden -> attn, bias), v: Linear(attn -> 1, no bias).
class SoftAttention : public Attention {
 public:
  explicit SoftAttention(const SoftAttentionOptions& options, Generator& gen = default_generator());
  using Attention::forward;

  // a [B, L, D] -> W_a a [B, L, attn_dim], once per image.
  Var precompute_keys(const Var& a) const override;
  // h [B, hidden_dim], keys [B, L, attn_dim] -> e [B, L]
  Var scores(const Var& h, const Var& keys) const;
  // Returns {z_t [B, D], alpha_t [B, L]}; mask is optional (a full grid needs none).
  AttentionOutput forward(const Var& h, const Var& keys, const Var& a, const Tensor& mask = Tensor()) const override;

  const SoftAttentionOptions& options() const { return options_; }
  const Linear& W_a() const { return W_a_; }
  const Linear& W_h() const { return W_h_; }
  const Linear& v() const { return v_; }

 private:
  SoftAttentionOptions options_;
  Linear W_a_, W_h_, v_;
};

// Show, Attend and Tell's doubly stochastic regulariser, lambda * sum_i (1 - sum_t alpha_ti)^2:
// it asks every location to receive about one unit of attention over the whole caption.
// alphas [B, T, L] (the alpha_t of every step, stacked); step_mask bool [B, T] (true at real
// caption steps; undefined: all) leaves padded steps out. Averaged over the batch -> scalar.
Var doubly_stochastic_penalty(const Var& alphas, double lambda, const Tensor& step_mask = Tensor());

}  // namespace lumen::nn
