// Reductions (sum, mean, var, amax, amin, argmax, argmin, topk, sum_to) against naive loops
// written here: every element is visited by its full index and folded in double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

using namespace lumen;

namespace {

// ---- the reference -------------------------------------------------------------------------

std::vector<bool> mask_of(int64_t rank, const std::vector<int64_t>& dims) {
  std::vector<bool> mask(static_cast<size_t>(rank), dims.empty());
  for (int64_t d : dims) mask[static_cast<size_t>(d < 0 ? d + rank : d)] = true;
  return mask;
}

Shape expected_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!mask[d])
      out.push_back(shape[d]);
    else if (keepdim)
      out.push_back(1);
  return out;
}

// For each output element (row-major over the kept dims), its input values in row-major order.
std::vector<std::vector<double>> groups(const Tensor& a, const std::vector<bool>& mask) {
  const Shape& shape = a.shape();
  int64_t outputs = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (!mask[d]) outputs *= shape[d];
  std::vector<std::vector<double>> g(static_cast<size_t>(outputs));
  const std::vector<double> values = a.to_vector();
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t rest = static_cast<int64_t>(i), out = 0, scale = 1;
    for (size_t d = shape.size(); d-- > 0;) {
      const int64_t idx = rest % shape[d];
      rest /= shape[d];
      if (!mask[d]) {
        out += idx * scale;
        scale *= shape[d];
      }
    }
    g[static_cast<size_t>(out)].push_back(values[i]);
  }
  return g;
}

enum class Ref { sum, mean, max, min, var, var_unbiased };

std::vector<double> reference(const Tensor& a, const std::vector<bool>& mask, Ref op) {
  std::vector<double> out;
  for (const auto& xs : groups(a, mask)) {
    double s = 0, m = -INFINITY, mn = INFINITY;
    bool nan = false;
    for (double x : xs) {
      s += x;
      nan = nan || std::isnan(x);
      m = std::max(m, x);
      mn = std::min(mn, x);
    }
    const double n = static_cast<double>(xs.size());
    double ss = 0;
    for (double x : xs) ss += (x - s / n) * (x - s / n);
    switch (op) {
      case Ref::sum: out.push_back(s); break;
      case Ref::mean: out.push_back(s / n); break;
      case Ref::max: out.push_back(nan ? NAN : m); break;
      case Ref::min: out.push_back(nan ? NAN : mn); break;
      case Ref::var: out.push_back(ss / n); break;
      case Ref::var_unbiased: out.push_back(ss / (n - 1)); break;
    }
  }
  return out;
}

// Checks shape and values; NaN must meet NaN. The tolerance scales with `scale`, the size of
// the numbers that were summed.
void check_values(const Tensor& got, const Shape& shape, const std::vector<double>& want, double tol) {
  REQUIRE(shape_str(got.shape()) == shape_str(shape));
  REQUIRE(got.is_contiguous());
  const std::vector<double> v = got.to_vector();
  REQUIRE(v.size() == want.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(v[i]) : std::abs(v[i] - want[i]) <= tol * (1 + std::abs(want[i]));
    if (ok) continue;  // one assertion per mismatch keeps big tensors fast to check
    INFO("element " << i << ": got " << v[i] << ", want " << want[i]);
    REQUIRE(ok);
  }
}

double tol_for(DType d) { return d == DType::f32 ? 2e-5 : 1e-12; }

// Inputs of one logical shape [2, 3, 4] in different layouts.
std::vector<std::pair<std::string, Tensor>> layouts(DType dtype, Generator& gen) {
  return {
      {"contiguous", randn({2, 3, 4}, dtype, gen)},
      {"transposed", randn({4, 3, 2}, dtype, gen).transpose(0, 2)},
      {"sliced with step", randn({2, 7, 4}, dtype, gen).slice(1, 1, 7, 2)},
      {"permuted", randn({3, 4, 2}, dtype, gen).permute({2, 0, 1})},
      {"expanded", randn({1, 3, 1}, dtype, gen).expand({2, 3, 4})},
      {"last dim strided", randn({2, 3, 8}, dtype, gen).slice(2, 0, 8, 2)},
  };
}

