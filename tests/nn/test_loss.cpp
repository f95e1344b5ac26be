// cross_entropy (fused) against hand-computed numbers and against the unfused composition
// log_softmax + gather + mean, with ignore_index, label smoothing and every reduction; its
// gradients (first and second order); extreme logits; mse_loss; and the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/loss.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::nn;

namespace {
Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}
Tensor ids(const std::vector<int64_t>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// The loss built from separate ops, as one would write it without a fused kernel:
//   logp = log_softmax(z); row_i = -(1 - eps) logp[i, t_i] - eps * mean_j logp[i, j];
// ignored rows are masked out; mean divides by the number of rows kept.
// z [N, C], t [N].
Var unfused_cross_entropy(const Var& z, const Tensor& t, const CrossEntropyOptions& o) {
  const int64_t N = t.numel();
  std::vector<int64_t> safe(static_cast<size_t>(N));
  std::vector<double> keep(static_cast<size_t>(N));
  double count = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t ti = static_cast<int64_t>(t.at({i}));
    const bool kept = ti != o.ignore_index;
    safe[static_cast<size_t>(i)] = kept ? ti : 0;
    keep[static_cast<size_t>(i)] = kept ? 1.0 : 0.0;
    count += kept ? 1.0 : 0.0;
  }
  Var logp = log_softmax(z, -1);                                                 // [N, C]
  Var picked = squeeze(gather(logp, 1, ids(safe, {N, 1})), 1);                   // [N]
  Var row = -(1.0 - o.label_smoothing) * picked - o.label_smoothing * mean(logp, {-1});  // [N]
  row = row * Var(Tensor::from_vector(keep, {N}, z.dtype()));
  if (o.reduction == Reduction::none) return row;
  if (o.reduction == Reduction::sum) return sum(row);
  return sum(row) / count;
}

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
}  // namespace

TEST_CASE("cross_entropy: hand-computed values, with and without smoothing", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Var z(Tensor::from_vector({1.0, 2.0, 3.0, 0.0, 0.0, 0.0}, {2, 3}, dt));
    const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));  // 3.40760596...
    Tensor t = ids({2, 0}, {2});
    // Row 0: lse - 3; row 1: log 3.
    Var l = cross_entropy(z, t);
    REQUIRE(l.dtype() == dt);
    REQUIRE(l.shape() == Shape{});
    REQUIRE(l.item() == Approx((lse - 3.0 + std::log(3.0)) / 2).epsilon(1e-6));
    Var none = cross_entropy(z, t, {.reduction = Reduction::none});
    REQUIRE(none.shape() == Shape{2});
    REQUIRE(none.value().at({0}) == Approx(0.40760596444).epsilon(1e-6));
    REQUIRE(none.value().at({1}) == Approx(std::log(3.0)).epsilon(1e-6));
    // eps = 0.1: loss = lse - 0.9 * z_t - 0.1 * mean_j z_j.
    // Row 0: 3.4076 - 2.7 - 0.2 = 0.5076; row 1: log 3 (a uniform row cannot be helped).
    Var smooth = cross_entropy(z, t, {.label_smoothing = 0.1, .reduction = Reduction::none});
    REQUIRE(smooth.value().at({0}) == Approx(lse - 0.9 * 3.0 - 0.1 * 2.0).epsilon(1e-6));
    REQUIRE(smooth.value().at({0}) == Approx(0.50760596444).epsilon(1e-6));
    REQUIRE(smooth.value().at({1}) == Approx(std::log(3.0)).epsilon(1e-6));
    Var total = cross_entropy(z, t, {.label_smoothing = 0.1, .reduction = Reduction::sum});
    REQUIRE(total.item() == Approx(0.50760596444 + std::log(3.0)).epsilon(1e-6));
  }
}

TEST_CASE("cross_entropy: the gradient is (softmax - target distribution) / count", "[nn]") {
  Var z(Tensor::from_vector({1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 5.0, 5.0, 5.0}, {3, 3}, DType::f64), true);
  Tensor t = ids({2, -100, 1}, {3});
  Var l = cross_entropy(z, t, {.label_smoothing = 0.3});
  l.backward();
  const double e = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const std::vector<double> p0 = {std::exp(1.0) / e, std::exp(2.0) / e, std::exp(3.0) / e};
  const std::vector<double> q0 = {0.1, 0.1, 0.8}, q2 = {0.1, 0.8, 0.1};
  std::vector<double> g = z.grad().to_vector();
  for (size_t j = 0; j < 3; ++j) {
    REQUIRE(g[j] == Approx((p0[j] - q0[j]) / 2));  // two targets kept
    REQUIRE(g[3 + j] == 0.0);                       // the ignored row
    REQUIRE(g[6 + j] == Approx((1.0 / 3.0 - q2[j]) / 2));
  }
}

