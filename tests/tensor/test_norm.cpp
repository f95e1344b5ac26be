// softmax, log_softmax and layer_norm against naive loops written here in double, on every
// layout, plus the numerical edge cases (+-1e4 logits, -inf rows, constant rows).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

using namespace lumen;

namespace {

// For each row along `dim` (rows in row-major order of the other dims), the flat positions of
// its elements in the row-major order of the whole tensor.
std::vector<std::vector<size_t>> rows_along(const Shape& shape, size_t dim) {
  int64_t after = 1;
  for (size_t d = dim + 1; d < shape.size(); ++d) after *= shape[d];
  const int64_t n = shape[dim];
  const int64_t total = shape_numel(shape);
  std::vector<std::vector<size_t>> rows;
  if (n == 0) return rows;
  for (int64_t r = 0; r < total / n; ++r) {
    const int64_t start = (r / after) * n * after + r % after;
    std::vector<size_t> row;
    for (int64_t i = 0; i < n; ++i) row.push_back(static_cast<size_t>(start + i * after));
    rows.push_back(row);
  }
  return rows;
}

enum class Ref { softmax, log_softmax };

std::vector<double> reference(const Tensor& a, size_t dim, Ref op) {
  const std::vector<double> x = a.to_vector();
  std::vector<double> y(x.size());
  for (const auto& row : rows_along(a.shape(), dim)) {
    double m = -INFINITY;
    for (size_t p : row) m = std::max(m, x[p]);
    double s = 0;
    for (size_t p : row) s += std::exp(x[p] - m);
    for (size_t p : row) y[p] = op == Ref::softmax ? std::exp(x[p] - m) / s : x[p] - m - std::log(s);
  }
  return y;
}

std::vector<double> layer_norm_reference(const Tensor& x, const std::vector<double>& w, const std::vector<double>& b,
                                         double eps) {
  const std::vector<double> v = x.to_vector();
  std::vector<double> y(v.size());
  const size_t D = static_cast<size_t>(x.shape().back());
  for (size_t r = 0; r * D < v.size(); ++r) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < D; ++i) mean += v[r * D + i] / static_cast<double>(D);
    for (size_t i = 0; i < D; ++i) var += (v[r * D + i] - mean) * (v[r * D + i] - mean) / static_cast<double>(D);
    for (size_t i = 0; i < D; ++i) {
      const double xhat = (v[r * D + i] - mean) / std::sqrt(var + eps);
      y[r * D + i] = xhat * (w.empty() ? 1.0 : w[i]) + (b.empty() ? 0.0 : b[i]);
    }
  }
  return y;
}

void check_values(const Tensor& got, const Tensor& input, const std::vector<double>& want, double tol) {
  REQUIRE(shape_str(got.shape()) == shape_str(input.shape()));
  REQUIRE(got.dtype() == input.dtype());
  REQUIRE(got.is_contiguous());
  const std::vector<double> v = got.to_vector();
  REQUIRE(v.size() == want.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const bool ok = std::abs(v[i] - want[i]) <= tol * (1 + std::abs(want[i]));
    if (ok) continue;  // one assertion per mismatch keeps big tensors fast to check
    INFO("element " << i << ": got " << v[i] << ", want " << want[i]);
    REQUIRE(ok);
  }
}

double tol_for(DType d) { return d == DType::f32 ? 3e-6 : 1e-13; }

// Inputs of one logical shape [3, 4, 5] in different layouts.
std::vector<std::pair<std::string, Tensor>> layouts(DType dtype, Generator& gen) {
  return {
      {"contiguous", randn({3, 4, 5}, dtype, gen)},
      {"transposed", randn({5, 4, 3}, dtype, gen).transpose(0, 2)},
      {"sliced with step", randn({3, 9, 5}, dtype, gen).slice(1, 1, 9, 2)},
      {"last dim strided", randn({3, 4, 10}, dtype, gen).slice(2, 1, 10, 2)},
      {"row slice", randn({3, 4, 8}, dtype, gen).slice(2, 2, 7)},
      {"expanded", randn({1, 4, 5}, dtype, gen).expand({3, 4, 5})},
  };
}

template <class Fn> std::pair<std::vector<double>, std::vector<double>> with_1_and_2_threads(Fn fn) {
  const int before = get_num_threads();
  set_num_threads(1);
  std::vector<double> one = fn().to_vector();
  set_num_threads(2);
  std::vector<double> two = fn().to_vector();
  set_num_threads(before);
  return {one, two};
}

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

// ---- softmax and log_softmax -----------------------------------------------------------------

