// Bad input to the differentiable ops and misuse of the engine, in one place: every binary Var
// op, matmul at every rank, concat and stack, the gathers with indices too large and negative,
// dtypes that cannot carry a gradient, and backward called the wrong way. Each case checks the
// exception's type and that its message names the op and the offending shapes or values.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tests/error_matchers.h"

using namespace lumen;

namespace {

Var leaf(const Shape& shape, DType dtype = DType::f64) { return Var(Tensor::ones(shape, dtype), true); }

using VarBinary = std::function<Var(const Var&, const Var&)>;

// Every broadcasting binary op on Vars, with the name its messages must carry.
std::vector<std::pair<const char*, VarBinary>> var_binary_ops() {
  return {
      {"add", [](const Var& a, const Var& b) { return add(a, b); }},
      {"sub", [](const Var& a, const Var& b) { return sub(a, b); }},
      {"mul", [](const Var& a, const Var& b) { return mul(a, b); }},
      {"div", [](const Var& a, const Var& b) { return div(a, b); }},
      {"add", [](const Var& a, const Var& b) { return a + b; }},
      {"sub", [](const Var& a, const Var& b) { return a - b; }},
      {"mul", [](const Var& a, const Var& b) { return a * b; }},
      {"div", [](const Var& a, const Var& b) { return a / b; }},
      {"pow", [](const Var& a, const Var& b) { return pow(a, b); }},
      {"maximum", [](const Var& a, const Var& b) { return maximum(a, b); }},
      {"minimum", [](const Var& a, const Var& b) { return minimum(a, b); }},
      {"where", [](const Var& a, const Var& b) { return where(Tensor::ones({1}, DType::boolean), a, b); }},
  };
}

}  // namespace

TEST_CASE("bad input: every binary Var op names itself and both shapes", "[autograd][bad_input]") {
  const std::vector<std::pair<Shape, Shape>> pairs = {{{2, 3}, {4}}, {{2, 3, 4}, {5, 1}}, {{3}, {2, 2}}};
  for (const auto& [op, fn] : var_binary_ops()) {
    for (const auto& [sa, sb] : pairs) {
      INFO(op << " " << shape_str(sa) << " " << shape_str(sb));
      REQUIRE_ERROR(fn(leaf(sa), leaf(sb)), ShapeError, op, shape_str(sa), shape_str(sb));
      REQUIRE_ERROR(fn(leaf(sb), leaf(sa)), ShapeError, op, shape_str(sb), shape_str(sa));
    }
    INFO(op);
    REQUIRE_ERROR(fn(leaf({2}, DType::f32), leaf({2}, DType::f64)), DTypeError, op, "f32", "f64");
  }
  // masked_fill and where with a mask or condition that does not fit.
  REQUIRE_ERROR(masked_fill(leaf({2, 3}), Tensor::ones({4}, DType::boolean), 0.0), ShapeError, "masked_fill",
                "[2, 3]", "[4]");
  REQUIRE_ERROR(masked_fill(leaf({2, 3}), Tensor::ones({2, 3}, DType::f64), 0.0), DTypeError, "masked_fill", "mask");
  REQUIRE_ERROR(where(Tensor::ones({5}, DType::boolean), leaf({2, 3}), leaf({2, 3})), ShapeError, "where", "[5]",
                "[2, 3]");
  REQUIRE_ERROR(where(Tensor::ones({2, 3}, DType::f64), leaf({2, 3}), leaf({2, 3})), DTypeError, "where",
                "condition");
  // Recording nothing on failure: the leaves are still leaves with no gradient.
  Var a = leaf({2, 3});
  REQUIRE_THROWS(add(a, leaf({4})));
  REQUIRE(a.is_leaf());
  REQUIRE_FALSE(a.grad().defined());
}

TEST_CASE("bad input: Var matmul at every rank combination", "[autograd][bad_input]") {
  const std::vector<std::pair<Shape, Shape>> inner = {
      {{3}, {4}},          {{3}, {4, 5}},          {{2, 3}, {4}},
      {{2, 3}, {4, 5}},    {{6, 2, 3}, {4, 5}},    {{2, 3}, {6, 4, 5}},
      {{6, 2, 3}, {6, 4, 5}}, {{7, 6, 2, 3}, {6, 4, 5}}};
  for (const auto& [sa, sb] : inner) {
    INFO(shape_str(sa) << " @ " << shape_str(sb));
    REQUIRE_ERROR(matmul(leaf(sa), leaf(sb)), ShapeError, "matmul", shape_str(sa), shape_str(sb));
  }
  REQUIRE_ERROR(matmul(leaf({2, 2, 3}), leaf({5, 3, 4})), ShapeError, "matmul", "[2, 2, 3]", "[5, 3, 4]", "batch");
  REQUIRE_ERROR(matmul(leaf({}), leaf({3})), ShapeError, "matmul", "[]");
  REQUIRE_ERROR(matmul(leaf({2, 2}, DType::f32), leaf({2, 2}, DType::f64)), DTypeError, "matmul", "f32", "f64");
  REQUIRE_ERROR(matmul(Var(Tensor::ones({2, 2}, DType::i64)), Var(Tensor::ones({2, 2}, DType::i64))), DTypeError,
                "matmul", "i64");
}

