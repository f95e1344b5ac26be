// MultiHeadAttention: PyTorch's parameter names and layouts, values against attention computed
// head by head with tensor ops, H = 1 against single-head attention, the fast (packed) and the
// general (weights) paths against each other, masks, the KV cache, dropout, gradients of inputs
// and parameters, and every error.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/multihead.h"
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

// softmax over the last dim with `allowed` (bool, broadcast) masking, 0 where nothing is allowed;
// plain tensor ops, independent of the module.
Tensor masked_softmax_ref(const Tensor& S, const Tensor& allowed) {
  if (!allowed.defined()) return softmax(S, -1);
  Tensor filled = where(allowed, S, Tensor::full({1}, -1e300, S.dtype()));
  Tensor e = where(allowed, exp(filled - amax(filled, {-1}, true)), Tensor::zeros({1}, S.dtype()));
  Tensor total = sum(e, {-1}, true);
  return where(gt(total, 0.0), e / where(gt(total, 0.0), total, Tensor::ones({1}, S.dtype())), e);
}

// The module's math written out head by head with tensor ops: Q_h = query W_q,h^T + b_q,h ...
// Returns {out [B, Tq, D], alpha [B, H, Tq, Tk]}.
std::pair<Tensor, Tensor> reference(const MultiHeadAttention& m, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& allowed) {
  const int64_t D = m.options().embed_dim, H = m.options().num_heads, d = D / H;
  const Tensor& W = m.in_proj_weight().value();
  const Tensor& b = m.in_proj_bias().value();
  std::vector<Tensor> heads, alphas;
  for (int64_t h = 0; h < H; ++h) {
    auto proj = [&](const Tensor& x, int64_t part) {
      const int64_t r0 = part * D + h * d;
      return matmul(x, W.slice(0, r0, r0 + d).mT()) + b.slice(0, r0, r0 + d);
    };
    Tensor Qh = proj(q, 0), Kh = proj(k, 1), Vh = proj(v, 2);  // [B, T, d]
    Tensor S = matmul(Qh, Kh.mT()) * (1.0 / std::sqrt(double(d)));
    Tensor alpha = masked_softmax_ref(S, allowed.defined() ? allowed.select(1, 0) : Tensor());
    heads.push_back(matmul(alpha, Vh));
    alphas.push_back(alpha);
  }
  Tensor Z = concat(heads, 2);  // [B, Tq, D]
  Tensor out = matmul(Z, m.out_proj().weight().value().mT()) + m.out_proj().bias().value();
  return {out, stack(alphas, 1)};
}

MultiHeadAttention make(int64_t D, int64_t H, uint64_t seed, double dropout = 0.0) {
  Generator gen(seed);
  return MultiHeadAttention({.embed_dim = D, .num_heads = H, .dropout = dropout, .dtype = DType::f64}, gen);
}

}  // namespace

TEST_CASE("MultiHeadAttention has PyTorch's parameters, layouts and initialisation", "[nn][multihead]") {
  Generator gen(1);
  MultiHeadAttention m({.embed_dim = 8, .num_heads = 2}, gen);
  auto named = m.named_parameters();
  REQUIRE(named.size() == 4);
  REQUIRE(named[0].first == "in_proj_weight");
  REQUIRE(named[0].second.shape() == Shape{24, 8});
  REQUIRE(named[1].first == "in_proj_bias");
  REQUIRE(named[1].second.shape() == Shape{24});
  REQUIRE(named[2].first == "out_proj.weight");
  REQUIRE(named[2].second.shape() == Shape{8, 8});
  REQUIRE(named[3].first == "out_proj.bias");
  REQUIRE(m.type_name() == "MultiHeadAttention");
  REQUIRE(m.head_dim() == 4);
  // xavier_uniform on [24, 8]: bound sqrt(6 / (8 + 24)); biases start at zero
  const double bound = std::sqrt(6.0 / 32.0);
  for (double w : m.in_proj_weight().value().to_vector()) REQUIRE(std::abs(w) <= bound);
  REQUIRE(amax(abs(m.in_proj_weight().value())).item() > 0.5 * bound);
  for (double x : m.in_proj_bias().value().to_vector()) REQUIRE(x == 0.0);
  for (double x : m.out_proj().bias().value().to_vector()) REQUIRE(x == 0.0);
  MultiHeadAttention nobias({.embed_dim = 4, .num_heads = 1, .bias = false}, gen);
  REQUIRE(nobias.named_parameters().size() == 2);
  REQUIRE_FALSE(nobias.in_proj_bias().defined());
}