TEST_CASE("cross_entropy: fused equals the unfused composition on random data", "[nn]") {
  Generator gen(3);
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t N = 1 + static_cast<int64_t>(gen.below(9)), C = 2 + static_cast<int64_t>(gen.below(6));
    const double eps = trial % 3 == 0 ? 0.0 : 0.05 * static_cast<double>(trial);
    const Reduction red = trial % 4 == 3 ? Reduction::sum : (trial % 4 == 2 ? Reduction::none : Reduction::mean);
    // ignore_index is the default -100, or a real class (0) as when id 0 is padding.
    const int64_t ignore = trial % 2 == 0 ? -100 : 0;
    std::vector<int64_t> tv;
    for (int64_t i = 0; i < N; ++i) tv.push_back(gen.below(4) == 0 ? ignore : static_cast<int64_t>(gen.below(C)));
    tv[0] = C - 1;  // at least one kept row, so the unfused mean is not 0 / 0
    Tensor t = ids(tv, {N});
    const CrossEntropyOptions o{.ignore_index = ignore, .label_smoothing = eps, .reduction = red};
    INFO("N " << N << " C " << C << " eps " << eps << " ignore " << ignore);

    Var z1(randn64({N, C}, 100 + static_cast<uint64_t>(trial)) * 3.0, true);
    Var z2(z1.value(), true);
    Var fused = cross_entropy(z1, t, o);
    Var ref = unfused_cross_entropy(z2, t, o);
    REQUIRE(fused.shape() == ref.shape());
    REQUIRE(max_abs_diff(fused.value(), ref.value()) < 1e-12);
    Tensor w = randn64(fused.shape(), 7);
    sum(fused * Var(w)).backward();
    sum(ref * Var(w)).backward();
    INFO("grad diff " << max_abs_diff(z1.grad(), z2.grad()));
    REQUIRE(max_abs_diff(z1.grad(), z2.grad()) < 1e-12);
  }
}

TEST_CASE("cross_entropy: (B, T, C) logits with (B, T) targets, and non-contiguous logits", "[nn]") {
  Tensor z = randn64({2, 3, 4}, 5);
  Tensor t = ids({0, 3, -100, 2, 1, 1}, {2, 3});
  Var l3 = cross_entropy(Var(z), t, {.label_smoothing = 0.2});
  Var l2 = cross_entropy(Var(z.reshape({6, 4})), t.reshape({6}), {.label_smoothing = 0.2});
  REQUIRE(l3.item() == Approx(l2.item()).epsilon(1e-14));
  Var none = cross_entropy(Var(z), t, {.reduction = Reduction::none});
  REQUIRE(none.shape() == Shape{2, 3});
  REQUIRE(none.value().at({0, 2}) == 0.0);
  // The same logits stored as [C, N] and transposed.
  Tensor zt = z.reshape({6, 4}).transpose(0, 1).contiguous().transpose(0, 1);
  REQUIRE_FALSE(zt.is_contiguous());
  REQUIRE(cross_entropy(Var(zt), t.reshape({6}), {.label_smoothing = 0.2}).item() == Approx(l2.item()).epsilon(1e-14));
}

TEST_CASE("cross_entropy: finite for logits of +-1e4 in f32", "[nn]") {
  Var z(Tensor::from_vector({1e4, -1e4, 0.0, -1e4, 1e4, 1e4}, {2, 3}, DType::f32), true);
  Var none = cross_entropy(z, ids({0, 0}, {2}), {.reduction = Reduction::none});
  std::vector<double> v = none.value().to_vector();
  REQUIRE(v[0] == 0.0);  // exp(-1e4) vanishes
  REQUIRE(v[1] == Approx(2e4 + std::log(2.0)));
  Var l = cross_entropy(z, ids({1, 2}, {2}), {.label_smoothing = 0.1});
  REQUIRE(std::isfinite(l.item()));
  l.backward();
  for (double g : z.grad().to_vector()) REQUIRE(std::isfinite(g));
  // Row 1, target 2: softmax = [0, 0.5, 0.5], q = [0.0333, 0.0333, 0.9333], halved for the mean.
  REQUIRE(z.grad().at({1, 0}) == Approx((0.0 - 0.1 / 3) / 2).margin(1e-6));
  REQUIRE(z.grad().at({1, 2}) == Approx((0.5 - 0.9 - 0.1 / 3) / 2).margin(1e-6));
}

TEST_CASE("cross_entropy: all targets ignored gives 0 with a zero gradient", "[nn]") {
  Var z(randn64({3, 4}, 8), true);
  Var l = cross_entropy(z, ids({-100, -100, -100}, {3}));
  REQUIRE(l.item() == 0.0);
  l.backward();
  REQUIRE(z.grad().to_vector() == std::vector<double>(12, 0.0));
  REQUIRE(cross_entropy(z, ids({-100, -100, -100}, {3}), {.reduction = Reduction::sum}).item() == 0.0);
  // No rows at all behaves the same.
  REQUIRE(cross_entropy(Var(Tensor::zeros({0, 4}, DType::f64)), Tensor::zeros({0}, DType::i64)).item() == 0.0);
}