const std::vector<std::vector<int64_t>> kDimSets = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {-3, -2}, {2, 0, 1}, {1, 2}};

// A run of `fn` with 1 and with 2 threads; restores the thread count.
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

// ---- sum, mean, amax, amin, var ----------------------------------------------------------------

TEST_CASE("sum, mean, amax, amin and var match naive loops over any dims and layouts", "[tensor][reduce]") {
  Generator gen(7);
  for (DType dtype : {DType::f32, DType::f64}) {
    for (auto& [name, a] : layouts(dtype, gen)) {
      for (const auto& dims : kDimSets) {
        for (bool keepdim : {false, true}) {
          INFO(dtype_name(dtype) << " " << name << " dims " << shape_str(Dims(dims)) << " keepdim " << keepdim);
          const auto mask = mask_of(a.dim(), dims);
          const Shape shape = expected_shape(a.shape(), mask, keepdim);
          const double tol = tol_for(dtype);
          check_values(sum(a, dims, keepdim), shape, reference(a, mask, Ref::sum), tol);
          check_values(mean(a, dims, keepdim), shape, reference(a, mask, Ref::mean), tol);
          check_values(amax(a, dims, keepdim), shape, reference(a, mask, Ref::max), 0);
          check_values(amin(a, dims, keepdim), shape, reference(a, mask, Ref::min), 0);
          check_values(var(a, dims, keepdim), shape, reference(a, mask, Ref::var), tol);
          check_values(var(a, dims, keepdim, true), shape, reference(a, mask, Ref::var_unbiased), tol);
          REQUIRE(sum(a, dims, keepdim).dtype() == dtype);
        }
      }
    }
  }
}

TEST_CASE("sum of hand-computed values", "[tensor][reduce]") {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
  REQUIRE(sum(a).item() == 21);
  REQUIRE(sum(a, {0}).to_vector() == std::vector<double>{5, 7, 9});
  REQUIRE(sum(a, {1}).to_vector() == std::vector<double>{6, 15});
  REQUIRE(shape_str(sum(a, {1}, true).shape()) == "[2, 1]");
  REQUIRE(mean(a, {0}).to_vector() == std::vector<double>{2.5, 3.5, 4.5});
  REQUIRE(amax(a, {0}).to_vector() == std::vector<double>{4, 5, 6});
  REQUIRE(amin(a, {1}).to_vector() == std::vector<double>{1, 4});
  REQUIRE(var(a, {1}).to_vector() == std::vector<double>{2.0 / 3, 2.0 / 3});
  REQUIRE(var(a, {1}, false, true).to_vector() == std::vector<double>{1, 1});
  // A scalar reduces to itself.
  REQUIRE(sum(Tensor::scalar(2.5, DType::f64)).item() == 2.5);
  REQUIRE(sum(Tensor::scalar(2.5, DType::f64)).dim() == 0);
}

TEST_CASE("sum over leading dims (the bias gradient) uses whole rows and stays exact", "[tensor][reduce]") {
  Generator gen(3);
  // 600 columns: two full blocks of accumulators and a partial one.
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor a = randn({5, 600}, dtype, gen);
    check_values(sum(a, {0}), {600}, reference(a, mask_of(2, {0}), Ref::sum), tol_for(dtype));
    check_values(mean(a, {0}, true), {1, 600}, reference(a, mask_of(2, {0}), Ref::mean), tol_for(dtype));
    check_values(amax(a, {0}), {600}, reference(a, mask_of(2, {0}), Ref::max), 0);
    Tensor b = randn({3, 4, 5, 300}, dtype, gen);
    check_values(sum(b, {0, 1}), {5, 300}, reference(b, mask_of(4, {0, 1}), Ref::sum), tol_for(dtype));
    check_values(sum(b, {1}), {3, 5, 300}, reference(b, mask_of(4, {1}), Ref::sum), tol_for(dtype));
    check_values(sum(b, {0, 2}), {4, 300}, reference(b, mask_of(4, {0, 2}), Ref::sum), tol_for(dtype));
    // A transposed input makes the kept dim contiguous with the reduced dim strided too.
    Tensor t = randn({300, 7}, dtype, gen).mT();
    check_values(sum(t, {1}), {7}, reference(t, mask_of(2, {1}), Ref::sum), tol_for(dtype));
  }
}