TEST_CASE("bad input: Var concat, stack and split", "[autograd][bad_input]") {
  REQUIRE_ERROR(concat({leaf({2, 3}), leaf({2, 4})}, 0), ShapeError, "concat", "[2, 4]", "[2, 3]");
  REQUIRE_ERROR(concat({leaf({2, 3}), leaf({2, 3}, DType::f32)}, 0), DTypeError, "concat", "f32", "f64");
  REQUIRE_ERROR(concat(std::vector<Var>{}, 0), ValueError, "concat", "empty");
  REQUIRE_ERROR(concat({leaf({2, 3})}, 2), IndexError, "concat", "dim 2");
  REQUIRE_ERROR(stack({leaf({2, 3}), leaf({3, 2})}, 0), ShapeError, "stack", "[3, 2]", "[2, 3]");
  REQUIRE_ERROR(stack({leaf({2, 3})}, -4), IndexError, "stack", "dim -4");
  REQUIRE_ERROR(split(leaf({5, 2}), {2, 2}, 0), ShapeError, "split", "[2, 2]", "[5, 2]");
  REQUIRE_ERROR(chunk(leaf({5, 2}), 3, 0), ShapeError, "chunk", "[5, 2]");
  REQUIRE_ERROR(reshape(leaf({2, 3}), {4}), ShapeError, "reshape", "[2, 3]", "[4]");
  REQUIRE_ERROR(expand(leaf({2, 3}), {4, 3}), ShapeError, "expand", "[2, 3]", "[4, 3]");
  REQUIRE_ERROR(sum_to(leaf({2, 3}), {4}), ShapeError, "sum_to", "[4]", "[2, 3]");
}

