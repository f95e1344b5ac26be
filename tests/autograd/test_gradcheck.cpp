// gradcheck itself: it must pass correct gradients, fail wrong ones and point at the right
// element, set kinks aside, warn on f32, and check second derivatives.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/random.h"

using namespace lumen;

namespace {

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape, DType::f64);
}

// ---- custom ops with a deliberately wrong backward --------------------------------------------

// y = x^2, with a correct backward: right once, but a custom op cannot be differentiated again.
struct GoodSquare {
  static constexpr const char* name = "good_square";
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return lumen::mul(x, x);
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {lumen::mul(g, lumen::mul(ctx.saved_tensors()[0], 2.0))};
  }
};

// y = x^2 with dy/dx = -2x: a sign flip.
struct SignFlippedSquare {
  static constexpr const char* name = "sign_flipped_square";
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return lumen::mul(x, x);
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {lumen::mul(g, lumen::mul(ctx.saved_tensors()[0], -2.0))};
  }
};

// y = x^2 with dy/dx = x: the factor 2 is missing.
struct HalfSquare {
  static constexpr const char* name = "half_square";
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return lumen::mul(x, x);
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {lumen::mul(g, ctx.saved_tensors()[0])};
  }
};

// y = x * c for a square constant c, with the gradient multiplied by c transposed.
struct TransposedScale {
  static constexpr const char* name = "transposed_scale";
  static Tensor forward(Context& ctx, const Tensor& x, const Tensor& c) {
    ctx.save_for_backward({c});
    return lumen::mul(x, c);
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {lumen::mul(g, ctx.saved_tensors()[0].transpose(0, 1)), Tensor()};
  }
};

// y = x^2 recorded with a backward written in Var ops whose value is right (2x g) but half of
// which is detached: the first derivative is right, the second is half of what it should be.
Var half_detached_square(const Var& x) {
  return record("half_detached_square", lumen::mul(x.value(), x.value()), {x},
                [](const Node& n, const Var& g) -> Grads {
                  const Var& x = n.input(0);
                  return {mul(g, add(x, x.detach()))};
                });
}

}  // namespace

TEST_CASE("gradcheck passes correct gradients and reports every input", "[autograd][gradcheck]") {
  Generator gen(11);
  Tensor a = randn({3, 4}, DType::f64, gen);
  Tensor b = randn({4}, DType::f64, gen);
  GradcheckResult r = gradcheck([](const std::vector<Var>& x) { return add(mul(x[0], x[1]), sin(x[0])); }, {a, b});
  INFO(r.summary());
  REQUIRE(r.passed);
  REQUIRE(r.warnings.empty());
  REQUIRE(r.inputs.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const InputReport& rep = r.inputs[i];
    CHECK(rep.input == i);
    CHECK(rep.passed);
    CHECK(rep.failures == 0);
    CHECK(rep.kinks == 0);
    CHECK(rep.max_rel_err < 1e-6);
    CHECK(rep.max_abs_err < 1e-6);
    CHECK(rep.worst_flat >= 0);
    CHECK(rep.worst_index.size() == rep.shape.size());
    // The reported worst pair is a real (analytic, numeric) pair that agrees.
    CHECK(std::abs(rep.worst_analytic - rep.worst_numeric) <= rep.max_abs_err);
  }
  CHECK(r.inputs[0].shape == Shape{3, 4});
  CHECK(r.inputs[1].shape == Shape{4});
}

