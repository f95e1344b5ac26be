// Elementwise ops against values computed independently in the test: every expected value comes
// from std:: math applied to elements read with Tensor::at, and broadcasting is re-derived here
// by hand (size-1 dims read index 0), so neither expand nor the strided loop is trusted.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace lumen;

namespace {

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// The element of `t` that lands at `out_index` of a broadcast result.
double broadcast_at(const Tensor& t, const std::vector<int64_t>& out_index) {
  std::vector<int64_t> idx(static_cast<size_t>(t.dim()));
  size_t lead = out_index.size() - idx.size();
  for (size_t d = 0; d < idx.size(); ++d) idx[d] = t.shape()[d] == 1 ? 0 : out_index[lead + d];
  return t.at(idx);
}

std::vector<double> expected_binary(const Tensor& a, const Tensor& b, const Shape& out,
                                    const std::function<double(double, double)>& f) {
  std::vector<double> want;
  for (int64_t i = 0; i < shape_numel(out); ++i) {
    auto idx = unravel(i, out);
    want.push_back(f(broadcast_at(a, idx), broadcast_at(b, idx)));
  }
  return want;
}

std::vector<double> expected_unary(const Tensor& a, const std::function<double(double)>& f) {
  std::vector<double> want;
  for (int64_t i = 0; i < a.numel(); ++i) want.push_back(f(a.at(unravel(i, a.shape()))));
  return want;
}

bool close(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (got == want) return true;
  return std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want));
}

// Checks every element, but reports only the first mismatch (not thousands of assertions).
void require_values(const Tensor& t, const std::vector<double>& want, double tol) {
  std::vector<double> got = t.to_vector();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (!close(got[i], want[i], tol)) {
      INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
      REQUIRE(close(got[i], want[i], tol));
    }
  }
}

template <class T> double tol_for() { return std::is_same_v<T, float> ? 2e-6 : 1e-13; }

// A non-trivial grid of values, in [lo, hi], laid out as `shape`.
Tensor grid(const Shape& shape, double lo, double hi, DType dtype) {
  int64_t n = shape_numel(shape);
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) {
    // A fixed scramble so neighbours differ and the order is not monotone.
    double u = n > 1 ? static_cast<double>((i * 7919) % n) / static_cast<double>(n - 1) : 0.5;
    v.push_back(lo + (hi - lo) * u);
  }
  return Tensor::from_vector(v, shape, dtype);
}

using BinaryOp = Tensor (*)(const Tensor&, const Tensor&);
struct NamedBinary {
  const char* name;
  BinaryOp op;
  std::function<double(double, double)> ref;
};

std::vector<NamedBinary> arithmetic_ops() {
  return {
      {"add", static_cast<BinaryOp>(add), [](double x, double y) { return x + y; }},
      {"sub", static_cast<BinaryOp>(sub), [](double x, double y) { return x - y; }},
      {"mul", static_cast<BinaryOp>(mul), [](double x, double y) { return x * y; }},
      {"div", static_cast<BinaryOp>(div), [](double x, double y) { return x / y; }},
      {"maximum", maximum, [](double x, double y) { return std::max(x, y); }},
      {"minimum", minimum, [](double x, double y) { return std::min(x, y); }},
      {"pow", static_cast<BinaryOp>(pow), [](double x, double y) { return std::pow(x, y); }},
  };
}

}  // namespace

// ---- binary arithmetic ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("binary ops broadcast like NumPy", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  struct Case {
    Shape a, b, out;
  };
  std::vector<Case> cases = {
      {{2, 3}, {2, 3}, {2, 3}},       {{3, 1}, {1, 4}, {3, 4}},  {{2, 3, 4}, {4}, {2, 3, 4}},
      {{}, {2, 2}, {2, 2}},           {{2, 2}, {}, {2, 2}},      {{0, 3}, {1, 3}, {0, 3}},
      {{4, 1, 3}, {2, 1}, {4, 2, 3}}, {{1}, {5}, {5}},           {{}, {}, {}},
  };
  for (const auto& op : arithmetic_ops()) {
    for (const auto& c : cases) {
      INFO(op.name << " " << shape_str(c.a) << " x " << shape_str(c.b));
      // Positive operands keep pow real and div away from zero.
      Tensor a = grid(c.a, 0.5, 3.0, dt), b = grid(c.b, 0.25, 2.0, dt);
      Tensor r = op.op(a, b);
      REQUIRE(r.shape() == c.out);
      REQUIRE(r.dtype() == dt);
      REQUIRE(r.is_contiguous());
      require_values(r, expected_binary(a, b, c.out, op.ref), tol_for<TestType>());
    }
  }
}

