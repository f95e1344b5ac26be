// softmax, log_softmax and layer_norm on Vars: forward values, gradients against central
// differences (first and second order), and the numerically hard cases.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/random.h"

using namespace lumen;

namespace {
Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}

// A random shape of rank 1..3 with extents 1..4, and a random dim of it (maybe negative).
Shape random_shape(Generator& gen) {
  Shape s;
  const uint64_t rank = 1 + gen.below(3);
  for (uint64_t i = 0; i < rank; ++i) s.push_back(1 + static_cast<int64_t>(gen.below(4)));
  return s;
}
int64_t random_dim(Generator& gen, int64_t rank) { return static_cast<int64_t>(gen.below(2 * rank)) - rank; }

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
void require_gradgradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradgradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}

// The last-dim layer norm of a contiguous [rows, D] tensor, by the textbook formula.
std::vector<double> naive_layer_norm(const std::vector<double>& x, int64_t D, const std::vector<double>& w,
                                     const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / static_cast<size_t>(D); ++r) {
    const double* row = &x[r * static_cast<size_t>(D)];
    double mu = 0, var = 0;
    for (int64_t j = 0; j < D; ++j) mu += row[j] / static_cast<double>(D);
    for (int64_t j = 0; j < D; ++j) var += (row[j] - mu) * (row[j] - mu) / static_cast<double>(D);
    for (int64_t j = 0; j < D; ++j) {
      double v = (row[j] - mu) / std::sqrt(var + eps);
      y[r * static_cast<size_t>(D) + static_cast<size_t>(j)] = v * (w.empty() ? 1.0 : w[static_cast<size_t>(j)]) +
                                                              (b.empty() ? 0.0 : b[static_cast<size_t>(j)]);
    }
  }
  return y;
}
}  // namespace

// ---- softmax ----------------------------------------------------------------------------------

TEST_CASE("softmax: forward equals the tensor op and a hand computation", "[autograd]") {
  Var x(Tensor::from_vector({0.0, std::log(2.0), std::log(5.0), 1.0, 1.0, 1.0}, {2, 3}, DType::f64), true);
  Var y = softmax(x, -1);
  REQUIRE(allclose(y.value(), lumen::softmax(x.value(), -1), 0, 0));
  std::vector<double> v = y.value().to_vector();
  REQUIRE(v[0] == Approx(1.0 / 8));
  REQUIRE(v[1] == Approx(2.0 / 8));
  REQUIRE(v[2] == Approx(5.0 / 8));
  REQUIRE(v[4] == Approx(1.0 / 3));
  REQUIRE(std::string(y.node()->op()) == "softmax");
  REQUIRE(y.node()->attrs() == "dim=-1");
}

TEST_CASE("softmax: the gradient of one output is y_i (delta_ij - y_j)", "[autograd]") {
  Var x(Tensor::from_vector({0.5, -1.0, 2.0}, {3}, DType::f64), true);
  Var y = softmax(x, 0);
  select(y, 0, 1).backward();  // d y_1 / d x_j
  std::vector<double> p = y.value().to_vector();
  std::vector<double> gx = x.grad().to_vector();
  REQUIRE(gx[0] == Approx(-p[1] * p[0]));
  REQUIRE(gx[1] == Approx(p[1] * (1 - p[1])));
  REQUIRE(gx[2] == Approx(-p[1] * p[2]));
}

TEST_CASE("softmax and log_softmax: backward reads the saved output, even of a temporary", "[autograd]") {
  // Their backward uses y, not x: the node says so, and the pass keeps y alive although only
  // the (already released) consumer held it.
  Tensor t = randn64({2, 3}, 10), w = randn64({2, 3}, 11);
  Var x(t, true);
  sum(softmax(x, -1) * Var(w)).backward();
  Tensor y = lumen::softmax(t, -1);
  Tensor want = lumen::mul(y, lumen::sub(w, lumen::sum(lumen::mul(w, y), {-1}, true)));
  REQUIRE(allclose(x.grad(), want, 1e-12, 1e-12));
  x.zero_grad();
  sum(log_softmax(x, -1) * Var(w)).backward();
  Tensor want_log = lumen::sub(w, lumen::mul(y, lumen::sum(w, {-1}, true)));
  REQUIRE(allclose(x.grad(), want_log, 1e-12, 1e-12));
  Var s = softmax(x, 0);
  REQUIRE(s.node()->saved_spec().output);
  REQUIRE_FALSE(s.node()->saved_spec().inputs);
}

