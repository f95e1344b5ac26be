// The backward engine itself: accumulation, graph freeing, grad mode, higher order, anomaly.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

using namespace lumen;

namespace {
Var leaf(std::vector<double> values, Shape shape) {
  return Var(Tensor::from_vector(values, shape, DType::f64), true);
}
}  // namespace

TEST_CASE("a leaf used twice gets the sum of both gradients", "[autograd]") {
  Var x = leaf({1.0, 2.0, 3.0}, {3});
  Var y = sum(x * x + x);  // dy/dx = 2x + 1
  y.backward();
  REQUIRE(x.grad().to_vector() == std::vector<double>{3.0, 5.0, 7.0});
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[autograd]") {
  Var x = leaf({2.0}, {1});
  sum(x * 3.0).backward();
  sum(x * 3.0).backward();
  REQUIRE(x.grad().item() == 6.0);
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
  sum(x * 3.0).backward();
  REQUIRE(x.grad().item() == 3.0);
}

TEST_CASE("the graph is freed after backward, and a second backward is a clear error", "[autograd]") {
  Var x = leaf({0.5, -0.5}, {2});
  Var y = sum(tanh(x) * x);
  y.backward();
  REQUIRE_THROWS_AS(y.backward(), GraphError);
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("already freed") && Catch::Contains("retain_graph"));
}

TEST_CASE("retain_graph allows a second backward that accumulates the same gradient", "[autograd]") {
  Var x = leaf({0.5, -0.25}, {2});
  Var y = sum(tanh(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  std::vector<double> first = x.grad().to_vector();
  y.backward();
  std::vector<double> second = x.grad().to_vector();
  for (size_t i = 0; i < first.size(); ++i) REQUIRE(second[i] == Approx(2 * first[i]));
}

TEST_CASE("no graph memory stays alive after backward", "[autograd]") {
  const int64_t before = Node::live_count();
  {
    Var x = leaf({1, 2, 3, 4}, {4});
    Var w = leaf({0.5, 0.5, 0.5, 0.5}, {4});
    Var loss;
    {
      Var h = tanh(x * w);
      loss = sum(h * h + x);
    }
    REQUIRE(Node::live_count() - before >= 4);
    loss.backward();
    // Only the node shell the caller's `loss` handle still points at remains, released.
    REQUIRE(Node::live_count() - before == 1);
    REQUIRE(loss.node()->released());
    REQUIRE(loss.node()->inputs().empty());
  }
  REQUIRE(Node::live_count() == before);
}

TEST_CASE("a 100,000-op chain runs backward and is freed without recursion", "[autograd]") {
  const int64_t before = Node::live_count();
  Var x = leaf({1.0, 2.0}, {2});
  {
    Var y = x;
    for (int i = 0; i < 100000; ++i) y = (i % 2 == 0) ? y * 1.0 : y + 0.0;
    sum(y).backward();
  }
  REQUIRE(x.grad().to_vector() == std::vector<double>{1.0, 1.0});
  REQUIRE(Node::live_count() == before);
}

TEST_CASE("dropping a 100,000-op graph without backward does not recurse", "[autograd]") {
  const int64_t before = Node::live_count();
  {
    Var x = leaf({1.0}, {1});
    Var y = x;
    for (int i = 0; i < 100000; ++i) y = y + 1.0;
    REQUIRE(Node::live_count() - before == 100000);
  }
  REQUIRE(Node::live_count() == before);
}

TEST_CASE("requires_grad propagates, and NoGradGuard and detach stop the graph", "[autograd]") {
  Var x = leaf({1.0}, {1});
  Var c(Tensor::from_vector(std::vector<double>{2.0}, {1}, DType::f64));
  REQUIRE_FALSE(c.requires_grad());
  REQUIRE((c * c).is_leaf());
  REQUIRE_FALSE((c * c).requires_grad());
  REQUIRE((x * c).requires_grad());
  REQUIRE_FALSE((x * c).is_leaf());
  {
    NoGradGuard guard;
    Var y = x * c;
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE(y.node() == nullptr);
  }
  REQUIRE(grad_enabled());
  Var d = (x * c).detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.is_leaf());
  REQUIRE(d.value().at({0}) == 2.0);
}

TEST_CASE("backward on a non-scalar needs a gradient", "[autograd]") {
  Var x = leaf({1.0, 2.0}, {2});
  Var y = x * 2.0;
  REQUIRE_THROWS_AS(y.backward(), GraphError);
  REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("[2]") && Catch::Contains("scalar"));
  y.backward(Tensor::from_vector(std::vector<double>{1.0, 10.0}, {2}, DType::f64));
  REQUIRE(x.grad().to_vector() == std::vector<double>{2.0, 20.0});
}

