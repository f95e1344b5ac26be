// Linear, Embedding, Dropout, LayerNorm and the activation modules: values against hand
// computations, gradients against central differences (inputs and parameters), PyTorch's
// parameter names, and every error.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "tensor/random.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {
Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}
void set_values(const Var& p, const std::vector<double>& values) {
  Tensor dst = p.value();
  dst.copy_(Tensor::from_vector(values, p.shape(), p.dtype()));
}
void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}

// A small model with nesting, to check the dotted names.
struct Encoder : Module {
  Encoder() : Module("Encoder") {
    register_module("proj", proj);
    register_module("norm", norm);
  }
  Linear proj{{.in = 4, .out = 6}};
  LayerNorm norm{{.dim = 6}};
};
struct Model : Module {
  Model() : Module("Model") {
    register_module("embed", embed);
    register_module("encoder", encoder);
    register_module("conv", conv);
    register_module("drop", drop);
    register_module("head", head);
  }
  Embedding embed{{.num = 10, .dim = 4}};
  Encoder encoder;
  Conv1d conv{{.in = 6, .out = 3, .kernel = 2}};
  Dropout drop{{.p = 0.1, .seed = 1}};
  Linear head{{.in = 3, .out = 2, .bias = false}};
};
}  // namespace

// ---- Linear -----------------------------------------------------------------------------------

TEST_CASE("Linear: output equals x W^T + b computed by hand", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Linear lin({.in = 3, .out = 2, .dtype = dt});
    set_values(lin.weight(), {1, 2, 3, 4, 5, 6});
    set_values(lin.bias(), {0.5, -1});
    Var x(Tensor::from_vector({1.0, 0.0, -1.0, 2.0, 1.0, 0.0}, {2, 3}, dt));
    Var y = lin(x);
    REQUIRE(y.shape() == Shape{2, 2});
    REQUIRE(y.dtype() == dt);
    REQUIRE(y.value().to_vector() == std::vector<double>{-1.5, -3.0, 4.5, 12.0});

    // [B, T, in] input, given as a transposed view: every row is mapped the same way.
    Var x3(Tensor::from_vector({1.0, 2.0, 0.0, 1.0, -1.0, 0.0}, {3, 1, 2}, dt).permute({2, 1, 0}));  // [2, 1, 3]
    Var y3 = lin(x3);
    REQUIRE(y3.shape() == Shape{2, 1, 2});
    REQUIRE(y3.value().to_vector() == std::vector<double>{-1.5, -3.0, 4.5, 12.0});
  }
}

TEST_CASE("Linear: without bias, and its parameter names and shapes", "[nn]") {
  Linear lin({.in = 3, .out = 2, .bias = false});
  auto params = lin.named_parameters();
  REQUIRE(params.size() == 1);
  REQUIRE(params[0].first == "weight");
  REQUIRE(params[0].second.shape() == Shape{2, 3});
  REQUIRE_FALSE(lin.bias().defined());
  set_values(lin.weight(), {1, 0, 0, 0, 1, 1});
  Var y = lin(Var(Tensor::from_vector(std::vector<double>{3.0, 4.0, 5.0}, {1, 3})));
  REQUIRE(y.value().to_vector() == std::vector<double>{3.0, 9.0});
}

TEST_CASE("Linear: gradients of input, weight and bias", "[nn][gradcheck]") {
  // The functional form over random shapes, with a transposed input.
  require_gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
                    {randn64({4, 3}, 1), randn64({5, 3}, 2), randn64({5}, 3)});
  require_gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1]); },
                    {randn64({2, 3, 4}, 4).transpose(0, 1), randn64({2, 4}, 5)});
  // The module's own parameters.
  Generator gen(6);
  Linear lin({.in = 3, .out = 4, .dtype = DType::f64}, gen);
  Var x(randn64({2, 5, 3}, 7), true);
  testing::require_param_grads(lin, [&] { return lin(x); });
  require_gradcheck([&](const std::vector<Var>& v) { return lin(v[0]); }, {randn64({2, 5, 3}, 8)});
}