TEMPLATE_TEST_CASE("binary ops read non-contiguous inputs", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  Tensor base = grid({4, 6}, 0.5, 3.0, dt);
  Tensor transposed = base.transpose(0, 1);                 // [6, 4], strides [1, 6]
  Tensor stepped = grid({6, 9}, 0.5, 2.0, dt).slice(1, 1, 9, 2);  // [6, 4], strides [9, 2]
  Tensor expanded = grid({6, 1}, 0.5, 2.0, dt).expand({6, 4});   // [6, 4], strides [1, 0]
  Tensor row = grid({4}, 0.5, 2.0, dt).unsqueeze(0).expand({6, 4});  // [6, 4], strides [0, 1]
  REQUIRE_FALSE(transposed.is_contiguous());
  REQUIRE_FALSE(stepped.is_contiguous());
  for (const auto& op : arithmetic_ops()) {
    INFO(op.name);
    for (const Tensor* x : {&transposed, &stepped, &expanded, &row}) {
      for (const Tensor* y : {&transposed, &stepped, &expanded, &row}) {
        Tensor r = op.op(*x, *y);
        REQUIRE(r.shape() == Shape{6, 4});
        require_values(r, expected_binary(*x, *y, {6, 4}, op.ref), tol_for<TestType>());
      }
    }
    // Broadcasting a non-contiguous operand: a step-sliced column against a transposed matrix.
    Tensor col = grid({12, 1}, 0.5, 2.0, dt).slice(0, 0, 12, 2);  // [6, 1]
    require_values(op.op(col, transposed), expected_binary(col, transposed, {6, 4}, op.ref),
                   tol_for<TestType>());
  }
}

TEMPLATE_TEST_CASE("binary ops on large tensors take the threaded path", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  const int64_t R = 256, C = 160;  // 40960 elements > 1 << 15
  Tensor a = grid({R, C}, -2.0, 2.0, dt);
  Tensor b = grid({C}, 0.5, 1.5, dt);
  Tensor at = grid({C, R}, -1.0, 1.0, dt).transpose(0, 1);  // [R, C], non-contiguous
  std::vector<double> va = a.to_vector(), vb = b.to_vector(), vt = at.to_vector();

  Tensor same = add(a, a);
  Tensor bcast = mul(a, b);
  Tensor strided = sub(at, a);
  std::vector<double> want_same, want_bcast, want_strided;
  for (int64_t i = 0; i < R * C; ++i) {
    size_t k = static_cast<size_t>(i);
    want_same.push_back(va[k] + va[k]);
    want_bcast.push_back(va[k] * vb[static_cast<size_t>(i % C)]);
    want_strided.push_back(vt[k] - va[k]);
  }
  require_values(same, want_same, tol_for<TestType>());
  require_values(bcast, want_bcast, tol_for<TestType>());
  require_values(strided, want_strided, tol_for<TestType>());

  Tensor e = exp(at);
  require_values(e, expected_unary(at, [](double x) { return std::exp(x); }), tol_for<TestType>());
}

