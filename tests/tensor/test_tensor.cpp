// The tensor core: creation, element access, views (and when they must copy), copies, and the
// caching allocator. Expected values are written out by hand or read back with at(), which
// computes each element's address from the strides one index at a time.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

using namespace lumen;

namespace {

std::vector<double> iota(int64_t n, double start = 0) {
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

// 0, 1, 2, ... as f32 in `shape`: every element tells where it came from.
Tensor counting(const Shape& shape, DType dtype = DType::f32) {
  return Tensor::from_vector(iota(shape_numel(shape)), shape, dtype);
}

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Every element of `t` by at(), in row-major order: an independent reading of a strided layout.
std::vector<double> read_by_index(const Tensor& t) {
  std::vector<double> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.at(unravel(i, t.shape())));
  return out;
}

}  // namespace

// ---- creation --------------------------------------------------------------------------------

TEST_CASE("creation functions", "[tensor]") {
  Tensor z = Tensor::zeros({2, 3});
  REQUIRE(z.dtype() == DType::f32);
  REQUIRE(z.shape() == Shape{2, 3});
  REQUIRE(z.strides() == Strides{3, 1});
  REQUIRE(z.dim() == 2);
  REQUIRE(z.numel() == 6);
  REQUIRE(z.nbytes() == 24);
  REQUIRE(z.is_contiguous());
  REQUIRE(z.to_vector() == std::vector<double>(6, 0.0));

  REQUIRE(Tensor::ones({2}, DType::f64).to_vector() == std::vector<double>{1, 1});
  REQUIRE(Tensor::ones({2}, DType::f64).nbytes() == 16);
  REQUIRE(Tensor::full({2, 2}, 2.5, DType::f64).to_vector() == std::vector<double>(4, 2.5));
  REQUIRE(Tensor::full({3}, 7, DType::i64).to_vector() == std::vector<double>(3, 7));
  REQUIRE(Tensor::full({2}, 1, DType::boolean).to_vector() == std::vector<double>{1, 1});
  REQUIRE(Tensor::zeros({3}, DType::boolean).to_vector() == std::vector<double>{0, 0, 0});
  REQUIRE(Tensor::zeros({3}, DType::i64).nbytes() == 24);

  Tensor s = Tensor::scalar(3.5);
  REQUIRE(s.dim() == 0);
  REQUIRE(s.numel() == 1);
  REQUIRE(s.shape().empty());
  REQUIRE(s.item() == 3.5);
  REQUIRE(s.at({}) == 3.5);

  Tensor a = Tensor::arange(5);
  REQUIRE(a.dtype() == DType::i64);
  REQUIRE(a.to_vector() == std::vector<double>{0, 1, 2, 3, 4});
  REQUIRE(Tensor::arange(1, 2, 0.25, DType::f64).to_vector() == std::vector<double>{1, 1.25, 1.5, 1.75});
  REQUIRE(Tensor::arange(0, -1, -0.5).to_vector() == std::vector<double>{0, -0.5});
  REQUIRE(Tensor::arange(0, 1, 0.3).numel() == 4);  // 0, 0.3, 0.6, 0.9
  REQUIRE(Tensor::arange(3, 1, 1).numel() == 0);
  REQUIRE_THROWS_AS(Tensor::arange(0, 1, 0), ValueError);
  REQUIRE_THROWS_WITH(Tensor::arange(0, 1, 0), Catch::Contains("arange"));

  Tensor e = Tensor::eye(3, DType::f64);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) REQUIRE(e.at({i, j}) == (i == j ? 1.0 : 0.0));

  Tensor v = Tensor::from_vector(std::vector<double>{1.5, -2, 3, 4}, {2, 2}, DType::f64);
  REQUIRE(v.dtype() == DType::f64);
  REQUIRE(v.at({1, 0}) == 3);
  REQUIRE(v.at({0, 1}) == -2);
  REQUIRE(Tensor::from_vector(std::vector<double>{1.5, -2.5}, {2}, DType::i64).to_vector() ==
          std::vector<double>{1, -2});  // converted by truncation
  Tensor vf = Tensor::from_vector(std::vector<float>{1.5f, 2.5f}, {2, 1});
  REQUIRE(vf.dtype() == DType::f32);
  REQUIRE(vf.at({1, 0}) == 2.5);
  Tensor vi = Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  REQUIRE(vi.dtype() == DType::i64);
  REQUIRE(vi.to_vector() == std::vector<double>{1, 2, 3});
  const double raw[] = {9, 8, 7};
  Tensor vd = Tensor::from_data(raw, {3});
  REQUIRE(vd.dtype() == DType::f64);
  REQUIRE(vd.to_vector() == std::vector<double>{9, 8, 7});

  REQUIRE_THROWS_AS(Tensor::from_vector(std::vector<double>{1, 2, 3}, {2, 2}), ShapeError);
  REQUIRE_THROWS_WITH(Tensor::from_vector(std::vector<double>{1, 2, 3}, {2, 2}),
                      Catch::Contains("from_vector") && Catch::Contains("3 values") && Catch::Contains("[2, 2]"));
  REQUIRE_THROWS_AS(Tensor::from_vector(std::vector<float>{1}, {2}), ShapeError);
  REQUIRE_THROWS_AS(Tensor::from_vector(std::vector<int64_t>{1}, {3}), ShapeError);
  REQUIRE_THROWS_AS(Tensor::empty({2, -1}), ValueError);
  REQUIRE_THROWS_WITH(Tensor::zeros({2, -1}), Catch::Contains("[2, -1]"));
}

