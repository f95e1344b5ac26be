// FeedForward, the encoder and decoder blocks (post-norm and pre-norm) and their stacks:
// PyTorch's names, the residual/norm wiring against the blocks' own parts, gradchecks in f64 of
// every module (inputs and parameters) and of a 2-block stack, exact zeros in the causal
// Jacobian, permutation equivariance without positions, dropout, and the `lumen gradcheck`
// cases of these modules.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/gradcheck_modules.h"
#include "nn/transformer.h"
#include "tensor/random.h"
#include "tests/error_matchers.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

Tensor randn_(const Shape& s, uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return randn(s, dtype, gen);
}

void require_close(const Tensor& a, const Tensor& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  INFO("max abs diff " << max_abs_diff(a, b));
  REQUIRE(max_abs_diff(a, b) <= tol);
}

TransformerBlockOptions block_options(bool pre, double dropout = 0.0, Activation act = Activation::gelu) {
  return {.d_model = 4, .heads = 2, .ffn = 6, .dropout = dropout, .activation = act, .norm_first = pre,
          .dtype = DType::f64};
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [n, p] : m.named_parameters()) out.push_back(n);
  return out;
}

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}

// Gives every LayerNorm weight and bias values away from 1 and 0, so the tests see them.
void shake(const Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    Tensor t = p.value();
    if (name.find("norm") != std::string::npos || name.find("bias") != std::string::npos)
      t.copy_(t + uniform(t.shape(), -0.5, 0.5, t.dtype(), gen));
  }
}

}  // namespace

TEST_CASE("FeedForward: W2 act(W1 x + b1) + b2 with PyTorch's names", "[nn][transformer]") {
  for (Activation act : {Activation::relu, Activation::gelu}) {
    Generator gen(1);
    FeedForward ff({.dim = 3, .hidden = 5, .activation = act, .dtype = DType::f64}, gen);
    REQUIRE(names_of(ff) == std::vector<std::string>{"linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"});
    Tensor x = randn_({2, 4, 3}, 2);
    Tensor h = matmul(x, ff.linear1().weight().value().mT()) + ff.linear1().bias().value();
    h = act == Activation::relu ? relu(h) : gelu(h);
    Tensor expect = matmul(h, ff.linear2().weight().value().mT()) + ff.linear2().bias().value();
    require_close(ff.forward(Var(x)).value(), expect, 1e-12);
    REQUIRE(std::string(activation_name(act)) == (act == Activation::relu ? "relu" : "gelu"));
  }
}

TEST_CASE("block parameter names follow nn.TransformerEncoderLayer / DecoderLayer", "[nn][transformer]") {
  TransformerEncoderBlock enc(block_options(false));
  REQUIRE(names_of(enc) == std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                                    "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                                                    "linear1.weight", "linear1.bias", "linear2.weight",
                                                    "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight",
                                                    "norm2.bias"});
  TransformerDecoderBlock dec(block_options(true));
  std::vector<std::string> n = names_of(dec);
  REQUIRE(n.size() == 18);
  REQUIRE(n[4] == "multihead_attn.in_proj_weight");
  REQUIRE(n.back() == "norm3.bias");
  TransformerEncoder stack({.block = block_options(true), .num_layers = 2, .final_norm = true});
  std::vector<std::string> s = names_of(stack);
  REQUIRE(s.front() == "blocks.0.self_attn.in_proj_weight");
  REQUIRE(std::count(s.begin(), s.end(), "blocks.1.linear2.bias") == 1);
  REQUIRE(s.back() == "norm.bias");
  REQUIRE(stack.blocks().size() == 2);
  // the Vars know their paths too (graphs show them)
  REQUIRE(stack.blocks()[1].self_attn().in_proj_weight().name() == "blocks.1.self_attn.in_proj_weight");
}

