// masked_softmax, attention_context, BahdanauAttention, LuongAttention (four scores),
// SoftAttention and the doubly stochastic penalty: values against naive loops, masks that give
// padding exactly zero weight and gradient, gradients against central differences (inputs and
// parameters), names, and errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/attention.h"
#include "tensor/random.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}
void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
Tensor bool_mask(const std::vector<int>& bits, const Shape& shape) {
  Tensor m = Tensor::zeros(shape, DType::boolean);
  for (size_t i = 0; i < bits.size(); ++i) m.data<bool>()[i] = bits[i] != 0;
  return m;
}
double at(const Tensor& t, std::initializer_list<int64_t> idx) { return t.at(idx); }

// The reference: softmax over the real positions of one row, then c = sum alpha_i h_i.
struct Reference {
  std::vector<std::vector<double>> alpha;  // [B][T]
  std::vector<std::vector<double>> c;      // [B][D]
};
Reference attend_by_hand(const std::vector<std::vector<double>>& e, const Tensor& h, const Tensor& mask) {
  Reference ref;
  const int64_t B = h.size(0), T = h.size(1), D = h.size(2);
  for (int64_t b = 0; b < B; ++b) {
    double mx = -1e300, z = 0;
    auto real = [&](int64_t t) { return !mask.defined() || mask.at({b, t}) != 0; };
    for (int64_t t = 0; t < T; ++t)
      if (real(t)) mx = std::max(mx, e[static_cast<size_t>(b)][static_cast<size_t>(t)]);
    std::vector<double> a(static_cast<size_t>(T), 0.0);
    for (int64_t t = 0; t < T; ++t)
      if (real(t)) z += a[static_cast<size_t>(t)] = std::exp(e[static_cast<size_t>(b)][static_cast<size_t>(t)] - mx);
    for (double& v : a) v /= z;
    std::vector<double> c(static_cast<size_t>(D), 0.0);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < D; ++d) c[static_cast<size_t>(d)] += a[static_cast<size_t>(t)] * h.at({b, t, d});
    ref.alpha.push_back(a);
    ref.c.push_back(c);
  }
  return ref;
}
void require_matches(const AttentionOutput& out, const Reference& ref, double tol) {
  for (size_t b = 0; b < ref.alpha.size(); ++b) {
    for (size_t t = 0; t < ref.alpha[b].size(); ++t)
      REQUIRE(std::abs(at(out.alpha_t.value(), {int64_t(b), int64_t(t)}) - ref.alpha[b][t]) <= tol);
    for (size_t d = 0; d < ref.c[b].size(); ++d)
      REQUIRE(std::abs(at(out.c_t.value(), {int64_t(b), int64_t(d)}) - ref.c[b][d]) <= tol);
  }
}
// Linear map of one vector: W [out, in] v + bias (bias may be undefined).
std::vector<double> apply(const Var& W, const Var& bias, const std::vector<double>& v) {
  const int64_t out = W.size(0), in = W.size(1);
  std::vector<double> y(static_cast<size_t>(out), 0.0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) y[static_cast<size_t>(o)] += W.value().at({o, i}) * v[static_cast<size_t>(i)];
    if (bias.defined()) y[static_cast<size_t>(o)] += bias.value().at({o});
  }
  return y;
}
std::vector<double> row(const Tensor& t, std::vector<int64_t> prefix) {
  std::vector<double> out;
  const int64_t n = t.size(static_cast<int64_t>(prefix.size()));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<int64_t> idx = prefix;
    idx.push_back(i);
    out.push_back(t.at(idx));
  }
  return out;
}

}  // namespace

// ---- masked softmax ---------------------------------------------------------------------------

TEST_CASE("masked_softmax: the notes' worked example, computed rather than copied", "[nn]") {
  // Lecture notes, step t = 1: softmax([2.1, 0.3, 0.2]) is [0.76, 0.13, 0.11], not the
  // [0.70, 0.16, 0.14] the notes print.
  Var e(Tensor::from_vector({2.1, 0.3, 0.2}, {1, 3}, DType::f64));
  std::vector<double> alpha = masked_softmax(e, Tensor()).value().to_vector();
  REQUIRE(alpha[0] == Approx(0.7605).margin(1e-4));
  REQUIRE(alpha[1] == Approx(0.1257).margin(1e-4));
  REQUIRE(alpha[2] == Approx(0.1138).margin(1e-4));
}