TEST_CASE("zero-size tensors", "[tensor]") {
  Tensor t = Tensor::zeros({0, 3});
  REQUIRE(t.numel() == 0);
  REQUIRE(t.nbytes() == 0);
  REQUIRE(t.to_vector().empty());
  REQUIRE(t.reshape({3, 0}).shape() == Shape{3, 0});
  REQUIRE(t.reshape({-1, 3}).shape() == Shape{0, 3});
  REQUIRE(t.transpose(0, 1).clone().shape() == Shape{3, 0});
  Tensor s = Tensor::arange(5).slice(0, 3, 3);
  REQUIRE(s.numel() == 0);
  REQUIRE(s.clone().numel() == 0);
  REQUIRE(Tensor::ones({1, 3}).expand({0, 3}).numel() == 0);
}

TEST_CASE("metadata and element access", "[tensor]") {
  Tensor t = counting({2, 3, 4});
  REQUIRE(t.size(0) == 2);
  REQUIRE(t.size(-1) == 4);
  REQUIRE(t.size(-3) == 2);
  REQUIRE_THROWS_AS(t.size(3), IndexError);
  REQUIRE_THROWS_WITH(t.size(-4), Catch::Contains("dim -4") && Catch::Contains("rank 3"));
  REQUIRE(t.at({1, 2, 3}) == 23);
  REQUIRE(t.at({-1, -1, 0}) == 20);
  REQUIRE(t.data<float>()[5] == 5);

  REQUIRE_THROWS_AS(t.at({0, 0}), IndexError);
  REQUIRE_THROWS_WITH(t.at({0, 0}), Catch::Contains("at") && Catch::Contains("[2, 3, 4]"));
  REQUIRE_THROWS_AS(t.at({0, 3, 0}), IndexError);
  REQUIRE_THROWS_WITH(t.at({0, 0, -5}), Catch::Contains("index -5") && Catch::Contains("dim 2"));

  REQUIRE_THROWS_AS(t.item(), ValueError);
  REQUIRE_THROWS_WITH(t.item(), Catch::Contains("item") && Catch::Contains("24 elements"));
  REQUIRE(t.slice(1, 2, 3).slice(2, 1, 2).select(0, 1).item() == 21);  // [1, 1] view at an offset

  REQUIRE_THROWS_AS(t.data<double>(), DTypeError);
  REQUIRE_THROWS_WITH(t.data<int64_t>(), Catch::Contains("f32") && Catch::Contains("i64"));

  Tensor u;
  REQUIRE_FALSE(u.defined());
  REQUIRE_THROWS_AS(u.item(), ValueError);
  REQUIRE_THROWS_WITH(u.reshape({1}), Catch::Contains("reshape") && Catch::Contains("undefined"));
  REQUIRE_THROWS_AS(u.clone(), ValueError);
  REQUIRE_THROWS_AS(u.raw_data(), ValueError);
  REQUIRE_THROWS_AS(u.to_vector(), ValueError);
  REQUIRE_THROWS_AS(t.clone().copy_(u), ValueError);
}