TEST_CASE("Linear: bad shapes, dtypes and options are errors naming the shapes", "[nn]") {
  Linear lin({.in = 3, .out = 2});
  Var x(Tensor::zeros({4, 5}));
  REQUIRE_THROWS_AS(lin(x), ShapeError);
  REQUIRE_THROWS_WITH(lin(x), Catch::Contains("linear") && Catch::Contains("[4, 5]") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_AS(lin(Var(Tensor::zeros({4, 3}, DType::f64))), DTypeError);
  REQUIRE_THROWS_WITH(linear(Var(Tensor::zeros({1, 3})), lin.weight(), Var(Tensor::zeros({3}))),
                      Catch::Contains("bias") && Catch::Contains("[3]"));
  REQUIRE_THROWS_AS(Linear({.in = -1, .out = 2}), ValueError);
  REQUIRE_THROWS_AS(Linear({.in = 1, .out = 2, .dtype = DType::i64}), DTypeError);
}

TEST_CASE("Module: a small model's named_parameters use PyTorch's dotted names", "[nn]") {
  Model m;
  std::vector<std::pair<std::string, Shape>> expected = {
      {"embed.weight", {10, 4}},      {"encoder.proj.weight", {6, 4}}, {"encoder.proj.bias", {6}},
      {"encoder.norm.weight", {6}},   {"encoder.norm.bias", {6}},      {"conv.weight", {3, 6, 2}},
      {"conv.bias", {3}},             {"head.weight", {2, 3}},
  };
  auto params = m.named_parameters();
  REQUIRE(params.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO(params[i].first);
    REQUIRE(params[i].first == expected[i].first);
    REQUIRE(params[i].second.shape() == expected[i].second);
    REQUIRE(params[i].second.name() == expected[i].first);  // the Var knows its path too
    REQUIRE(params[i].second.requires_grad());
  }
  REQUIRE(m.num_parameters() == 40 + 24 + 6 + 6 + 6 + 36 + 3 + 6);

  // Nodes made inside a child's forward record the child's scope, for graph clusters.
  Var h = m.encoder.proj(m.embed(Tensor::from_vector(std::vector<int64_t>{1, 2}, {2})));
  REQUIRE(h.node() != nullptr);
  REQUIRE(h.node()->scope() == "proj");
  REQUIRE(m.drop.is_training());
  m.eval();
  REQUIRE_FALSE(m.drop.is_training());
}

// ---- Embedding --------------------------------------------------------------------------------

TEST_CASE("Embedding: rows are looked up by id, any id shape", "[nn]") {
  Embedding emb({.num = 4, .dim = 2, .dtype = DType::f64});
  set_values(emb.weight(), {0, 1, 10, 11, 20, 21, 30, 31});
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{3, 0, 1, 1, 2, 3}, {2, 3});
  Var y = emb(ids);
  REQUIRE(y.shape() == Shape{2, 3, 2});
  REQUIRE(y.value().to_vector() == std::vector<double>{30, 31, 0, 1, 10, 11, 10, 11, 20, 21, 30, 31});
  REQUIRE(emb.named_parameters()[0].first == "weight");
  REQUIRE_THROWS_AS(emb(Tensor::from_vector(std::vector<int64_t>{4}, {1})), IndexError);
}

TEST_CASE("Embedding: the padding row starts at zero and gets no gradient", "[nn]") {
  for (int64_t pad : {int64_t{1}, int64_t{-3}}) {  // -3 of 4 rows is row 1, as in PyTorch
    Generator gen(4);
    Embedding emb({.num = 4, .dim = 3, .padding_idx = pad, .dtype = DType::f64}, gen);
    REQUIRE(emb.padding_idx() == 1);
    REQUIRE(emb.weight().value().select(0, 1).to_vector() == std::vector<double>(3, 0.0));
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 1, 2, 0}, {5});
    Var y = emb(ids);
    REQUIRE(y.value().select(0, 0).to_vector() == std::vector<double>(3, 0.0));
    Tensor w = randn64({5, 3}, 9);
    sum(y * Var(w)).backward();
    Tensor g = emb.weight().grad();
    REQUIRE(g.select(0, 1).to_vector() == std::vector<double>(3, 0.0));
    REQUIRE(g.select(0, 3).to_vector() == std::vector<double>(3, 0.0));  // never looked up
    for (int64_t j = 0; j < 3; ++j) {
      REQUIRE(g.at({2, j}) == Approx(w.at({1, j}) + w.at({3, j})));  // looked up twice: both add
      REQUIRE(g.at({0, j}) == Approx(w.at({4, j})));
    }
  }
  REQUIRE_THROWS_AS(Embedding({.num = 4, .dim = 3, .padding_idx = 4}), ValueError);
  REQUIRE_THROWS_WITH(Embedding({.num = 4, .dim = 3, .padding_idx = -5}),
                      Catch::Contains("Embedding") && Catch::Contains("padding_idx -5"));
}