TEST_CASE("softmax: gradcheck over random shapes and dims", "[autograd][gradcheck]") {
  Generator gen(11);
  for (uint64_t trial = 0; trial < 6; ++trial) {
    Shape s = random_shape(gen);
    const int64_t dim = random_dim(gen, static_cast<int64_t>(s.size()));
    INFO("shape " << shape_str(s) << " dim " << dim);
    require_gradcheck([dim](const std::vector<Var>& v) { return softmax(v[0], dim); }, {randn64(s, trial)});
  }
}

TEST_CASE("softmax: gradcheck on non-contiguous inputs", "[autograd][gradcheck]") {
  // A transposed leaf, a step slice and an expanded view taken inside the function.
  require_gradcheck([](const std::vector<Var>& v) { return softmax(v[0], 1); }, {randn64({4, 3}, 1).transpose(0, 1)});
  require_gradcheck([](const std::vector<Var>& v) { return softmax(slice(v[0], 1, 0, 6, 2), -1); },
                    {randn64({2, 6}, 2)});
  require_gradcheck([](const std::vector<Var>& v) { return softmax(transpose(v[0], 0, 2), 0); },
                    {randn64({2, 3, 4}, 3)});
  require_gradcheck([](const std::vector<Var>& v) { return softmax(expand(v[0], {3, 4}) * v[1], -1); },
                    {randn64({1, 4}, 4), randn64({3, 4}, 5)});
}

TEST_CASE("softmax: gradgradcheck", "[autograd][gradcheck]") {
  require_gradgradcheck([](const std::vector<Var>& v) { return softmax(v[0], -1); }, {randn64({2, 4}, 6)});
  require_gradgradcheck([](const std::vector<Var>& v) { return softmax(v[0], 0); }, {randn64({3, 2}, 7)});
}

TEST_CASE("softmax: logits of +-1e4 give finite values and the exact gradient", "[autograd]") {
  Var x(Tensor::from_vector({1e4, -1e4, 0.0, -1e4, -1e4, -1e4}, {2, 3}, DType::f64), true);
  Var y = softmax(x, -1);
  std::vector<double> v = y.value().to_vector();
  std::vector<double> want = {1, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3};
  for (size_t i = 0; i < v.size(); ++i) REQUIRE(v[i] == Approx(want[i]).margin(1e-12));
  // L = sum(w * y): dL/dx = y * (w - sum(w * y)).
  Tensor w = Tensor::from_vector({1.0, 2.0, 3.0, 1.0, 2.0, 6.0}, {2, 3}, DType::f64);
  y.backward(w);
  std::vector<double> gx = x.grad().to_vector();
  std::vector<double> want_g = {0, 0, 0, (1 - 3.0) / 3, (2 - 3.0) / 3, (6 - 3.0) / 3};
  for (size_t i = 0; i < gx.size(); ++i) {
    REQUIRE(std::isfinite(gx[i]));
    REQUIRE(gx[i] == Approx(want_g[i]).margin(1e-12));
  }
}

TEST_CASE("softmax: the same in f32", "[autograd]") {
  Var x(Tensor::from_vector(std::vector<float>{1e4f, -1e4f, 0.0f}, {3}), true);
  Var y = softmax(x, 0);
  y.backward(Tensor::from_vector(std::vector<float>{1.0f, 2.0f, 3.0f}, {3}));
  std::vector<double> v = y.value().to_vector(), gx = x.grad().to_vector();
  REQUIRE(v == std::vector<double>{1.0, 0.0, 0.0});
  for (double g : gx) REQUIRE(g == 0.0);
}

TEST_CASE("softmax: a bad dim is an IndexError naming the op", "[autograd]") {
  Var x(randn64({2, 3}, 8), true);
  REQUIRE_THROWS_AS(softmax(x, 2), IndexError);
  REQUIRE_THROWS_WITH(softmax(x, 2), Catch::Contains("softmax"));
}

// ---- log_softmax ------------------------------------------------------------------------------

TEST_CASE("log_softmax: forward equals the tensor op and log(softmax)", "[autograd]") {
  Tensor t = randn64({3, 4}, 9);
  Var y = log_softmax(Var(t, true), 1);
  REQUIRE(allclose(y.value(), lumen::log_softmax(t, 1), 0, 0));
  REQUIRE(allclose(y.value(), lumen::log(lumen::softmax(t, 1)), 1e-12, 1e-12));
  REQUIRE(y.node()->attrs() == "dim=1");
}