// ---- views -----------------------------------------------------------------------------------

TEST_CASE("reshape is a view when it can be and a copy when it must", "[tensor]") {
  Tensor t = counting({2, 3, 4});
  Tensor r = t.reshape({4, -1});
  REQUIRE(r.shape() == Shape{4, 6});
  REQUIRE(r.shares_storage(t));
  REQUIRE(r.to_vector() == iota(24));
  REQUIRE(t.flatten().shape() == Shape{24});
  REQUIRE(t.reshape({24, 1, 1}).shares_storage(t));

  // A transposed tensor cannot be flattened without a copy: reshape copies, in row-major order
  // of the transposed view.
  Tensor tt = counting({3, 4}).transpose(0, 1);
  Tensor f = tt.reshape({12});
  REQUIRE_FALSE(f.shares_storage(tt));
  REQUIRE(f.to_vector() == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});

  REQUIRE_THROWS_AS(t.reshape({5, -1}), ShapeError);
  REQUIRE_THROWS_WITH(t.reshape({5, -1}), Catch::Contains("reshape") && Catch::Contains("[2, 3, 4]") &&
                                              Catch::Contains("[5, -1]"));
  REQUIRE_THROWS_WITH(t.reshape({5, 5}), Catch::Contains("reshape: cannot reshape [2, 3, 4] (24 elements) to [5, 5]"));
  REQUIRE_THROWS_AS(t.reshape({-1, -1}), ValueError);
  REQUIRE_THROWS_AS(t.reshape({-2, -12}), ValueError);
}

TEST_CASE("view never copies, including non-contiguous layouts", "[tensor]") {
  // Every other column of a [4, 6] matrix: strides [6, 2]. Splitting dim 0 needs no copy.
  Tensor base = counting({4, 6});
  Tensor cols = base.slice(1, 0, 6, 2);
  REQUIRE(cols.strides() == Strides{6, 2});
  Tensor v = cols.view({2, 2, 3});
  REQUIRE(v.shares_storage(base));
  REQUIRE(v.strides() == Strides{12, 6, 2});
  REQUIRE(v.to_vector() == cols.to_vector());
  REQUIRE(cols.view({4, 1, 3}).to_vector() == cols.to_vector());

  // A transposed matrix [4, 3] with strides [1, 4]: its dim 0 splits, its dims do not merge.
  Tensor tt = counting({3, 4}).transpose(0, 1);
  Tensor split = tt.view({2, 2, 3});
  REQUIRE(split.shares_storage(tt));
  REQUIRE(split.strides() == Strides{2, 1, 4});
  REQUIRE(read_by_index(split) == read_by_index(tt));
  REQUIRE(tt.view({1, 4, 3, 1}).to_vector() == tt.to_vector());

  REQUIRE_THROWS_AS(tt.view({12}), ShapeError);
  REQUIRE_THROWS_WITH(tt.view({12}), Catch::Contains("view") && Catch::Contains("[4, 3]") &&
                                         Catch::Contains("[12]") && Catch::Contains("reshape()"));
  // Every other column of every row is every other element of the buffer: one stride-2 run.
  REQUIRE(cols.view({12}).strides() == Strides{2});
  REQUIRE(cols.view({12}).to_vector() == cols.to_vector());
  REQUIRE_THROWS_AS(base.slice(1, 0, 4).view({16}), ShapeError);
  REQUIRE_THROWS_AS(tt.view({3, 4}), ShapeError);

  // An expanded (stride 0) dim can be split too: the pieces keep stride 0.
  Tensor e = counting({3, 1}).expand({3, 4});
  Tensor ev = e.view({3, 2, 2});
  REQUIRE(ev.shares_storage(e));
  REQUIRE(ev.to_vector() == e.to_vector());
  REQUIRE(ev.strides()[1] == 0);
  REQUIRE(ev.strides()[2] == 0);

  // Size-1 dims anywhere are free: a permuted [1, 3, 1, 2] regroups without a copy.
  Tensor p = counting({2, 1, 3}).permute({1, 2, 0});  // [1, 3, 2]
  REQUIRE(p.view({3, 1, 2}).shares_storage(p));
  REQUIRE(read_by_index(p.view({3, 1, 2})) == read_by_index(p));
}