TEST_CASE("softmax and log_softmax match naive loops along any dim and layout", "[tensor][norm]") {
  Generator gen(17);
  for (DType dtype : {DType::f32, DType::f64}) {
    for (auto& [name, a] : layouts(dtype, gen)) {
      for (int64_t dim : {0, 1, 2, -1, -3}) {
        INFO(dtype_name(dtype) << " " << name << " dim " << dim);
        const size_t d = static_cast<size_t>(dim < 0 ? dim + 3 : dim);
        Tensor p = softmax(a, dim);
        check_values(p, a, reference(a, d, Ref::softmax), tol_for(dtype));
        check_values(log_softmax(a, dim), a, reference(a, d, Ref::log_softmax), tol_for(dtype));
        // Each row sums to one.
        const std::vector<double> pv = p.to_vector();
        for (const auto& row : rows_along(a.shape(), d)) {
          double s = 0;
          for (size_t i : row) s += pv[i];
          REQUIRE(std::abs(s - 1) <= 10 * tol_for(dtype));
        }
      }
    }
  }
}

TEST_CASE("softmax of hand-computed values", "[tensor][norm]") {
  Tensor a = Tensor::from_vector(std::vector<double>{0, std::log(3.0), 1, 1}, {2, 2}, DType::f64);
  std::vector<double> p = softmax(a).to_vector();
  REQUIRE(p[0] == Approx(0.25).epsilon(1e-15));
  REQUIRE(p[1] == Approx(0.75).epsilon(1e-15));
  REQUIRE(p[2] == 0.5);
  REQUIRE(p[3] == 0.5);
  std::vector<double> l = log_softmax(a, 1).to_vector();
  REQUIRE(l[0] == Approx(std::log(0.25)).epsilon(1e-15));
  REQUIRE(l[2] == Approx(std::log(0.5)).epsilon(1e-15));
  // Along dim 0: [0, 1] and [log 3, 1].
  std::vector<double> c = softmax(a, 0).to_vector();
  REQUIRE(c[0] == Approx(1 / (1 + std::exp(1.0))).epsilon(1e-15));
  REQUIRE(c[1] + c[3] == Approx(1.0).epsilon(1e-15));
  // A scalar is a row of one element.
  REQUIRE(softmax(Tensor::scalar(3.0)).item() == 1);
  REQUIRE(softmax(Tensor::scalar(3.0)).dim() == 0);
  REQUIRE(log_softmax(Tensor::scalar(3.0), 0).item() == 0);
}

TEST_CASE("softmax is finite and exact for logits of +-1e4", "[tensor][norm]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO(dtype_name(dtype));
    Tensor a = Tensor::from_vector(std::vector<double>{1e4, -1e4, 0}, {3}, dtype);
    REQUIRE(softmax(a).to_vector() == std::vector<double>{1, 0, 0});
    REQUIRE(log_softmax(a).to_vector() == std::vector<double>{0, -2e4, -1e4});
    Tensor b = Tensor::from_vector(std::vector<double>{1e4, 1e4, -1e4, -1e4}, {2, 2}, dtype);
    REQUIRE(softmax(b).to_vector() == std::vector<double>{0.5, 0.5, 0.5, 0.5});
    REQUIRE(softmax(b, 0).to_vector() == std::vector<double>{1, 1, 0, 0});
    const double log_half = static_cast<double>(dtype == DType::f32 ? std::log(0.5f) : std::log(0.5));
    for (double v : log_softmax(b).to_vector()) REQUIRE(v == log_half);
  }
}

TEST_CASE("softmax with -inf: masked entries get exactly 0, a fully masked row gives NaN", "[tensor][norm]") {
  const double inf = INFINITY;
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, -inf, 1, -inf, -inf, -inf}, {2, 3}, dtype);
    const std::vector<double> p = softmax(a).to_vector();
    REQUIRE(p[0] == 0.5);
    REQUIRE(p[1] == 0);
    REQUIRE(p[2] == 0.5);
    for (size_t i = 3; i < 6; ++i) REQUIRE(std::isnan(p[i]));  // as in PyTorch
    const std::vector<double> l = log_softmax(a).to_vector();
    REQUIRE(l[1] == -inf);
    REQUIRE(l[0] == static_cast<double>(dtype == DType::f32 ? std::log(0.5f) : std::log(0.5)));
    for (size_t i = 3; i < 6; ++i) REQUIRE(std::isnan(l[i]));
    // NaN in a row spreads to that row only.
    Tensor n = Tensor::from_vector(std::vector<double>{1, NAN, 2, 1, 2, 3}, {2, 3}, dtype);
    const std::vector<double> q = softmax(n).to_vector();
    for (size_t i = 0; i < 3; ++i) REQUIRE(std::isnan(q[i]));
    for (size_t i = 3; i < 6; ++i) REQUIRE(std::isfinite(q[i]));
  }
}