TEST_CASE("gradcheck fails a sign-flipped backward and names the worst element", "[autograd][gradcheck]") {
  // The output is a scalar, so the projection w is one number and the error at element i is
  // |2 * 2 x_i w|: largest at the largest |x_i|, here x[1, 2] = -3.
  Tensor x = f64({0.5, -1.0, 1.5, 2.0, 0.25, -3.0}, {2, 3});
  auto f = [](const std::vector<Var>& v) { return sum(apply<SignFlippedSquare>(v[0])); };
  GradcheckResult r = gradcheck(f, {x});
  INFO(r.summary());
  REQUIRE_FALSE(r.passed);
  const InputReport& rep = r.inputs[0];
  CHECK_FALSE(rep.passed);
  CHECK(rep.failures == 6);
  CHECK(rep.worst_flat == 5);
  CHECK(rep.worst_index == std::vector<int64_t>{1, 2});
  CHECK(rep.worst_analytic == Approx(-rep.worst_numeric).epsilon(1e-6));
  // numeric = 2 x w with x = -3; the analytic value is its negative
  CHECK(std::abs(rep.worst_numeric) > 1e-3);
  CHECK(rep.max_abs_err == Approx(2 * std::abs(rep.worst_numeric)).epsilon(1e-6));
  CHECK(rep.max_rel_err == Approx(2.0).epsilon(1e-6));  // |a - n| = 2|n|, over the scale max |n|
  CHECK_THAT(r.summary(), Catch::Contains("FAILED") && Catch::Contains("[1, 2]") && Catch::Contains("6/6"));
}

TEST_CASE("gradcheck fails a backward with a missing factor", "[autograd][gradcheck]") {
  Tensor x = f64({0.5, 4.0, -1.0, 0.0}, {4});
  GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return sum(apply<HalfSquare>(v[0])); }, {x});
  INFO(r.summary());
  REQUIRE_FALSE(r.passed);
  const InputReport& rep = r.inputs[0];
  // Analytic x w against numeric 2 x w: every non-zero x fails, x = 0 passes.
  CHECK(rep.failures == 3);
  CHECK(rep.worst_index == std::vector<int64_t>{1});
  CHECK(rep.worst_numeric == Approx(2 * rep.worst_analytic).epsilon(1e-6));
  CHECK(rep.max_rel_err == Approx(0.5).epsilon(1e-6));
}

TEST_CASE("gradcheck fails a transposed gradient at the asymmetric entries only", "[autograd][gradcheck]") {
  // c is symmetric except c[0, 2] = 5 vs c[2, 0] = 1, so only those two elements are wrong; the
  // one with the smaller true gradient, [2, 0], is furthest past its tolerance.
  Tensor c = f64({1, 2, 5, 2, 3, 4, 1, 4, 6}, {3, 3});
  Tensor x = f64({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, {3, 3});
  auto f = [](const std::vector<Var>& v) { return sum(apply<TransposedScale>(v[0], v[1])); };
  GradcheckResult r = gradcheck(f, {x, c}, {.check_input = {true, false}});
  INFO(r.summary());
  REQUIRE_FALSE(r.passed);
  REQUIRE(r.inputs.size() == 1);
  const InputReport& rep = r.inputs[0];
  CHECK(rep.failures == 2);
  CHECK(rep.worst_flat == 6);
  CHECK(rep.worst_index == std::vector<int64_t>{2, 0});
  // analytic w * c[0, 2], numeric w * c[2, 0]
  CHECK(rep.worst_analytic == Approx(5 * rep.worst_numeric).epsilon(1e-6));
}

TEST_CASE("gradcheck passes a correct custom op", "[autograd][gradcheck]") {
  Generator gen(3);
  GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return apply<GoodSquare>(v[0]); },
                                {randn({2, 3}, DType::f64, gen)});
  INFO(r.summary());
  CHECK(r.passed);
  CHECK(r.inputs[0].max_rel_err < 1e-6);
}

