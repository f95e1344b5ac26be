// Views and shape ops on Vars: values against the tensor views, gradients by gradcheck (also
// through non-contiguous inputs), backward values by hand, second derivatives through the
// views, and the errors.
#include <catch2/catch.hpp>

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

// The views are linear, so the check multiplies by tanh of the input as well: a wrong mapping
// of elements then shows up even where the projection would hide it.
Var nonlinear(const Var& y) { return mul(y, tanh(y)); }

}  // namespace

TEST_CASE("view Var ops give the tensor views' values", "[autograd]") {
  Generator gen(300);
  Tensor t = randn({2, 3, 4}, DType::f64, gen);
  Var a(t);
  CHECK(max_abs_diff(reshape(a, {4, -1}).value(), t.reshape({4, 6})) == 0);
  CHECK(flatten(a).shape() == Shape{24});
  CHECK(max_abs_diff(transpose(a, 0, 2).value(), t.transpose(0, 2)) == 0);
  CHECK(max_abs_diff(permute(a, {2, 0, 1}).value(), t.permute({2, 0, 1})) == 0);
  CHECK(max_abs_diff(slice(a, 2, 1, 4, 2).value(), t.slice(2, 1, 4, 2)) == 0);
  CHECK(max_abs_diff(select(a, 1, -1).value(), t.select(1, 2)) == 0);
  CHECK(max_abs_diff(expand(Var(t.slice(0, 0, 1)), {5, 3, 4}).value(), t.slice(0, 0, 1).expand({5, 3, 4})) == 0);
  CHECK(squeeze(Var(t.slice(1, 0, 1)), 1).shape() == Shape{2, 4});
  CHECK(unsqueeze(a, -1).shape() == Shape{2, 3, 4, 1});
  Var c = contiguous(transpose(a, 0, 1));
  CHECK(c.value().is_contiguous());
  CHECK(max_abs_diff(c.value(), t.transpose(0, 1)) == 0);
  // views alias: no copy was made
  CHECK(transpose(a, 0, 1).value().shares_storage(t));
  CHECK(slice(a, 0, 1, 2).value().shares_storage(t));
}

TEST_CASE("concat, stack, split and chunk give the tensor ops' values", "[autograd]") {
  Var a(f64({1, 2, 3, 4}, {2, 2}));
  Var b(f64({5, 6}, {2, 1}));
  CHECK(concat({a, b}, 1).value().to_vector() == std::vector<double>{1, 2, 5, 3, 4, 6});
  CHECK(concat({a, b}, -1).shape() == Shape{2, 3});
  CHECK(stack({a, a}, 1).shape() == Shape{2, 2, 2});
  CHECK(stack({a, a}, 1).value().to_vector() == std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4});
  Var r(f64({0, 1, 2, 3, 4, 5}, {6}));
  std::vector<Var> parts = split(r, {1, 2, 3});
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].value().to_vector() == std::vector<double>{0});
  CHECK(parts[1].value().to_vector() == std::vector<double>{1, 2});
  CHECK(parts[2].value().to_vector() == std::vector<double>{3, 4, 5});
  std::vector<Var> thirds = chunk(r, 3);
  REQUIRE(thirds.size() == 3);
  CHECK(thirds[2].value().to_vector() == std::vector<double>{4, 5});
}

TEST_CASE("gradcheck: every view, on contiguous and non-contiguous inputs", "[autograd][gradcheck]") {
  Generator gen(301);
  std::vector<std::pair<std::string, Fn>> ops{
      {"reshape", [](const std::vector<Var>& v) { return reshape(v[0], {4, -1}); }},
      {"reshape to rank 1", [](const std::vector<Var>& v) { return reshape(v[0], {24}); }},
      {"flatten", [](const std::vector<Var>& v) { return flatten(v[0]); }},
      {"transpose", [](const std::vector<Var>& v) { return transpose(v[0], 0, -1); }},
      {"permute", [](const std::vector<Var>& v) { return permute(v[0], {-1, 0, 1}); }},
      {"slice", [](const std::vector<Var>& v) { return slice(v[0], 1, 1, 3); }},
      {"slice step", [](const std::vector<Var>& v) { return slice(v[0], -1, 0, 4, 3); }},
      {"slice negative start", [](const std::vector<Var>& v) { return slice(v[0], 2, -3, 100, 2); }},
      {"select", [](const std::vector<Var>& v) { return select(v[0], 1, 2); }},
      {"select negative", [](const std::vector<Var>& v) { return select(v[0], -1, -1); }},
      {"expand", [](const std::vector<Var>& v) { return expand(slice(v[0], 1, 0, 1), {3, 2, 4, 4}); }},
      {"squeeze", [](const std::vector<Var>& v) { return squeeze(slice(v[0], 1, 2, 3), 1); }},
      {"unsqueeze", [](const std::vector<Var>& v) { return unsqueeze(v[0], -2); }},
      {"contiguous", [](const std::vector<Var>& v) { return contiguous(transpose(v[0], 0, 1)); }},
      {"views chained", [](const std::vector<Var>& v) { return reshape(slice(permute(v[0], {1, 2, 0}), 1, 0, 4, 2), {-1}); }},
  };
  Tensor x = randn({2, 3, 4}, DType::f64, gen);
  Tensor xp = Tensor::empty({4, 2, 3}, DType::f64);
  xp.copy_(x.permute({2, 0, 1}));
  Tensor wide = Tensor::zeros({2, 3, 8}, DType::f64);
  wide.slice(2, 0, 8, 2).copy_(x);
  std::vector<std::pair<std::string, Tensor>> layouts{
      {"contiguous", x}, {"permuted", xp.permute({1, 2, 0})}, {"step slice", wide.slice(2, 0, 8, 2)}};
  for (auto& [name, op] : ops)
    for (auto& [layout, t] : layouts) {
      Fn f = [&op](const std::vector<Var>& v) { return nonlinear(op(v)); };
      require_passes(gradcheck(f, {t}), name + " on " + layout);
    }
}