TEST_CASE("MultiHeadAttention equals attention computed head by head", "[nn][multihead]") {
  const int64_t B = 2, T = 5, S = 7, D = 6, H = 3;
  MultiHeadAttention m = make(D, H, 2);
  // non-zero biases so that they are tested too
  Tensor bias = m.in_proj_bias().value();
  bias.copy_(randn_({3 * D}, 3));
  Tensor ob = m.out_proj().bias().value();
  ob.copy_(randn_({D}, 4));
  Tensor x = randn_({B, T, D}, 5), mem = randn_({B, S, D}, 6), val = randn_({B, S, D}, 7);

  SECTION("self-attention (the packed fast path), causal") {
    Tensor allowed = causal_mask(T, T).reshape({1, 1, T, T});
    Var X(x);
    MultiHeadAttentionOutput o = m.self_attention(X, {.causal = true});
    require_close(o.Z.value(), reference(m, x, x, x, allowed).first, 1e-12);
    REQUIRE_FALSE(o.alpha.defined());
  }
  SECTION("cross-attention with key padding (fast path: key and value the same Var)") {
    Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{7, 3}, {2}), S);
    Var M(mem);
    MultiHeadAttentionOutput o = m.forward(Var(x), M, M, {.key_padding_mask = real});
    require_close(o.Z.value(), reference(m, x, mem, mem, padding_mask(real)).first, 1e-12);
  }
  SECTION("separate key and value, with the weights") {
    Tensor allowed = gt(randn_({T, S}, 8), -0.8);
    MultiHeadAttentionOutput o = m.forward(Var(x), Var(mem), Var(val), {.attn_mask = allowed, .need_weights = true});
    auto [out, alpha] = reference(m, x, mem, val, allowed.reshape({1, 1, T, S}));
    require_close(o.Z.value(), out, 1e-12);
    REQUIRE(o.alpha.shape() == Shape{B, H, T, S});
    require_close(o.alpha.value(), alpha, 1e-12);
  }
}

TEST_CASE("MultiHeadAttention with H = 1 is single-head attention", "[nn][multihead]") {
  const int64_t D = 4;
  MultiHeadAttention m = make(D, 1, 9);
  Tensor x = randn_({2, 3, D}, 10);
  const Tensor& W = m.in_proj_weight().value();
  // one head of size D: softmax(Q K^T / sqrt(D)) V with Q = x W_q^T, then the output projection
  Tensor Q = matmul(x, W.slice(0, 0, D).mT()), K = matmul(x, W.slice(0, D, 2 * D).mT()),
         V = matmul(x, W.slice(0, 2 * D, 3 * D).mT());
  Tensor Z = matmul(softmax(matmul(Q, K.mT()) / std::sqrt(double(D)), -1), V);
  Tensor expect = matmul(Z, m.out_proj().weight().value().mT());  // biases are zero at init
  require_close(m.self_attention(Var(x)).Z.value(), expect, 1e-12);
}