TEST_CASE("backward with a wrongly shaped gradient names both shapes", "[autograd]") {
  Var x = leaf({1.0, 2.0}, {2});
  Var y = x * 2.0;
  REQUIRE_THROWS_AS(y.backward(Tensor::ones({3}, DType::f64)), ShapeError);
  REQUIRE_THROWS_WITH(y.backward(Tensor::ones({3}, DType::f64)), Catch::Contains("[3]") && Catch::Contains("[2]"));
}

TEST_CASE("backward from a Var that does not require grad is an error", "[autograd]") {
  Var c(Tensor::ones({1}, DType::f64));
  REQUIRE_THROWS_AS(c.backward(), GraphError);
}

TEST_CASE("second derivative of x^3 at x = 2 is 12", "[autograd][higher-order]") {
  Var x = leaf({2.0}, {1});
  Var y = sum(x * x * x);
  Var dy = grad({y}, {x}, {}, {.create_graph = true})[0];
  REQUIRE(dy.item() == Approx(12.0));  // 3 x^2
  Var d2y = grad({sum(dy)}, {x})[0];
  REQUIRE(d2y.item() == Approx(12.0));  // 6 x
}

TEST_CASE("grad() returns gradients without touching .grad", "[autograd]") {
  Var x = leaf({1.0, 3.0}, {2});
  Var y = sum(x * x);
  Var g = grad({y}, {x})[0];
  REQUIRE(g.value().to_vector() == std::vector<double>{2.0, 6.0});
  REQUIRE_FALSE(x.grad().defined());
}

TEST_CASE("grad() of an intermediate Var", "[autograd]") {
  Var x = leaf({1.0, 3.0}, {2});
  Var h = x * 2.0;
  Var y = sum(h * h);
  Var gh = grad({y}, {h})[0];  // 2h = 4x
  REQUIRE(gh.value().to_vector() == std::vector<double>{4.0, 12.0});
}

TEST_CASE("grad() of an input that does not affect the output", "[autograd]") {
  Var x = leaf({1.0}, {1});
  Var z = leaf({1.0}, {1});
  Var y = sum(x * 2.0);
  REQUIRE_THROWS_AS(grad({y}, {z}, {}, {.retain_graph = true}), GraphError);
  std::vector<Var> gs = grad({y}, {x, z}, {}, {.allow_unused = true});
  REQUIRE(gs[0].item() == 2.0);
  REQUIRE_FALSE(gs[1].defined());
}

TEST_CASE("anomaly mode names the first op that produced a NaN", "[autograd][anomaly]") {
  Var x = leaf({-1.0, 4.0}, {2});
  DetectAnomalyGuard anomaly;
  NameScope scope("decoder");
  REQUIRE_THROWS_AS(sqrt(x), AnomalyError);
  REQUIRE_THROWS_WITH(sqrt(x), Catch::Contains("sqrt") && Catch::Contains("decoder"));
}

TEST_CASE("anomaly mode catches a NaN that first appears in backward", "[autograd][anomaly]") {
  Var x = leaf({0.0, 4.0}, {2});
  Var y = sum(sqrt(x));  // forward finite, d sqrt(x)/dx = inf at 0
  DetectAnomalyGuard anomaly;
  REQUIRE_THROWS_AS(y.backward(), AnomalyError);
  REQUIRE_THROWS_WITH(sum(sqrt(x)).backward(), Catch::Contains("backward of 'sqrt'"));
}

TEST_CASE("name scopes are recorded on nodes", "[autograd]") {
  Var x = leaf({1.0}, {1});
  Var y;
  {
    NameScope outer("encoder");
    NameScope inner("t1");
    y = tanh(x);
  }
  REQUIRE(y.node()->scope() == "encoder.t1");
  REQUIRE((x * 2.0).node()->scope().empty());
}
