// Hard attention: sampling locations, the context at a location, the moving-average baseline,
// and REINFORCE: on a 4-cell toy the mean of 10^4 sampled gradients matches the exactly
// enumerated gradient of the expected reward.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/hard_attention.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::nn;

TEST_CASE("sample_locations: frequencies follow alpha, zero-probability cells never come up", "[nn]") {
  const std::vector<double> p = {0.1, 0.0, 0.6, 0.3};
  const int64_t N = 20000;
  Tensor alpha = Tensor::from_vector(p, {1, 4}, DType::f64).expand({N, 4});
  Generator gen(1);
  Tensor loc = sample_locations(alpha, gen);
  REQUIRE(loc.shape() == Shape{N});
  REQUIRE(loc.dtype() == DType::i64);
  std::vector<double> count(4, 0.0);
  for (double v : loc.to_vector()) count[static_cast<size_t>(v)] += 1;
  REQUIRE(count[1] == 0.0);
  for (size_t i = 0; i < 4; ++i) {
    const double sd = std::sqrt(p[i] * (1 - p[i]) / static_cast<double>(N));
    REQUIRE(std::abs(count[i] / static_cast<double>(N) - p[i]) <= 4 * sd + 1e-12);
  }
  // The same seed draws the same locations; f32 probabilities work too.
  Generator again(1);
  REQUIRE(sample_locations(alpha, again).to_vector() == loc.to_vector());
  Generator g32(2);
  Tensor one_hot = Tensor::from_vector({0.0, 0.0, 1.0}, {1, 3}, DType::f32);
  REQUIRE(sample_locations(one_hot, g32).to_vector() == std::vector<double>{2});
  REQUIRE(argmax_locations(Tensor::from_vector(p, {1, 4}, DType::f64)).to_vector() == std::vector<double>{2});

  REQUIRE_THROWS_AS(sample_locations(Tensor::zeros({4}), gen), ShapeError);
  REQUIRE_THROWS_WITH(sample_locations(Tensor::zeros({4}), gen), Catch::Contains("sample_locations") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(sample_locations(Tensor::from_vector({0.5, -0.1, 0.6}, {1, 3}, DType::f64), gen),
                      Catch::Contains("negative"));
}

TEST_CASE("hard_attention_context: z_t = a at the chosen location, no gradient reaches the scores", "[nn]") {
  Generator gen(3);
  Var a(randn({2, 3, 2}, DType::f64, gen), true);
  Var e(randn({2, 3}, DType::f64, gen), true);
  Tensor loc = argmax_locations(softmax(e, -1).value());
  Var z = hard_attention_context(a, loc);
  REQUIRE(z.shape() == Shape{2, 2});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t d = 0; d < 2; ++d)
      REQUIRE(z.value().at({b, d}) == a.value().at({b, static_cast<int64_t>(loc.at({b})), d}));
  // The choice is an index: z does not depend on e at all, so its gradient there is nothing.
  std::vector<Var> g = grad({sum(z)}, {a, e}, {}, {.allow_unused = true});
  REQUIRE(!g[1].defined());
  // a gets a gradient only at the chosen rows.
  std::vector<double> ga = g[0].value().to_vector();
  double total = 0;
  for (double v : ga) total += v;
  REQUIRE(total == 4.0);
  for (int64_t b = 0; b < 2; ++b)
    REQUIRE(g[0].value().at({b, static_cast<int64_t>(loc.at({b})), 0}) == 1.0);

  REQUIRE_THROWS_AS(hard_attention_context(a, Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})), IndexError);
  REQUIRE_THROWS_WITH(hard_attention_context(a, Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})),
                      Catch::Contains("location[1] = 3"));
  REQUIRE_THROWS_WITH(hard_attention_context(a, Tensor::zeros({2})), Catch::Contains("i64"));
}

TEST_CASE("MovingAverageBaseline: starts at the first mean, then decays", "[nn]") {
  MovingAverageBaseline b(0.9);
  REQUIRE(!b.started());
  REQUIRE(b.update(Tensor::from_vector({1.0, 3.0}, {2}, DType::f64)) == 2.0);
  REQUIRE(b.update(Tensor::from_vector({12.0}, {1}, DType::f32)) == Approx(0.9 * 2.0 + 0.1 * 12.0));
  REQUIRE(b.value() == Approx(3.0));
  REQUIRE_THROWS_AS(b.update(Tensor::zeros({0})), ValueError);
}

