// Bad input to the tensor ops, in one place: every binary op, matmul at every rank, concat and
// stack, the gathers with indices too large and negative, and wrong dtypes. Each case checks the
// exception's type and that its message names the op and the offending shapes or values
// (the "Reliability" requirement 1; docs/reliability.md lists what is covered).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/error_matchers.h"

using namespace lumen;

namespace {

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

struct BinaryCase {
  const char* op;
  BinaryFn fn;
  bool floating_only = false;  // rejects i64
  bool numeric = true;         // rejects bool
};

// Every broadcasting binary op of tensor/ops.h, with the name its messages must carry.
std::vector<BinaryCase> binary_ops() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, true},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, false, false},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }, false, false},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, false, false},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }, false, false},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, false, false},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }, false, false},
  };
}

Tensor f32(const Shape& shape) { return Tensor::zeros(shape, DType::f32); }

}  // namespace

TEST_CASE("bad input: every binary op names itself and both shapes when they cannot broadcast",
          "[tensor][bad_input]") {
  // Pairs that fail at the last dim, at a middle dim, and with ranks that differ.
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{2, 3}, {4}}, {{2, 3, 4}, {5, 1}}, {{3}, {2, 2}}, {{0, 3}, {2, 3}}};
  for (const BinaryCase& c : binary_ops()) {
    for (const auto& [sa, sb] : pairs) {
      INFO(c.op << " " << shape_str(sa) << " " << shape_str(sb));
      const Tensor a = f32(sa), b = f32(sb);
      REQUIRE_ERROR(c.fn(a, b), ShapeError, c.op, shape_str(sa), shape_str(sb), "broadcast");
      // The same pair the other way round.
      REQUIRE_ERROR(c.fn(b, a), ShapeError, c.op, shape_str(sb), shape_str(sa));
    }
  }
}

TEST_CASE("bad input: every binary op rejects mixed dtypes, naming both", "[tensor][bad_input]") {
  for (const BinaryCase& c : binary_ops()) {
    INFO(c.op);
    const Tensor a = Tensor::zeros({2, 3}, DType::f32), b = Tensor::ones({2, 3}, DType::f64);
    REQUIRE_ERROR(c.fn(a, b), DTypeError, c.op, "f32", "f64", "[2, 3]");
    const Tensor i = Tensor::ones({3}, DType::i64);
    REQUIRE_ERROR(c.fn(a, i), DTypeError, c.op, "f32", "i64");
  }
}

TEST_CASE("bad input: arithmetic rejects bool and floating-only ops reject i64", "[tensor][bad_input]") {
  const Tensor m = Tensor::zeros({2, 2}, DType::boolean);
  const Tensor i = Tensor::ones({2, 2}, DType::i64);
  for (const BinaryCase& c : binary_ops()) {
    INFO(c.op);
    if (c.numeric) REQUIRE_ERROR(c.fn(m, m), DTypeError, c.op, "bool", "[2, 2]");
    if (c.floating_only) REQUIRE_ERROR(c.fn(i, i), DTypeError, c.op, "i64", "[2, 2]");
  }
  // The scalar forms go through the same checks.
  REQUIRE_ERROR(pow(i, 2.0), DTypeError, "pow", "i64");
  REQUIRE_ERROR(add(m, 1.0), DTypeError, "add", "bool");
  REQUIRE_ERROR(mul(m, 2.0), DTypeError, "mul", "bool");
  REQUIRE_ERROR(sub(1.0, m), DTypeError, "sub", "bool");
  REQUIRE_ERROR(div(1.0, m), DTypeError, "div", "bool");
  REQUIRE_ERROR(neg(m), DTypeError, "neg", "bool");
  for (auto [op, fn] : std::vector<std::pair<const char*, Tensor (*)(const Tensor&)>>{
           {"exp", lumen::exp}, {"log", lumen::log}, {"sqrt", lumen::sqrt}, {"tanh", lumen::tanh}, {"sigmoid", lumen::sigmoid}, {"relu", lumen::relu},
           {"gelu", lumen::gelu}, {"sin", lumen::sin}, {"cos", lumen::cos}, {"square", lumen::square}, {"reciprocal", lumen::reciprocal}}) {
    INFO(op);
    REQUIRE_ERROR(fn(i), DTypeError, op, "i64", "[2, 2]");
  }
}

