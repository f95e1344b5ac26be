// Weight initialisation: gains and fans as torch.nn.init defines them, the statistics of every
// init function on large tensors, and the default initialisation of each layer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/conv.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::nn;

namespace {
struct Stats {
  double mean = 0, var = 0, min = 0, max = 0;
};
Stats stats_of(const Tensor& t) {
  std::vector<double> v = t.to_vector();
  Stats s;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.var += (x - s.mean) * (x - s.mean);
  s.var /= static_cast<double>(v.size());
  return s;
}
}  // namespace

TEST_CASE("init: calculate_gain matches torch.nn.init.calculate_gain", "[nn]") {
  using init::Nonlinearity;
  REQUIRE(init::calculate_gain(Nonlinearity::linear) == 1.0);
  REQUIRE(init::calculate_gain(Nonlinearity::conv) == 1.0);
  REQUIRE(init::calculate_gain(Nonlinearity::sigmoid) == 1.0);
  REQUIRE(init::calculate_gain(Nonlinearity::tanh) == Approx(5.0 / 3.0));
  REQUIRE(init::calculate_gain(Nonlinearity::relu) == Approx(std::sqrt(2.0)));
  REQUIRE(init::calculate_gain(Nonlinearity::leaky_relu) == Approx(std::sqrt(2.0 / (1.0 + 0.01 * 0.01))));
  REQUIRE(init::calculate_gain(Nonlinearity::leaky_relu, std::sqrt(5.0)) == Approx(std::sqrt(1.0 / 3.0)));
  REQUIRE(init::calculate_gain(Nonlinearity::selu) == Approx(0.75));
}

TEST_CASE("init: fans of Linear and conv weights", "[nn]") {
  init::Fans f = init::calculate_fans({3, 4});
  REQUIRE(f.fan_in == 4);
  REQUIRE(f.fan_out == 3);
  f = init::calculate_fans({8, 3, 5});  // Conv1d [out, in, k]
  REQUIRE(f.fan_in == 15);
  REQUIRE(f.fan_out == 40);
  f = init::calculate_fans({16, 3, 5, 5});  // Conv2d [out, in, kh, kw]
  REQUIRE(f.fan_in == 75);
  REQUIRE(f.fan_out == 400);
  REQUIRE_THROWS_AS(init::calculate_fans({5}), ValueError);
  REQUIRE_THROWS_WITH(init::calculate_fans({5}), Catch::Contains("calculate_fans") && Catch::Contains("[5]"));
  Tensor bias = Tensor::zeros({5}, DType::f64);
  REQUIRE_THROWS_WITH(init::xavier_uniform_(bias), Catch::Contains("xavier_uniform_") && Catch::Contains("[5]"));
  REQUIRE_THROWS_WITH(init::kaiming_normal_(bias), Catch::Contains("kaiming_normal_") && Catch::Contains("[5]"));
}

TEST_CASE("init: uniform_ and normal_ have the requested statistics, f32 and f64", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Generator gen(7);
    Tensor t = Tensor::empty({200, 500}, dt);
    init::uniform_(t, -0.5, 1.5, gen);
    Stats s = stats_of(t);
    REQUIRE(s.min >= -0.5);
    REQUIRE(s.max < 1.5);
    REQUIRE(s.mean == Approx(0.5).margin(0.01));
    REQUIRE(s.var == Approx(4.0 / 12.0).epsilon(0.02));

    init::normal_(t, 2.0, 3.0, gen);
    s = stats_of(t);
    REQUIRE(s.mean == Approx(2.0).margin(0.03));
    REQUIRE(std::sqrt(s.var) == Approx(3.0).epsilon(0.01));
  }
}