TEST_CASE("gradcheck flags kinks of relu and abs at exactly 0 and leaves them out", "[autograd][gradcheck]") {
  // At 0 the central difference of relu is w/2 and of abs is 0, which no backward returns.
  Tensor x = f64({-1.0, 0.0, 2.0, 0.5, 0.0}, {5});
  SECTION("relu") {
    GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return relu(v[0]); }, {x});
    INFO(r.summary());
    CHECK(r.passed);
    CHECK(r.inputs[0].kinks == 2);
    CHECK(r.inputs[0].max_abs_err < 1e-8);
    CHECK(r.inputs[0].worst_index != std::vector<int64_t>{1});
  }
  SECTION("abs") {
    GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return abs(v[0]); }, {x});
    INFO(r.summary());
    CHECK(r.passed);
    CHECK(r.inputs[0].kinks == 2);
  }
  SECTION("maximum at a tie") {
    Tensor y = f64({-1.0, 0.0, 3.0, 0.5, 1.0}, {5});
    GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return maximum(v[0], v[1]); }, {x, y});
    INFO(r.summary());
    CHECK(r.passed);
    CHECK(r.inputs[0].kinks == 3);  // ties at elements 0, 1 and 3
    CHECK(r.inputs[1].kinks == 3);
  }
  SECTION("a kink does not hide a wrong gradient elsewhere") {
    auto f = [](const std::vector<Var>& v) { return add(relu(v[0]), sum(apply<HalfSquare>(v[0]))); };
    GradcheckResult r = gradcheck(f, {x});
    INFO(r.summary());
    CHECK_FALSE(r.passed);
    CHECK(r.inputs[0].failures == 3);  // -1, 2 and 0.5: the kinks at 0 are left out
  }
}

TEST_CASE("gradcheck does not mistake a steep smooth function for a kink", "[autograd][gradcheck]") {
  // 1/x at 1e-3: the one-sided differences differ by eps * f'' = 2e3, above the first threshold
  // (1e-3 * |f'| = 1e3), but the gap shrinks with the step, so it is smooth.
  Tensor x = f64({1e-3, 2e-3}, {2});
  GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return div(1.0, v[0]); }, {x});
  INFO(r.summary());
  CHECK(r.passed);
  CHECK(r.inputs[0].kinks == 0);
  CHECK(r.inputs[0].max_rel_err < 1e-6);
}

TEST_CASE("gradcheck warns on f32 inputs and not on f64", "[autograd][gradcheck]") {
  Generator gen(5);
  auto f = [](const std::vector<Var>& v) { return mul(v[0], v[1]); };
  GradcheckResult r32 = gradcheck(f, {randn({3}, DType::f32, gen), randn({3}, DType::f32, gen)}, {.eps = 1e-2, .atol = 1e-2, .rtol = 1e-2});
  INFO(r32.summary());
  REQUIRE(r32.warnings.size() == 2);
  CHECK_THAT(r32.warnings[0], Catch::Contains("input 0") && Catch::Contains("f32") && Catch::Contains("f64"));
  CHECK_THAT(r32.warnings[1], Catch::Contains("input 1"));
  CHECK_THAT(r32.summary(), Catch::Contains("warning: input 0 is f32"));
  CHECK(r32.passed);  // mul is linear in each input, so even f32 differences agree loosely

  GradcheckResult r64 = gradcheck(f, {randn({3}, DType::f64, gen), randn({3}, DType::f64, gen)});
  CHECK(r64.warnings.empty());
}