TEST_CASE("cross_entropy: gradients for every reduction, smoothing and ignore_index", "[nn][gradcheck]") {
  Tensor t = ids({2, -100, 0, 3, 3}, {5});
  for (Reduction red : {Reduction::mean, Reduction::sum, Reduction::none}) {
    for (double eps : {0.0, 0.25}) {
      INFO("eps " << eps);
      require_gradcheck(
          [&](const std::vector<Var>& v) {
            return cross_entropy(v[0], t, {.label_smoothing = eps, .reduction = red});
          },
          {randn64({5, 4}, 9)});
    }
  }
  // [B, T, C] from a permuted buffer.
  Tensor t2 = ids({1, 0, 2, -100, 2, 1}, {3, 2});
  require_gradcheck([&](const std::vector<Var>& v) { return cross_entropy(v[0], t2, {.label_smoothing = 0.1}); },
                    {randn64({3, 3, 2}, 10).permute({0, 2, 1})});
  GradcheckResult r = gradgradcheck(
      [&](const std::vector<Var>& v) { return cross_entropy(v[0], t, {.label_smoothing = 0.1}); },
      {randn64({5, 4}, 11)});
  INFO(r.summary());
  REQUIRE(r.passed);
  r = gradgradcheck([&](const std::vector<Var>& v) { return cross_entropy(v[0], t, {.reduction = Reduction::none}); },
                    {randn64({5, 4}, 12)});
  INFO(r.summary());
  REQUIRE(r.passed);
}

TEST_CASE("cross_entropy: bad targets, shapes and options are errors", "[nn]") {
  Var z(Tensor::zeros({2, 5}));
  REQUIRE_THROWS_AS(cross_entropy(z, ids({1, 7}, {2})), IndexError);
  REQUIRE_THROWS_WITH(cross_entropy(z, ids({1, 7}, {2})),
                      Catch::Contains("cross_entropy") && Catch::Contains("target 7") && Catch::Contains("C = 5"));
  REQUIRE_THROWS_WITH(cross_entropy(z, ids({-1, 0}, {2})),
                      Catch::Contains("cross_entropy") && Catch::Contains("target -1"));
  REQUIRE_THROWS_AS(cross_entropy(z, ids({-100, 0}, {2}), {.ignore_index = 3}), IndexError);
  REQUIRE_NOTHROW(cross_entropy(z, ids({3, 0}, {2}), {.ignore_index = 3}));
  REQUIRE_THROWS_AS(cross_entropy(z, Tensor::zeros({2})), DTypeError);
  REQUIRE_THROWS_WITH(cross_entropy(z, Tensor::zeros({2})), Catch::Contains("cross_entropy") && Catch::Contains("f32"));
  REQUIRE_THROWS_AS(cross_entropy(Var(Tensor::zeros({2, 5}, DType::i64)), ids({0, 0}, {2})), DTypeError);
  REQUIRE_THROWS_AS(cross_entropy(z, ids({0, 0, 0}, {3})), ShapeError);
  REQUIRE_THROWS_WITH(cross_entropy(z, ids({0, 0, 0}, {3})),
                      Catch::Contains("cross_entropy") && Catch::Contains("[2, 5]") && Catch::Contains("[3]"));
  REQUIRE_THROWS_AS(cross_entropy(Var(Tensor::scalar(1.0)), Tensor::scalar(0, DType::i64)), ShapeError);
  REQUIRE_THROWS_AS(cross_entropy(z, ids({0, 0}, {2}), {.label_smoothing = 1.5}), ValueError);
  REQUIRE_THROWS_WITH(cross_entropy(z, ids({0, 0}, {2}), {.label_smoothing = -0.1}),
                      Catch::Contains("label_smoothing"));
}

TEST_CASE("mse_loss: values, reductions, gradients and shape errors", "[nn][gradcheck]") {
  Var p(Tensor::from_vector({1.0, 2.0, 3.0, 4.0}, {2, 2}, DType::f64));
  Var t(Tensor::from_vector({1.0, 0.0, 5.0, 1.0}, {2, 2}, DType::f64));
  REQUIRE(mse_loss(p, t).item() == Approx((0 + 4 + 4 + 9) / 4.0));
  REQUIRE(mse_loss(p, t, Reduction::sum).item() == Approx(17.0));
  REQUIRE(mse_loss(p, t, Reduction::none).value().to_vector() == std::vector<double>{0, 4, 4, 9});
  require_gradcheck([](const std::vector<Var>& v) { return mse_loss(v[0], v[1]); },
                    {randn64({3, 4}, 1), randn64({4, 3}, 2).transpose(0, 1)});
  REQUIRE_THROWS_AS(mse_loss(Var(Tensor::zeros({3})), Var(Tensor::zeros({3, 1}))), ShapeError);
  REQUIRE_THROWS_WITH(mse_loss(Var(Tensor::zeros({3})), Var(Tensor::zeros({3, 1}))),
                      Catch::Contains("mse_loss") && Catch::Contains("[3]") && Catch::Contains("[3, 1]"));
}