TEST_CASE("bad input: i64 division by zero and values that do not fit i64", "[tensor][bad_input]") {
  const Tensor a = Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  const Tensor z = Tensor::from_vector(std::vector<int64_t>{1, 0, 1}, {3});
  REQUIRE_ERROR(div(a, z), ValueError, "div", "division by zero", "[3]");
  REQUIRE_ERROR(div(5.0, z), ValueError, "div", "division by zero");
  // Converting NaN or 1e30 to an integer is undefined behaviour: each is an error instead.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_ERROR(add(a, nan), ValueError, "add", "i64");
  REQUIRE_ERROR(mul(a, 1e30), ValueError, "mul", "i64");
  REQUIRE_ERROR(a / 1e300, ValueError, "div", "i64");
  const Tensor mask = Tensor::ones({3}, DType::boolean);
  REQUIRE_ERROR(masked_fill(a, mask, nan), ValueError, "masked_fill", "i64", "[3]");
  REQUIRE_ERROR(masked_fill(a, mask, -1e19), ValueError, "masked_fill", "i64");
  // The limits themselves still work.
  REQUIRE(masked_fill(a, mask, -9.2233720368547758e18).at({0}) == -9.2233720368547758e18);
}

TEST_CASE("bad input: where names all three shapes and checks every dtype", "[tensor][bad_input]") {
  const Tensor cond = Tensor::ones({2, 3}, DType::boolean);
  const Tensor a = f32({3}), b = f32({4});
  REQUIRE_ERROR(where(cond, a, b), ShapeError, "where", "[2, 3]", "[3]", "[4]");
  REQUIRE_ERROR(where(Tensor::ones({5}, DType::boolean), f32({2, 3}), f32({2, 3})), ShapeError, "where", "[5]",
                "[2, 3]");
  REQUIRE_ERROR(where(f32({2, 3}), f32({2, 3}), f32({2, 3})), DTypeError, "where", "condition", "bool", "f32");
  REQUIRE_ERROR(where(cond, f32({2, 3}), Tensor::zeros({2, 3}, DType::f64)), DTypeError, "where", "f32", "f64");
}

TEST_CASE("bad input: masked_fill and the logical ops", "[tensor][bad_input]") {
  REQUIRE_ERROR(masked_fill(f32({2, 3}), Tensor::ones({4}, DType::boolean), 0.0), ShapeError, "masked_fill",
                "[2, 3]", "[4]");
  REQUIRE_ERROR(masked_fill(f32({2, 3}), f32({2, 3}), 0.0), DTypeError, "masked_fill", "mask", "f32");
  const Tensor m = Tensor::ones({2}, DType::boolean);
  REQUIRE_ERROR(logical_and(m, Tensor::ones({3}, DType::boolean)), ShapeError, "logical_and", "[2]", "[3]");
  REQUIRE_ERROR(logical_or(m, Tensor::ones({3}, DType::boolean)), ShapeError, "logical_or", "[2]", "[3]");
  REQUIRE_ERROR(logical_and(m, f32({2})), DTypeError, "logical_and", "f32");
  REQUIRE_ERROR(logical_not(f32({2})), DTypeError, "logical_not", "f32");
}