TEST_CASE("softmax over zero-size dims", "[tensor][norm]") {
  REQUIRE(shape_str(softmax(Tensor::empty({2, 0})).shape()) == "[2, 0]");
  REQUIRE(shape_str(softmax(Tensor::empty({0, 3}), 1).shape()) == "[0, 3]");
  REQUIRE(shape_str(log_softmax(Tensor::empty({0, 3}), 0).shape()) == "[0, 3]");
  REQUIRE(shape_str(layer_norm(Tensor::empty({0, 3}), Tensor(), Tensor()).shape()) == "[0, 3]");
  REQUIRE(shape_str(layer_norm(Tensor::empty({2, 0}), Tensor(), Tensor()).shape()) == "[2, 0]");
}

TEST_CASE("softmax errors name the op", "[tensor][norm]") {
  Tensor i = Tensor::zeros({2, 3}, DType::i64);
  REQUIRE_THROWS_AS(softmax(i), DTypeError);
  REQUIRE_THROWS_WITH(softmax(i), Catch::Contains("softmax") && Catch::Contains("i64") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(log_softmax(Tensor::zeros({2}, DType::boolean)),
                      Catch::Contains("log_softmax") && Catch::Contains("bool"));
  REQUIRE_THROWS_AS(softmax(Tensor::zeros({2, 3}), 2), IndexError);
  REQUIRE_THROWS_WITH(softmax(Tensor::zeros({2, 3}), 2), Catch::Contains("softmax") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_WITH(log_softmax(Tensor::zeros({2, 3}), -3),
                      Catch::Contains("log_softmax") && Catch::Contains("dim -3"));
  REQUIRE_THROWS_AS(softmax(Tensor::scalar(1.0), 1), IndexError);
  REQUIRE_THROWS_AS(softmax(Tensor()), ValueError);
  REQUIRE_THROWS_WITH(softmax(Tensor()), Catch::Contains("softmax") && Catch::Contains("undefined"));
}

// ---- layer_norm --------------------------------------------------------------------------------

TEST_CASE("layer_norm matches a naive loop with and without weight and bias", "[tensor][norm]") {
  Generator gen(23);
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor w = randn({5}, dtype, gen), b = randn({5}, dtype, gen);
    // weight and bias may be views too.
    const Tensor w_strided = randn({10}, dtype, gen).slice(0, 0, 10, 2);
    const Tensor b_expanded = Tensor::full({1}, 0.5, dtype).expand({5});
    for (auto& [name, x] : layouts(dtype, gen)) {
      for (double eps : {1e-5, 0.0, 0.1}) {
        INFO(dtype_name(dtype) << " " << name << " eps " << eps);
        const double tol = dtype == DType::f32 ? 2e-5 : 1e-12;
        check_values(layer_norm(x, Tensor(), Tensor(), eps), x, layer_norm_reference(x, {}, {}, eps), tol);
        check_values(layer_norm(x, w, b, eps), x, layer_norm_reference(x, w.to_vector(), b.to_vector(), eps), tol);
        check_values(layer_norm(x, w, Tensor(), eps), x, layer_norm_reference(x, w.to_vector(), {}, eps), tol);
        check_values(layer_norm(x, Tensor(), b, eps), x, layer_norm_reference(x, {}, b.to_vector(), eps), tol);
        check_values(layer_norm(x, w_strided, b_expanded, eps), x,
                     layer_norm_reference(x, w_strided.to_vector(), b_expanded.to_vector(), eps), tol);
      }
    }
    // Rank 1 and rank 4.
    Tensor v = randn({7}, dtype, gen);
    check_values(layer_norm(v, Tensor(), Tensor()), v, layer_norm_reference(v, {}, {}, 1e-5), 2e-5);
    Tensor h = randn({2, 3, 2, 6}, dtype, gen).transpose(1, 2);
    check_values(layer_norm(h, Tensor(), Tensor()), h, layer_norm_reference(h, {}, {}, 1e-5), 2e-5);
  }
}

TEST_CASE("layer_norm of a constant row is the bias, finite", "[tensor][norm]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = Tensor::full({2, 4}, 3.7, dtype);
    Tensor w = Tensor::from_vector(std::vector<double>{2, 3, 4, 5}, {4}, dtype);
    Tensor b = Tensor::from_vector(std::vector<double>{0.1, -0.2, 0.3, 7}, {4}, dtype);
    REQUIRE(layer_norm(x, w, b).to_vector() == b.expand({2, 4}).to_vector());
    REQUIRE(layer_norm(x, Tensor(), Tensor()).to_vector() == std::vector<double>(8, 0.0));
    // eps = 0 on a constant row divides 0 by 0: not finite, as the formula says.
    REQUIRE(std::isnan(layer_norm(x, Tensor(), Tensor(), 0.0).to_vector()[0]));
    // Large values: x - mean must not lose the spread.
    Tensor big = Tensor::from_vector(std::vector<double>{1e4 + 1, 1e4 - 1}, {1, 2}, dtype);
    std::vector<double> y = layer_norm(big, Tensor(), Tensor(), 0.0).to_vector();
    REQUIRE(y[0] == Approx(1.0).epsilon(1e-6));
    REQUIRE(y[1] == Approx(-1.0).epsilon(1e-6));
  }
}