TEST_CASE("gradcheck keeps a view's layout, copies expanded inputs, and never changes the caller's tensors",
          "[autograd][gradcheck]") {
  Generator gen(8);
  Tensor base = randn({4, 3}, DType::f64, gen);
  Tensor xt = base.transpose(0, 1);         // [3, 4], non-contiguous
  Tensor before = base.clone();
  bool saw_contiguous = false;
  auto f = [&](const std::vector<Var>& v) {
    saw_contiguous = saw_contiguous || v[0].value().is_contiguous();
    return mul(v[0], v[0]);
  };
  GradcheckResult r = gradcheck(f, {xt});
  CHECK(r.passed);
  CHECK_FALSE(saw_contiguous);
  CHECK(max_abs_diff(base, before) == 0);

  // An expanded input's elements alias; gradcheck checks each of the 6 logical elements on a copy.
  Tensor row = randn({1, 3}, DType::f64, gen);
  Tensor expanded = row.expand({2, 3});
  GradcheckResult re = gradcheck([](const std::vector<Var>& v) { return mul(v[0], v[0]); }, {expanded});
  INFO(re.summary());
  CHECK(re.passed);
  CHECK(re.inputs[0].shape == Shape{2, 3});
  CHECK(re.inputs[0].max_rel_err < 1e-6);

  // A step slice keeps its step.
  Tensor wide = randn({2, 6}, DType::f64, gen);
  Tensor stepped = wide.slice(1, 0, 6, 2);
  Strides seen;
  GradcheckResult rs = gradcheck(
      [&](const std::vector<Var>& v) {
        seen = v[0].value().strides();
        return exp(v[0]);
      },
      {stepped});
  CHECK(rs.passed);
  CHECK(seen == stepped.strides());
}

TEST_CASE("gradcheck skips integer inputs and warns about inputs that do not reach the output",
          "[autograd][gradcheck]") {
  Generator gen(9);
  Tensor x = randn({4, 2}, DType::f64, gen);
  Tensor unused = randn({3}, DType::f64, gen);
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{2, 0}, {2});
  auto f = [](const std::vector<Var>& v) {
    // rows 2 and 0 of x, picked with plain views (no index op needed)
    std::vector<Var> rows;
    for (double i : v[2].value().to_vector()) rows.push_back(select(v[0], 0, static_cast<int64_t>(i)));
    return tanh(stack(rows));
  };
  GradcheckResult r = gradcheck(f, {x, unused, idx});
  INFO(r.summary());
  CHECK(r.passed);
  REQUIRE(r.inputs.size() == 2);  // the i64 input is not checked
  CHECK(r.inputs[0].input == 0);
  CHECK(r.inputs[1].input == 1);
  CHECK(r.inputs[1].max_abs_err == 0);
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Catch::Contains("input 1") && Catch::Contains("does not reach"));
}

TEST_CASE("gradcheck rejects bad arguments with clear errors", "[autograd][gradcheck]") {
  Tensor x = f64({1, 2}, {2});
  Tensor idx = Tensor::from_vector(std::vector<int64_t>{0}, {1});
  auto id = [](const std::vector<Var>& v) { return v[0] * 2.0; };
  REQUIRE_THROWS_AS(gradcheck(id, {x}, {.check_input = {true, true}}), ValueError);
  REQUIRE_THROWS_WITH(gradcheck(id, {x}, {.check_input = {true, true}}), Catch::Contains("check_input has 2 entries for 1 inputs"));
  REQUIRE_THROWS_AS(gradcheck(id, {x, idx}, {.check_input = {true, true}}), DTypeError);
  REQUIRE_THROWS_WITH(gradcheck(id, {x, idx}, {.check_input = {true, true}}), Catch::Contains("input 1 is i64"));
  REQUIRE_THROWS_AS(gradcheck(id, {x}, {.eps = 0}), ValueError);
  REQUIRE_THROWS_WITH(gradcheck(id, {x}, {.eps = -1}), Catch::Contains("eps must be positive"));
  REQUIRE_THROWS_AS(gradcheck(id, {Tensor()}), ValueError);
  auto to_int = [](const std::vector<Var>&) { return Var(Tensor::zeros({2}, DType::i64)); };
  REQUIRE_THROWS_AS(gradcheck(to_int, {x}), DTypeError);
  REQUIRE_THROWS_WITH(gradcheck(to_int, {x}), Catch::Contains("must return a floating Var"));
  REQUIRE_THROWS_AS(gradgradcheck(to_int, {x}), DTypeError);
}