TEST_CASE("post-norm and pre-norm blocks wire residuals and norms as the paper and GPT-2", "[nn][transformer]") {
  Tensor x = randn_({2, 5, 4}, 3), mem = randn_({2, 3, 4}, 4);
  Var X(x), M(mem);
  auto ff_of = [](const Var& h, const Module& blk) {
    // linear1 / linear2 are the block's own: find them by name
    Var w1, b1, w2, b2;
    for (auto& [n, p] : blk.named_parameters()) {
      if (n == "linear1.weight") w1 = p;
      if (n == "linear1.bias") b1 = p;
      if (n == "linear2.weight") w2 = p;
      if (n == "linear2.bias") b2 = p;
    }
    return linear(gelu(linear(h, w1, b1)), w2, b2);
  };
  for (bool pre : {false, true}) {
    Generator gen(5);
    TransformerEncoderBlock enc(block_options(pre), gen);
    shake(enc, 6);
    const auto sa = [&](const Var& h) { return enc.self_attn().self_attention(h, {.causal = true}).Z; };
    Var expect;
    if (pre) {
      Var h = X + sa(enc.norm1().forward(X));
      expect = h + ff_of(enc.norm2().forward(h), enc);
    } else {
      Var h = enc.norm1().forward(X + sa(X));
      expect = enc.norm2().forward(h + ff_of(h, enc));
    }
    require_close(enc.forward(X, {.causal = true}).out.value(), expect.value(), 1e-12);

    TransformerDecoderBlock dec(block_options(pre), gen);
    shake(dec, 7);
    const LayerNorm* norms[3] = {};
    for (auto& [n, m] : dec.named_modules()) {
      if (n == "norm1") norms[0] = static_cast<const LayerNorm*>(m);
      if (n == "norm2") norms[1] = static_cast<const LayerNorm*>(m);
      if (n == "norm3") norms[2] = static_cast<const LayerNorm*>(m);
    }
    const auto dsa = [&](const Var& h) { return dec.self_attn().self_attention(h, {.causal = true}).Z; };
    const auto ca = [&](const Var& h) { return dec.multihead_attn().forward(h, M, M).Z; };
    if (pre) {
      Var h = X + dsa(norms[0]->forward(X));
      h = h + ca(norms[1]->forward(h));
      expect = h + ff_of(norms[2]->forward(h), dec);
    } else {
      Var h = norms[0]->forward(X + dsa(X));
      h = norms[1]->forward(h + ca(h));
      expect = norms[2]->forward(h + ff_of(h, dec));
    }
    require_close(dec.forward(X, M).out.value(), expect.value(), 1e-12);
  }
}

TEST_CASE("gradcheck in f64: blocks and a 2-block stack, inputs and parameters", "[nn][transformer][gradcheck]") {
  Tensor x = randn_({2, 3, 4}, 8), mem = randn_({2, 2, 4}, 9);
  Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{3, 2}, {2}), 3);
  for (bool pre : {false, true}) {
    Generator gen(10);
    TransformerEncoderBlock enc(block_options(pre), gen);
    shake(enc, 11);
    require_gradcheck([&](const std::vector<Var>& v) { return enc.forward(v[0], {.key_padding_mask = real}).out; }, {x});
    testing::require_param_grads(enc, [&] { return enc.forward(Var(x), {.key_padding_mask = real}).out; });

    TransformerDecoderBlock dec(block_options(pre), gen);
    shake(dec, 12);
    require_gradcheck([&](const std::vector<Var>& v) { return dec.forward(v[0], v[1]).out; }, {x, mem});
    testing::require_param_grads(dec, [&] { return dec.forward(Var(x), Var(mem)).out; });
  }
  Generator gen(13);
  TransformerEncoder stack({.block = block_options(true), .num_layers = 2, .final_norm = true}, gen);
  shake(stack, 14);
  require_gradcheck([&](const std::vector<Var>& v) { return stack.forward(v[0], {.causal = true}).out; }, {x});
  testing::require_param_grads(stack, [&] { return stack.forward(Var(x), {.causal = true}).out; });
  TransformerDecoder dstack({.block = block_options(false), .num_layers = 2}, gen);
  require_gradcheck([&](const std::vector<Var>& v) { return dstack.forward(v[0], v[1]).out; }, {x, mem});
}

TEST_CASE("with a causal mask, output t has exactly zero gradient from inputs t' > t", "[nn][transformer]") {
  const int64_t T = 6;
  for (bool pre : {false, true}) {
    Generator gen(15);
    TransformerEncoder stack({.block = block_options(pre), .num_layers = 2, .final_norm = pre}, gen);
    Tensor x = randn_({2, T, 4}, 16);
    for (int64_t t = 0; t < T; ++t) {
      Var X(x, true);
      Var out = stack.forward(X, {.causal = true}).out;
      sum(select(out, 1, t) * Var(randn_({2, 4}, 17 + uint64_t(t)))).backward();
      for (int64_t s = 0; s < T; ++s) {
        Tensor g = X.grad().select(1, s);
        if (s > t)
          REQUIRE(amax(abs(g)).item() == 0.0);
        else
          REQUIRE(amax(abs(g)).item() > 1e-6);
      }
    }
  }
  SECTION("the same for the decoder stack (memory fully visible)") {
    Generator gen(18);
    TransformerDecoder dec({.block = block_options(false), .num_layers = 2}, gen);
    Tensor x = randn_({1, T, 4}, 19);
    Var X(x, true), M(randn_({1, 3, 4}, 20), true);
    sum(select(dec.forward(X, M).out, 1, 2) * Var(randn_({1, 4}, 32))).backward();
    REQUIRE(amax(abs(X.grad().slice(1, 3, T))).item() == 0.0);
    REQUIRE(amax(abs(M.grad())).item() > 1e-6);
  }
}