TEST_CASE("Embedding: gradient of the weight", "[nn][gradcheck]") {
  Generator gen(5);
  Embedding emb({.num = 5, .dim = 3, .dtype = DType::f64}, gen);
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{4, 0, 4, 2, 1, 4}, {3, 2});
  testing::require_param_grads(emb, [&] { return emb(ids); });
}

// ---- Dropout ----------------------------------------------------------------------------------

TEST_CASE("Dropout: zeros with probability p and scales the rest by 1/(1-p)", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Dropout drop({.p = 0.25, .seed = 42});
    Var x(Tensor::ones({400, 500}, dt), true);
    Var y = drop(x);
    std::vector<double> v = y.value().to_vector();
    int64_t zeros = 0;
    double total = 0;
    for (double e : v) {
      if (e == 0.0)
        ++zeros;
      else
        REQUIRE(e == Approx(1.0 / 0.75).epsilon(1e-7));
      total += e;
    }
    const double n = static_cast<double>(v.size());
    REQUIRE(static_cast<double>(zeros) / n == Approx(0.25).margin(0.005));
    REQUIRE(total / n == Approx(1.0).margin(0.01));  // the expected value is kept

    // The gradient is the same mask: zero where dropped, 1/(1-p) where kept.
    sum(y).backward();
    REQUIRE(x.grad().to_vector() == v);
  }
}

TEST_CASE("Dropout: the same seed gives the same mask, eval and p = 0 are the identity", "[nn]") {
  Var x(randn64({6, 7}, 1));
  Dropout a({.p = 0.5, .seed = 3}), b({.p = 0.5, .seed = 3}), c({.p = 0.5, .seed = 4});
  Tensor ya = a(x).value(), yb = b(x).value(), yc = c(x).value();
  REQUIRE(ya.to_vector() == yb.to_vector());
  REQUIRE(ya.to_vector() != yc.to_vector());
  REQUIRE(a(x).value().to_vector() != ya.to_vector());  // the next call draws a new mask

  // Two layers made without a seed do not share masks; after manual_seed they repeat.
  manual_seed(10);
  Dropout d1({.p = 0.5}), d2({.p = 0.5});
  Tensor m1 = d1(x).value(), m2 = d2(x).value();
  REQUIRE(m1.to_vector() != m2.to_vector());
  manual_seed(10);
  Dropout d3({.p = 0.5});
  REQUIRE(d3(x).value().to_vector() == m1.to_vector());

  a.eval();
  Var ye = a(x);
  REQUIRE(ye.value().to_vector() == x.value().to_vector());
  a.train();
  REQUIRE(a(x).value().to_vector() != x.value().to_vector());

  Dropout zero({.p = 0.0, .seed = 1});
  REQUIRE(zero(x).value().to_vector() == x.value().to_vector());

  // Layers sharing one generator draw successive masks from it.
  Generator shared(8), replay(8);
  Dropout s1({.p = 0.5}, shared), s2({.p = 0.5}, shared);
  Tensor r1 = s1(x).value(), r2 = s2(x).value();
  REQUIRE(dropout(x, 0.5, replay).value().to_vector() == r1.to_vector());
  REQUIRE(dropout(x, 0.5, replay).value().to_vector() == r2.to_vector());
}

TEST_CASE("Dropout: gradient with a fixed mask", "[nn][gradcheck]") {
  require_gradcheck(
      [](const std::vector<Var>& v) {
        Generator gen(5);  // the same mask on every call
        return dropout(v[0], 0.3, gen);
      },
      {randn64({3, 4}, 2).transpose(0, 1)});
}

TEST_CASE("Dropout: p outside (0, 1) is a ValueError", "[nn]") {
  for (double p : {-0.1, 1.0, 1.5, std::nan("")}) {
    REQUIRE_THROWS_AS(Dropout({.p = p}), ValueError);
    Generator gen(1);
    REQUIRE_THROWS_AS(dropout(Var(Tensor::ones({2})), p, gen), ValueError);
  }
  REQUIRE_THROWS_WITH(Dropout({.p = 1.5}), Catch::Contains("Dropout") && Catch::Contains("1.5"));
}

// ---- LayerNorm --------------------------------------------------------------------------------

