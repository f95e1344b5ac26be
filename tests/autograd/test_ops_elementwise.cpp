// Elementwise Var ops: forward values against the tensor ops and hand-computed numbers,
// gradients against central differences (gradcheck in f64) over random shapes, broadcasting
// and non-contiguous inputs, second derivatives with gradgradcheck, and a Hessian-vector
// product against a finite-difference Hessian.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
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

// Values in [lo, lo + width) or (-lo - width, -lo]: away from 0, for kinks and poles.
Tensor away_from_zero(const Shape& shape, Generator& gen, double lo = 0.2, double width = 1.5) {
  Tensor u = uniform(shape, lo, lo + width, DType::f64, gen);
  Tensor s = lumen::sub(lumen::mul(bernoulli(shape, 0.5, gen).to(DType::f64), 2.0), Tensor::ones(shape, DType::f64));
  return lumen::mul(u, s);
}

Tensor positive(const Shape& shape, Generator& gen, double lo = 0.3, double hi = 2.0) {
  return uniform(shape, lo, hi, DType::f64, gen);
}

// A random shape of rank 0..3 with extents 1..4.
Shape random_shape(Generator& gen) {
  Shape s;
  int64_t rank = static_cast<int64_t>(gen.below(4));
  for (int64_t d = 0; d < rank; ++d) s.push_back(1 + static_cast<int64_t>(gen.below(4)));
  return s;
}

void require_passes(const GradcheckResult& r, const std::string& what) {
  INFO(what << "\n" << r.summary());
  REQUIRE(r.passed);
  for (const InputReport& rep : r.inputs) {
    CHECK(rep.kinks == 0);
    CHECK(rep.max_rel_err < 1e-6);
  }
}

// The same tensor laid out three ways: contiguous, as a transposed view, and as a step slice.
std::vector<std::pair<std::string, Tensor>> layouts(const Tensor& t) {
  std::vector<std::pair<std::string, Tensor>> out{{"contiguous", t}};
  if (t.dim() >= 2) {
    Shape swapped = t.shape();
    std::swap(swapped[0], swapped[1]);
    Tensor tt = Tensor::empty(swapped, t.dtype());
    tt.copy_(t.transpose(0, 1));
    out.push_back({"transposed", tt.transpose(0, 1)});
  }
  if (t.dim() >= 1) {
    Shape wide = t.shape();
    wide[wide.size() - 1] *= 2;
    Tensor w = Tensor::zeros(wide, t.dtype());
    Tensor view = w.slice(-1, 0, wide.back(), 2);
    view.copy_(t);
    out.push_back({"step slice", view});
  }
  return out;
}

}  // namespace

// ---- forward values ----------------------------------------------------------------------------