TEST_CASE("i64 sums are exact and amax/amin/argmax accept i64", "[tensor][reduce]") {
  Tensor a = Tensor::from_vector(std::vector<int64_t>{3, -1, 4, 1, -5, 9, 2, 6, -5, 3, 5, 8}, {3, 4});
  REQUIRE(sum(a).dtype() == DType::i64);
  REQUIRE(sum(a).item() == 30);
  REQUIRE(sum(a, {0}).to_vector() == std::vector<double>{-7, 11, 11, 15});
  REQUIRE(sum(a, {1}).to_vector() == std::vector<double>{7, 12, 11});
  REQUIRE(sum(a.mT(), {1}).to_vector() == std::vector<double>{-7, 11, 11, 15});
  REQUIRE(amax(a, {1}).to_vector() == std::vector<double>{4, 9, 8});
  REQUIRE(amin(a).item() == -5);
  REQUIRE(argmin(a, 1).to_vector() == std::vector<double>{1, 0, 0});
  REQUIRE(argmax(a, 0).to_vector() == std::vector<double>{0, 1, 2, 2});
  // Large i64 values, beyond double's 53-bit mantissa, still sum exactly.
  const int64_t big = (int64_t{1} << 60) + 1;
  Tensor b = Tensor::from_vector(std::vector<int64_t>{big, 1, -big, 2}, {4});
  REQUIRE(sum(b).data<int64_t>()[0] == 3);
  // 600 columns of i64 take the column-block path.
  Tensor c = randint(-100, 100, {4, 600});
  check_values(sum(c, {0}), {600}, reference(c, mask_of(2, {0}), Ref::sum), 0);
}

TEST_CASE("f32 sums accumulate in double", "[tensor][reduce]") {
  // A running f32 sum of a million 0.1f drifts to about 100958; the double accumulator keeps
  // the result at f32 rounding of the true 100000.0015.
  Tensor a = Tensor::full({1000000}, 0.1, DType::f32);
  const double truth = 1e6 * static_cast<double>(0.1f);
  REQUIRE(std::abs(sum(a).item() - truth) <= 0.01);
  REQUIRE(std::abs(mean(a).item() - static_cast<double>(0.1f)) <= 1e-8);
  // The same along rows and along columns.
  Tensor rows = a.view({10, 100000});
  for (double s : sum(rows, {1}).to_vector()) REQUIRE(std::abs(s - truth / 10) <= 0.001);
  Tensor cols = a.view({100000, 10});
  for (double s : sum(cols, {0}).to_vector()) REQUIRE(std::abs(s - truth / 10) <= 0.001);
  // var with a large mean: the two-pass formula keeps it (E[x^2] - E[x]^2 would give garbage).
  Tensor b = Tensor::from_vector(std::vector<double>{1e4 + 1, 1e4 - 1, 1e4 + 1, 1e4 - 1}, {4}, DType::f32);
  REQUIRE(var(b).item() == 1.0);
}

TEST_CASE("amax, amin and argmax propagate NaN", "[tensor][reduce]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, NAN, 3, 2, 0, 5, 4, 7, -1, 2, 2, 0, 1, 2, 3, 4, 5, 6, 7, 9},
                                   {2, 10}, dtype);
    std::vector<double> mx = amax(a, {1}).to_vector();
    REQUIRE(std::isnan(mx[0]));
    REQUIRE(mx[1] == 9);
    REQUIRE(std::isnan(amin(a, {1}).to_vector()[0]));
    REQUIRE(std::isnan(amax(a).item()));
    REQUIRE(argmax(a, 1).to_vector() == std::vector<double>{1, 9});
    REQUIRE(argmin(a, 1).to_vector() == std::vector<double>{1, 1});
    // NaN in the column path too.
    REQUIRE(std::isnan(amax(a, {0}).to_vector()[1]));
    REQUIRE(amax(a, {0}).to_vector()[0] == 2);
    REQUIRE(std::isnan(amin(a, {0}).to_vector()[1]));
  }
}

// ---- zero-size dims ----------------------------------------------------------------------------