TEST_CASE("gradcheck summary is one aligned row per input", "[autograd][gradcheck]") {
  Generator gen(4);
  GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return mul(v[0], v[1]); },
                                {randn({2, 3}, DType::f64, gen), randn({3}, DType::f64, gen)});
  std::string s = r.summary();
  INFO(s);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1) lines.push_back(s.substr(start, nl - start));
  REQUIRE(lines.size() == 4);  // verdict, header, two inputs
  CHECK(lines[0] == "gradcheck passed");
  CHECK_THAT(lines[1], Catch::Contains("max abs err") && Catch::Contains("worst index"));
  CHECK(lines[2].size() == lines[3].size());
  CHECK(lines[2].find("[2, 3]") == lines[1].find("shape"));
  CHECK_THAT(lines[2], Catch::EndsWith("ok"));
  CHECK_THAT(lines[3], Catch::Contains("0/3"));
}

TEST_CASE("gradgradcheck passes tanh and mul", "[autograd][gradcheck]") {
  Generator gen(21);
  GradcheckResult rt = gradgradcheck([](const std::vector<Var>& v) { return tanh(v[0]); }, {randn({3, 2}, DType::f64, gen)});
  INFO(rt.summary());
  CHECK(rt.passed);
  CHECK(rt.inputs[0].max_rel_err < 1e-6);
  CHECK(rt.warnings.empty());
  GradcheckResult rm = gradgradcheck([](const std::vector<Var>& v) { return mul(v[0], v[1]); },
                                     {randn({2, 3}, DType::f64, gen), randn({1, 3}, DType::f64, gen)});
  INFO(rm.summary());
  CHECK(rm.passed);
  REQUIRE(rm.inputs.size() == 2);
  // d2/da db of sum(w * a * b) is not zero, so this is not a trivial pass
  CHECK(std::abs(rm.inputs[0].worst_numeric) + std::abs(rm.inputs[1].worst_numeric) > 0);
}

TEST_CASE("gradgradcheck catches a wrong second derivative", "[autograd][gradcheck]") {
  Generator gen(22);
  Tensor x = randn({4}, DType::f64, gen);
  auto f = [](const std::vector<Var>& v) { return half_detached_square(v[0]); };
  // The first derivative is right...
  GradcheckResult first = gradcheck(f, {x});
  INFO(first.summary());
  CHECK(first.passed);
  // ...the second is half of the truth: analytic w w2, numeric 2 w w2.
  GradcheckResult second = gradgradcheck(f, {x});
  INFO(second.summary());
  CHECK_FALSE(second.passed);
  CHECK(second.inputs[0].failures == 4);
  CHECK(second.inputs[0].worst_numeric == Approx(2 * second.inputs[0].worst_analytic).epsilon(1e-6));
  CHECK(second.warnings.empty());  // the gradient does carry a graph, just a wrong one
}

TEST_CASE("gradgradcheck fails a custom op, which is differentiable once only, and says why",
          "[autograd][gradcheck]") {
  Generator gen(23);
  Tensor x = randn({3}, DType::f64, gen);
  auto f = [](const std::vector<Var>& v) { return apply<GoodSquare>(v[0]); };
  CHECK(gradcheck(f, {x}).passed);
  GradcheckResult r = gradgradcheck(f, {x});
  INFO(r.summary());
  CHECK_FALSE(r.passed);
  CHECK(r.inputs[0].worst_analytic == 0);  // no graph: the second derivative reads as zero
  CHECK(r.inputs[0].worst_numeric != 0);
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Catch::Contains("differentiable once") && Catch::Contains("custom op"));
}

TEST_CASE("gradgradcheck of a linear function passes trivially with a warning", "[autograd][gradcheck]") {
  Generator gen(24);
  GradcheckResult r = gradgradcheck([](const std::vector<Var>& v) { return mul(v[0], 3.0); }, {randn({3}, DType::f64, gen)});
  INFO(r.summary());
  CHECK(r.passed);
  CHECK(r.inputs[0].max_abs_err < 1e-8);
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Catch::Contains("linear"));
}