TEST_CASE("elementwise Var ops compute the tensor ops' values", "[autograd]") {
  Tensor a = f64({1, -2, 3, 0.5, 4, -1}, {2, 3});
  Tensor b = f64({2, 0.5, -4}, {3});
  Var va(a), vb(b);
  CHECK(max_abs_diff(add(va, vb).value(), f64({3, -1.5, -1, 2.5, 4.5, -5}, {2, 3})) == 0);
  CHECK(max_abs_diff(sub(va, vb).value(), f64({-1, -2.5, 7, -1.5, 3.5, 3}, {2, 3})) == 0);
  CHECK(max_abs_diff(mul(va, vb).value(), f64({2, -1, -12, 1, 2, 4}, {2, 3})) == 0);
  CHECK(max_abs_diff(div(va, vb).value(), f64({0.5, -4, -0.75, 0.25, 8, 0.25}, {2, 3})) == 0);
  CHECK(max_abs_diff(maximum(va, vb).value(), f64({2, 0.5, 3, 2, 4, -1}, {2, 3})) == 0);
  CHECK(max_abs_diff(minimum(va, vb).value(), f64({1, -2, -4, 0.5, 0.5, -4}, {2, 3})) == 0);
  CHECK(max_abs_diff((va + 1.5).value(), f64({2.5, -0.5, 4.5, 2, 5.5, 0.5}, {2, 3})) == 0);
  CHECK(max_abs_diff((1.5 + va).value(), (va + 1.5).value()) == 0);
  CHECK(max_abs_diff((va - 1.0).value(), f64({0, -3, 2, -0.5, 3, -2}, {2, 3})) == 0);
  CHECK(max_abs_diff((1.0 - va).value(), f64({0, 3, -2, 0.5, -3, 2}, {2, 3})) == 0);
  CHECK(max_abs_diff((va * 2.0).value(), f64({2, -4, 6, 1, 8, -2}, {2, 3})) == 0);
  CHECK(max_abs_diff((2.0 * va).value(), (va * 2.0).value()) == 0);
  CHECK(max_abs_diff((va / 3.0).value(), lumen::operator/(a, 3.0)) == 0);
  CHECK(max_abs_diff((2.0 / va).value(), f64({2, -1, 2.0 / 3, 4, 0.5, -2}, {2, 3})) == 0);
  CHECK(max_abs_diff((-va).value(), f64({-1, 2, -3, -0.5, -4, 1}, {2, 3})) == 0);
  CHECK(max_abs_diff((va + vb).value(), add(va, vb).value()) == 0);
  CHECK(max_abs_diff((va - vb).value(), sub(va, vb).value()) == 0);
  CHECK(max_abs_diff((va * vb).value(), mul(va, vb).value()) == 0);
  CHECK(max_abs_diff((va / vb).value(), div(va, vb).value()) == 0);
  CHECK(max_abs_diff(pow(va, 2.0).value(), f64({1, 4, 9, 0.25, 16, 1}, {2, 3})) == 0);
  Var pos(f64({4, 0.25}, {2}));
  CHECK(max_abs_diff(pow(pos, Var(f64({0.5, 2}, {2}))).value(), f64({2, 0.0625}, {2})) < 1e-15);
  CHECK(max_abs_diff(sqrt(pos).value(), f64({2, 0.5}, {2})) == 0);

  for (auto [name, got, want] : std::vector<std::tuple<std::string, Tensor, Tensor>>{
           {"exp", exp(va).value(), lumen::exp(a)},
           {"log", log(Var(lumen::abs(a))).value(), lumen::log(lumen::abs(a))},
           {"square", square(va).value(), lumen::mul(a, a)},
           {"abs", abs(va).value(), f64({1, 2, 3, 0.5, 4, 1}, {2, 3})},
           {"sin", sin(va).value(), lumen::sin(a)},
           {"cos", cos(va).value(), lumen::cos(a)},
           {"tanh", tanh(va).value(), lumen::tanh(a)},
           {"sigmoid", sigmoid(va).value(), lumen::sigmoid(a)},
           {"relu", relu(va).value(), f64({1, 0, 3, 0.5, 4, 0}, {2, 3})},
           {"gelu", gelu(va).value(), lumen::gelu(a)},
           {"clamp", clamp(va, -1.5, 2.0).value(), f64({1, -1.5, 2, 0.5, 2, -1}, {2, 3})},
       }) {
    INFO(name);
    CHECK(got.shape() == want.shape());
    CHECK(max_abs_diff(got, want) == 0);
  }
  // exp and tanh at a few points by hand
  CHECK(exp(Var(f64({0, 1}, {2}))).value().at({1}) == Approx(std::exp(1.0)));
  CHECK(tanh(Var(f64({0.5}, {1}))).value().at({0}) == Approx(std::tanh(0.5)));
}