TEST_CASE("reductions over zero-size dims", "[tensor][reduce]") {
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor a = Tensor::empty({0, 3}, dtype);
    REQUIRE(shape_str(sum(a, {0}).shape()) == "[3]");
    REQUIRE(sum(a, {0}).to_vector() == std::vector<double>{0, 0, 0});
    REQUIRE(sum(a).item() == 0);
    for (double m : mean(a, {0}).to_vector()) REQUIRE(std::isnan(m));
    REQUIRE(std::isnan(mean(a).item()));
    for (double v : var(a, {0}, true).to_vector()) REQUIRE(std::isnan(v));
    // Nothing to reduce into: an empty result, no error.
    REQUIRE(shape_str(sum(a, {1}).shape()) == "[0]");
    REQUIRE(shape_str(amax(a, {1}, true).shape()) == "[0, 1]");
    REQUIRE(shape_str(argmax(a, 1).shape()) == "[0]");
    REQUIRE(shape_str(topk(a, 2, 1).values.shape()) == "[0, 2]");

    REQUIRE_THROWS_AS(amax(a, {0}), ValueError);
    REQUIRE_THROWS_WITH(amax(a, {0}), Catch::Contains("amax") && Catch::Contains("[0, 3]"));
    REQUIRE_THROWS_WITH(amax(a), Catch::Contains("amax") && Catch::Contains("zero-size"));
    REQUIRE_THROWS_AS(amin(a, {-2}), ValueError);
    REQUIRE_THROWS_WITH(amin(a, {-2}), Catch::Contains("amin") && Catch::Contains("[0, 3]"));
    REQUIRE_THROWS_AS(argmax(a, 0), ValueError);
    REQUIRE_THROWS_WITH(argmax(a, 0), Catch::Contains("argmax") && Catch::Contains("[0, 3]"));
    REQUIRE_THROWS_WITH(argmin(a, 0), Catch::Contains("argmin") && Catch::Contains("[0, 3]"));
  }
  Tensor i = Tensor::empty({2, 0}, DType::i64);
  REQUIRE(sum(i, {1}).to_vector() == std::vector<double>{0, 0});
}

// ---- argmax, argmin, topk ----------------------------------------------------------------------

TEST_CASE("argmax and argmin match naive loops and take the first of ties", "[tensor][reduce]") {
  Generator gen(11);
  for (DType dtype : {DType::f32, DType::f64}) {
    for (auto& [name, a] : layouts(dtype, gen)) {
      for (int64_t dim : {0, 1, 2, -1}) {
        for (bool keepdim : {false, true}) {
          INFO(dtype_name(dtype) << " " << name << " dim " << dim << " keepdim " << keepdim);
          const auto mask = mask_of(3, {dim});
          Tensor mx = argmax(a, dim, keepdim), mn = argmin(a, dim, keepdim);
          REQUIRE(mx.dtype() == DType::i64);
          REQUIRE(shape_str(mx.shape()) == shape_str(expected_shape(a.shape(), mask, keepdim)));
          const auto g = groups(a, mask);
          const auto vmx = mx.to_vector(), vmn = mn.to_vector();
          for (size_t o = 0; o < g.size(); ++o) {
            auto first_max = std::max_element(g[o].begin(), g[o].end()) - g[o].begin();
            auto first_min = std::min_element(g[o].begin(), g[o].end()) - g[o].begin();
            REQUIRE(vmx[o] == static_cast<double>(first_max));
            REQUIRE(vmn[o] == static_cast<double>(first_min));
          }
        }
      }
    }
  }
  Tensor ties = Tensor::from_vector(std::vector<double>{1, 3, 3, 0, 0, 3}, {6});
  REQUIRE(argmax(ties, 0).item() == 1);
  REQUIRE(argmin(ties, -1).item() == 3);
  REQUIRE(argmax(ties, 0, true).dim() == 1);
  // A dim of size 1 always gives index 0.
  REQUIRE(argmax(Tensor::ones({3, 1}), 1).to_vector() == std::vector<double>{0, 0, 0});
}