TEST_CASE("transpose and permute", "[tensor]") {
  Tensor t = counting({2, 3, 4});
  Tensor tr = t.transpose(0, 2);
  REQUIRE(tr.shape() == Shape{4, 3, 2});
  REQUIRE(tr.shares_storage(t));
  REQUIRE_FALSE(tr.is_contiguous());
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k) REQUIRE(tr.at({i, j, k}) == t.at({k, j, i}));
  REQUIRE(t.transpose(-1, -3).strides() == tr.strides());
  REQUIRE(t.transpose(1, 1).to_vector() == t.to_vector());
  REQUIRE(counting({3, 5}).mT().shape() == Shape{5, 3});
  REQUIRE_THROWS_AS(t.transpose(0, 3), IndexError);
  REQUIRE_THROWS_WITH(t.transpose(0, 3), Catch::Contains("transpose") && Catch::Contains("dim 3"));

  Tensor p = t.permute({2, 0, 1});
  REQUIRE(p.shape() == Shape{4, 2, 3});
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < 3; ++k) REQUIRE(p.at({i, j, k}) == t.at({j, k, i}));
  REQUIRE(t.permute({-1, 0, 1}).strides() == p.strides());
  REQUIRE(p.contiguous().is_contiguous());
  REQUIRE(p.contiguous().to_vector() == read_by_index(p));
  REQUIRE_THROWS_AS(t.permute({0, 1}), ValueError);
  REQUIRE_THROWS_WITH(t.permute({0, 1}), Catch::Contains("permute") && Catch::Contains("[2, 3, 4]"));
  REQUIRE_THROWS_AS(t.permute({0, 1, 1}), ValueError);
  REQUIRE_THROWS_WITH(t.permute({0, 1, -2}), Catch::Contains("permute") && Catch::Contains("twice"));
  REQUIRE_THROWS_AS(t.permute({0, 1, 3}), IndexError);
}

TEST_CASE("slice with negative bounds, steps and clamping", "[tensor]") {
  Tensor x = Tensor::arange(10);
  REQUIRE(x.slice(0, 2, 8, 3).to_vector() == std::vector<double>{2, 5});
  REQUIRE(x.slice(0, 2, 9, 3).to_vector() == std::vector<double>{2, 5, 8});
  REQUIRE(x.slice(0, -3, 10).to_vector() == std::vector<double>{7, 8, 9});
  REQUIRE(x.slice(0, -4, -1, 2).to_vector() == std::vector<double>{6, 8});
  REQUIRE(x.slice(0, 5, 100).to_vector() == std::vector<double>{5, 6, 7, 8, 9});
  REQUIRE(x.slice(0, -100, 3).to_vector() == std::vector<double>{0, 1, 2});
  REQUIRE(x.slice(0, 8, 3).shape() == Shape{0});
  REQUIRE(x.slice(0, 0, 10, 20).to_vector() == std::vector<double>{0});
  REQUIRE_THROWS_AS(x.slice(0, 0, 5, 0), ValueError);
  REQUIRE_THROWS_WITH(x.slice(0, 0, 5, -1), Catch::Contains("slice") && Catch::Contains("-1"));
  REQUIRE_THROWS_AS(x.slice(1, 0, 5), IndexError);

  Tensor m = counting({4, 6});
  Tensor s = m.slice(1, 1, 6, 2).slice(0, -2, 4);  // rows 2, 3; columns 1, 3, 5
  REQUIRE(s.shape() == Shape{2, 3});
  REQUIRE(s.shares_storage(m));
  REQUIRE(read_by_index(s) == std::vector<double>{13, 15, 17, 19, 21, 23});
  REQUIRE(s.to_vector() == read_by_index(s));
  // Writing through the view writes the base.
  s.fill_(-1);
  REQUIRE(m.at({2, 1}) == -1);
  REQUIRE(m.at({3, 5}) == -1);
  REQUIRE(m.at({2, 2}) == 14);
  REQUIRE(m.at({1, 1}) == 7);
}