TEST_CASE("binary ops: errors name the op, the shapes and the dtypes", "[tensor]") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  REQUIRE_THROWS_AS(add(a, b), ShapeError);
  REQUIRE_THROWS_WITH(add(a, b), Catch::Contains("add: shapes [2, 3] and [4] cannot broadcast"));
  REQUIRE_THROWS_WITH(mul(b, a), Catch::Contains("mul: shapes [4] and [2, 3] cannot broadcast"));
  REQUIRE_THROWS_WITH(a - b, Catch::Contains("sub: shapes [2, 3] and [4]"));
  REQUIRE_THROWS_WITH(div(Tensor::zeros({3, 2}), Tensor::zeros({2, 3})),
                      Catch::Contains("div: shapes [3, 2] and [2, 3]"));
  REQUIRE_THROWS_WITH(pow(Tensor::zeros({5}), Tensor::zeros({3})), Catch::Contains("pow: shapes [5] and [3]"));

  Tensor f = Tensor::ones({2}, DType::f32), d = Tensor::ones({2}, DType::f64);
  REQUIRE_THROWS_AS(add(f, d), DTypeError);
  REQUIRE_THROWS_WITH(add(f, d), Catch::Contains("add") && Catch::Contains("f32") && Catch::Contains("f64"));
  REQUIRE_THROWS_WITH(maximum(d, f), Catch::Contains("maximum") && Catch::Contains("f64"));

  Tensor m = Tensor::ones({2}, DType::boolean);
  REQUIRE_THROWS_AS(add(m, m), DTypeError);
  REQUIRE_THROWS_WITH(add(m, m), Catch::Contains("add") && Catch::Contains("bool"));

  Tensor i = Tensor::ones({3}, DType::i64);
  REQUIRE_THROWS_AS(pow(i, i), DTypeError);
  REQUIRE_THROWS_WITH(pow(i, 2.0), Catch::Contains("pow") && Catch::Contains("i64"));

  REQUIRE_THROWS_AS(add(Tensor(), f), ValueError);
  REQUIRE_THROWS_WITH(mul(f, Tensor()), Catch::Contains("mul") && Catch::Contains("undefined"));
}

TEST_CASE("i64 arithmetic: truncating division, wrap-around, division by zero", "[tensor]") {
  Tensor a = Tensor::from_vector(std::vector<int64_t>{7, -7, 7, -7, 0}, {5});
  Tensor b = Tensor::from_vector(std::vector<int64_t>{2, 2, -2, -2, 3}, {5});
  REQUIRE(div(a, b).to_vector() == std::vector<double>{3, -3, -3, 3, 0});
  REQUIRE(add(a, b).to_vector() == std::vector<double>{9, -5, 5, -9, 3});
  REQUIRE(sub(a, b).to_vector() == std::vector<double>{5, -9, 9, -5, -3});
  REQUIRE(mul(a, b).to_vector() == std::vector<double>{14, -14, -14, 14, 0});
  REQUIRE(maximum(a, b).to_vector() == std::vector<double>{7, 2, 7, -2, 3});
  REQUIRE(minimum(a, b).to_vector() == std::vector<double>{2, -7, -2, -7, 0});
  REQUIRE(div(a, b).dtype() == DType::i64);

  // Overflow wraps (NumPy's behaviour) instead of being undefined; UBSan runs this.
  const int64_t big = std::numeric_limits<int64_t>::max(), small = std::numeric_limits<int64_t>::min();
  Tensor hi = Tensor::from_vector(std::vector<int64_t>{big}, {1});
  Tensor lo = Tensor::from_vector(std::vector<int64_t>{small}, {1});
  Tensor one = Tensor::from_vector(std::vector<int64_t>{1}, {1});
  Tensor minus_one = Tensor::from_vector(std::vector<int64_t>{-1}, {1});
  REQUIRE(add(hi, one).data<int64_t>()[0] == small);
  REQUIRE(sub(lo, one).data<int64_t>()[0] == big);
  REQUIRE(div(lo, minus_one).data<int64_t>()[0] == small);
  REQUIRE(neg(lo).data<int64_t>()[0] == small);

  Tensor zero_in = Tensor::from_vector(std::vector<int64_t>{1, 0, 2}, {3});
  REQUIRE_THROWS_AS(div(a.slice(0, 0, 3), zero_in), ValueError);
  REQUIRE_THROWS_WITH(div(a.slice(0, 0, 3), zero_in), Catch::Contains("div") && Catch::Contains("zero") &&
                                                          Catch::Contains("[3]"));
  // Floating division by zero is IEEE: inf, not an error.
  Tensor inf = div(Tensor::ones({1}), Tensor::zeros({1}));
  REQUIRE(std::isinf(inf.item()));
}

