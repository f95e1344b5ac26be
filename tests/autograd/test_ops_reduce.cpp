// Reductions on Vars: values by hand, gradients by gradcheck over random shapes, dims and
// layouts, ties for amax/amin, logsumexp's stability, sum_to, and second derivatives.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/random.h"

using namespace lumen;

namespace {

using Fn = std::function<Var(const std::vector<Var>&)>;

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape, DType::f64);
}

void require_passes(const GradcheckResult& r, const std::string& what) {
  INFO(what << "\n" << r.summary());
  REQUIRE(r.passed);
  for (const InputReport& rep : r.inputs) {
    CHECK(rep.kinks == 0);
    CHECK(rep.max_rel_err < 1e-6);
  }
}

std::string dims_str(const std::vector<int64_t>& dims) { return dims.empty() ? "all" : shape_str(Dims(dims)); }

// Every way to pick reduction dims of a rank-3 tensor, with negative spellings mixed in.
std::vector<std::vector<int64_t>> dim_choices() { return {{}, {0}, {1}, {-1}, {0, 2}, {-3, 1}, {0, 1, 2}}; }

// The tensor as a non-contiguous view: a permuted copy, permuted back.
Tensor permuted_view(const Tensor& t) {
  Tensor p = Tensor::empty({t.size(2), t.size(0), t.size(1)}, t.dtype());
  p.copy_(t.permute({2, 0, 1}));
  return p.permute({1, 2, 0});
}

}  // namespace