TEST_CASE("select removes a dim", "[tensor]") {
  Tensor m = counting({3, 4});
  REQUIRE(m.select(0, -1).to_vector() == std::vector<double>{8, 9, 10, 11});
  REQUIRE(m.select(1, 2).to_vector() == std::vector<double>{2, 6, 10});
  REQUIRE(m.select(1, 2).shape() == Shape{3});
  REQUIRE(m.select(-1, 0).select(0, 2).item() == 8);
  REQUIRE(m.select(0, 1).shares_storage(m));
  REQUIRE_THROWS_AS(m.select(0, 3), IndexError);
  REQUIRE_THROWS_WITH(m.select(1, -5), Catch::Contains("select") && Catch::Contains("index -5") &&
                                           Catch::Contains("[3, 4]"));
}

TEST_CASE("expand broadcasts with stride 0", "[tensor]") {
  Tensor c = counting({3, 1});
  Tensor e = c.expand({2, 3, 4});
  REQUIRE(e.shape() == Shape{2, 3, 4});
  REQUIRE(e.strides() == Strides{0, 1, 0});
  REQUIRE(e.shares_storage(c));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) REQUIRE(e.at({i, j, k}) == static_cast<double>(j));
  REQUIRE(c.expand({-1, 5}).shape() == Shape{3, 5});
  REQUIRE(Tensor::scalar(2).expand({2, 2}).to_vector() == std::vector<double>(4, 2));
  REQUIRE(e.clone().to_vector() == read_by_index(e));
  REQUIRE_THROWS_AS(c.expand({4, 4}), ShapeError);
  REQUIRE_THROWS_WITH(c.expand({4, 4}), Catch::Contains("expand") && Catch::Contains("[3, 1]") &&
                                            Catch::Contains("[4, 4]"));
  REQUIRE_THROWS_AS(c.expand({3}), ShapeError);
  REQUIRE_THROWS_AS(c.expand({-1, 3, 1}), ShapeError);
  REQUIRE_THROWS_WITH(c.expand({3, -2}), Catch::Contains("expand") && Catch::Contains("[3, -2]"));
}

TEST_CASE("squeeze and unsqueeze", "[tensor]") {
  Tensor t = counting({3, 1, 2});
  REQUIRE(t.squeeze(1).shape() == Shape{3, 2});
  REQUIRE(t.squeeze(-2).to_vector() == iota(6));
  REQUIRE(t.squeeze(1).shares_storage(t));
  REQUIRE_THROWS_AS(t.squeeze(0), ShapeError);
  REQUIRE_THROWS_WITH(t.squeeze(0), Catch::Contains("squeeze") && Catch::Contains("[3, 1, 2]"));
  REQUIRE(t.unsqueeze(0).shape() == Shape{1, 3, 1, 2});
  REQUIRE(t.unsqueeze(-1).shape() == Shape{3, 1, 2, 1});
  REQUIRE(t.unsqueeze(3).shape() == Shape{3, 1, 2, 1});
  REQUIRE(t.unsqueeze(2).shape() == Shape{3, 1, 1, 2});
  REQUIRE(t.unsqueeze(2).is_contiguous());
  REQUIRE(t.unsqueeze(2).to_vector() == iota(6));
  REQUIRE_THROWS_AS(t.unsqueeze(5), IndexError);
  // On a transposed tensor the values follow the view.
  Tensor tt = counting({2, 3}).transpose(0, 1);
  REQUIRE(tt.unsqueeze(1).to_vector() == tt.to_vector());
  REQUIRE(read_by_index(tt.unsqueeze(1).squeeze(1)) == read_by_index(tt));
}