TEMPLATE_TEST_CASE("scalar overloads keep the tensor's dtype", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  Tensor a = grid({2, 3}, 0.5, 4.0, dt).transpose(0, 1);
  const double tol = tol_for<TestType>();
  auto check = [&](const Tensor& r, std::function<double(double)> f) {
    REQUIRE(r.dtype() == dt);
    REQUIRE(r.shape() == Shape{3, 2});
    // The scalar is rounded to the dtype first, as the op does.
    require_values(r, expected_unary(a, f), tol);
  };
  const double third = static_cast<TestType>(1.0 / 3.0);
  check(add(a, 1.0 / 3.0), [&](double x) { return x + third; });
  check(a + 2.5, [](double x) { return x + 2.5; });
  check(a - 2.5, [](double x) { return x - 2.5; });
  check(a * 3.0, [](double x) { return x * 3.0; });
  check(mul(a, -0.5), [](double x) { return x * -0.5; });
  check(3.0 * a, [](double x) { return 3.0 * x; });
  check(a / 4.0, [](double x) { return x / 4.0; });
  check(sub(1.0, a), [](double x) { return 1.0 - x; });
  check(div(1.0, a), [](double x) { return 1.0 / x; });
  check(-a, [](double x) { return -x; });
  check(pow(a, 2.0), [](double x) { return x * x; });
  check(pow(a, 0.5), [](double x) { return std::sqrt(x); });
  check(pow(a, -1.5), [](double x) { return std::pow(x, -1.5); });

  // i64 takes the scalar as an i64 too.
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  Tensor r = i * 2.0;
  REQUIRE(r.dtype() == DType::i64);
  REQUIRE(r.to_vector() == std::vector<double>{2, 4, 6});
  REQUIRE((i - 1.0).to_vector() == std::vector<double>{0, 1, 2});
  REQUIRE(div(6.0, i).to_vector() == std::vector<double>{6, 3, 2});
  REQUIRE((i / 2.0).to_vector() == std::vector<double>{0, 1, 1});
}

// ---- comparisons and selection -------------------------------------------------------------------

TEMPLATE_TEST_CASE("comparisons give bool tensors and broadcast", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  // Small integers so ties occur.
  Tensor a = Tensor::from_vector(std::vector<double>{0, 1, 2}, {3, 1}, dt);
  Tensor b = Tensor::from_vector(std::vector<double>{2, 1, 0, 1}, {1, 4}, dt);
  struct Cmp {
    BinaryOp op;
    std::function<double(double, double)> ref;
  };
  std::vector<Cmp> cmps = {
      {eq, [](double x, double y) { return x == y ? 1.0 : 0.0; }},
      {ne, [](double x, double y) { return x != y ? 1.0 : 0.0; }},
      {static_cast<BinaryOp>(lt), [](double x, double y) { return x < y ? 1.0 : 0.0; }},
      {le, [](double x, double y) { return x <= y ? 1.0 : 0.0; }},
      {static_cast<BinaryOp>(gt), [](double x, double y) { return x > y ? 1.0 : 0.0; }},
      {ge, [](double x, double y) { return x >= y ? 1.0 : 0.0; }},
  };
  for (size_t k = 0; k < cmps.size(); ++k) {
    INFO("comparison " << k);
    Tensor r = cmps[k].op(a, b);
    REQUIRE(r.dtype() == DType::boolean);
    REQUIRE(r.shape() == Shape{3, 4});
    require_values(r, expected_binary(a, b, {3, 4}, cmps[k].ref), 0);
    // Transposed operands.
    Tensor rt = cmps[k].op(a.transpose(0, 1), b.transpose(0, 1));
    require_values(rt, expected_binary(a.transpose(0, 1), b.transpose(0, 1), {4, 3}, cmps[k].ref), 0);
  }
  // NaN compares unequal to everything, itself included.
  Tensor n = Tensor::full({1}, NAN, dt);
  REQUIRE(eq(n, n).item() == 0);
  REQUIRE(ne(n, n).item() == 1);

  // Against a double: rounded to the dtype, as PyTorch does, so 0.1f > 0.1 is false.
  Tensor tenth = Tensor::full({1}, 0.1, dt);
  REQUIRE(gt(tenth, 0.1).item() == 0);
  REQUIRE(lt(tenth, 0.1).item() == 0);
  Tensor g = grid({2, 5}, -1, 1, dt).transpose(0, 1);
  require_values(gt(g, 0.25), expected_unary(g, [](double x) { return x > 0.25 ? 1.0 : 0.0; }), 0);
  require_values(lt(g, 0.25), expected_unary(g, [](double x) { return x < 0.25 ? 1.0 : 0.0; }), 0);

  REQUIRE_THROWS_AS(eq(a, Tensor::zeros({2, 1}, dt)), ShapeError);
  REQUIRE_THROWS_WITH(eq(a, Tensor::zeros({2, 1}, dt)), Catch::Contains("eq: shapes [3, 1] and [2, 1]"));
  REQUIRE_THROWS_AS(lt(a, a.to(DType::i64)), DTypeError);
  REQUIRE_THROWS_WITH(ge(a, a.to(DType::i64)), Catch::Contains("ge") && Catch::Contains("i64"));
}