TEST_CASE("MultiHeadAttention: the fast and the weights paths agree in value and gradient", "[nn][multihead]") {
  const int64_t D = 8, H = 2;
  for (bool self : {true, false}) {
    MultiHeadAttention m = make(D, H, 11);
    Tensor x = randn_({2, 70, D}, 12), mem = randn_({2, 65, D}, 13), w = randn_({2, 70, D}, 14);
    Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{65, 20}, {2}), 65);
    auto run = [&](bool weights) {
      Var X(x, true), M(mem, true);
      m.zero_grad();
      MultiHeadAttentionOutput o = self ? m.self_attention(X, {.causal = true, .need_weights = weights})
                                        : m.forward(X, M, M, {.key_padding_mask = real, .need_weights = weights});
      REQUIRE(o.alpha.defined() == weights);
      sum(o.Z * Var(w)).backward();
      std::vector<Tensor> out{o.Z.value(), X.grad()};
      if (!self) out.push_back(M.grad());
      for (const Var& p : m.parameters()) out.push_back(p.grad().clone());
      return out;
    };
    std::vector<Tensor> fast = run(false), slow = run(true);
    REQUIRE(fast.size() == slow.size());
    for (size_t i = 0; i < fast.size(); ++i) require_close(fast[i], slow[i], 1e-11);
  }
}

TEST_CASE("MultiHeadAttention: padded keys change nothing, masked weights are zero", "[nn][multihead]") {
  MultiHeadAttention m = make(4, 2, 15);
  Tensor x = randn_({2, 3, 4}, 16), mem = randn_({2, 5, 4}, 17);
  Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{5, 2}, {2}), 5);
  Tensor mem2 = mem.clone();
  mem2.select(0, 1).slice(0, 2, 5).copy_(randn_({3, 4}, 18));  // other values at row 1's padding
  Var M(mem), M2(mem2);
  MultiHeadAttentionOutput a = m.forward(Var(x), M, M, {.key_padding_mask = real, .need_weights = true});
  MultiHeadAttentionOutput b = m.forward(Var(x), M2, M2, {.key_padding_mask = real});
  require_close(a.Z.value(), b.Z.value(), 1e-12);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 2; j < 5; ++j) REQUIRE(a.alpha.value().at({1, h, i, j}) == 0.0);
  Tensor rows = sum(a.alpha.value(), {-1});
  for (double s : rows.to_vector()) REQUIRE(s == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("MultiHeadAttention: a KV cache gives the same outputs as the full causal pass", "[nn][multihead]") {
  MultiHeadAttention m = make(6, 3, 19);
  Tensor x = randn_({2, 7, 6}, 20);
  Tensor full = m.self_attention(Var(x), {.causal = true}).Z.value();
  for (int64_t capacity : {0, 7}) {
    KVCache cache{.capacity = capacity};
    // first three tokens at once, then one at a time, then the last two together
    std::vector<Tensor> parts;
    for (auto [a, b] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 4}, {4, 5}, {5, 7}}) {
      Var piece(x.slice(1, a, b).contiguous());
      MultiHeadAttentionOutput o = m.self_attention(piece, {.causal = true, .cache = &cache});
      REQUIRE_FALSE(o.Z.requires_grad());  // the cache path records no graph
      parts.push_back(o.Z.value());
      REQUIRE(cache.length == b);
    }
    require_close(concat(parts, 1), full, 1e-12);
    REQUIRE(cache.K.size(2) >= 7);
  }
  SECTION("with the weights: the last query's row over all cached keys") {
    KVCache cache;
    m.self_attention(Var(x.slice(1, 0, 6).contiguous()), {.causal = true, .cache = &cache});
    MultiHeadAttentionOutput o = m.self_attention(Var(x.slice(1, 6, 7).contiguous()),
                                                  {.causal = true, .need_weights = true, .cache = &cache});
    REQUIRE(o.alpha.shape() == Shape{2, 3, 1, 7});
    MultiHeadAttentionOutput all = m.self_attention(Var(x), {.causal = true, .need_weights = true});
    require_close(o.alpha.value(), all.alpha.value().slice(2, 6, 7), 1e-12);
  }
}