TEST_CASE("gradcheck: concat, stack, split and chunk", "[autograd][gradcheck]") {
  Generator gen(302);
  Tensor a = randn({2, 3}, DType::f64, gen);
  Tensor b = randn({2, 1}, DType::f64, gen);
  Tensor c = randn({4, 2}, DType::f64, gen).transpose(0, 1).slice(1, 0, 4, 2);  // [2, 2], non-contiguous
  require_passes(gradcheck([](const std::vector<Var>& v) { return nonlinear(concat({v[0], v[1], v[2]}, 1)); }, {a, b, c}),
                 "concat dim 1");
  require_passes(gradcheck([](const std::vector<Var>& v) { return nonlinear(concat({v[0], v[1]}, 0)); },
                           {randn({1, 3}, DType::f64, gen), a}),
                 "concat dim 0");
  // the same Var twice: both slices' gradients add up
  require_passes(gradcheck([](const std::vector<Var>& v) { return nonlinear(concat({v[0], v[0]}, -1)); }, {a}), "concat self");
  Tensor d = randn({2, 3}, DType::f64, gen).transpose(0, 1).transpose(0, 1);
  for (int64_t dim : {0, 1, 2, -1})
    require_passes(gradcheck([dim](const std::vector<Var>& v) { return nonlinear(stack({v[0], v[1]}, dim)); }, {a, d}),
                   "stack dim " + std::to_string(dim));
  Tensor x = randn({3, 6}, DType::f64, gen);
  auto weighted = [](const std::vector<Var>& parts) {
    Var total = sum(square(parts[0]));
    for (size_t i = 1; i < parts.size(); ++i) total = add(total, mul(sum(tanh(parts[i])), static_cast<double>(i + 1)));
    return total;
  };
  require_passes(gradcheck([&](const std::vector<Var>& v) { return weighted(split(v[0], {1, 3, 2}, 1)); }, {x}), "split dim 1");
  require_passes(gradcheck([&](const std::vector<Var>& v) { return weighted(split(v[0], {2, 1}, 0)); }, {x}), "split dim 0");
  require_passes(gradcheck([&](const std::vector<Var>& v) { return weighted(chunk(v[0], 3, -1)); }, {x.transpose(0, 1).transpose(0, 1)}),
                 "chunk");
  // only some parts used: the others contribute nothing
  require_passes(gradcheck([](const std::vector<Var>& v) { return square(split(v[0], {2, 4}, 1)[1]); }, {x}), "one part");
}