TEST_CASE("LayerNorm: normalises the last dim, then scales and shifts", "[nn]") {
  LayerNorm ln({.dim = 4, .dtype = DType::f64});
  set_values(ln.weight(), {1, 2, 1, 1});
  set_values(ln.bias(), {0, 0, 0, 10});
  Var x(Tensor::from_vector({1.0, 2.0, 3.0, 4.0, -2.0, -2.0, 2.0, 2.0}, {2, 4}, DType::f64));
  std::vector<double> y = ln(x).value().to_vector();
  // Row 1: mean 2.5, var 1.25; row 2: mean 0, var 4.
  const double r1 = 1.0 / std::sqrt(1.25 + 1e-5), r2 = 1.0 / std::sqrt(4.0 + 1e-5);
  std::vector<double> expected = {-1.5 * r1, 2 * -0.5 * r1, 0.5 * r1, 1.5 * r1 + 10,
                                  -2 * r2,   2 * -2 * r2,   2 * r2,   2 * r2 + 10};
  for (size_t i = 0; i < y.size(); ++i) REQUIRE(y[i] == Approx(expected[i]).epsilon(1e-12));

  LayerNorm plain({.dim = 4, .eps = 0.0, .affine = false, .dtype = DType::f64});
  REQUIRE(plain.named_parameters().empty());
  REQUIRE(plain(x).value().at({1, 0}) == Approx(-1.0));
}

TEST_CASE("LayerNorm: gradients of input, weight and bias", "[nn][gradcheck]") {
  Generator gen(3);
  LayerNorm ln({.dim = 5, .dtype = DType::f64});
  set_values(ln.weight(), randn64({5}, 4).to_vector());
  set_values(ln.bias(), randn64({5}, 5).to_vector());
  Tensor x = randn64({3, 2, 5}, 6);
  require_gradcheck([&](const std::vector<Var>& v) { return ln(v[0]); }, {x});
  require_gradcheck([&](const std::vector<Var>& v) { return ln(v[0]); }, {randn64({5, 3}, 7).transpose(0, 1)});
  Var xv(x);
  testing::require_param_grads(ln, [&] { return ln(xv); });
}

TEST_CASE("LayerNorm: a wrong last dim and bad options are errors", "[nn]") {
  LayerNorm ln({.dim = 4});
  REQUIRE_THROWS_AS(ln(Var(Tensor::zeros({2, 5}))), ShapeError);
  REQUIRE_THROWS_WITH(ln(Var(Tensor::zeros({2, 5}))), Catch::Contains("LayerNorm") && Catch::Contains("[2, 5]"));
  REQUIRE_THROWS_AS(LayerNorm({.dim = 0}), ValueError);
  REQUIRE_THROWS_AS(LayerNorm({.dim = 3, .eps = -1.0}), ValueError);
}

// ---- activations ------------------------------------------------------------------------------

TEST_CASE("Activation modules apply their function and have no parameters", "[nn]") {
  Var x(Tensor::from_vector({-2.0, -0.5, 0.0, 0.5, 2.0}, {5}, DType::f64));
  Tanh tanh_m;
  Sigmoid sigmoid_m;
  ReLU relu_m;
  GELU gelu_m;
  for (size_t i = 0; i < 5; ++i) {
    const double v = x.value().to_vector()[i];
    REQUIRE(tanh_m(x).value().to_vector()[i] == Approx(std::tanh(v)));
    REQUIRE(sigmoid_m(x).value().to_vector()[i] == Approx(1.0 / (1.0 + std::exp(-v))));
    REQUIRE(relu_m(x).value().to_vector()[i] == (v > 0 ? v : 0.0));
    REQUIRE(gelu_m(x).value().to_vector()[i] == Approx(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))));
  }
  REQUIRE(tanh_m.named_parameters().empty());
  REQUIRE(gelu_m.type_name() == "GELU");
}

TEST_CASE("Activation modules: gradients", "[nn][gradcheck]") {
  Tanh tanh_m;
  Sigmoid sigmoid_m;
  ReLU relu_m;
  GELU gelu_m;
  Tensor x = randn64({4, 3}, 11).transpose(0, 1);
  require_gradcheck([&](const std::vector<Var>& v) { return tanh_m(v[0]); }, {x});
  require_gradcheck([&](const std::vector<Var>& v) { return sigmoid_m(v[0]); }, {x});
  require_gradcheck([&](const std::vector<Var>& v) { return relu_m(v[0]); }, {x});
  require_gradcheck([&](const std::vector<Var>& v) { return gelu_m(v[0]); }, {x});
}