TEST_CASE("bad input: Var gathers with indices too large and negative", "[autograd][bad_input]") {
  const Var table = leaf({5, 3});
  for (int64_t bad : {int64_t{5}, int64_t{1000}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    const std::string v = std::to_string(bad);
    INFO("index " << v);
    REQUIRE_ERROR(embedding(table, Tensor::from_vector(std::vector<int64_t>{0, bad}, {2})), IndexError,
                  "embedding", "id " + v, "[5, 3]");
    const Tensor idx = Tensor::from_vector(std::vector<int64_t>{bad, 0}, {2});
    REQUIRE_ERROR(index_select(table, 0, idx), IndexError, "index_select", "index " + v, "[5, 3]");
    REQUIRE_ERROR(gather(table, 0, idx.reshape({2, 1})), IndexError, "gather", "index " + v, "[5, 3]");
    REQUIRE_ERROR(index_add({5, 3}, 0, idx, leaf({2, 3})), IndexError, "index_add", "index " + v);
    REQUIRE_ERROR(scatter_add({5, 3}, 0, idx.reshape({2, 1}), leaf({2, 1})), IndexError, "scatter_add",
                  "index " + v);
  }
  const Tensor ok = Tensor::zeros({2}, DType::i64);
  REQUIRE_ERROR(embedding(table, ok, 5), IndexError, "embedding", "padding_idx 5", "[5, 3]");
  // -1 means "no padding row"; any other negative value is a mistake.
  REQUIRE_ERROR(embedding(table, ok, -2), IndexError, "embedding", "padding_idx -2", "[5, 3]");
  REQUIRE(embedding(table, ok, -1).shape() == Shape{2, 3});
  REQUIRE_ERROR(embedding(table, Tensor::zeros({2}, DType::f64)), DTypeError, "embedding", "ids", "f64");
  REQUIRE_ERROR(index_select(table, 0, Tensor::zeros({2}, DType::f32)), DTypeError, "index_select", "i64");
}

TEST_CASE("bad input: integer and bool Vars cannot require grad", "[autograd][bad_input]") {
  REQUIRE_ERROR(Var(Tensor::zeros({2, 3}, DType::i64), true), DTypeError, "Var", "i64", "[2, 3]");
  REQUIRE_ERROR(Var(Tensor::zeros({2}, DType::boolean), true), DTypeError, "Var", "bool");
  Var ids(Tensor::zeros({2}, DType::i64));
  REQUIRE_ERROR(ids.set_requires_grad(true), DTypeError, "set_requires_grad", "i64");
  REQUIRE_ERROR(Var(Tensor()), ValueError, "Var", "undefined");
  // Floating-only ops given an i64 Var say so, with the shape.
  REQUIRE_ERROR(exp(ids), DTypeError, "exp", "i64", "[2]");
  REQUIRE_ERROR(softmax(ids), DTypeError, "softmax", "i64");
  REQUIRE_ERROR(layer_norm(ids, Var(), Var()), DTypeError, "layer_norm", "i64");
  REQUIRE_ERROR(mean(ids), DTypeError, "mean", "i64");
  // An undefined Var is named as such, not dereferenced.
  REQUIRE_ERROR(exp(Var()), ValueError, "undefined");
  REQUIRE_ERROR(add(Var(), leaf({2})), ValueError, "undefined");
}

TEST_CASE("engine misuse: each is a GraphError (or ShapeError/DTypeError) that says what to do",
          "[autograd][bad_input]") {
  SECTION("backward on a non-scalar without a gradient names its shape") {
    Var y = mul(leaf({2, 3}), 2.0);
    REQUIRE_ERROR(y.backward(), GraphError, "backward", "[2, 3]", "scalar");
    REQUIRE_ERROR(backward(y), GraphError, "backward", "[2, 3]");
  }
  SECTION("a second backward on a freed graph names the op and retain_graph") {
    Var x = leaf({3});
    Var loss = sum(tanh(x));
    loss.backward();
    REQUIRE_ERROR(loss.backward(), GraphError, "backward", "'sum'", "freed", "retain_graph");
    // The first pass's gradient is untouched by the failed second one.
    REQUIRE(x.grad().defined());
    REQUIRE(x.grad().at({0}) == Approx(1 - std::tanh(1.0) * std::tanh(1.0)));
    // Nor can a second output that shares the freed part of the graph go through it.
    Var h = tanh(x);
    Var l1 = sum(h), l2 = mean(h);
    l1.backward();
    REQUIRE_ERROR(l2.backward(), GraphError, "'tanh'", "freed");
  }
  SECTION("with retain_graph the second backward works and accumulates") {
    Var x = leaf({2});
    Var loss = sum(mul(x, 3.0));
    backward(loss, Tensor(), {.retain_graph = true});
    backward(loss);
    REQUIRE(x.grad().to_vector() == std::vector<double>{6, 6});
  }
  SECTION("a gradient of the wrong shape or dtype names both") {
    Var y = mul(leaf({2, 3}), 2.0);
    REQUIRE_ERROR(backward(y, Tensor::ones({3, 2}, DType::f64)), ShapeError, "backward", "[3, 2]", "[2, 3]");
    REQUIRE_ERROR(backward(y, Tensor::ones({2, 3}, DType::f32)), DTypeError, "backward", "f32", "f64");
    REQUIRE_ERROR(backward({y}, {Tensor::ones({2, 3}, DType::f64), Tensor::ones({2, 3}, DType::f64)}), ValueError,
                  "backward", "1 outputs", "2 gradients");
  }
  SECTION("backward from something that does not require grad") {
    Var c(Tensor::ones({2}, DType::f64));
    REQUIRE_ERROR(sum(c).backward(), GraphError, "backward", "does not require grad");
    Var x = leaf({2});
    Var y;
    {
      NoGradGuard no_grad;
      y = sum(x);
    }
    REQUIRE_ERROR(y.backward(), GraphError, "NoGradGuard");
    REQUIRE_ERROR(backward(Var()), ValueError, "backward", "undefined");
  }
  SECTION("grad() with inputs that do not take part") {
    Var x = leaf({2}), unused = leaf({2});
    Var y = sum(x);
    REQUIRE_ERROR(grad({y}, {Var(Tensor::ones({2}, DType::f64))}), GraphError, "grad", "input 0",
                  "does not require grad");
    REQUIRE_ERROR(grad({y}, {x, unused}), GraphError, "grad", "input 1", "allow_unused");
  }
  SECTION("only leaves change requires_grad, and set_grad checks the shape") {
    Var y = exp(leaf({2}));
    REQUIRE_ERROR(y.set_requires_grad(false), GraphError, "set_requires_grad", "'exp'", "leaf");
    Var x = leaf({2, 2});
    REQUIRE_ERROR(x.set_grad(Tensor::ones({4}, DType::f64)), ShapeError, "set_grad", "[4]", "[2, 2]");
  }
}

TEST_CASE("anomaly mode names the first op that produced a NaN, not the ones after it",
          "[autograd][bad_input][anomaly]") {
  Var x(Tensor::from_vector(std::vector<double>{-1.0, 2.0}, {2}), true);
  {
    DetectAnomalyGuard anomaly;
    NameScope scope("encoder");
    // log(-1) is the first NaN; exp and sum would only pass it on.
    REQUIRE_ERROR(sum(exp(mul(log(x), 2.0))), AnomalyError, "'log'", "encoder");
    REQUIRE_THROWS_WITH(sum(exp(mul(log(x), 2.0))), !Catch::Contains("'exp'") && !Catch::Contains("'sum'"));
  }
  // Without the guard the same expression runs, and the NaN flows through.
  Var y = sum(exp(mul(log(x), 2.0)));
  REQUIRE(std::isnan(y.item()));
  // In backward: sqrt is finite at 0 but its derivative is not; the message names sqrt's backward.
  Var z(Tensor::from_vector(std::vector<double>{0.0, 4.0}, {2}), true);
  Var loss = sum(mul(sqrt(z), 3.0));
  DetectAnomalyGuard anomaly;
  REQUIRE_ERROR(loss.backward(), AnomalyError, "backward of 'sqrt'");
}