TEST_CASE("tensors of rank above the inline limit", "[tensor]") {
  Shape shape{2, 1, 3, 1, 2, 1, 2, 1};  // rank 8 > Dims::kInline
  Tensor t = counting(shape);
  REQUIRE(t.dim() == 8);
  REQUIRE(t.strides() == Strides{12, 12, 4, 4, 2, 2, 1, 1});
  REQUIRE(t.at({1, 0, 2, 0, 1, 0, 1, 0}) == 23);
  Tensor p = t.permute({6, 4, 2, 0, 1, 3, 5, 7});
  REQUIRE(p.contiguous().to_vector() == read_by_index(p));
  Tensor u = t.unsqueeze(8).unsqueeze(0);
  REQUIRE(u.dim() == 10);
  REQUIRE(u.squeeze(0).squeeze(-1).shape() == shape);
  REQUIRE(t.reshape({24}).to_vector() == iota(24));
  Tensor v = counting({24}).view(shape);
  REQUIRE(v.is_contiguous());
  REQUIRE(read_by_index(v) == iota(24));
}

// ---- copies ----------------------------------------------------------------------------------

TEST_CASE("contiguous, clone and to", "[tensor]") {
  Tensor t = counting({2, 3});
  REQUIRE(t.contiguous().shares_storage(t));
  Tensor tt = t.transpose(0, 1);
  Tensor c = tt.contiguous();
  REQUIRE_FALSE(c.shares_storage(t));
  REQUIRE(c.is_contiguous());
  REQUIRE(c.strides() == Strides{2, 1});
  REQUIRE(c.to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});

  Tensor k = t.clone();
  REQUIRE_FALSE(k.shares_storage(t));
  k.fill_(9);
  REQUIRE(t.at({0, 0}) == 0);  // the clone is independent

  // Copying a handle aliases.
  Tensor alias = t;
  alias.fill_(4);
  REQUIRE(t.at({1, 2}) == 4);

  Tensor f = Tensor::from_vector(std::vector<double>{2.7, -2.7, 0, 0.5}, {2, 2});
  REQUIRE(f.to(DType::f32).shares_storage(f));  // same dtype: no copy
  Tensor d = f.to(DType::f64);
  REQUIRE(d.dtype() == DType::f64);
  REQUIRE(d.to_vector() == f.to_vector());
  REQUIRE(f.to(DType::i64).to_vector() == std::vector<double>{2, -2, 0, 0});
  REQUIRE(f.to(DType::boolean).to_vector() == std::vector<double>{1, 1, 0, 1});
  REQUIRE(f.transpose(0, 1).to(DType::f64).to_vector() == std::vector<double>{2.7f, 0, -2.7f, 0.5});
}

TEST_CASE("copy_ broadcasts and converts into a view", "[tensor]") {
  Tensor dst = Tensor::zeros({2, 4}, DType::f64);
  Tensor src = Tensor::from_vector(std::vector<int64_t>{5, 6}, {2, 1});
  dst.slice(1, 0, 4, 2).copy_(src);  // columns 0 and 2 of each row
  REQUIRE(dst.to_vector() == std::vector<double>{5, 0, 5, 0, 6, 0, 6, 0});

  Tensor d2 = Tensor::zeros({3, 2});
  d2.copy_(counting({2, 3}).transpose(0, 1));
  REQUIRE(d2.to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});

  REQUIRE_THROWS_AS(dst.copy_(Tensor::zeros({3})), ShapeError);
  REQUIRE_THROWS_WITH(dst.copy_(Tensor::zeros({3})), Catch::Contains("[3]") && Catch::Contains("[2, 4]"));

  Tensor m = counting({3, 3});
  m.transpose(0, 1).select(0, 1).fill_(-1);  // column 1 of m
  REQUIRE(m.to_vector() == std::vector<double>{0, -1, 2, 3, -1, 5, 6, -1, 8});
}