TEST_CASE("Var ops keep f32 as f32 and record only when an input requires grad", "[autograd]") {
  Var a(Tensor::from_vector(std::vector<float>{1, 2}, {2}));
  Var b(Tensor::from_vector(std::vector<float>{3, 4}, {2}), true);
  Var plain = mul(a, a);
  CHECK(plain.dtype() == DType::f32);
  CHECK_FALSE(plain.requires_grad());
  CHECK(plain.node() == nullptr);
  Var recorded = mul(a, b);
  CHECK(recorded.requires_grad());
  REQUIRE(recorded.node() != nullptr);
  CHECK(std::string(recorded.node()->op()) == "mul");
  sum(recorded).backward();
  CHECK(b.grad().dtype() == DType::f32);
  CHECK(b.grad().to_vector() == std::vector<double>{1, 2});
  CHECK_FALSE(a.grad().defined());  // a needs no gradient and gets none
}

TEST_CASE("elementwise Var ops pass shape and dtype errors through with the op's name", "[autograd]") {
  Var a(Tensor::zeros({2, 3}, DType::f64), true);
  Var b(Tensor::zeros({4}, DType::f64), true);
  Var c(Tensor::zeros({2, 3}, DType::f32));
  REQUIRE_THROWS_AS(add(a, b), ShapeError);
  REQUIRE_THROWS_WITH(add(a, b), Catch::Contains("add") && Catch::Contains("[2, 3]") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(mul(a, b), Catch::Contains("mul") && Catch::Contains("[2, 3]") && Catch::Contains("[4]"));
  REQUIRE_THROWS_AS(mul(a, c), DTypeError);
  REQUIRE_THROWS_WITH(div(a, c), Catch::Contains("div") && Catch::Contains("f32"));
  REQUIRE_THROWS_AS(where(Tensor::zeros({2, 3}, DType::f64), a, a), DTypeError);
  REQUIRE_THROWS_AS(add(a, Var()), ValueError);
  REQUIRE_THROWS_AS(exp(Var(Tensor::zeros({2}, DType::i64))), DTypeError);
  REQUIRE_THROWS_WITH(exp(Var(Tensor::zeros({2}, DType::i64))), Catch::Contains("exp"));
}

// ---- gradients ---------------------------------------------------------------------------------

TEST_CASE("gradcheck: binary ops with broadcasting", "[autograd][gradcheck]") {
  struct Op {
    std::string name;
    Fn f;
    bool b_positive;  // the second operand must stay away from 0 or be positive
  };
  std::vector<Op> ops{
      {"add", [](const std::vector<Var>& v) { return add(v[0], v[1]); }, false},
      {"sub", [](const std::vector<Var>& v) { return sub(v[0], v[1]); }, false},
      {"mul", [](const std::vector<Var>& v) { return mul(v[0], v[1]); }, false},
      {"div", [](const std::vector<Var>& v) { return div(v[0], v[1]); }, true},
      {"maximum", [](const std::vector<Var>& v) { return maximum(v[0], v[1]); }, false},
      {"minimum", [](const std::vector<Var>& v) { return minimum(v[0], v[1]); }, false},
      {"pow", [](const std::vector<Var>& v) { return pow(exp(v[0]), v[1]); }, false},  // a = e^x > 0
      {"operator+-*/", [](const std::vector<Var>& v) { return (v[0] + v[1]) * v[0] - v[0] / v[1]; }, true},
  };
  std::vector<std::pair<Shape, Shape>> pairs{
      {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 1, 3}, {4, 1}}, {{}, {2, 3}}, {{2, 3}, {}}, {{0, 3}, {3}},
  };
  Generator gen(100);
  for (const Op& op : ops)
    for (auto [sa, sb] : pairs) {
      Tensor a = randn(sa, DType::f64, gen);
      Tensor b = op.b_positive ? positive(sb, gen) : randn(sb, DType::f64, gen);
      require_passes(gradcheck(op.f, {a, b}), op.name + " " + shape_str(sa) + " x " + shape_str(sb));
    }
}