TEST_CASE("bad input: matmul at every rank combination names both shapes", "[tensor][bad_input]") {
  // Inner dims that differ, at every pairing of ranks 1, 2, 3 and 4.
  const std::vector<std::pair<Shape, Shape>> inner = {
      {{3}, {4}},          {{3}, {4, 5}},       {{2, 3}, {4}},       {{2, 3}, {4, 5}},
      {{6, 2, 3}, {4, 5}}, {{2, 3}, {6, 4, 5}}, {{6, 2, 3}, {4}},    {{3}, {6, 4, 5}},
      {{6, 2, 3}, {6, 4, 5}}, {{7, 6, 2, 3}, {6, 4, 5}}, {{2, 3}, {7, 6, 4, 5}}};
  for (const auto& [sa, sb] : inner) {
    INFO(shape_str(sa) << " @ " << shape_str(sb));
    REQUIRE_ERROR(matmul(f32(sa), f32(sb)), ShapeError, "matmul", shape_str(sa), shape_str(sb), "inner dims");
  }
  // Batch dims that cannot broadcast.
  REQUIRE_ERROR(matmul(f32({2, 2, 3}), f32({5, 3, 4})), ShapeError, "matmul", "[2, 2, 3]", "[5, 3, 4]", "batch");
  REQUIRE_ERROR(matmul(f32({4, 2, 2, 3}), f32({3, 1, 3, 4})), ShapeError, "matmul", "[4, 2, 2, 3]", "[3, 1, 3, 4]",
                "batch");
  // Scalars have no matrix dims.
  REQUIRE_ERROR(matmul(f32({}), f32({3})), ShapeError, "matmul", "[]", "[3]");
  REQUIRE_ERROR(matmul(f32({3}), f32({})), ShapeError, "matmul", "[3]", "[]");
  // dtypes: floating only, and the same on both sides.
  REQUIRE_ERROR(matmul(Tensor::ones({2, 2}, DType::i64), Tensor::ones({2, 2}, DType::i64)), DTypeError, "matmul",
                "i64", "[2, 2]");
  REQUIRE_ERROR(matmul(f32({2, 2}), Tensor::ones({2, 2}, DType::f64)), DTypeError, "matmul", "f32", "f64");
  REQUIRE_ERROR(matmul(f32({2, 2}), Tensor::ones({2, 2}, DType::boolean)), DTypeError, "matmul", "bool");
}

TEST_CASE("matmul with an empty inner dim gives zeros, not uninitialised memory", "[tensor][bad_input]") {
  // [2, 0] @ [0, 3]: every output element is an empty sum.
  Tensor c = matmul(Tensor::ones({2, 0}, DType::f32), Tensor::ones({0, 3}, DType::f32));
  REQUIRE(c.shape() == Shape{2, 3});
  REQUIRE(c.to_vector() == std::vector<double>(6, 0.0));
  Tensor d = matmul(Tensor::ones({4, 2, 0}, DType::f64), Tensor::ones({0, 3}, DType::f64));
  REQUIRE(d.to_vector() == std::vector<double>(24, 0.0));
}

TEST_CASE("bad input: concat and stack name the tensors and both shapes", "[tensor][bad_input]") {
  REQUIRE_ERROR(concat({f32({2, 3}), f32({2, 4})}, 0), ShapeError, "concat", "tensor 1", "[2, 4]", "[2, 3]");
  REQUIRE_ERROR(concat({f32({2, 3}), f32({2, 3}), f32({2, 3, 1})}, 1), ShapeError, "concat", "tensor 2",
                "[2, 3, 1]", "[2, 3]");
  REQUIRE_ERROR(concat({f32({2, 3}), Tensor::zeros({2, 3}, DType::f64)}, 0), DTypeError, "concat", "f64", "f32");
  REQUIRE_ERROR(concat({f32({2, 3})}, 2), IndexError, "concat", "dim 2", "rank 2");
  REQUIRE_ERROR(concat({f32({2, 3})}, -3), IndexError, "concat", "dim -3");
  REQUIRE_ERROR(concat({}, 0), ValueError, "concat", "empty");
  REQUIRE_ERROR(concat({f32({}), f32({})}, 0), ShapeError, "concat", "0-dim", "[]");
  REQUIRE_ERROR(concat({f32({2}), Tensor()}, 0), ValueError, "concat", "undefined");

  REQUIRE_ERROR(stack({f32({2, 3}), f32({3, 2})}, 0), ShapeError, "stack", "tensor 1", "[3, 2]", "[2, 3]");
  REQUIRE_ERROR(stack({f32({2}), Tensor::zeros({2}, DType::i64)}, 0), DTypeError, "stack", "i64", "f32");
  REQUIRE_ERROR(stack({f32({2, 3})}, 3), IndexError, "stack", "dim 3");
  REQUIRE_ERROR(stack({}, 0), ValueError, "stack", "empty");

  REQUIRE_ERROR(split(f32({5, 2}), {2, 2}, 0), ShapeError, "split", "[2, 2]", "[5, 2]");
  REQUIRE_ERROR(split(f32({5, 2}), {6, -1}, 0), ValueError, "split", "negative");
  REQUIRE_ERROR(chunk(f32({5, 2}), 2, 0), ShapeError, "chunk", "[5, 2]", "2");
  REQUIRE_ERROR(chunk(f32({5, 2}), 0, 0), ValueError, "chunk", "0");
}