TEST_CASE("reductions compute the right values", "[autograd]") {
  Var a(f64({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(sum(a).value().item() == 21);
  CHECK(sum(a, {0}).value().to_vector() == std::vector<double>{5, 7, 9});
  CHECK(sum(a, {1}, true).shape() == Shape{2, 1});
  CHECK(mean(a, {-1}).value().to_vector() == std::vector<double>{2, 5});
  CHECK(var(a, {1}).value().at({0}) == Approx(2.0 / 3));
  CHECK(var(a, {1}, false, true).value().at({1}) == Approx(1.0));
  CHECK(amax(a, {0}).value().to_vector() == std::vector<double>{4, 5, 6});
  CHECK(amin(a, {1}, true).value().to_vector() == std::vector<double>{1, 4});
  CHECK(sum_to(a, {1, 3}).value().to_vector() == std::vector<double>{5, 7, 9});
  CHECK(sum_to(a, {}).value().item() == 21);
  Var l = logsumexp(a, 1);
  CHECK(l.shape() == Shape{2});
  CHECK(l.value().at({0}) == Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  CHECK(logsumexp(a, 0, true).shape() == Shape{1, 3});
}

TEST_CASE("logsumexp is stable for large and infinite inputs", "[autograd]") {
  const double inf = std::numeric_limits<double>::infinity();
  Var big(f64({1000, 1000, -1000, 5}, {2, 2}), true);
  Var l = logsumexp(big, -1);
  CHECK(l.value().at({0}) == Approx(1000 + std::log(2.0)));
  CHECK(l.value().at({1}) == Approx(5.0));
  sum(l).backward();
  std::vector<double> g = big.grad().to_vector();
  CHECK(g[0] == Approx(0.5));
  CHECK(g[1] == Approx(0.5));
  CHECK(g[2] == Approx(0.0).margin(1e-300));  // exp(-1005)
  CHECK(g[3] == Approx(1.0));
  Var ninf(f64({-inf, -inf, 0, -inf}, {2, 2}));
  Var m = logsumexp(ninf, 1);
  CHECK(m.value().at({0}) == -inf);
  CHECK(m.value().at({1}) == 0);
  // f32 too
  Var f(Tensor::from_vector(std::vector<float>{100, 100}, {2}));
  CHECK(logsumexp(f, 0).value().item() == Approx(100 + std::log(2.0)).epsilon(1e-6));
}

TEST_CASE("gradcheck: sum, mean, var, amax, amin, logsumexp over dims, keepdim and layouts",
          "[autograd][gradcheck]") {
  Generator gen(200);
  Tensor x = randn({2, 3, 4}, DType::f64, gen);
  Tensor w = randn({3, 1}, DType::f64, gen);  // broadcast weight keeps the check from being symmetric
  std::vector<std::pair<std::string, Tensor>> layouts{{"contiguous", x}, {"permuted", permuted_view(x)},
                                                      {"step slice", randn({2, 3, 8}, DType::f64, gen).slice(2, 1, 8, 2)}};
  for (auto& [layout, t] : layouts)
    for (const auto& dims : dim_choices())
      for (bool keepdim : {false, true}) {
        std::string what = layout + " dims=" + dims_str(dims) + (keepdim ? " keepdim" : "");
        require_passes(gradcheck([&](const std::vector<Var>& v) { return sum(mul(v[0], v[1]), dims, keepdim); }, {t, w}),
                       "sum " + what);
        require_passes(gradcheck([&](const std::vector<Var>& v) { return mean(v[0], dims, keepdim); }, {t}), "mean " + what);
        for (bool unbiased : {false, true})
          require_passes(gradcheck([&](const std::vector<Var>& v) { return var(v[0], dims, keepdim, unbiased); }, {t}),
                         "var " + what + (unbiased ? " unbiased" : ""));
        // random values have no ties: the gradient goes to one element per output
        require_passes(gradcheck([&](const std::vector<Var>& v) { return amax(v[0], dims, keepdim); }, {t}), "amax " + what);
        require_passes(gradcheck([&](const std::vector<Var>& v) { return amin(v[0], dims, keepdim); }, {t}), "amin " + what);
      }
  for (auto& [layout, t] : layouts)
    for (int64_t dim : {0, 1, 2, -1})
      for (bool keepdim : {false, true})
        require_passes(gradcheck([&](const std::vector<Var>& v) { return logsumexp(v[0], dim, keepdim); }, {t}),
                       "logsumexp " + layout + " dim=" + std::to_string(dim) + (keepdim ? " keepdim" : ""));
}

TEST_CASE("gradcheck: reductions on random shapes, including rank 0 and size-1 dims", "[autograd][gradcheck]") {
  Generator gen(201);
  for (int trial = 0; trial < 6; ++trial) {
    Shape s;
    int64_t rank = static_cast<int64_t>(gen.below(4));
    for (int64_t d = 0; d < rank; ++d) s.push_back(1 + static_cast<int64_t>(gen.below(3)));
    Tensor t = randn(s, DType::f64, gen);
    std::vector<int64_t> dims;
    if (rank > 0 && gen.below(2)) dims.push_back(static_cast<int64_t>(gen.below(static_cast<uint64_t>(rank))));
    std::string what = shape_str(s) + " dims=" + dims_str(dims);
    require_passes(gradcheck([&](const std::vector<Var>& v) { return sum(square(v[0]), dims); }, {t}), "sum " + what);
    require_passes(gradcheck([&](const std::vector<Var>& v) { return mean(v[0], dims, true); }, {t}), "mean " + what);
    require_passes(gradcheck([&](const std::vector<Var>& v) { return amax(v[0], dims); }, {t}), "amax " + what);
    if (rank > 0) {
      int64_t d = dims.empty() ? 0 : dims[0];
      require_passes(gradcheck([&](const std::vector<Var>& v) { return logsumexp(v[0], d); }, {t}), "logsumexp " + what);
    }
  }
  // a zero-size input: sum over an empty dim gives zeros, with an empty gradient
  Var z(Tensor::zeros({0, 3}, DType::f64), true);
  Var s = sum(z, {0});
  CHECK(s.value().to_vector() == std::vector<double>{0, 0, 0});
  sum(s).backward();
  CHECK(z.grad().shape() == Shape{0, 3});
}

TEST_CASE("amax and amin split the gradient evenly between tied extremes", "[autograd]") {
  Var a(f64({1, 3, 3, 2, 0, 0, 0, 5}, {2, 4}), true);
  sum(amax(a, {1})).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{0, 0.5, 0.5, 0, 0, 0, 0, 1});
  a.zero_grad();
  sum(amin(a, {1})).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{1, 0, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0});
  a.zero_grad();
  amax(a).backward();  // over everything: 5 is the unique max
  CHECK(a.grad().to_vector() == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 1});
}

TEST_CASE("sum_to is free when nothing was broadcast, and its backward is expand", "[autograd][gradcheck]") {
  Var a(f64({1, 2, 3}, {3}), true);
  CHECK(sum_to(a, {3}).same_as(a));
  Var s = sum_to(a, {1});
  REQUIRE(s.node() != nullptr);
  CHECK(std::string(s.node()->op()) == "sum_to");
  CHECK(s.node()->attrs() == "shape=[1]");
  Generator gen(202);
  for (auto [from, to] : std::vector<std::pair<Shape, Shape>>{
           {{2, 3, 4}, {3, 1}}, {{2, 3, 4}, {4}}, {{2, 3}, {}}, {{2, 1, 3}, {1, 1, 3}}, {{3, 4}, {3, 4}}}) {
    require_passes(gradcheck([to](const std::vector<Var>& v) { return sum_to(v[0], to); }, {randn(from, DType::f64, gen)}),
                   "sum_to " + shape_str(from) + " -> " + shape_str(to));
  }
  // backward puts every summand's gradient back
  Var b(f64({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  Var t = sum_to(b, {1, 3});
  backward(t, f64({10, 20, 30}, {1, 3}));
  CHECK(b.grad().to_vector() == std::vector<double>{10, 20, 30, 10, 20, 30});
}

TEST_CASE("reductions record their parameters for graphs", "[autograd]") {
  Var a(Tensor::zeros({2, 3}, DType::f64), true);
  CHECK(sum(a, {1}, true).node()->attrs() == "dims=[1] keepdim");
  CHECK(mean(a).node()->attrs().empty());  // the default needs no label
  CHECK(var(a, {}, false, true).node()->attrs() == "unbiased");
  CHECK(logsumexp(a, -1).node()->attrs() == "dim=1");
}

TEST_CASE("reduction errors name the op and the offending dim", "[autograd]") {
  Var a(Tensor::zeros({2, 3}, DType::f64), true);
  REQUIRE_THROWS_AS(sum(a, {2}), IndexError);
  REQUIRE_THROWS_WITH(sum(a, {2}), Catch::Contains("sum") && Catch::Contains("2"));
  REQUIRE_THROWS_AS(mean(a, {0, -2}), ValueError);
  REQUIRE_THROWS_WITH(mean(a, {0, -2}), Catch::Contains("mean") && Catch::Contains("twice"));
  REQUIRE_THROWS_AS(var(a, {5}), IndexError);
  REQUIRE_THROWS_AS(amax(a, {-3}), IndexError);
  REQUIRE_THROWS_AS(logsumexp(a, 2), IndexError);
  REQUIRE_THROWS_WITH(logsumexp(a, 2), Catch::Contains("logsumexp"));
  REQUIRE_THROWS_AS(sum_to(a, {4}), ShapeError);
  REQUIRE_THROWS_WITH(sum_to(a, {4}), Catch::Contains("[2, 3]") && Catch::Contains("[4]"));
}

TEST_CASE("gradgradcheck: sum, mean, var, logsumexp, amax", "[autograd][gradcheck]") {
  Generator gen(203);
  std::vector<std::pair<std::string, Fn>> fns{
      {"sum of squares", [](const std::vector<Var>& v) { return sum(mul(square(v[0]), v[0]), {1}); }},
      {"mean of tanh", [](const std::vector<Var>& v) { return mean(mul(tanh(v[0]), v[0]), {0}, true); }},
      {"square of sum", [](const std::vector<Var>& v) { return square(sum(v[0])); }},
      {"square of mean", [](const std::vector<Var>& v) { return square(mean(v[0], {-1})); }},
      {"var", [](const std::vector<Var>& v) { return var(v[0], {1}); }},
      {"var unbiased, all dims", [](const std::vector<Var>& v) { return var(v[0], {}, false, true); }},
      {"logsumexp", [](const std::vector<Var>& v) { return logsumexp(v[0], -1); }},
      {"amax * x", [](const std::vector<Var>& v) { return mul(amax(v[0], {0}, true), v[0]); }},
      {"sum_to", [](const std::vector<Var>& v) { return square(sum_to(v[0], {3})); }},
  };
  for (auto& [name, f] : fns) {
    GradcheckResult r = gradgradcheck(f, {randn({2, 3}, DType::f64, gen)});
    INFO(name << "\n" << r.summary());
    CHECK(r.passed);
    CHECK(r.warnings.empty());
    CHECK(r.inputs[0].max_rel_err < 1e-6);
  }
  // sum and mean alone are linear: the check passes trivially and says so
  for (auto f : std::vector<Fn>{[](const std::vector<Var>& v) { return sum(v[0]); },
                                [](const std::vector<Var>& v) { return mean(v[0], {0}); }}) {
    GradcheckResult r = gradgradcheck(f, {randn({2, 3}, DType::f64, gen)});
    INFO(r.summary());
    CHECK(r.passed);
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0], Catch::Contains("linear"));
  }
}