TEST_CASE("comparisons of i64 and bool against a fractional threshold are exact", "[tensor]") {
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{-1, 0, 1, 2}, {4});
  REQUIRE(lt(ids, 0.5).to_vector() == std::vector<double>{1, 1, 0, 0});
  REQUIRE(gt(ids, 0.5).to_vector() == std::vector<double>{0, 0, 1, 1});
  REQUIRE(gt(ids, -0.5).to_vector() == std::vector<double>{0, 1, 1, 1});
  REQUIRE(eq(ids, ids.slice(0, 0, 4)).to_vector() == std::vector<double>{1, 1, 1, 1});
  Tensor mask = Tensor::from_vector(std::vector<double>{0, 1}, {2}, DType::boolean);
  REQUIRE(gt(mask, 0.5).to_vector() == std::vector<double>{0, 1});
  REQUIRE(eq(mask, mask).to_vector() == std::vector<double>{1, 1});
}

TEST_CASE("logical ops on bool masks", "[tensor]") {
  Tensor a = Tensor::from_vector(std::vector<double>{0, 1}, {2, 1}, DType::boolean);
  Tensor b = Tensor::from_vector(std::vector<double>{0, 1, 1}, {1, 3}, DType::boolean);
  Tensor land = logical_and(a, b), lor = logical_or(a, b);
  REQUIRE(land.shape() == Shape{2, 3});
  REQUIRE(land.dtype() == DType::boolean);
  REQUIRE(land.to_vector() == std::vector<double>{0, 0, 0, 0, 1, 1});
  REQUIRE(lor.to_vector() == std::vector<double>{0, 1, 1, 1, 1, 1});
  REQUIRE(logical_not(b).to_vector() == std::vector<double>{1, 0, 0});
  REQUIRE(logical_not(land.transpose(0, 1)).to_vector() == std::vector<double>{1, 1, 1, 0, 1, 0});

  Tensor f = Tensor::ones({2});
  REQUIRE_THROWS_AS(logical_not(f), DTypeError);
  REQUIRE_THROWS_WITH(logical_not(f), Catch::Contains("logical_not") && Catch::Contains("f32"));
  REQUIRE_THROWS_WITH(logical_and(a, f), Catch::Contains("logical_and") && Catch::Contains("f32"));
  REQUIRE_THROWS_WITH(logical_or(f, a), Catch::Contains("logical_or"));
  REQUIRE_THROWS_WITH(logical_or(a, Tensor::ones({3, 1}, DType::boolean)),
                      Catch::Contains("logical_or: shapes [2, 1] and [3, 1]"));
}