TEST_CASE("MultiHeadAttention dropout: only while training", "[nn][multihead]") {
  MultiHeadAttention m = make(4, 2, 21, 0.5);
  MultiHeadAttention clean = make(4, 2, 21, 0.0);
  Tensor x = randn_({2, 5, 4}, 22);
  m.eval();
  require_close(m.self_attention(Var(x)).Z.value(), clean.self_attention(Var(x)).Z.value(), 1e-12);
  m.train();
  Tensor a = m.self_attention(Var(x)).Z.value(), b = m.self_attention(Var(x)).Z.value();
  REQUIRE(max_abs_diff(a, clean.self_attention(Var(x)).Z.value()) > 1e-6);
  REQUIRE(max_abs_diff(a, b) > 1e-6);  // a fresh mask each call
}

TEST_CASE("MultiHeadAttention gradients of inputs and parameters (f64)", "[nn][multihead][gradcheck]") {
  auto m = make(4, 2, 23);
  Tensor bias = m.in_proj_bias().value();
  bias.copy_(randn_({12}, 24));
  Tensor x = randn_({2, 3, 4}, 25), mem = randn_({2, 4, 4}, 26);
  Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{4, 1}, {2}), 4);
  SECTION("self-attention, causal") {
    GradcheckResult r = gradcheck([&](const std::vector<Var>& v) { return m.self_attention(v[0], {.causal = true}).Z; }, {x});
    INFO(r.summary());
    REQUIRE(r.passed);
    testing::require_param_grads(m, [&] { return m.self_attention(Var(x), {.causal = true}).Z; });
  }
  SECTION("cross-attention with padding") {
    GradcheckResult r = gradcheck(
        [&](const std::vector<Var>& v) { return m.forward(v[0], v[1], v[1], {.key_padding_mask = real}).Z; }, {x, mem});
    INFO(r.summary());
    REQUIRE(r.passed);
    Var M(mem);
    testing::require_param_grads(m, [&] { return m.forward(Var(x), M, M, {.key_padding_mask = real}).Z; });
  }
  SECTION("the weights themselves") {
    testing::require_param_grads(m, [&] { return m.self_attention(Var(x), {.need_weights = true}).alpha; });
  }
}

TEST_CASE("MultiHeadAttention errors", "[nn][multihead]") {
  REQUIRE_ERROR(MultiHeadAttention({.embed_dim = 6, .num_heads = 4}), ValueError, "MultiHeadAttention", "6", "4");
  REQUIRE_ERROR(MultiHeadAttention({.embed_dim = 4, .num_heads = 2, .dropout = 1.0}), ValueError, "dropout");
  MultiHeadAttention m = make(4, 2, 27);
  Var x(randn_({2, 3, 4}, 28));
  REQUIRE_ERROR(m.self_attention(Var(randn_({2, 3, 5}, 29))), ShapeError, "MultiHeadAttention", "[2, 3, 5]");
  REQUIRE_ERROR(m.forward(x, Var(randn_({2, 4, 4}, 30)), Var(randn_({2, 5, 4}, 31))), ShapeError, "[2, 4, 4]",
                "[2, 5, 4]");
  REQUIRE_ERROR(m.self_attention(Var(randn_({2, 3, 4}, 32, DType::f32))), DTypeError, "f32", "f64");
  REQUIRE_ERROR(m.self_attention(x, {.key_padding_mask = Tensor::ones({2, 3})}), ValueError, "key_padding_mask",
                "bool [B, Tk]");
  REQUIRE_ERROR(m.self_attention(x, {.attn_mask = Tensor::ones({3, 3})}), DTypeError, "attn_mask");
  REQUIRE_ERROR(m.self_attention(x, {.attn_mask = gt(Tensor::ones({4, 4}), 0.0)}), ShapeError, "mask of shape [4, 4]");
  KVCache cache;
  REQUIRE_ERROR(m.forward(x, Var(randn_({2, 3, 4}, 33)), Var(randn_({2, 3, 4}, 34)), {.cache = &cache}), ValueError,
                "KV cache", "self-attention");
  m.self_attention(x, {.cache = &cache});
  REQUIRE_ERROR(m.self_attention(Var(randn_({3, 1, 4}, 35)), {.cache = &cache}), ShapeError, "KV cache", "batch 3");
}