TEST_CASE("init: the same generator seed gives the same values, a view is filled in place", "[nn]") {
  Generator g1(3), g2(3), g3(4);
  Tensor a = Tensor::empty({5, 6}, DType::f64), b = Tensor::empty({5, 6}, DType::f64),
         c = Tensor::empty({5, 6}, DType::f64);
  init::xavier_normal_(a, 1.0, g1);
  init::xavier_normal_(b, 1.0, g2);
  init::xavier_normal_(c, 1.0, g3);
  REQUIRE(a.to_vector() == b.to_vector());
  REQUIRE(a.to_vector() != c.to_vector());

  // A transposed view of a [3, 4] buffer: the draws land in the view's row-major order.
  Tensor base = Tensor::zeros({3, 4}, DType::f64);
  Tensor view = base.transpose(0, 1);
  Generator g4(9), g5(9);
  init::uniform_(view, -1.0, 1.0, g4);
  Tensor expected = uniform({4, 3}, -1.0, 1.0, DType::f64, g5);
  REQUIRE(view.to_vector() == expected.to_vector());
  REQUIRE(base.at({2, 1}) == expected.at({1, 2}));

  init::ones_(base);
  REQUIRE(base.to_vector() == std::vector<double>(12, 1.0));
  init::zeros_(view);
  REQUIRE(base.to_vector() == std::vector<double>(12, 0.0));
}

TEST_CASE("init: xavier variance is gain^2 * 2 / (fan_in + fan_out)", "[nn]") {
  Generator gen(11);
  Tensor t = Tensor::empty({300, 700}, DType::f32);
  const double var = 2.0 / 1000.0;
  init::xavier_uniform_(t, 1.0, gen);
  Stats s = stats_of(t);
  REQUIRE(s.max <= std::sqrt(6.0 / 1000.0));
  REQUIRE(s.min >= -std::sqrt(6.0 / 1000.0));
  REQUIRE(s.max > 0.99 * std::sqrt(6.0 / 1000.0));  // really uniform up to the bound
  REQUIRE(s.var == Approx(var).epsilon(0.02));
  REQUIRE(s.mean == Approx(0.0).margin(1e-3));

  init::xavier_normal_(t, 2.0, gen);
  s = stats_of(t);
  REQUIRE(s.var == Approx(4.0 * var).epsilon(0.02));

  // A conv weight [32, 16, 3, 3]: fan_in 144, fan_out 288.
  Tensor w = Tensor::empty({32, 16, 3, 3}, DType::f64);
  init::xavier_uniform_(w, 1.0, gen);
  REQUIRE(stats_of(w).var == Approx(2.0 / (144 + 288)).epsilon(0.05));
}

TEST_CASE("init: kaiming variance is gain^2 / fan, in both modes", "[nn]") {
  using init::FanMode;
  using init::Nonlinearity;
  Generator gen(12);
  Tensor t = Tensor::empty({256, 1024}, DType::f64);
  init::kaiming_uniform_(t, {}, gen);  // leaky_relu with a = 0: gain sqrt(2), fan_in 1024
  Stats s = stats_of(t);
  REQUIRE(s.max <= std::sqrt(6.0 / 1024.0));
  REQUIRE(s.var == Approx(2.0 / 1024.0).epsilon(0.02));

  init::kaiming_uniform_(t, {.mode = FanMode::fan_out}, gen);
  REQUIRE(stats_of(t).var == Approx(2.0 / 256.0).epsilon(0.02));

  init::kaiming_normal_(t, {.mode = FanMode::fan_out, .nonlinearity = Nonlinearity::relu}, gen);
  s = stats_of(t);
  REQUIRE(s.var == Approx(2.0 / 256.0).epsilon(0.02));
  REQUIRE(s.mean == Approx(0.0).margin(1e-3));

  init::kaiming_normal_(t, {.nonlinearity = Nonlinearity::tanh}, gen);
  REQUIRE(stats_of(t).var == Approx(25.0 / 9.0 / 1024.0).epsilon(0.02));

  // a = sqrt(5) with leaky_relu: the bound becomes exactly 1 / sqrt(fan_in).
  Tensor c = Tensor::empty({64, 32, 5}, DType::f32);  // fan_in 160
  init::kaiming_uniform_(c, {.a = std::sqrt(5.0)}, gen);
  s = stats_of(c);
  REQUIRE(s.max <= 1.0 / std::sqrt(160.0) + 1e-7);
  REQUIRE(s.min >= -1.0 / std::sqrt(160.0) - 1e-7);
  REQUIRE(s.var == Approx(1.0 / (3.0 * 160.0)).epsilon(0.05));
}