TEST_CASE("large strided copies split across threads give the same result", "[tensor]") {
  // 301 x 203 = 61103 elements, above the parallel grain; with 3 threads the ranges start in
  // the middle of a row, so the odometer's mid-run start is exercised.
  int before = get_num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    Tensor base = counting({203, 301});
    Tensor tt = base.transpose(0, 1);  // [301, 203]
    Tensor c = tt.contiguous();
    std::vector<double> got = c.to_vector();
    bool ok = true;
    for (int64_t i = 0; i < 301 && ok; ++i)
      for (int64_t j = 0; j < 203 && ok; ++j) ok = got[static_cast<size_t>(i * 203 + j)] == static_cast<double>(j * 301 + i);
    INFO("threads = " << threads);
    REQUIRE(ok);

    Tensor big = Tensor::zeros({301, 203});
    big.slice(1, 1, 203, 2).fill_(1);  // odd columns
    std::vector<double> b = big.to_vector();
    double total = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      if (b[i] != static_cast<double>((i % 203) % 2)) ok = false;
      total += b[i];
    }
    REQUIRE(ok);
    REQUIRE(total == 301 * 101);
  }
  set_num_threads(before);
}

// ---- allocator -------------------------------------------------------------------------------

TEST_CASE("the allocator reuses freed buffers and aligns them to 64 bytes", "[tensor]") {
  const Shape shape{12347};  // an unusual size, so the free list is this test's own
  { Tensor warm = Tensor::empty(shape); }
  AllocatorStats before = allocator::stats();
  {
    Tensor t = Tensor::empty(shape);
    AllocatorStats during = allocator::stats();
    REQUIRE(during.cache_hits == before.cache_hits + 1);
    REQUIRE(during.os_allocations == before.os_allocations);
    REQUIRE(during.bytes_in_use ==
            before.bytes_in_use + static_cast<int64_t>(allocator::round_size(t.nbytes())));
    REQUIRE(during.bytes_cached ==
            before.bytes_cached - static_cast<int64_t>(allocator::round_size(t.nbytes())));
  }
  AllocatorStats after = allocator::stats();
  REQUIRE(after.bytes_in_use == before.bytes_in_use);
  REQUIRE(after.os_allocations == before.os_allocations);

  // A training-step-like loop: after the first step no buffer comes from the OS.
  { Tensor a = Tensor::ones({64, 33}), b = Tensor::zeros({33}); }
  allocator::reset_counters();
  for (int step = 0; step < 5; ++step) {
    Tensor a = Tensor::ones({64, 33}), b = Tensor::zeros({33});
  }
  REQUIRE(allocator::stats().os_allocations == 0);
  REQUIRE(allocator::stats().cache_hits == 10);

  for (int64_t n : {1, 3, 17, 63, 64, 65, 100, 1000, 4097, 12345}) {
    Tensor b = Tensor::empty({n}, DType::boolean);
    Tensor f = Tensor::empty({n}, DType::f32);
    REQUIRE(reinterpret_cast<uintptr_t>(b.raw_data()) % 64 == 0);
    REQUIRE(reinterpret_cast<uintptr_t>(f.raw_data()) % 64 == 0);
  }
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{64}, size_t{65}, size_t{512}, size_t{513}, size_t{1000},
                       size_t{1 << 20}, size_t{(1 << 20) + 1}, size_t{123456789}}) {
    size_t r = allocator::round_size(bytes);
    INFO("bytes = " << bytes);
    REQUIRE(r >= bytes);
    REQUIRE(r % 64 == 0);
    if (bytes > 512) REQUIRE(r <= bytes + bytes / 4 + 64);  // at most ~25% waste
  }
}