TEST_CASE("gradcheck: binary ops on random shapes and non-contiguous inputs", "[autograd][gradcheck]") {
  Generator gen(101);
  std::vector<std::pair<std::string, Fn>> ops{
      {"add", [](const std::vector<Var>& v) { return add(v[0], v[1]); }},
      {"mul", [](const std::vector<Var>& v) { return mul(v[0], v[1]); }},
      {"div", [](const std::vector<Var>& v) { return div(v[0], add(square(v[1]), 0.5)); }},
      {"maximum", [](const std::vector<Var>& v) { return maximum(v[0], v[1]); }},
  };
  for (int trial = 0; trial < 4; ++trial) {
    Shape s = random_shape(gen);
    Tensor a = randn(s, DType::f64, gen);
    Tensor b = randn(s, DType::f64, gen);
    for (auto& [name, f] : ops)
      for (auto& [la, ta] : layouts(a))
        for (auto& [lb, tb] : layouts(b))
          require_passes(gradcheck(f, {ta, tb}), name + " " + shape_str(s) + " " + la + " x " + lb);
  }
  // an expanded operand inside the function: its gradient sums over the copies
  Tensor row = randn({1, 4}, DType::f64, gen);
  Tensor full = randn({3, 4}, DType::f64, gen);
  require_passes(gradcheck([](const std::vector<Var>& v) { return mul(expand(v[0], {3, 4}), v[1]); }, {row, full}),
                 "mul with an expanded view");
  require_passes(gradcheck([](const std::vector<Var>& v) { return sub(transpose(v[0], 0, 1), v[1]); },
                           {randn({4, 3}, DType::f64, gen), randn({3, 4}, DType::f64, gen)}),
                 "sub with a transposed view");
}

TEST_CASE("gradcheck: scalar-operand ops", "[autograd][gradcheck]") {
  Generator gen(102);
  std::vector<std::pair<std::string, Fn>> ops{
      {"a + 2.5", [](const std::vector<Var>& v) { return v[0] + 2.5; }},
      {"2.5 + a", [](const std::vector<Var>& v) { return 2.5 + v[0]; }},
      {"a - 1.5", [](const std::vector<Var>& v) { return v[0] - 1.5; }},
      {"1.5 - a", [](const std::vector<Var>& v) { return 1.5 - v[0]; }},
      {"a * -3", [](const std::vector<Var>& v) { return v[0] * -3.0; }},
      {"-3 * a", [](const std::vector<Var>& v) { return -3.0 * v[0]; }},
      {"a / 4", [](const std::vector<Var>& v) { return v[0] / 4.0; }},
      {"2 / a", [](const std::vector<Var>& v) { return 2.0 / v[0]; }},
      {"-a", [](const std::vector<Var>& v) { return -v[0]; }},
      {"neg", [](const std::vector<Var>& v) { return neg(v[0]); }},
      {"add(a, s)", [](const std::vector<Var>& v) { return add(v[0], -0.5); }},
      {"mul(a, s)", [](const std::vector<Var>& v) { return mul(v[0], 0.25); }},
      {"sub(s, a)", [](const std::vector<Var>& v) { return sub(4.0, v[0]); }},
      {"div(s, a)", [](const std::vector<Var>& v) { return div(-1.0, v[0]); }},
  };
  for (auto& [name, f] : ops)
    for (auto& [layout, t] : layouts(away_from_zero({3, 2}, gen)))
      require_passes(gradcheck(f, {t}), name + " " + layout);
}