TEST_CASE("REINFORCE: the mean of 10^4 sampled gradients is the exact gradient of E(R) within 5%", "[nn]") {
  // Four cells with a fixed reward each; alpha = softmax(theta).
  const std::vector<double> reward_of = {1.0, 3.0, -2.0, 0.5};
  Var theta(Tensor::from_vector({0.2, -0.5, 1.0, 0.1}, {4}, DType::f64), true);
  const Tensor r = Tensor::from_vector(reward_of, {4}, DType::f64);

  // Exact, by enumerating the cells: E[R] = sum_i alpha_i r_i, differentiated by autograd.
  Tensor exact = grad({sum(softmax(theta, 0) * Var(r))}, {theta})[0].value();
  // ... which is alpha_i (r_i - E[R]) written out:
  {
    Tensor alpha = softmax(theta.value(), 0);
    const double expected_reward = sum(mul(alpha, r)).item();
    for (int64_t i = 0; i < 4; ++i)
      REQUIRE(exact.at({i}) == Approx(alpha.at({i}) * (reward_of[static_cast<size_t>(i)] - expected_reward)));
  }

  // Sampled: 100 batches of 100, the baseline taken from earlier batches only.
  const int64_t batches = 100, B = 100;
  Generator gen(2024);
  MovingAverageBaseline baseline(0.9);
  Tensor total = Tensor::zeros({4}, DType::f64);
  for (int64_t k = 0; k < batches; ++k) {
    Var log_alpha = log_softmax(expand(unsqueeze(theta, 0), {B, 4}), -1);  // [B, 4]
    Tensor loc = sample_locations(exp(log_alpha).value(), gen);
    Tensor reward = index_select(r, 0, loc);
    Var loss = reinforce_loss(log_alpha, loc, reward, {.baseline = baseline.value()});
    total = add(total, grad({loss}, {theta})[0].value());
    baseline.update(reward);
  }
  // The loss is minimised: its gradient estimates -grad E[R].
  Tensor estimate = mul(total, -1.0 / static_cast<double>(batches));
  const double err = std::sqrt(sum(square(sub(estimate, exact))).item());
  const double norm = std::sqrt(sum(square(exact)).item());
  INFO("estimate " << estimate.at({0}) << " " << estimate.at({1}) << " " << estimate.at({2}) << " "
                   << estimate.at({3}) << ", relative error " << err / norm);
  REQUIRE(err / norm < 0.05);
  REQUIRE(std::abs(baseline.value() - sum(mul(softmax(theta.value(), 0), r)).item()) < 0.5);
}

TEST_CASE("reinforce_loss: value, entropy bonus, and errors", "[nn][gradcheck]") {
  Tensor scores = Tensor::from_vector({0.3, -1.0, 2.0, 0.5, 0.5, 0.0}, {2, 3}, DType::f64);
  Tensor loc = Tensor::from_vector(std::vector<int64_t>{2, 0}, {2});
  Tensor reward = Tensor::from_vector({1.5, -0.5}, {2}, DType::f64);
  Var log_alpha = log_softmax(Var(scores), -1);
  // -mean((R - b) log alpha_s) by hand
  const Tensor la = log_alpha.value();
  const double want = -((1.5 - 0.25) * la.at({0, 2}) + (-0.5 - 0.25) * la.at({1, 0})) / 2;
  REQUIRE(reinforce_loss(log_alpha, loc, reward, {.baseline = 0.25}).item() == Approx(want).epsilon(1e-12));

  // The entropy bonus subtracts beta * mean H(alpha); its gradient is checked numerically.
  const Tensor zero = Tensor::zeros({2}, DType::f64);
  double H = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i) H -= std::exp(la.at({b, i})) * la.at({b, i});
  REQUIRE(reinforce_loss(log_alpha, loc, zero, {.entropy_weight = 0.1}).item() == Approx(-0.1 * H / 2).epsilon(1e-12));
  GradcheckResult r = gradcheck(
      [&](const std::vector<Var>& v) {
        return reinforce_loss(log_softmax(v[0], -1), loc, reward, {.baseline = 0.3, .entropy_weight = 0.2});
      },
      {scores});
  INFO(r.summary());
  REQUIRE(r.passed);

  REQUIRE_THROWS_AS(reinforce_loss(log_alpha, loc, Tensor::zeros({3}, DType::f64)), ShapeError);
  REQUIRE_THROWS_WITH(reinforce_loss(log_alpha, loc, Tensor::zeros({3}, DType::f64)),
                      Catch::Contains("reward") && Catch::Contains("[3]"));
  REQUIRE_THROWS_AS(reinforce_loss(log_alpha, Tensor::from_vector(std::vector<int64_t>{2, -1}, {2}), reward), IndexError);
  REQUIRE_THROWS_WITH(reinforce_loss(Var(Tensor::zeros({3})), loc, reward), Catch::Contains("[3]"));
}