TEST_CASE("topk is sorted, breaks ties by the lower index, along any dim", "[tensor][reduce]") {
  Tensor a = Tensor::from_vector(std::vector<double>{5, 1, 5, 3, 1, 9, 3}, {7});
  TopK t = topk(a, 4);
  REQUIRE(t.values.to_vector() == std::vector<double>{9, 5, 5, 3});
  REQUIRE(t.indices.to_vector() == std::vector<double>{5, 0, 2, 3});
  REQUIRE(t.indices.dtype() == DType::i64);
  TopK s = topk(a, 3, 0, false);
  REQUIRE(s.values.to_vector() == std::vector<double>{1, 1, 3});
  REQUIRE(s.indices.to_vector() == std::vector<double>{1, 4, 3});
  REQUIRE(topk(a, 0).values.numel() == 0);
  REQUIRE(topk(a, 7).indices.to_vector() == std::vector<double>{5, 0, 2, 3, 6, 1, 4});
  // NaN counts as the largest value (PyTorch's order).
  Tensor n = Tensor::from_vector(std::vector<double>{1, NAN, 2}, {3}, DType::f64);
  REQUIRE(topk(n, 1).indices.item() == 1);
  REQUIRE(topk(n, 3, 0, false).indices.to_vector() == std::vector<double>{0, 2, 1});
  // i64
  Tensor i = Tensor::from_vector(std::vector<int64_t>{4, 8, 8, 1}, {4});
  REQUIRE(topk(i, 2).values.to_vector() == std::vector<double>{8, 8});
  REQUIRE(topk(i, 2).values.dtype() == DType::i64);

  // Against a stable sort of each slice, for every dim and layout.
  Generator gen(5);
  for (DType dtype : {DType::f32, DType::f64}) {
    for (auto& [name, x] : layouts(dtype, gen)) {
      for (int64_t dim : {0, 1, 2}) {
        for (bool largest : {true, false}) {
          INFO(name << " dim " << dim << " largest " << largest);
          const int64_t k = x.shape()[static_cast<size_t>(dim)] - 1;
          TopK r = topk(x, k, dim, largest);
          Shape shape = x.shape();
          shape[static_cast<size_t>(dim)] = k;
          REQUIRE(shape_str(r.values.shape()) == shape_str(shape));
          // r moved so that `dim` is last, one slice per row.
          std::vector<int64_t> perm;
          for (int64_t d = 0; d < 3; ++d)
            if (d != dim) perm.push_back(d);
          perm.push_back(dim);
          const auto vals = r.values.permute(perm).to_vector();
          const auto idxs = r.indices.permute(perm).to_vector();
          const auto g = groups(x, mask_of(3, {dim}));
          for (size_t o = 0; o < g.size(); ++o) {
            std::vector<size_t> order(g[o].size());
            for (size_t j = 0; j < order.size(); ++j) order[j] = j;
            std::stable_sort(order.begin(), order.end(), [&](size_t p, size_t q) {
              return largest ? g[o][p] > g[o][q] : g[o][p] < g[o][q];
            });
            for (int64_t j = 0; j < k; ++j) {
              REQUIRE(idxs[o * static_cast<size_t>(k) + static_cast<size_t>(j)] == static_cast<double>(order[static_cast<size_t>(j)]));
              REQUIRE(vals[o * static_cast<size_t>(k) + static_cast<size_t>(j)] == g[o][order[static_cast<size_t>(j)]]);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("topk errors", "[tensor][reduce]") {
  Tensor a = Tensor::zeros({2, 3});
  REQUIRE_THROWS_AS(topk(a, 4), ValueError);
  REQUIRE_THROWS_WITH(topk(a, 4), Catch::Contains("topk") && Catch::Contains("k = 4") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_AS(topk(a, -1), ValueError);
  REQUIRE_THROWS_WITH(topk(a, 3, 0), Catch::Contains("topk") && Catch::Contains("size 2"));
  REQUIRE_THROWS_AS(topk(a, 1, 2), IndexError);
  REQUIRE_THROWS_WITH(topk(a, 1, 2), Catch::Contains("topk") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_AS(topk(Tensor::zeros({2}, DType::boolean), 1), DTypeError);
  REQUIRE_THROWS_WITH(topk(Tensor::zeros({2}, DType::boolean), 1), Catch::Contains("topk") && Catch::Contains("bool"));
}

// ---- sum_to ------------------------------------------------------------------------------------

TEST_CASE("sum_to undoes a broadcast", "[tensor][reduce]") {
  Generator gen(9);
  for (DType dtype : {DType::f32, DType::f64}) {
    for (auto& [name, a] : layouts(dtype, gen)) {
      INFO(dtype_name(dtype) << " " << name);
      const double tol = tol_for(dtype);
      // [2, 3, 4] -> [3, 1]: dim 0 removed, dim 2 summed and kept.
      check_values(sum_to(a, {3, 1}), {3, 1}, reference(a, mask_of(3, {0, 2}), Ref::sum), tol);
      check_values(sum_to(a, {4}), {4}, reference(a, mask_of(3, {0, 1}), Ref::sum), tol);
      check_values(sum_to(a, {}), {}, reference(a, mask_of(3, {}), Ref::sum), tol);
      check_values(sum_to(a, {1, 1, 4}), {1, 1, 4}, reference(a, mask_of(3, {0, 1}), Ref::sum), tol);
      check_values(sum_to(a, {2, 1, 4}), {2, 1, 4}, reference(a, mask_of(3, {1}), Ref::sum), tol);
      check_values(sum_to(a, {1}), {1}, reference(a, mask_of(3, {}), Ref::sum), tol);
      // Nothing to sum: a new tensor with the same values.
      Tensor same = sum_to(a, {2, 3, 4});
      REQUIRE(!same.shares_storage(a));
      REQUIRE(same.is_contiguous());
      REQUIRE(same.to_vector() == a.to_vector());
    }
  }
  // An expanded tensor sums back to its source times the repeat count.
  Tensor v = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::f64);
  REQUIRE(sum_to(v.expand({5, 3}), {3}).to_vector() == std::vector<double>{5, 10, 15});
  REQUIRE(sum_to(v.unsqueeze(1).expand({3, 4}), {3, 1}).to_vector() == std::vector<double>{4, 8, 12});
  // i64, and a zero-size broadcast dim.
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(sum_to(i, {1, 3}).to_vector() == std::vector<double>{5, 7, 9});
  REQUIRE(sum_to(Tensor::empty({0, 3}), {1, 3}).to_vector() == std::vector<double>{0, 0, 0});
}

TEST_CASE("sum_to errors name both shapes", "[tensor][reduce]") {
  Tensor a = Tensor::zeros({2, 3, 4});
  for (const Shape& bad : {Shape{5}, Shape{3, 2}, Shape{2, 2, 3, 4}, Shape{2, 3, 0}, Shape{-1}}) {
    INFO(shape_str(bad));
    REQUIRE_THROWS_AS(sum_to(a, bad), ShapeError);
    REQUIRE_THROWS_WITH(sum_to(a, bad), Catch::Contains("sum_to") && Catch::Contains(shape_str(bad)) &&
                                            Catch::Contains("[2, 3, 4]"));
  }
  REQUIRE_THROWS_AS(sum_to(Tensor::zeros({2}, DType::boolean), {1}), DTypeError);
}

// ---- errors ------------------------------------------------------------------------------------

TEST_CASE("reduction errors name the op, shape and dtype", "[tensor][reduce]") {
  Tensor a = Tensor::zeros({2, 3});
  Tensor b = Tensor::zeros({2, 3}, DType::boolean);
  Tensor i = Tensor::zeros({2, 3}, DType::i64);

  REQUIRE_THROWS_AS(sum(a, {2}), IndexError);
  REQUIRE_THROWS_WITH(sum(a, {2}), Catch::Contains("sum") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_AS(mean(a, {-3}), IndexError);
  REQUIRE_THROWS_WITH(amax(a, {-3}), Catch::Contains("amax") && Catch::Contains("dim -3"));
  REQUIRE_THROWS_AS(sum(a, {1, -1}), ValueError);
  REQUIRE_THROWS_WITH(sum(a, {1, -1}), Catch::Contains("sum") && Catch::Contains("twice"));
  REQUIRE_THROWS_AS(argmax(a, 2), IndexError);
  REQUIRE_THROWS_WITH(argmin(a, -3), Catch::Contains("argmin") && Catch::Contains("dim -3"));

  REQUIRE_THROWS_AS(sum(b), DTypeError);
  REQUIRE_THROWS_WITH(sum(b), Catch::Contains("sum") && Catch::Contains("bool") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(amax(b), Catch::Contains("amax") && Catch::Contains("bool"));
  REQUIRE_THROWS_WITH(amin(b), Catch::Contains("amin") && Catch::Contains("bool"));
  REQUIRE_THROWS_WITH(argmax(b, 0), Catch::Contains("argmax") && Catch::Contains("bool"));
  REQUIRE_THROWS_AS(mean(i), DTypeError);
  REQUIRE_THROWS_WITH(mean(i), Catch::Contains("mean") && Catch::Contains("i64") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_AS(var(i), DTypeError);
  REQUIRE_THROWS_WITH(var(i), Catch::Contains("var") && Catch::Contains("i64"));

  REQUIRE_THROWS_AS(sum(Tensor()), ValueError);
  REQUIRE_THROWS_WITH(sum(Tensor()), Catch::Contains("sum") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(var(Tensor()), Catch::Contains("var") && Catch::Contains("undefined"));
}

// ---- big inputs: the parallel paths ------------------------------------------------------------

TEST_CASE("large reductions match naive loops and do not depend on the thread count", "[tensor][reduce]") {
  // f64 as well as f32: f32 sums go through a double accumulator, whose last bits a different
  // summation order would change without changing the rounded f32 result.
  Generator gen(21);
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor a = randn({200, 300}, dtype, gen);
    Tensor strided = a.slice(1, 0, 300, 2);  // neither the kept nor the reduced dim is contiguous
    struct Case {
      const char* name;
      Tensor input;
      std::vector<int64_t> dims;
    };
    const std::vector<Case> cases = {
        {"rows", a, {1}},          {"columns", a, {0}},        {"all", a, {}},
        {"strided rows", strided, {1}}, {"strided columns", strided, {0}}, {"transposed", a.mT(), {1}},
    };
    for (const auto& c : cases) {
      INFO(dtype_name(dtype) << " " << c.name);
      const auto mask = mask_of(c.input.dim(), c.dims);
      const Shape shape = expected_shape(c.input.shape(), mask, false);
      auto [s1, s2] = with_1_and_2_threads([&] { return sum(c.input, c.dims); });
      REQUIRE(bitwise_equal(s1, s2));
      check_values(sum(c.input, c.dims), shape, reference(c.input, mask, Ref::sum), tol_for(dtype));
      auto [m1, m2] = with_1_and_2_threads([&] { return mean(c.input, c.dims); });
      REQUIRE(bitwise_equal(m1, m2));
      auto [x1, x2] = with_1_and_2_threads([&] { return amax(c.input, c.dims); });
      REQUIRE(bitwise_equal(x1, x2));
      check_values(amax(c.input, c.dims), shape, reference(c.input, mask, Ref::max), 0);
      auto [v1, v2] = with_1_and_2_threads([&] { return var(c.input, c.dims); });
      REQUIRE(bitwise_equal(v1, v2));
      check_values(var(c.input, c.dims), shape, reference(c.input, mask, Ref::var), tol_for(dtype));
    }
    auto [a1, a2] = with_1_and_2_threads([&] { return argmax(a, 1); });
    REQUIRE(a1 == a2);
    auto [b1, b2] = with_1_and_2_threads([&] { return argmin(a, 0); });
    REQUIRE(b1 == b2);
    const auto g = groups(a, mask_of(2, {1}));
    for (size_t o = 0; o < g.size(); ++o)
      REQUIRE(a1[o] == static_cast<double>(std::max_element(g[o].begin(), g[o].end()) - g[o].begin()));
    auto [t1, t2] = with_1_and_2_threads([&] { return topk(a, 5, 1).indices; });
    REQUIRE(t1 == t2);
  }
  Generator igen(22);
  Tensor i = randint(-1000, 1000, {200, 300}, igen);
  auto [i1, i2] = with_1_and_2_threads([&] { return sum(i, {0}); });
  REQUIRE(i1 == i2);
  check_values(sum(i, {0}), {300}, reference(i, mask_of(2, {0}), Ref::sum), 0);
}