TEST_CASE("bad input: indices too large and negative in embedding, gather and index_select",
          "[tensor][bad_input]") {
  const Tensor table = f32({5, 3});  // 5 rows
  for (int64_t bad : {int64_t{5}, int64_t{100}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    const std::string v = std::to_string(bad);
    INFO("index " << v);
    const Tensor ids = Tensor::from_vector(std::vector<int64_t>{0, bad, 1, 2}, {2, 2});
    REQUIRE_ERROR(embedding(table, ids), IndexError, "embedding", "id " + v, "5 rows", "[5, 3]");
    const Tensor idx = Tensor::from_vector(std::vector<int64_t>{1, bad}, {2});
    REQUIRE_ERROR(index_select(table, 0, idx), IndexError, "index_select", "index " + v, "size 5", "[5, 3]");
    const Tensor g = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, bad}, {4, 1});
    REQUIRE_ERROR(gather(table, 0, g), IndexError, "gather", "index " + v, "size 5", "[5, 3]", "[4, 1]");
    REQUIRE_ERROR(index_add({5, 3}, 0, idx, f32({2, 3})), IndexError, "index_add", "index " + v, "[5, 3]");
    REQUIRE_ERROR(scatter_add({5, 3}, 0, g, f32({4, 1})), IndexError, "scatter_add", "index " + v, "[5, 3]");
    REQUIRE_ERROR(one_hot(idx, 5), IndexError, "one_hot", "id " + v, "5 classes");
  }
  // A non-contiguous index is checked too (the bad value sits where a strided read finds it).
  const Tensor wide = Tensor::from_vector(std::vector<int64_t>{0, 9, 1, 9, 7, 9}, {6}).slice(0, 0, 6, 2);
  REQUIRE_ERROR(index_select(table, 0, wide), IndexError, "index_select", "index 7");
  // Indices that are not i64, or have the wrong rank.
  REQUIRE_ERROR(embedding(table, f32({2})), DTypeError, "embedding", "ids", "i64", "f32");
  REQUIRE_ERROR(index_select(table, 0, f32({2})), DTypeError, "index_select", "index", "i64", "f32");
  REQUIRE_ERROR(gather(table, 0, f32({2, 3})), DTypeError, "gather", "index", "i64", "f32");
  REQUIRE_ERROR(index_select(table, 0, Tensor::zeros({2, 1}, DType::i64)), ShapeError, "index_select", "1-D",
                "[2, 1]");
  REQUIRE_ERROR(gather(table, 0, Tensor::zeros({2}, DType::i64)), ShapeError, "gather", "rank", "[5, 3]", "[2]");
  REQUIRE_ERROR(gather(table, 1, Tensor::zeros({6, 1}, DType::i64)), ShapeError, "gather", "[5, 3]", "[6, 1]");
  REQUIRE_ERROR(embedding(f32({5}), Tensor::zeros({2}, DType::i64)), ShapeError, "embedding", "[5]");
  // Dims out of range.
  REQUIRE_ERROR(index_select(table, 2, Tensor::zeros({1}, DType::i64)), IndexError, "index_select", "dim 2");
  REQUIRE_ERROR(gather(table, -3, Tensor::zeros({1, 1}, DType::i64)), IndexError, "gather", "dim -3");
}

