// End to end: a small tanh MLP learns the two-moons dataset with Linear layers, the fused
// cross-entropy and a plain SGD-with-momentum step written out here, and classifies held-out
// points. If any layer's forward or backward were wrong, it would not get there.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

// Two interleaving half circles (as sklearn's make_moons), with Gaussian noise, centred near 0.
// Returns x [n, 2] (f32) and labels [n] (i64).
std::pair<Tensor, Tensor> make_moons(int64_t n, double noise, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> xs;
  std::vector<int64_t> ys;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % 2;
    const double t = std::numbers::pi * gen.uniform();
    double a = label == 0 ? std::cos(t) : 1.0 - std::cos(t);
    double b = label == 0 ? std::sin(t) : 0.5 - std::sin(t);
    a += noise * gen.normal() - 0.5;
    b += noise * gen.normal() - 0.25;
    xs.push_back(static_cast<float>(a));
    xs.push_back(static_cast<float>(b));
    ys.push_back(label);
  }
  return {Tensor::from_vector(xs, {n, 2}), Tensor::from_vector(ys, {n})};
}

struct Mlp : Module {
  explicit Mlp(Generator& gen)
      : Module("Mlp"), fc1({.in = 2, .out = 32}, gen), fc2({.in = 32, .out = 32}, gen), fc3({.in = 32, .out = 2}, gen) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("fc3", fc3);
  }
  // x [N, 2] -> logits [N, 2]
  Var forward(const Var& x) const {
    auto scope = enter_scope();
    return fc3(tanh(fc2(tanh(fc1(x)))));
  }
  Linear fc1, fc2, fc3;
};

double accuracy(const Mlp& model, const Tensor& x, const Tensor& y) {
  NoGradGuard no_grad;
  Tensor pred = argmax(model.forward(Var(x)).value(), -1);
  std::vector<double> p = pred.to_vector(), t = y.to_vector();
  int64_t right = 0;
  for (size_t i = 0; i < p.size(); ++i) right += p[i] == t[i] ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(p.size());
}

}  // namespace

TEST_CASE("two moons: a Linear-tanh MLP trained with SGD + momentum reaches 97% held out", "[nn]") {
  auto [x_train, y_train] = make_moons(400, 0.1, 1);
  auto [x_test, y_test] = make_moons(400, 0.1, 2);
  Generator gen(3);
  Mlp model(gen);
  std::vector<Var> params = model.parameters();
  std::vector<Tensor> velocity;
  for (const Var& p : params) velocity.push_back(Tensor::zeros(p.shape(), p.dtype()));

  const double lr = 0.1, momentum = 0.9;
  const double first_loss = cross_entropy(model.forward(Var(x_train)), y_train).item();
  double loss = first_loss;
  for (int step = 0; step < 200; ++step) {
    model.zero_grad();
    Var l = cross_entropy(model.forward(Var(x_train)), y_train);
    loss = l.item();
    l.backward();
    // v = momentum * v + grad; p = p - lr * v (PyTorch's SGD with momentum, no dampening).
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      velocity[i] = lumen::add(lumen::mul(velocity[i], momentum), params[i].grad());
      Tensor value = params[i].value();
      value.copy_(lumen::sub(value, lumen::mul(velocity[i], lr)));
    }
  }
  INFO("loss " << first_loss << " -> " << loss);
  REQUIRE(loss < 0.1 * first_loss);
  const double train_acc = accuracy(model, x_train, y_train), test_acc = accuracy(model, x_test, y_test);
  INFO("train accuracy " << train_acc << ", held-out accuracy " << test_acc);
  REQUIRE(test_acc >= 0.97);
}