TEST_CASE("gradcheck: unary ops on random shapes and non-contiguous inputs", "[autograd][gradcheck]") {
  struct Op {
    std::string name;
    Fn f;
    char domain;  // 'r' any real, 'p' positive, 'z' away from zero
  };
  std::vector<Op> ops{
      {"exp", [](const std::vector<Var>& v) { return exp(v[0]); }, 'r'},
      {"log", [](const std::vector<Var>& v) { return log(v[0]); }, 'p'},
      {"sqrt", [](const std::vector<Var>& v) { return sqrt(v[0]); }, 'p'},
      {"square", [](const std::vector<Var>& v) { return square(v[0]); }, 'r'},
      {"abs", [](const std::vector<Var>& v) { return abs(v[0]); }, 'z'},
      {"sin", [](const std::vector<Var>& v) { return sin(v[0]); }, 'r'},
      {"cos", [](const std::vector<Var>& v) { return cos(v[0]); }, 'r'},
      {"tanh", [](const std::vector<Var>& v) { return tanh(v[0]); }, 'r'},
      {"sigmoid", [](const std::vector<Var>& v) { return sigmoid(v[0]); }, 'r'},
      {"relu", [](const std::vector<Var>& v) { return relu(v[0]); }, 'z'},
      {"gelu", [](const std::vector<Var>& v) { return gelu(v[0]); }, 'r'},
      {"clamp", [](const std::vector<Var>& v) { return clamp(v[0], -0.9, 1.1); }, 'z'},
      {"pow 3", [](const std::vector<Var>& v) { return pow(v[0], 3.0); }, 'r'},
      {"pow 2", [](const std::vector<Var>& v) { return pow(v[0], 2.0); }, 'r'},
      {"pow 1", [](const std::vector<Var>& v) { return pow(v[0], 1.0); }, 'r'},
      {"pow 0", [](const std::vector<Var>& v) { return pow(v[0], 0.0); }, 'r'},
      {"pow -2", [](const std::vector<Var>& v) { return pow(v[0], -2.0); }, 'z'},
      {"pow 0.5", [](const std::vector<Var>& v) { return pow(v[0], 0.5); }, 'p'},
  };
  Generator gen(103);
  for (int trial = 0; trial < 3; ++trial) {
    Shape s = random_shape(gen);
    for (const Op& op : ops) {
      Tensor x = op.domain == 'p' ? positive(s, gen) : op.domain == 'z' ? away_from_zero(s, gen) : randn(s, DType::f64, gen);
      // keep clamp's inputs off its boundaries -0.9 and 1.1
      if (op.name == "clamp") x = lumen::add(x, 0.05);
      for (auto& [layout, t] : layouts(x)) require_passes(gradcheck(op.f, {t}), op.name + " " + shape_str(s) + " " + layout);
    }
  }
}

TEST_CASE("gradcheck: relu, abs and clamp cut the gradient where they should", "[autograd][gradcheck]") {
  Var x(f64({-2, -0.5, 0.5, 3}, {4}), true);
  sum(relu(x)).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 1, 1});
  x.zero_grad();
  sum(abs(x)).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{-1, -1, 1, 1});
  x.zero_grad();
  sum(clamp(x, -1.0, 0.5)).backward();  // 0.5 sits on the upper bound: its gradient passes
  CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 1, 0});
}

TEST_CASE("maximum and minimum split the gradient evenly on ties", "[autograd]") {
  Var a(f64({1, 2, 3}, {3}), true);
  Var b(f64({3, 2, 1}, {3}), true);
  sum(maximum(a, b)).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{0, 0.5, 1});
  CHECK(b.grad().to_vector() == std::vector<double>{1, 0.5, 0});
  a.zero_grad();
  b.zero_grad();
  sum(minimum(a, b)).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{1, 0.5, 0});
  CHECK(b.grad().to_vector() == std::vector<double>{0, 0.5, 1});
  // broadcast: b [1] ties with a's middle element and collects from all three
  Var c(f64({2}, {1}), true);
  a.zero_grad();
  sum(maximum(a, c)).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{0, 0.5, 1});
  CHECK(c.grad().to_vector() == std::vector<double>{1.5});
}

