// The transformer models `lumen graph` draws: single-head self-attention with every op of the
// formula in view, a multi-head attention layer (one fused attention node), one pre-norm
// transformer block, and a 2-block GPT (try --collapse blocks.0).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/multihead.h"
#include "nn/transformer.h"
#include "nn/transformer_models.h"
#include "tensor/random.h"
#include "tools/graph_models.h"

namespace lumen::tools {
namespace {

Var named_input(Tensor value, const char* name) {
  Var x(std::move(value));
  x.set_name(name);
  return x;
}

// Q = x W_q^T, K = x W_k^T, V = x W_v^T; alpha = softmax(Q K^T / sqrt(d_k)) with a causal mask;
// Z = alpha V. The unfused path, so each step of the formula is its own node.
class SelfAttention : public nn::Module {
 public:
  SelfAttention(int64_t d_model, int64_t d_k, Generator& gen)
      : Module("SelfAttention"),
        W_q_({.in = d_model, .out = d_k, .bias = false}, gen),
        W_k_({.in = d_model, .out = d_k, .bias = false}, gen),
        W_v_({.in = d_model, .out = d_k, .bias = false}, gen) {
    register_module("W_q", W_q_);
    register_module("W_k", W_k_);
    register_module("W_v", W_v_);
  }
  Var forward(const Var& x) const {
    auto scope = enter_scope();
    Var Q = W_q_.forward(x).set_name("Q");
    Var K = W_k_.forward(x).set_name("K");
    Var V = W_v_.forward(x).set_name("V");
    nn::SdpaOutput att = nn::sdpa_unfused(Q, K, V, Tensor(), {.causal = true, .need_weights = true});
    att.alpha.set_name("alpha");
    return att.Z.set_name("Z");
  }

 private:
  nn::Linear W_q_, W_k_, W_v_;
};

template <class M>
class Named : public nn::Module {
 public:
  template <class... Args>
  explicit Named(const char* name, Args&&... args) : Module("Model"), inner(std::forward<Args>(args)...) {
    register_module(name, inner);
  }
  M inner;
};

GraphExample self_attention() {
  Generator gen(0);
  auto model = std::make_shared<Named<SelfAttention>>("attn", 8, 4, gen);
  Var x = named_input(randn({1, 4, 8}, DType::f32, gen), "x");
  Var Z = model->inner.forward(x);
  return {{sum(Z).set_name("loss")}, model};
}

GraphExample multi_head_attention() {
  Generator gen(0);
  auto model = std::make_shared<Named<nn::MultiHeadAttention>>(
      "attn", nn::MultiHeadAttentionOptions{.embed_dim = 8, .num_heads = 2}, gen);
  Var x = named_input(randn({2, 4, 8}, DType::f32, gen), "x");
  Var Z = model->inner.self_attention(x, {.causal = true}).Z.set_name("Z");
  return {{sum(Z).set_name("loss")}, model};
}

GraphExample transformer_block() {
  Generator gen(0);
  auto model = std::make_shared<Named<nn::TransformerEncoderBlock>>(
      "block",
      nn::TransformerBlockOptions{
          .d_model = 8, .heads = 2, .ffn = 16, .dropout = 0.0, .activation = nn::Activation::gelu, .norm_first = true},
      gen);
  Var x = named_input(randn({2, 4, 8}, DType::f32, gen), "x");
  Var y = model->inner.forward(x, {.causal = true}).out.set_name("y");
  return {{sum(y).set_name("loss")}, model};
}

GraphExample gpt() {
  Generator gen(0);
  auto model = std::make_shared<nn::DecoderOnly>(
      nn::DecoderOnlyOptions{.vocab_size = 11, .max_len = 8, .d_model = 8, .heads = 2, .ffn = 16, .num_layers = 2},
      gen);
  Tensor ids = randint(0, 11, {2, 6}, gen);
  Tensor next = randint(0, 11, {2, 6}, gen);
  Var logits = model->forward(ids).set_name("logits");
  return {{nn::cross_entropy(logits, next).set_name("loss")}, model};
}

}  // namespace

std::vector<GraphModel> transformer_graph_models() {
  return {
      {"self-attention", "one head: Q, K, V, softmax(Q K^T / sqrt(d_k)) with a causal mask, Z = alpha V",
       self_attention},
      {"multi-head-attention", "nn::MultiHeadAttention, 2 heads, causal: packed projection, fused attention",
       multi_head_attention},
      {"transformer-block", "one pre-norm encoder block: attention and GELU feed-forward, residuals", transformer_block},
      {"gpt", "a 2-block GPT with cross-entropy (--collapse blocks.0 folds the first block)", gpt},
  };
}

}  // namespace lumen::tools