TEST_CASE("view backward maps the gradient back to the right places", "[autograd]") {
  Var a(f64({1, 2, 3, 4, 5}, {5}), true);
  backward(slice(a, 0, 1, 5, 2), f64({10, 20}, {2}));
  CHECK(a.grad().to_vector() == std::vector<double>{0, 10, 0, 20, 0});

  Var m(f64({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  backward(select(m, 1, 1), f64({7, 8}, {2}));
  CHECK(m.grad().to_vector() == std::vector<double>{0, 7, 0, 0, 8, 0});
  m.zero_grad();
  backward(transpose(m, 0, 1), f64({1, 2, 3, 4, 5, 6}, {3, 2}));
  CHECK(m.grad().to_vector() == std::vector<double>{1, 3, 5, 2, 4, 6});
  m.zero_grad();
  backward(permute(unsqueeze(m, 0), {2, 0, 1}), f64({1, 2, 3, 4, 5, 6}, {3, 1, 2}));
  CHECK(m.grad().to_vector() == std::vector<double>{1, 3, 5, 2, 4, 6});
  m.zero_grad();
  backward(expand(slice(m, 0, 0, 1), {3, 1, 3}), f64({1, 1, 1, 2, 2, 2, 3, 3, 3}, {3, 1, 3}));
  CHECK(m.grad().to_vector() == std::vector<double>{6, 6, 6, 0, 0, 0});

  Var p(f64({1, 2}, {2}), true);
  Var q(f64({3, 4, 5}, {3}), true);
  backward(concat({p, q, p}), f64({1, 2, 3, 4, 5, 6, 7}, {7}));
  CHECK(p.grad().to_vector() == std::vector<double>{7, 9});
  CHECK(q.grad().to_vector() == std::vector<double>{3, 4, 5});
  p.zero_grad();
  backward(stack({p, p}, 1), f64({1, 2, 3, 4}, {2, 2}));
  CHECK(p.grad().to_vector() == std::vector<double>{3, 7});
}

TEST_CASE("gradgradcheck through views and joins", "[autograd][gradcheck]") {
  Generator gen(303);
  std::vector<std::pair<std::string, Fn>> fns{
      {"slice", [](const std::vector<Var>& v) { return square(slice(transpose(v[0], 0, 1), 0, 0, 3, 2)); }},
      {"select", [](const std::vector<Var>& v) { return mul(select(v[0], 1, 2), tanh(select(v[0], 1, 0))); }},
      {"expand", [](const std::vector<Var>& v) { return square(expand(reshape(v[0], {1, 6}), {2, 6})); }},
      {"concat", [](const std::vector<Var>& v) { return square(concat({v[0], exp(v[0])}, 1)); }},
      {"stack", [](const std::vector<Var>& v) { return square(stack({v[0], permute(transpose(v[0], 0, 1), {1, 0})}, 0)); }},
      {"split", [](const std::vector<Var>& v) {
         std::vector<Var> parts = split(v[0], {1, 2}, 1);
         return sum(mul(parts[0], parts[1]));
       }},
      {"squeeze", [](const std::vector<Var>& v) { return square(squeeze(unsqueeze(flatten(v[0]), 0), 0)); }},
  };
  for (auto& [name, f] : fns) {
    GradcheckResult r = gradgradcheck(f, {randn({2, 3}, DType::f64, gen)});
    INFO(name << "\n" << r.summary());
    CHECK(r.passed);
    CHECK(r.warnings.empty());
    CHECK(r.inputs[0].max_rel_err < 1e-6);
  }
}

TEST_CASE("shape ops record their parameters for graphs", "[autograd]") {
  Var a(Tensor::zeros({2, 3, 4}, DType::f64), true);
  CHECK(slice(a, 2, 0, 4, 2).node()->attrs() == "dim=2 0:4:2");
  CHECK(select(a, 1, 2).node()->attrs() == "dim=1 index=2");
  CHECK(unsqueeze(a, -1).node()->attrs() == "dim=3");
  CHECK(permute(a, {2, 0, 1}).node()->attrs() == "dims=[2, 0, 1]");
  std::vector<Var> parts = split(a, {1, 3}, -1);
  CHECK(std::string(parts[1].node()->op()) == "split");
  CHECK(parts[1].node()->attrs() == "dim=2 1:4");
}

TEST_CASE("shape op errors name the op and the shapes", "[autograd]") {
  Var a(Tensor::zeros({2, 3}, DType::f64), true);
  REQUIRE_THROWS_AS(reshape(a, {4, 2}), ShapeError);
  REQUIRE_THROWS_WITH(reshape(a, {4, 2}), Catch::Contains("reshape") && Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  REQUIRE_THROWS_AS(permute(a, {0, 0}), ValueError);
  REQUIRE_THROWS_AS(permute(a, {0}), ValueError);
  REQUIRE_THROWS_WITH(permute(a, {0}), Catch::Contains("permute"));
  REQUIRE_THROWS_AS(transpose(a, 0, 2), IndexError);
  REQUIRE_THROWS_AS(slice(a, 0, 0, 2, 0), ValueError);
  REQUIRE_THROWS_WITH(slice(a, 0, 0, 2, 0), Catch::Contains("slice") && Catch::Contains("step"));
  REQUIRE_THROWS_AS(select(a, 1, 3), IndexError);
  REQUIRE_THROWS_WITH(select(a, 1, 3), Catch::Contains("select") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_AS(expand(a, {2, 4}), ShapeError);
  REQUIRE_THROWS_AS(squeeze(a, 0), ShapeError);
  REQUIRE_THROWS_AS(unsqueeze(a, 3), IndexError);
  Var b(Tensor::zeros({3, 3}, DType::f64), true);
  REQUIRE_THROWS_AS(concat({a, b}, 1), ShapeError);
  REQUIRE_THROWS_WITH(concat({a, b}, 1), Catch::Contains("concat") && Catch::Contains("[2, 3]") && Catch::Contains("[3, 3]"));
  REQUIRE_THROWS_AS(stack({a, b}), ShapeError);
  REQUIRE_THROWS_AS(concat(std::vector<Var>{}, 0), ValueError);
  REQUIRE_THROWS_AS(split(a, {1, 1}, 1), Error);
  REQUIRE_THROWS_WITH(split(a, {1, 1}, 1), Catch::Contains("split"));
  REQUIRE_THROWS_AS(chunk(a, 2, 1), Error);
  REQUIRE_THROWS_WITH(chunk(a, 2, 1), Catch::Contains("chunk"));
}