TEST_CASE("layer_norm errors name the op and the shapes", "[tensor][norm]") {
  Tensor x = Tensor::zeros({2, 4});
  REQUIRE_THROWS_AS(layer_norm(x, Tensor::ones({3}), Tensor()), ShapeError);
  REQUIRE_THROWS_WITH(layer_norm(x, Tensor::ones({3}), Tensor()),
                      Catch::Contains("layer_norm") && Catch::Contains("weight") && Catch::Contains("[3]") &&
                          Catch::Contains("[2, 4]"));
  REQUIRE_THROWS_AS(layer_norm(x, Tensor(), Tensor::ones({1, 4})), ShapeError);
  REQUIRE_THROWS_WITH(layer_norm(x, Tensor(), Tensor::ones({1, 4})),
                      Catch::Contains("layer_norm") && Catch::Contains("bias") && Catch::Contains("[1, 4]") &&
                          Catch::Contains("[2, 4]"));
  REQUIRE_THROWS_AS(layer_norm(x, Tensor::ones({4}, DType::f64), Tensor()), DTypeError);
  REQUIRE_THROWS_WITH(layer_norm(x, Tensor::ones({4}, DType::f64), Tensor()),
                      Catch::Contains("layer_norm") && Catch::Contains("f64") && Catch::Contains("f32"));
  REQUIRE_THROWS_AS(layer_norm(Tensor::zeros({2, 4}, DType::i64), Tensor(), Tensor()), DTypeError);
  REQUIRE_THROWS_WITH(layer_norm(Tensor::zeros({2, 4}, DType::i64), Tensor(), Tensor()),
                      Catch::Contains("layer_norm") && Catch::Contains("i64"));
  REQUIRE_THROWS_AS(layer_norm(Tensor::scalar(1.0), Tensor(), Tensor()), ShapeError);
  REQUIRE_THROWS_WITH(layer_norm(Tensor::scalar(1.0), Tensor(), Tensor()),
                      Catch::Contains("layer_norm") && Catch::Contains("[]"));
  REQUIRE_THROWS_AS(layer_norm(x, Tensor(), Tensor(), -1.0), ValueError);
  REQUIRE_THROWS_WITH(layer_norm(x, Tensor(), Tensor(), -1.0), Catch::Contains("layer_norm") && Catch::Contains("eps"));
  REQUIRE_THROWS_AS(layer_norm(Tensor(), Tensor(), Tensor()), ValueError);
}

// ---- big inputs: the parallel paths ------------------------------------------------------------

TEST_CASE("large softmax and layer_norm match naive loops and do not depend on the thread count",
          "[tensor][norm]") {
  Generator gen(29);
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor a = randn({256, 160}, dtype, gen);
    Tensor t = randn({160, 256}, dtype, gen).mT();  // rows through the scratch buffer
    for (const Tensor& x : {a, t}) {
      for (int64_t dim : {1, 0}) {
        INFO(dtype_name(dtype) << " contiguous " << x.is_contiguous() << " dim " << dim);
        auto [s1, s2] = with_1_and_2_threads([&] { return softmax(x, dim); });
        REQUIRE(bitwise_equal(s1, s2));
        check_values(softmax(x, dim), x, reference(x, static_cast<size_t>(dim), Ref::softmax), tol_for(dtype));
        auto [l1, l2] = with_1_and_2_threads([&] { return log_softmax(x, dim); });
        REQUIRE(bitwise_equal(l1, l2));
        check_values(log_softmax(x, dim), x, reference(x, static_cast<size_t>(dim), Ref::log_softmax),
                     tol_for(dtype));
      }
      const Tensor w = randn({160}, dtype, gen), b = randn({160}, dtype, gen);
      auto [n1, n2] = with_1_and_2_threads([&] { return layer_norm(x, w, b); });
      REQUIRE(bitwise_equal(n1, n2));
      check_values(layer_norm(x, w, b), x, layer_norm_reference(x, w.to_vector(), b.to_vector(), 1e-5),
                   dtype == DType::f32 ? 2e-5 : 1e-12);
    }
  }
}