TEST_CASE("init: non-floating tensors are rejected, empty tensors are left alone", "[nn]") {
  Tensor ids = Tensor::zeros({3, 4}, DType::i64);
  REQUIRE_THROWS_AS(init::uniform_(ids, 0, 1), DTypeError);
  REQUIRE_THROWS_WITH(init::uniform_(ids, 0, 1), Catch::Contains("uniform_") && Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(init::kaiming_uniform_(ids), Catch::Contains("kaiming_uniform_") && Catch::Contains("[3, 4]"));
  REQUIRE_THROWS_AS(init::zeros_(ids), DTypeError);
  Tensor empty = Tensor::empty({0, 5}, DType::f32);
  init::kaiming_uniform_(empty);
  init::xavier_normal_(empty);
  REQUIRE(empty.numel() == 0);
}

TEST_CASE("init: Linear's default weights and bias lie in +-1/sqrt(in)", "[nn]") {
  Generator gen(1);
  Linear lin({.in = 400, .out = 300}, gen);
  const double bound = 1.0 / std::sqrt(400.0);
  Stats w = stats_of(lin.weight().value());
  REQUIRE(w.max <= bound);
  REQUIRE(w.min >= -bound);
  REQUIRE(w.max > 0.99 * bound);
  REQUIRE(w.var == Approx(bound * bound / 3.0).epsilon(0.03));
  Stats b = stats_of(lin.bias().value());
  REQUIRE(b.max <= bound);
  REQUIRE(b.min >= -bound);
  REQUIRE(b.max - b.min > bound);  // spread out, not all zero

  // Same seed, same model; another seed, another model.
  Generator g1(5), g2(5), g3(6);
  Linear a({.in = 3, .out = 2}, g1), b2({.in = 3, .out = 2}, g2), c({.in = 3, .out = 2}, g3);
  REQUIRE(a.weight().value().to_vector() == b2.weight().value().to_vector());
  REQUIRE(a.bias().value().to_vector() == b2.bias().value().to_vector());
  REQUIRE(a.weight().value().to_vector() != c.weight().value().to_vector());
}

TEST_CASE("init: Embedding is N(0, 1) with a zero padding row, LayerNorm is ones and zeros", "[nn]") {
  Generator gen(2);
  Embedding emb({.num = 1000, .dim = 64, .padding_idx = 3}, gen);
  Tensor w = emb.weight().value();
  Stats s = stats_of(w);
  REQUIRE(s.mean == Approx(0.0).margin(0.01));
  REQUIRE(s.var == Approx(1.0).epsilon(0.02));
  REQUIRE(w.select(0, 3).to_vector() == std::vector<double>(64, 0.0));
  REQUIRE(w.select(0, 4).to_vector() != std::vector<double>(64, 0.0));

  LayerNorm ln({.dim = 5});
  REQUIRE(ln.weight().value().to_vector() == std::vector<double>(5, 1.0));
  REQUIRE(ln.bias().value().to_vector() == std::vector<double>(5, 0.0));
}

TEST_CASE("init: Conv weights lie in +-1/sqrt(in * kernel elements)", "[nn]") {
  Generator gen(3);
  Conv2d c2({.in = 8, .out = 64, .kernel = 3}, gen);
  const double bound2 = 1.0 / std::sqrt(72.0);
  Stats s = stats_of(c2.weight().value());
  REQUIRE(s.max <= bound2);
  REQUIRE(s.min >= -bound2);
  REQUIRE(s.max > 0.98 * bound2);
  Stats b = stats_of(c2.bias().value());
  REQUIRE(b.max <= bound2);
  REQUIRE(b.min >= -bound2);

  Conv1d c1({.in = 4, .out = 100, .kernel = 5}, gen);
  const double bound1 = 1.0 / std::sqrt(20.0);
  s = stats_of(c1.weight().value());
  REQUIRE(s.max <= bound1);
  REQUIRE(s.min >= -bound1);
  REQUIRE(s.max > 0.98 * bound1);
}