TEST_CASE("masked_softmax: padding gets exactly zero weight and gradient, even in a fully masked row", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Var e(Tensor::from_vector({1.0, 2.0, 3.0, 50.0, -4.0, 0.5, 9.0, 1.0}, {2, 4}, dt), true);
    Tensor mask = bool_mask({1, 1, 1, 0, 0, 0, 0, 0}, {2, 4});  // row 1: nothing is real
    Var alpha = masked_softmax(e, mask);
    std::vector<double> a = alpha.value().to_vector();
    const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    const double tol = dt == DType::f32 ? 1e-6 : 1e-15;
    REQUIRE(std::abs(a[0] - std::exp(1.0) / z) < tol);
    REQUIRE(std::abs(a[2] - std::exp(3.0) / z) < tol);
    REQUIRE(a[3] == 0.0);  // exactly, although its score is the largest
    for (int i = 4; i < 8; ++i) REQUIRE(a[static_cast<size_t>(i)] == 0.0);  // no NaN
    sum(alpha * Var(Tensor::from_vector({1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, {2, 4}, dt))).backward();
    std::vector<double> g = e.grad().to_vector();
    REQUIRE(g[3] == 0.0);
    for (int i = 4; i < 8; ++i) REQUIRE(g[static_cast<size_t>(i)] == 0.0);
    REQUIRE(std::abs(g[0]) > 1e-3);
  }
  REQUIRE_THROWS_AS(masked_softmax(Var(Tensor::zeros({2, 4})), Tensor::zeros({2, 3}, DType::boolean)), ShapeError);
  REQUIRE_THROWS_WITH(masked_softmax(Var(Tensor::zeros({2, 4})), Tensor::zeros({2, 4})),
                      Catch::Contains("masked_softmax") && Catch::Contains("f32"));
}

TEST_CASE("attention_context: c_t = sum_i alpha_ti h_i", "[nn][gradcheck]") {
  Tensor alpha = randn64({2, 3}, 1), h = randn64({2, 3, 4}, 2);
  Var c = attention_context(Var(alpha), Var(h));
  REQUIRE(c.shape() == Shape{2, 4});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t d = 0; d < 4; ++d) {
      double want = 0;
      for (int64_t t = 0; t < 3; ++t) want += alpha.at({b, t}) * h.at({b, t, d});
      REQUIRE(std::abs(c.value().at({b, d}) - want) < 1e-14);
    }
  require_gradcheck([](const std::vector<Var>& v) { return attention_context(v[0], v[1]); },
                    {alpha, randn64({2, 4, 3}, 3).transpose(1, 2)});
  REQUIRE_THROWS_WITH(attention_context(Var(alpha), Var(Tensor::zeros({2, 4, 4}, DType::f64))),
                      Catch::Contains("[2, 3]") && Catch::Contains("[2, 4, 4]"));
}

// ---- Bahdanau ---------------------------------------------------------------------------------