TEST_CASE("pow's exponent gradient is out * log(a)", "[autograd]") {
  Var a(f64({2, 3}, {2}), true);
  Var p(f64({3, 0.5}, {2}), true);
  sum(pow(a, p)).backward();
  CHECK(a.grad().at({0}) == Approx(3 * 4.0));
  CHECK(a.grad().at({1}) == Approx(0.5 / std::sqrt(3.0)));
  CHECK(p.grad().at({0}) == Approx(8 * std::log(2.0)));
  CHECK(p.grad().at({1}) == Approx(std::sqrt(3.0) * std::log(3.0)));
}

TEST_CASE("gradcheck: where and masked_fill", "[autograd][gradcheck]") {
  Generator gen(104);
  Tensor cond = Tensor::from_vector(std::vector<double>{1, 0, 1}, {3, 1}, DType::f64);
  Tensor cond_b = lumen::gt(cond, 0.5);  // [3, 1] bool
  auto f_where = [cond_b](const std::vector<Var>& v) { return where(cond_b, v[0], v[1]); };
  require_passes(gradcheck(f_where, {randn({3, 4}, DType::f64, gen), randn({4}, DType::f64, gen)}), "where broadcast");
  require_passes(gradcheck(f_where, {randn({1, 4}, DType::f64, gen), randn({4, 3}, DType::f64, gen).transpose(0, 1)}),
                 "where with a broadcast and a transposed operand");
  // values and gradients by hand
  Var a(f64({1, 2, 3, 4}, {2, 2}), true);
  Var b(f64({10, 20}, {2}), true);
  Tensor m = lumen::gt(f64({1, 0, 0, 1}, {2, 2}), 0.5);
  Var w = where(m, a, b);
  CHECK(w.value().to_vector() == std::vector<double>{1, 20, 10, 4});
  sum(w).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{1, 0, 0, 1});
  CHECK(b.grad().to_vector() == std::vector<double>{1, 1});

  Var x(f64({1, 2, 3, 4}, {2, 2}), true);
  Var y = masked_fill(x, lumen::gt(f64({0, 1}, {2}), 0.5), -7.0);  // mask [2] broadcasts over rows
  CHECK(y.value().to_vector() == std::vector<double>{1, -7, 3, -7});
  sum(mul(y, y)).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{2, 0, 6, 0});
  Tensor mask = lumen::gt(randn({3, 4}, DType::f64, gen), 0.0);
  require_passes(gradcheck([mask](const std::vector<Var>& v) { return masked_fill(v[0], mask, 1.5); }, {randn({3, 4}, DType::f64, gen)}),
                 "masked_fill");
}

// ---- second derivatives ------------------------------------------------------------------------

TEST_CASE("gradgradcheck: elementwise ops", "[autograd][gradcheck]") {
  Generator gen(105);
  std::vector<std::pair<std::string, Fn>> unary{
      {"tanh", [](const std::vector<Var>& v) { return tanh(v[0]); }},
      {"exp", [](const std::vector<Var>& v) { return exp(v[0]); }},
      {"log", [](const std::vector<Var>& v) { return log(add(square(v[0]), 0.5)); }},
      {"sigmoid", [](const std::vector<Var>& v) { return sigmoid(v[0]); }},
      {"gelu", [](const std::vector<Var>& v) { return gelu(v[0]); }},
      {"pow 3", [](const std::vector<Var>& v) { return pow(v[0], 3.0); }},
      {"sqrt", [](const std::vector<Var>& v) { return sqrt(add(square(v[0]), 0.5)); }},
      {"sin cos", [](const std::vector<Var>& v) { return mul(sin(v[0]), cos(v[0])); }},
      {"2 / a", [](const std::vector<Var>& v) { return 2.0 / add(square(v[0]), 1.0); }},
  };
  for (auto& [name, f] : unary) {
    GradcheckResult r = gradgradcheck(f, {randn({2, 3}, DType::f64, gen)});
    INFO(name << "\n" << r.summary());
    CHECK(r.passed);
    CHECK(r.warnings.empty());
    CHECK(r.inputs[0].max_rel_err < 1e-6);
  }
  std::vector<std::pair<std::string, Fn>> binary{
      {"mul", [](const std::vector<Var>& v) { return mul(v[0], v[1]); }},
      {"div", [](const std::vector<Var>& v) { return div(v[0], add(square(v[1]), 0.5)); }},
      {"pow", [](const std::vector<Var>& v) { return pow(add(square(v[0]), 0.5), v[1]); }},
      {"maximum", [](const std::vector<Var>& v) { return mul(maximum(v[0], v[1]), v[0]); }},
  };
  for (auto& [name, f] : binary) {
    GradcheckResult r = gradgradcheck(f, {randn({2, 3}, DType::f64, gen), randn({3}, DType::f64, gen)});
    INFO(name << "\n" << r.summary());
    CHECK(r.passed);
    for (const InputReport& rep : r.inputs) CHECK(rep.max_rel_err < 1e-6);
  }
}