TEMPLATE_TEST_CASE("where and masked_fill broadcast all operands", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  Tensor cond = Tensor::from_vector(std::vector<double>{1, 0, 1}, {3, 1}, DType::boolean);
  Tensor a = grid({1, 4}, 1, 2, dt);
  Tensor b = Tensor::scalar(-7, dt);
  Tensor r = where(cond, a, b);
  REQUIRE(r.shape() == Shape{3, 4});
  REQUIRE(r.dtype() == dt);
  std::vector<double> want;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) want.push_back(cond.at({i, 0}) != 0 ? a.at({0, j}) : -7.0);
  require_values(r, want, 0);

  // Non-contiguous everything, and cond broadcast along the other axis.
  Tensor x = grid({4, 3}, -1, 1, dt).transpose(0, 1);  // [3, 4]
  Tensor y = grid({3, 8}, 5, 6, dt).slice(1, 0, 8, 2);   // [3, 4]
  Tensor c2 = gt(grid({4}, -1, 1, dt), 0.0);             // [4]
  Tensor r2 = where(c2, x, y);
  std::vector<double> want2;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) want2.push_back(c2.at({j}) != 0 ? x.at({i, j}) : y.at({i, j}));
  require_values(r2, want2, 0);

  // masked_fill: the attention-mask pattern, a [1, 4] mask over [3, 4] scores.
  Tensor mask = Tensor::from_vector(std::vector<double>{0, 0, 1, 1}, {1, 4}, DType::boolean);
  Tensor filled = masked_fill(x, mask, -1e9);
  std::vector<double> want3;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      want3.push_back(j >= 2 ? static_cast<double>(static_cast<TestType>(-1e9)) : x.at({i, j}));
  require_values(filled, want3, 0);
  REQUIRE(filled.dtype() == dt);
  // The input is untouched.
  REQUIRE(x.at({0, 3}) != -1e9);

  REQUIRE_THROWS_AS(where(Tensor::ones({3}, dt), a, b), DTypeError);
  REQUIRE_THROWS_WITH(where(Tensor::ones({3}, dt), a, b), Catch::Contains("where") && Catch::Contains("condition"));
  REQUIRE_THROWS_WITH(where(cond, a, Tensor::scalar(0, DType::i64)), Catch::Contains("where") && Catch::Contains("i64"));
  REQUIRE_THROWS_AS(where(Tensor::ones({2}, DType::boolean), a, b), ShapeError);
  REQUIRE_THROWS_WITH(where(cond, a, Tensor::zeros({5}, dt)),
                      Catch::Contains("where: the condition") && Catch::Contains("and b [5] cannot broadcast"));
  REQUIRE_THROWS_AS(masked_fill(x, Tensor::ones({1, 4}, dt), 0), DTypeError);
  REQUIRE_THROWS_WITH(masked_fill(x, Tensor::ones({2}, DType::boolean), 0),
                      Catch::Contains("masked_fill: shapes [3, 4] and [2]"));
}

TEST_CASE("masked_fill on i64 and zero-size tensors", "[tensor]") {
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{5, 6, 7}, {3});
  Tensor m = Tensor::from_vector(std::vector<double>{0, 1, 0}, {3}, DType::boolean);
  Tensor r = masked_fill(ids, m, -100);
  REQUIRE(r.dtype() == DType::i64);
  REQUIRE(r.to_vector() == std::vector<double>{5, -100, 7});
  Tensor empty = masked_fill(Tensor::zeros({0, 3}), Tensor::ones({1, 3}, DType::boolean), 1);
  REQUIRE(empty.shape() == Shape{0, 3});
}

// ---- unary -----------------------------------------------------------------------------------

namespace {

double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }

struct NamedUnary {
  const char* name;
  Tensor (*op)(const Tensor&);
  std::function<double(double)> ref;
  double lo, hi;  // the domain to test on
};

std::vector<NamedUnary> unary_ops() {
  return {
      {"neg", neg, [](double x) { return -x; }, -3, 3},
      {"abs", lumen::abs, [](double x) { return std::fabs(x); }, -3, 3},
      {"sign", sign, [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; }, -3, 3},
      {"exp", lumen::exp, [](double x) { return std::exp(x); }, -5, 5},
      {"log", lumen::log, [](double x) { return std::log(x); }, 0.01, 10},
      {"sqrt", lumen::sqrt, [](double x) { return std::sqrt(x); }, 0, 10},
      {"rsqrt", rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.01, 10},
      {"square", square, [](double x) { return x * x; }, -3, 3},
      {"reciprocal", reciprocal, [](double x) { return 1 / x; }, 0.1, 5},
      {"sin", lumen::sin, [](double x) { return std::sin(x); }, -4, 4},
      {"cos", lumen::cos, [](double x) { return std::cos(x); }, -4, 4},
      {"tanh", lumen::tanh, [](double x) { return std::tanh(x); }, -4, 4},
      {"sigmoid", sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -8, 8},
      {"relu", relu, [](double x) { return x > 0 ? x : 0.0; }, -3, 3},
      {"gelu", gelu, gelu_ref, -4, 4},
      // The derivative by central differences of the reference: independent of the formula.
      {"gelu_grad", gelu_grad, [](double x) { return (gelu_ref(x + 1e-5) - gelu_ref(x - 1e-5)) / 2e-5; }, -4, 4},
  };
}

}  // namespace