TEST_CASE("bad input: reductions, softmax, layer_norm and views", "[tensor][bad_input]") {
  const Tensor i = Tensor::ones({2, 3}, DType::i64);
  const Tensor m = Tensor::ones({2, 3}, DType::boolean);
  REQUIRE_ERROR(mean(i), DTypeError, "mean", "i64", "[2, 3]");
  REQUIRE_ERROR(var(i), DTypeError, "var", "i64");
  REQUIRE_ERROR(sum(m), DTypeError, "sum", "bool");
  REQUIRE_ERROR(softmax(i), DTypeError, "softmax", "i64", "[2, 3]");
  REQUIRE_ERROR(log_softmax(i), DTypeError, "log_softmax", "i64");
  REQUIRE_ERROR(layer_norm(i, Tensor(), Tensor()), DTypeError, "layer_norm", "i64");
  REQUIRE_ERROR(layer_norm(f32({2, 3}), f32({4}), Tensor()), ShapeError, "layer_norm", "weight", "[4]", "[2, 3]");
  REQUIRE_ERROR(layer_norm(f32({2, 3}), Tensor(), Tensor::zeros({3}, DType::f64)), DTypeError, "layer_norm", "f64");
  REQUIRE_ERROR(sum(f32({2, 3}), {2}), IndexError, "sum", "dim 2");
  REQUIRE_ERROR(sum(f32({2, 3}), {1, -1}), ValueError, "sum", "twice");
  REQUIRE_ERROR(softmax(f32({2, 3}), 2), IndexError, "softmax", "dim 2");
  REQUIRE_ERROR(amax(f32({2, 0}), {1}), ValueError, "amax", "zero-size", "[2, 0]");
  REQUIRE_ERROR(argmax(f32({0, 2}), 0), ValueError, "argmax", "[0, 2]");
  REQUIRE_ERROR(topk(f32({2, 3}), 4), ValueError, "topk", "k = 4", "[2, 3]");
  REQUIRE_ERROR(topk(f32({2, 3}), -1), ValueError, "topk", "k = -1");
  REQUIRE_ERROR(sum_to(f32({2, 3}), {4}), ShapeError, "sum_to", "[4]", "[2, 3]");
  REQUIRE_ERROR(f32({2, 3}).reshape({4}), ShapeError, "reshape", "[2, 3]", "[4]");
  REQUIRE_ERROR(f32({2, 3}).reshape({-1, -1}), ValueError, "reshape", "-1");
  REQUIRE_ERROR(f32({2, 3}).expand({4, 3}), ShapeError, "expand", "[2, 3]", "[4, 3]");
  REQUIRE_ERROR(f32({2, 3}).transpose(0, 2), IndexError, "transpose", "dim 2");
  REQUIRE_ERROR(f32({2, 3}).select(1, 3), IndexError, "select", "index 3", "[2, 3]");
  REQUIRE_ERROR(f32({2, 3}).select(1, -4), IndexError, "select", "index -4");
  REQUIRE_ERROR(f32({2, 3}).slice(0, 0, 1, 0), ValueError, "slice", "step");
  REQUIRE_ERROR(f32({2, 3}).permute({0, 0}), ValueError, "permute", "twice");
  REQUIRE_ERROR(f32({2, 3}).at({2, 0}), IndexError, "at", "index 2", "[2, 3]");
  REQUIRE_ERROR(f32({2, 3}).item(), ValueError, "item", "[2, 3]");
  REQUIRE_ERROR(f32({2, 3}).data<double>(), DTypeError, "data", "f32", "f64");
  // Writing into an expanded view would race; it is refused.
  REQUIRE_ERROR(f32({1, 3}).expand({4, 3}).fill_(1.0), ValueError, "fill_", "expanded", "[4, 3]");
  REQUIRE_ERROR(exp(Tensor()), ValueError, "exp", "undefined");
}

TEST_CASE("bad input: creation rejects negative and overflowing sizes", "[tensor][bad_input]") {
  REQUIRE_ERROR(Tensor::zeros({2, -1}), ValueError, "Tensor::empty", "[2, -1]");
  // 2^40 * 2^40 elements overflow int64: an error, not a wrapped-around size.
  const int64_t big = int64_t{1} << 40;
  REQUIRE_ERROR(Tensor::zeros({big, big}), ValueError, "Tensor::empty", std::to_string(big));
  REQUIRE_ERROR(Tensor::zeros({big, 0, big}), ValueError, "Tensor::empty");  // its strides overflow
  REQUIRE_ERROR(f32({2, 3}).reshape({big, big, 0}), ShapeError, "reshape", "[2, 3]");
  REQUIRE_ERROR(f32({2, 3}).reshape({big, big, -1}), ShapeError, "reshape", "overflows");
  REQUIRE_ERROR(Tensor::from_vector(std::vector<double>{1, 2, 3}, {2, 2}), ShapeError, "from_vector", "[2, 2]");
  REQUIRE_ERROR(Tensor::arange(0, 1, 0), ValueError, "arange", "step");
  REQUIRE_ERROR(Tensor::full({2}, std::nan(""), DType::i64), ValueError, "i64");
  REQUIRE_ERROR(tril_mask(-1, 2), ValueError, "tril_mask", "-1");
  REQUIRE_ERROR(one_hot(Tensor::zeros({2}, DType::i64), -1), ValueError, "one_hot", "-1");
}