TEST_CASE("gelu's second derivative is phi(x) (2 - x^2)", "[autograd]") {
  for (double x0 : {-1.5, 0.0, 0.7, 2.0}) {
    Var x(Tensor::scalar(x0, DType::f64), true);
    Var d1 = grad({gelu(x)}, {x}, {}, {.create_graph = true})[0];
    Var d2 = grad({d1}, {x})[0];
    const double phi = std::exp(-0.5 * x0 * x0) / std::sqrt(2 * std::numbers::pi);
    const double Phi = 0.5 * (1 + std::erf(x0 / std::sqrt(2.0)));
    CHECK(d1.item() == Approx(Phi + x0 * phi).epsilon(1e-12));
    CHECK(d2.item() == Approx(phi * (2 - x0 * x0)).epsilon(1e-12));
  }
}

TEST_CASE("d2(x^3)/dx2 at x = 2 is 12, by grad twice with create_graph", "[autograd]") {
  for (int form = 0; form < 2; ++form) {
    Var x(Tensor::scalar(2.0, DType::f64), true);
    Var y = form == 0 ? pow(x, 3.0) : mul(mul(x, x), x);
    Var dy = grad({y}, {x}, {}, {.create_graph = true})[0];
    CHECK(dy.item() == Approx(12.0));  // 3 x^2
    CHECK(dy.requires_grad());
    Var d2y = grad({dy}, {x}, {}, {.create_graph = true})[0];
    CHECK(d2y.item() == Approx(12.0));  // 6 x
    Var d3y = grad({d2y}, {x})[0];
    CHECK(d3y.item() == Approx(6.0));
  }
}

TEST_CASE("Hessian-vector product of sum(tanh(x)^2 * x) matches a finite-difference Hessian", "[autograd]") {
  Generator gen(106);
  Tensor x0 = randn({5}, DType::f64, gen);
  Tensor v = randn({5}, DType::f64, gen);
  auto f = [](const Var& x) { return sum(mul(square(tanh(x)), x)); };

  Var x(x0.clone(), true);
  Var g = grad({f(x)}, {x}, {}, {.create_graph = true})[0];
  Var hv = grad({sum(mul(g, Var(v)))}, {x})[0];

  // H_ij from second central differences of f alone, in f64 on plain values.
  auto F = [&](const std::vector<double>& p) {
    Var px(Tensor::from_vector(p, {5}, DType::f64));
    return f(px).item();
  };
  const double h = 1e-4;
  std::vector<double> base = x0.to_vector(), vv = v.to_vector();
  for (int i = 0; i < 5; ++i) {
    double expected = 0;
    for (int j = 0; j < 5; ++j) {
      auto at = [&](double si, double sj) {
        std::vector<double> p = base;
        p[i] += si * h;
        p[j] += sj * h;
        return F(p);
      };
      double H_ij = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h * h);
      expected += H_ij * vv[j];
    }
    INFO("row " << i);
    CHECK(hv.value().at({i}) == Approx(expected).margin(1e-6).epsilon(1e-5));
  }
}