TEMPLATE_TEST_CASE("unary ops match std math on any layout", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  for (const auto& op : unary_ops()) {
    INFO(op.name);
    double tol = std::string(op.name) == "gelu_grad" ? 1e-8 : 1e-12;
    if (dt == DType::f32) tol = 3e-6;
    Tensor base = grid({5, 7}, op.lo, op.hi, dt);
    for (const Tensor& x : {base, base.transpose(0, 1), base.slice(1, 1, 7, 3),
                            base.select(1, 2).unsqueeze(1).expand({5, 3}), Tensor::zeros({0, 4}, dt)}) {
      Tensor r = op.op(x);
      REQUIRE(r.shape() == x.shape());
      REQUIRE(r.dtype() == dt);
      require_values(r, expected_unary(x, op.ref), tol);
    }
    // Rank 0.
    Tensor s = Tensor::scalar((op.lo + op.hi) / 2 + 0.125, dt);
    require_values(op.op(s), {op.ref(s.item())}, tol);
  }
}

TEMPLATE_TEST_CASE("sigmoid, tanh and gelu stay finite at +-1e4", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  Tensor x = Tensor::from_vector(std::vector<double>{-1e4, -100, -30, 0, 30, 100, 1e4}, {7}, dt);
  std::vector<double> s = sigmoid(x).to_vector(), t = lumen::tanh(x).to_vector();
  std::vector<double> g = gelu(x).to_vector(), gg = gelu_grad(x).to_vector();
  for (size_t i = 0; i < s.size(); ++i) {
    INFO("x = " << x.to_vector()[i]);
    REQUIRE(std::isfinite(s[i]));
    REQUIRE(std::isfinite(t[i]));
    REQUIRE(std::isfinite(g[i]));
    REQUIRE(std::isfinite(gg[i]));
  }
  REQUIRE(s[0] == 0.0);
  REQUIRE(s[3] == 0.5);
  REQUIRE(s[6] == 1.0);
  REQUIRE(s[2] == Approx(std::exp(-30.0)).epsilon(1e-5));  // the small tail keeps relative accuracy
  REQUIRE(t[0] == -1.0);
  REQUIRE(t[6] == 1.0);
  REQUIRE(g[0] == 0.0);
  REQUIRE(g[6] == 1e4);
  REQUIRE(gg[0] == 0.0);
  REQUIRE(gg[6] == 1.0);
  REQUIRE(gg[3] == 0.5);
}

TEST_CASE("unary ops on i64 and bool: only neg and abs", "[tensor]") {
  Tensor i = Tensor::from_vector(std::vector<int64_t>{-3, 0, 4}, {3});
  REQUIRE(neg(i).to_vector() == std::vector<double>{3, 0, -4});
  REQUIRE(lumen::abs(i).to_vector() == std::vector<double>{3, 0, 4});
  REQUIRE(lumen::abs(i).dtype() == DType::i64);
  REQUIRE((-i).to_vector() == std::vector<double>{3, 0, -4});

  for (auto op : {lumen::exp, lumen::log, lumen::sqrt, rsqrt, square, reciprocal, lumen::sin, lumen::cos,
                  lumen::tanh, sigmoid, relu, gelu, gelu_grad, sign}) {
    REQUIRE_THROWS_AS(op(i), DTypeError);
  }
  REQUIRE_THROWS_WITH(lumen::exp(i), Catch::Contains("exp: expected a floating tensor (f32 or f64), got i64 of shape [3]"));
  REQUIRE_THROWS_WITH(sigmoid(i), Catch::Contains("sigmoid") && Catch::Contains("i64"));
  Tensor m = Tensor::ones({2}, DType::boolean);
  REQUIRE_THROWS_AS(neg(m), DTypeError);
  REQUIRE_THROWS_WITH(lumen::abs(m), Catch::Contains("abs") && Catch::Contains("bool"));
  REQUIRE_THROWS_WITH(relu(m), Catch::Contains("relu") && Catch::Contains("bool"));
  REQUIRE_THROWS_AS(lumen::exp(Tensor()), ValueError);
}