TEST_CASE("self-attention without positions is permutation equivariant (1e-12, f64)", "[nn][transformer]") {
  const int64_t T = 7;
  Tensor x = randn_({2, T, 4}, 21);
  std::vector<int64_t> perm{3, 0, 6, 1, 5, 2, 4};
  Tensor p = Tensor::from_vector(perm, {T});
  Generator gen(22);
  MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dtype = DType::f64}, gen);
  Tensor a = mha.self_attention(Var(x)).Z.value();
  Tensor b = mha.self_attention(Var(index_select(x, 1, p))).Z.value();
  require_close(b, index_select(a, 1, p), 1e-12);
  for (bool pre : {false, true}) {
    TransformerEncoder stack({.block = block_options(pre), .num_layers = 2, .final_norm = pre}, gen);
    Tensor y = stack.forward(Var(x)).out.value();
    Tensor yp = stack.forward(Var(index_select(x, 1, p))).out.value();
    require_close(yp, index_select(y, 1, p), 1e-12);
  }
  // ... and a causal mask breaks it
  TransformerEncoder causal({.block = block_options(true), .num_layers = 1}, gen);
  Tensor y = causal.forward(Var(x), {.causal = true}).out.value();
  Tensor yp = causal.forward(Var(index_select(x, 1, p)), {.causal = true}).out.value();
  REQUIRE(max_abs_diff(yp, index_select(y, 1, p)) > 1e-3);
}

TEST_CASE("block dropout acts only while training", "[nn][transformer]") {
  Generator gen(23);
  TransformerEncoderBlock blk(block_options(false, 0.3), gen);
  Tensor x = randn_({2, 5, 4}, 24);
  blk.train();
  Tensor a = blk.forward(Var(x)).out.value(), b = blk.forward(Var(x)).out.value();
  REQUIRE(max_abs_diff(a, b) > 1e-6);
  blk.eval();
  Tensor c = blk.forward(Var(x)).out.value(), d = blk.forward(Var(x)).out.value();
  REQUIRE(max_abs_diff(c, d) == 0.0);
  // eval equals the same block built without dropout
  Generator gen2(23);
  TransformerEncoderBlock clean(block_options(false, 0.0), gen2);
  require_close(clean.forward(Var(x)).out.value(), c, 1e-12);
}

TEST_CASE("stacks return every block's weights when asked", "[nn][transformer]") {
  Generator gen(25);
  TransformerDecoder dec({.block = block_options(true), .num_layers = 3, .final_norm = true}, gen);
  StackOutput o = dec.forward(Var(randn_({2, 4, 4}, 26)), Var(randn_({2, 5, 4}, 27)), {.causal = true, .need_weights = true},
                              {.need_weights = true});
  REQUIRE(o.self_alphas.size() == 3);
  REQUIRE(o.cross_alphas.size() == 3);
  REQUIRE(o.self_alphas[2].shape() == Shape{2, 2, 4, 4});
  REQUIRE(o.cross_alphas[0].shape() == Shape{2, 2, 4, 5});
  REQUIRE(o.self_alphas[0].value().at({0, 1, 1, 2}) == 0.0);  // causal
  TransformerEncoder enc({.block = block_options(false), .num_layers = 2}, gen);
  REQUIRE(enc.forward(Var(randn_({1, 3, 4}, 28))).self_alphas.empty());
}

TEST_CASE("lumen gradcheck's transformer cases all pass below 1e-6", "[nn][transformer][gradcheck]") {
  std::vector<GradcheckCase> cases = transformer_gradcheck_cases();
  std::set<std::string> ops;
  for (const GradcheckCase& c : cases) {
    ops.insert(c.op);
    GradcheckRecord r = run_gradcheck_case(c);
    INFO(c.op << " " << c.shapes << ": rel " << r.max_rel_err << " abs " << r.max_abs_err);
    REQUIRE(r.passed);
    REQUIRE(r.dtype == "f64");
    REQUIRE(r.max_rel_err < 1e-6);
  }
  for (const char* op : {"ScaledDotProductAttention", "MultiHeadAttention", "FeedForward", "TransformerEncoderBlock",
                         "TransformerDecoderBlock"})
    REQUIRE(ops.count(op) == 1);
}

TEST_CASE("transformer option and input errors", "[nn][transformer]") {
  REQUIRE_ERROR(TransformerEncoderBlock({.d_model = 6, .heads = 4, .ffn = 8}), ValueError, "TransformerEncoderBlock",
                "d_model = 6", "heads = 4");
  REQUIRE_ERROR(TransformerDecoderBlock({.d_model = 4, .heads = 2, .ffn = 0}), ValueError, "TransformerDecoderBlock",
                "ffn = 0");
  REQUIRE_ERROR(TransformerEncoderBlock({.d_model = 4, .heads = 2, .ffn = 4, .dropout = -0.1}), ValueError, "dropout");
  REQUIRE_ERROR(TransformerEncoder({.block = block_options(true), .num_layers = -1}), ValueError, "num_layers");
  Generator gen(29);
  TransformerEncoder enc({.block = block_options(true), .num_layers = 2}, gen);
  REQUIRE_ERROR(enc.forward(Var(randn_({2, 3, 5}, 30))), ShapeError, "[2, 3, 5]");
  KVCache one;
  REQUIRE_ERROR(enc.forward(Var(randn_({1, 3, 4}, 31)), {.cache = &one}), ValueError, "one KV cache per block");
  std::vector<KVCache> three(3);
  REQUIRE_ERROR(enc.forward(Var(randn_({1, 3, 4}, 31)), {}, &three), ValueError, "3 KV caches for 2 blocks");
}