TEST_CASE("log_softmax: gradcheck over random shapes, dims and layouts", "[autograd][gradcheck]") {
  Generator gen(12);
  for (uint64_t trial = 0; trial < 6; ++trial) {
    Shape s = random_shape(gen);
    const int64_t dim = random_dim(gen, static_cast<int64_t>(s.size()));
    INFO("shape " << shape_str(s) << " dim " << dim);
    require_gradcheck([dim](const std::vector<Var>& v) { return log_softmax(v[0], dim); }, {randn64(s, 20 + trial)});
  }
  require_gradcheck([](const std::vector<Var>& v) { return log_softmax(v[0], -1); },
                    {randn64({5, 3}, 30).transpose(0, 1)});
  require_gradcheck([](const std::vector<Var>& v) { return log_softmax(slice(v[0], 0, 1, 7, 3), 0); },
                    {randn64({7, 2}, 31)});
}

TEST_CASE("log_softmax: gradgradcheck", "[autograd][gradcheck]") {
  require_gradgradcheck([](const std::vector<Var>& v) { return log_softmax(v[0], -1); }, {randn64({2, 4}, 32)});
  require_gradgradcheck([](const std::vector<Var>& v) { return log_softmax(v[0], 0); }, {randn64({3, 2, 2}, 33)});
}

TEST_CASE("log_softmax: logits of +-1e4 give finite values and the exact gradient", "[autograd]") {
  Var x(Tensor::from_vector({1e4, -1e4, 0.0}, {3}, DType::f64), true);
  Var y = log_softmax(x, 0);
  std::vector<double> v = y.value().to_vector();
  REQUIRE(v[0] == Approx(0.0).margin(1e-12));
  REQUIRE(v[1] == Approx(-2e4));
  REQUIRE(v[2] == Approx(-1e4));
  // L = sum(w * y): dL/dx = w - softmax(x) * sum(w).
  y.backward(Tensor::from_vector({1.0, 2.0, 3.0}, {3}, DType::f64));
  std::vector<double> gx = x.grad().to_vector();
  REQUIRE(gx[0] == Approx(1.0 - 6.0));
  REQUIRE(gx[1] == Approx(2.0));
  REQUIRE(gx[2] == Approx(3.0));
}

// ---- layer_norm -------------------------------------------------------------------------------

TEST_CASE("layer_norm: forward equals the tensor op and the textbook formula", "[autograd]") {
  Tensor x = randn64({3, 5}, 40), w = randn64({5}, 41), b = randn64({5}, 42);
  Var y = layer_norm(Var(x, true), Var(w, true), Var(b, true), 1e-5);
  REQUIRE(allclose(y.value(), lumen::layer_norm(x, w, b, 1e-5), 0, 0));
  std::vector<double> want = naive_layer_norm(x.to_vector(), 5, w.to_vector(), b.to_vector(), 1e-5);
  std::vector<double> got = y.value().to_vector();
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-12));
  REQUIRE(y.node()->inputs().size() == 3);
  REQUIRE(y.node()->attrs() == "eps=1e-05");

  Var y2 = layer_norm(Var(x, true), Var(), Var(), 1e-3);
  REQUIRE(y2.node()->inputs().size() == 1);
  std::vector<double> want2 = naive_layer_norm(x.to_vector(), 5, {}, {}, 1e-3);
  std::vector<double> got2 = y2.value().to_vector();
  for (size_t i = 0; i < got2.size(); ++i) REQUIRE(got2[i] == Approx(want2[i]).margin(1e-12));
}

TEST_CASE("layer_norm: gradcheck with and without weight and bias", "[autograd][gradcheck]") {
  Tensor x = randn64({2, 3, 4}, 43), w = randn64({4}, 44), b = randn64({4}, 45);
  SECTION("weight and bias") {
    require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b});
  }
  SECTION("weight only") {
    require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], Var()); }, {x, w});
  }
  SECTION("bias only") {
    require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], Var(), v[1]); }, {x, b});
  }
  SECTION("neither") {
    require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], Var(), Var()); }, {x});
  }
  SECTION("a 1-D input: weight and bias grads have nothing to sum over") {
    require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); },
                      {randn64({4}, 46), w, b});
  }
}

TEST_CASE("layer_norm: gradcheck over random shapes and non-contiguous inputs", "[autograd][gradcheck]") {
  Generator gen(13);
  for (uint64_t trial = 0; trial < 4; ++trial) {
    Shape s = random_shape(gen);
    const int64_t D = s.back();
    INFO("shape " << shape_str(s));
    require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
                      {randn64(s, 50 + trial), randn64({D}, 60 + trial), randn64({D}, 70 + trial)});
  }
  // A transposed leaf, a step-sliced last dim and a step-sliced weight.
  require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); },
                    {randn64({4, 3}, 80).transpose(0, 1), randn64({4}, 81), randn64({4}, 82)});
  require_gradcheck([](const std::vector<Var>& v) {
                      return layer_norm(slice(v[0], 1, 0, 8, 2), slice(v[1], 0, 1, 8, 2), v[2]);
                    },
                    {randn64({3, 8}, 83), randn64({8}, 84), randn64({4}, 85)});
}