TEST_CASE("BahdanauAttention: e_ti = v^T tanh(W_s s + W_h h_i), with PyTorch-style names", "[nn]") {
  Generator gen(3);
  BahdanauAttention attn({.query_dim = 3, .key_dim = 4, .attn_dim = 5, .dtype = DType::f64}, gen);
  auto names = attn.named_parameters();
  REQUIRE(names.size() == 4);
  REQUIRE(names[0].first == "W_s.weight");
  REQUIRE(names[0].second.shape() == Shape{5, 3});
  REQUIRE(names[1].first == "W_s.bias");
  REQUIRE(names[2].first == "W_h.weight");
  REQUIRE(names[2].second.shape() == Shape{5, 4});
  REQUIRE(names[3].first == "v.weight");
  REQUIRE(names[3].second.shape() == Shape{1, 5});

  Tensor s = randn64({2, 3}, 4), h = randn64({2, 6, 4}, 5);
  Tensor mask = bool_mask({1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {2, 6});
  for (const Tensor& m : {Tensor(), mask}) {
    AttentionOutput out = attn.forward(Var(s), Var(h), m);
    REQUIRE(out.c_t.shape() == Shape{2, 4});
    REQUIRE(out.alpha_t.shape() == Shape{2, 6});
    std::vector<std::vector<double>> e(2);
    for (int64_t b = 0; b < 2; ++b) {
      std::vector<double> q = apply(attn.W_s().weight(), attn.W_s().bias(), row(s, {b}));
      for (int64_t t = 0; t < 6; ++t) {
        std::vector<double> k = apply(attn.W_h().weight(), Var(), row(h, {b, t}));
        std::vector<double> act;
        for (size_t j = 0; j < k.size(); ++j) act.push_back(std::tanh(q[j] + k[j]));
        e[static_cast<size_t>(b)].push_back(apply(attn.v().weight(), Var(), act)[0]);
      }
    }
    require_matches(out, attend_by_hand(e, h, m), 1e-13);
  }
  // Keys computed once give the same as the all-in-one call.
  Var keys = attn.precompute_keys(Var(h));
  REQUIRE(keys.shape() == Shape{2, 6, 5});
  AttentionOutput a = attn.forward(Var(s), keys, Var(h), mask), b = attn.forward(Var(s), Var(h), mask);
  REQUIRE(a.c_t.value().to_vector() == b.c_t.value().to_vector());
}

TEST_CASE("BahdanauAttention: padded memory gets exactly zero gradient", "[nn]") {
  Generator gen(8);
  BahdanauAttention attn({.query_dim = 2, .key_dim = 3, .attn_dim = 4, .dtype = DType::f64}, gen);
  Var s(randn64({2, 2}, 1), true), h(randn64({2, 4, 3}, 2), true);
  Tensor mask = bool_mask({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
  AttentionOutput out = attn.forward(s, h, mask);
  REQUIRE(out.alpha_t.value().at({1, 2}) == 0.0);
  REQUIRE(out.alpha_t.value().at({1, 3}) == 0.0);
  sum(out.c_t * Var(randn64({2, 3}, 3))).backward();
  REQUIRE(h.grad().select(0, 1).slice(0, 2, 4).to_vector() == std::vector<double>(6, 0.0));
  REQUIRE(sum(abs(h.grad().select(0, 1).slice(0, 0, 2))).item() > 1e-3);
}

TEST_CASE("BahdanauAttention: gradcheck with respect to inputs and parameters", "[nn][gradcheck]") {
  Generator gen(9);
  BahdanauAttention attn({.query_dim = 2, .key_dim = 3, .attn_dim = 3, .dtype = DType::f64}, gen);
  Tensor mask = bool_mask({1, 1, 1, 1, 0, 0}, {2, 3});
  auto f = [&](const std::vector<Var>& v) {
    AttentionOutput o = attn.forward(v[0], v[1], mask);
    return concat({o.c_t, o.alpha_t}, 1);
  };
  Tensor s = randn64({2, 2}, 1), h = randn64({3, 2, 3}, 2).transpose(0, 1);  // h as a view
  require_gradcheck(f, {s, h});
  Var sv(s), hv(h);
  testing::require_param_grads(attn, [&] { return f({sv, hv}); });
}

// ---- Luong ------------------------------------------------------------------------------------

TEST_CASE("LuongAttention: dot, general, concat and location scores against naive loops", "[nn]") {
  Tensor h = randn64({2, 3, 4}, 11);
  Tensor mask = bool_mask({1, 1, 1, 1, 1, 0}, {2, 3});
  for (LuongScore score : {LuongScore::dot, LuongScore::general, LuongScore::concat, LuongScore::location}) {
    INFO(luong_score_name(score));
    const int64_t Q = score == LuongScore::dot ? 4 : 2;
    Generator gen(12);
    LuongAttention attn(
        {.score = score, .query_dim = Q, .key_dim = 4, .attn_dim = 3, .max_len = 5, .dtype = DType::f64}, gen);
    Tensor s = randn64({2, Q}, 13);
    std::vector<std::vector<double>> e(2);
    for (int64_t b = 0; b < 2; ++b) {
      const std::vector<double> sb = row(s, {b});
      if (score == LuongScore::location) {
        std::vector<double> all = apply(attn.W_a()->weight(), Var(), sb);  // [max_len]
        e[static_cast<size_t>(b)].assign(all.begin(), all.begin() + 3);
        continue;
      }
      for (int64_t t = 0; t < 3; ++t) {
        const std::vector<double> hb = row(h, {b, t});
        double v = 0;
        if (score == LuongScore::dot) {
          for (int64_t j = 0; j < 4; ++j) v += sb[static_cast<size_t>(j)] * hb[static_cast<size_t>(j)];
        } else if (score == LuongScore::general) {
          std::vector<double> Wh = apply(attn.W_a()->weight(), Var(), hb);  // W_a h [Q]
          for (int64_t j = 0; j < Q; ++j) v += sb[static_cast<size_t>(j)] * Wh[static_cast<size_t>(j)];
        } else {
          std::vector<double> cat = sb;
          cat.insert(cat.end(), hb.begin(), hb.end());
          std::vector<double> act = apply(attn.W_a()->weight(), Var(), cat);
          for (double& x : act) x = std::tanh(x);
          v = apply(attn.v_a()->weight(), Var(), act)[0];
        }
        e[static_cast<size_t>(b)].push_back(v);
      }
    }
    AttentionOutput out = attn.forward(Var(s), Var(h), mask);
    require_matches(out, attend_by_hand(e, h, mask), 1e-13);
  }
}

TEST_CASE("LuongAttention: parameters per score, gradcheck, and errors", "[nn][gradcheck]") {
  Generator gen(14);
  LuongAttention dot({.score = LuongScore::dot, .query_dim = 3, .key_dim = 3, .dtype = DType::f64}, gen);
  REQUIRE(dot.named_parameters().empty());
  LuongAttention general({.score = LuongScore::general, .query_dim = 2, .key_dim = 3, .dtype = DType::f64}, gen);
  REQUIRE(general.named_parameters()[0].first == "W_a.weight");
  REQUIRE(general.named_parameters()[0].second.shape() == Shape{2, 3});
  LuongAttention concat_({.score = LuongScore::concat, .query_dim = 2, .key_dim = 3, .attn_dim = 4, .dtype = DType::f64},
                         gen);
  REQUIRE(concat_.named_parameters()[0].second.shape() == Shape{4, 5});
  REQUIRE(concat_.named_parameters()[1].first == "v_a.weight");
  LuongAttention location({.score = LuongScore::location, .query_dim = 2, .key_dim = 3, .max_len = 4, .dtype = DType::f64},
                          gen);
  REQUIRE(location.named_parameters()[0].second.shape() == Shape{4, 2});

  Tensor mask = bool_mask({1, 1, 1, 1, 1, 0}, {2, 3});
  Tensor h = randn64({2, 3, 3}, 15);
  for (LuongAttention* attn : {&dot, &general, &concat_, &location}) {
    auto f = [&](const std::vector<Var>& v) {
      AttentionOutput o = attn->forward(v[0], v[1], mask);
      return concat({o.c_t, o.alpha_t}, 1);
    };
    Tensor s = randn64({2, attn->query_dim()}, 16);
    require_gradcheck(f, {s, h});
    Var sv(s), hv(h);
    if (!attn->named_parameters().empty()) testing::require_param_grads(*attn, [&] { return f({sv, hv}); });
  }

  REQUIRE_THROWS_AS(LuongAttention({.score = LuongScore::dot, .query_dim = 2, .key_dim = 3}), ValueError);
  REQUIRE_THROWS_WITH(LuongAttention({.score = LuongScore::dot, .query_dim = 2, .key_dim = 3}),
                      Catch::Contains("dot") && Catch::Contains("2") && Catch::Contains("3"));
  REQUIRE_THROWS_WITH(LuongAttention({.score = LuongScore::location, .query_dim = 2, .key_dim = 3}),
                      Catch::Contains("max_len"));
  REQUIRE_THROWS_WITH(LuongAttention({.score = LuongScore::concat, .query_dim = 2, .key_dim = 3}),
                      Catch::Contains("attn_dim"));
  // A memory longer than the location score's max_len.
  REQUIRE_THROWS_AS(location.forward(Var(randn64({1, 2}, 1)), Var(randn64({1, 5, 3}, 2))), ShapeError);
  REQUIRE_THROWS_WITH(location.forward(Var(randn64({1, 2}, 1)), Var(randn64({1, 5, 3}, 2))),
                      Catch::Contains("max_len 4"));
  // Shapes, dtypes and masks are checked with the module named.
  REQUIRE_THROWS_WITH(general.forward(Var(randn64({2, 3}, 1)), Var(h)),
                      Catch::Contains("LuongAttention") && Catch::Contains("[2, 3]") && Catch::Contains("[2, 3, 3]"));
  REQUIRE_THROWS_AS(general.forward(Var(Tensor::zeros({2, 2})), Var(Tensor::zeros({2, 3, 3}))), DTypeError);
  REQUIRE_THROWS_WITH(general.forward(Var(randn64({2, 2}, 1)), Var(h), Tensor::zeros({2, 4}, DType::boolean)),
                      Catch::Contains("mask") && Catch::Contains("[2, 4]"));
}

// ---- Show, Attend and Tell --------------------------------------------------------------------

TEST_CASE("SoftAttention: z_t = sum_i alpha_ti a_i over an image grid, gradcheck", "[nn][gradcheck]") {
  Generator gen(21);
  SoftAttention attn({.feature_dim = 3, .hidden_dim = 2, .attn_dim = 4, .dtype = DType::f64}, gen);
  auto names = attn.named_parameters();
  REQUIRE(names[0].first == "W_a.weight");
  REQUIRE(names[1].first == "W_h.weight");
  REQUIRE(names[2].first == "W_h.bias");
  REQUIRE(names[3].first == "v.weight");
  Tensor h = randn64({2, 2}, 1), a = randn64({2, 4, 3}, 2);
  AttentionOutput out = attn.forward(Var(h), Var(a));
  std::vector<std::vector<double>> e(2);
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<double> q = apply(attn.W_h().weight(), attn.W_h().bias(), row(h, {b}));
    for (int64_t i = 0; i < 4; ++i) {
      std::vector<double> k = apply(attn.W_a().weight(), Var(), row(a, {b, i}));
      for (size_t j = 0; j < k.size(); ++j) k[j] = std::tanh(k[j] + q[j]);
      e[static_cast<size_t>(b)].push_back(apply(attn.v().weight(), Var(), k)[0]);
    }
  }
  require_matches(out, attend_by_hand(e, a, Tensor()), 1e-13);

  auto f = [&](const std::vector<Var>& v) {
    AttentionOutput o = attn.forward(v[0], v[1]);
    return concat({o.c_t, o.alpha_t}, 1);
  };
  require_gradcheck(f, {h, a});
  Var hv(h), av(a);
  testing::require_param_grads(attn, [&] { return f({hv, av}); });
}

TEST_CASE("doubly_stochastic_penalty: lambda * sum_i (1 - sum_t alpha_ti)^2, batch mean", "[nn][gradcheck]") {
  // One image, 2 steps, 3 locations: received = [0.7, 0.9, 0.4] -> 0.09 + 0.01 + 0.36 = 0.46
  Tensor alphas = Tensor::from_vector({0.5, 0.3, 0.2, 0.2, 0.6, 0.2}, {1, 2, 3}, DType::f64);
  REQUIRE(doubly_stochastic_penalty(Var(alphas), 2.0).item() == Approx(0.92).epsilon(1e-12));
  // Leaving out step 2: received = [0.5, 0.3, 0.2] -> 0.25 + 0.49 + 0.64 = 1.38
  Tensor step_mask = bool_mask({1, 0}, {1, 2});
  REQUIRE(doubly_stochastic_penalty(Var(alphas), 1.0, step_mask).item() == Approx(1.38).epsilon(1e-12));
  // Batch mean: two copies of the same image give the same value.
  Tensor two = concat({alphas, alphas}, 0);
  REQUIRE(doubly_stochastic_penalty(Var(two), 2.0).item() == Approx(0.92).epsilon(1e-12));
  require_gradcheck([&](const std::vector<Var>& v) { return doubly_stochastic_penalty(v[0], 0.5, bool_mask({1, 1, 0, 1}, {2, 2})); },
                    {randn64({2, 2, 3}, 4)});
  REQUIRE_THROWS_WITH(doubly_stochastic_penalty(Var(Tensor::zeros({2, 3})), 1.0), Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(doubly_stochastic_penalty(Var(alphas), 1.0, bool_mask({1}, {1, 1})), Catch::Contains("step_mask"));
}