TEMPLATE_TEST_CASE("NaN propagates through maximum, minimum, relu and sign", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  Tensor a = Tensor::from_vector(std::vector<double>{NAN, 1, NAN}, {3}, dt);
  Tensor b = Tensor::from_vector(std::vector<double>{0, NAN, NAN}, {3}, dt);
  for (double v : maximum(a, b).to_vector()) REQUIRE(std::isnan(v));
  for (double v : minimum(a, b).to_vector()) REQUIRE(std::isnan(v));
  REQUIRE(std::isnan(relu(a).to_vector()[0]));
  REQUIRE(std::isnan(sign(a).to_vector()[0]));
  REQUIRE(std::isnan(clamp(a, 0, 1).to_vector()[0]));
}

TEMPLATE_TEST_CASE("clamp", "[tensor]", float, double) {
  const DType dt = dtype_of<TestType>();
  Tensor x = grid({4, 5}, -3, 3, dt).transpose(0, 1);
  Tensor r = clamp(x, -1, 0.5);
  require_values(r, expected_unary(x, [](double v) { return std::min(0.5, std::max(-1.0, v)); }), 0);
  REQUIRE(r.dtype() == dt);
  REQUIRE_THROWS_AS(clamp(x, 1, -1), ValueError);
  REQUIRE_THROWS_WITH(clamp(x, 1, -1), Catch::Contains("clamp"));
  REQUIRE_THROWS_AS(clamp(Tensor::ones({2}, DType::i64), 0, 1), DTypeError);
}

// ---- testing helpers ---------------------------------------------------------------------------

TEST_CASE("allclose and max_abs_diff", "[tensor]") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f64);
  Tensor b = Tensor::from_vector(std::vector<double>{1, 2.001, 3}, {3}, DType::f64);
  REQUIRE(max_abs_diff(a, b) == Approx(0.001));
  REQUIRE_FALSE(allclose(a, b));
  REQUIRE(allclose(a, b, 1e-3));       // rtol: 0.001 <= 1e-3 * 2.001
  REQUIRE(allclose(a, b, 0, 1.1e-3));  // atol alone
  REQUIRE_FALSE(allclose(a, b, 0, 0.9e-3));
  REQUIRE(allclose(a, a));
  // Shapes must match exactly: no broadcasting in a test assertion.
  REQUIRE_FALSE(allclose(a, a.unsqueeze(0)));
  REQUIRE_THROWS_AS(max_abs_diff(a, a.unsqueeze(0)), ShapeError);
  REQUIRE_THROWS_WITH(max_abs_diff(a, a.unsqueeze(0)), Catch::Contains("max_abs_diff") && Catch::Contains("[3]") &&
                                                           Catch::Contains("[1, 3]"));
  // Non-contiguous operands and mixed dtypes compare by value.
  Tensor m = grid({3, 4}, -1, 1, DType::f32);
  REQUIRE(allclose(m.transpose(0, 1), m.transpose(0, 1).contiguous().to(DType::f64)));
  REQUIRE(max_abs_diff(m.transpose(0, 1), m.transpose(0, 1).clone()) == 0);
  // NaN is never close; equal infinities are.
  Tensor n = Tensor::from_vector(std::vector<double>{NAN}, {1});
  REQUIRE_FALSE(allclose(n, n));
  REQUIRE(std::isnan(max_abs_diff(n, Tensor::zeros({1}))));
  Tensor inf = Tensor::full({2}, INFINITY);
  REQUIRE(allclose(inf, inf));
  REQUIRE(max_abs_diff(inf, inf) == 0);
  REQUIRE_FALSE(allclose(inf, -inf));
}