TEST_CASE("layer_norm: gradgradcheck with and without weight and bias", "[autograd][gradcheck]") {
  Tensor x = randn64({2, 4}, 90), w = randn64({4}, 91), b = randn64({4}, 92);
  require_gradgradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b});
  require_gradgradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], Var(), Var()); }, {x});
  require_gradgradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], Var()); }, {x, w});
}

TEST_CASE("layer_norm: weight and bias gradients sum over the leading dims", "[autograd]") {
  // L = sum(y): dL/dbias = number of rows, dL/dweight = sum of x_hat over rows.
  Tensor x = randn64({2, 3, 4}, 93);
  Var w(Tensor::ones({4}, DType::f64), true), b(Tensor::zeros({4}, DType::f64), true);
  Var y = layer_norm(Var(x), w, b);
  sum(y).backward();
  for (double g : b.grad().to_vector()) REQUIRE(g == Approx(6.0));
  std::vector<double> x_hat = naive_layer_norm(x.to_vector(), 4, {}, {}, 1e-5);
  for (size_t j = 0; j < 4; ++j) {
    double want = 0;
    for (size_t r = 0; r < 6; ++r) want += x_hat[r * 4 + j];
    REQUIRE(w.grad().to_vector()[j] == Approx(want).margin(1e-12));
  }
}

TEST_CASE("layer_norm: a constant row has finite, exact gradients", "[autograd][gradcheck]") {
  // x_hat = 0 on a constant row, so dL/dx = rstd * (g_hat - mean(g_hat)) with rstd = 1/sqrt(eps).
  const double eps = 1e-5;
  Var x(Tensor::from_vector({2.0, 2.0, 2.0, 2.0, 1.0, -1.0, 0.5, 3.0}, {2, 4}, DType::f64), true);
  Var w(Tensor::from_vector({1.0, 2.0, -1.0, 0.5}, {4}, DType::f64), true);
  Var b(Tensor::zeros({4}, DType::f64), true);
  Var y = layer_norm(x, w, b, eps);
  for (double v : y.value().to_vector()) REQUIRE(std::isfinite(v));
  Tensor g = Tensor::from_vector({1.0, 0.0, 3.0, -2.0, 1.0, 1.0, 1.0, 1.0}, {2, 4}, DType::f64);
  y.backward(g);
  std::vector<double> gx = x.grad().to_vector(), gw = w.grad().to_vector();
  for (double v : gx) REQUIRE(std::isfinite(v));
  for (double v : gw) REQUIRE(std::isfinite(v));
  const double g_hat[4] = {1.0 * 1.0, 0.0 * 2.0, 3.0 * -1.0, -2.0 * 0.5};
  const double mean_g_hat = (g_hat[0] + g_hat[1] + g_hat[2] + g_hat[3]) / 4;
  for (size_t j = 0; j < 4; ++j) REQUIRE(gx[j] == Approx((g_hat[j] - mean_g_hat) / std::sqrt(eps)));
  // Around a constant row the function is smooth (var << eps), so central differences agree.
  require_gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], Var(), Var(), 1e-5); },
                    {Tensor::full({2, 3}, 0.75, DType::f64)});
}

TEST_CASE("layer_norm: f32 runs and matches f64", "[autograd]") {
  Tensor x = randn64({3, 4}, 94);
  Var x32(x.to(DType::f32), true), x64(x, true);
  Var w32(Tensor::ones({4}), true);
  Var w64(Tensor::ones({4}, DType::f64), true);
  Tensor g = randn64({3, 4}, 95);
  layer_norm(x32, w32, Var()).backward(g.to(DType::f32));
  layer_norm(x64, w64, Var()).backward(g);
  REQUIRE(allclose(x32.grad().to(DType::f64), x64.grad(), 1e-4, 1e-4));
  REQUIRE(allclose(w32.grad().to(DType::f64), w64.grad(), 1e-4, 1e-4));
}

TEST_CASE("layer_norm: a weight of the wrong size is a ShapeError naming the op", "[autograd]") {
  Var x(randn64({2, 4}, 96), true);
  Var w(randn64({3}, 97), true);
  REQUIRE_THROWS_AS(layer_norm(x, w, Var()), ShapeError);
  REQUIRE_THROWS_WITH(layer_norm(x, w, Var()), Catch::Contains("layer_norm") && Catch::Contains("[3]"));
}
