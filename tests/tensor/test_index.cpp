// Joining, splitting and indexing ops, against naive loops written here, for contiguous and
// strided inputs, several dtypes, zero sizes and every error.
#include <catch2/catch.hpp>

#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/ops.h"
#include "tensor/random.h"

using namespace lumen;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  Generator g(seed);
  if (dtype == DType::i64) return randint(-50, 50, shape, g);
  return uniform(shape, -1.0, 1.0, dtype, g);
}

Tensor ids(const std::vector<int64_t>& values, const Shape& shape) { return Tensor::from_vector(values, shape); }

// Calls fn(index) for every full index of `shape` in row-major order.
template <class Fn> void for_each_index(const Shape& shape, Fn&& fn) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(index);
    for (size_t d = shape.size(); d-- > 0;)
      if (++index[d] < shape[d]) break;
      else index[d] = 0;
  }
}

// A tensor of `shape` whose element at each index is value(index).
template <class Fn> Tensor build(const Shape& shape, DType dtype, Fn&& value) {
  std::vector<double> values;
  for_each_index(shape, [&](const std::vector<int64_t>& index) { values.push_back(value(index)); });
  return Tensor::from_vector(values, shape, dtype);
}

void require_equal(const Tensor& got, const Tensor& want) {
  REQUIRE(got.dtype() == want.dtype());
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.to_vector() == want.to_vector());
}

}  // namespace

// ---- concat and stack ------------------------------------------------------------------------

TEST_CASE("concat along each dim matches a naive copy", "[tensor][index]") {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    // Three pieces of [2, *, 3] along dim 1, one transposed and one sliced with a step.
    Tensor a = random_tensor({2, 1, 3}, dt, 1);
    Tensor b = random_tensor({3, 4, 2}, dt, 2).permute({2, 1, 0});         // [2, 4, 3]
    Tensor c = random_tensor({2, 4, 3}, dt, 3).slice(1, 0, 4, 2);          // [2, 2, 3]
    Tensor empty = Tensor::zeros({2, 0, 3}, dt);
    for (int64_t dim : {1, -2}) {
      Tensor out = concat({a, b, empty, c}, dim);
      Tensor want = build({2, 7, 3}, dt, [&](const std::vector<int64_t>& i) {
        if (i[1] < 1) return a.at({i[0], i[1], i[2]});
        if (i[1] < 5) return b.at({i[0], i[1] - 1, i[2]});
        return c.at({i[0], i[1] - 5, i[2]});
      });
      require_equal(out, want);
      REQUIRE(out.is_contiguous());
    }
    // Along the first and the last dim, with an expanded piece.
    Tensor e = random_tensor({1, 3}, dt, 4).expand({2, 3});
    Tensor f = random_tensor({3, 3}, dt, 5);
    Tensor rows = concat({e, f}, 0);
    require_equal(rows, build({5, 3}, dt, [&](const std::vector<int64_t>& i) {
                    return i[0] < 2 ? e.at({i[0], i[1]}) : f.at({i[0] - 2, i[1]});
                  }));
    Tensor g = random_tensor({2, 2}, dt, 6);
    Tensor cols = concat({e, g}, -1);
    require_equal(cols, build({2, 5}, dt, [&](const std::vector<int64_t>& i) {
                    return i[1] < 3 ? e.at({i[0], i[1]}) : g.at({i[0], i[1] - 3});
                  }));
  }
}

TEST_CASE("concat of bool tensors, a single tensor and all-empty tensors", "[tensor][index]") {
  Tensor m = tril_mask(2, 2);
  Tensor joined = concat({m, m.mT()}, 0);
  REQUIRE(joined.dtype() == DType::boolean);
  REQUIRE(joined.to_vector() == std::vector<double>{1, 0, 1, 1, 1, 1, 0, 1});
  Tensor one = Tensor::arange(4).reshape({2, 2});
  Tensor copy = concat({one}, 1);
  require_equal(copy, one);
  REQUIRE_FALSE(copy.shares_storage(one));
  REQUIRE(concat({Tensor::zeros({0, 2}), Tensor::zeros({0, 2})}, 0).shape() == Shape{0, 2});
  REQUIRE(concat({Tensor::zeros({0, 2}), Tensor::zeros({0, 3})}, 1).shape() == Shape{0, 5});
}

TEST_CASE("concat errors", "[tensor][index]") {
  REQUIRE_THROWS_AS(concat({}, 0), ValueError);
  REQUIRE_THROWS_WITH(concat({}, 0), Catch::Contains("concat") && Catch::Contains("empty"));
  Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({2, 4});
  REQUIRE_THROWS_AS(concat({a, b}, 0), ShapeError);
  REQUIRE_THROWS_WITH(concat({a, b}, 0),
                      "concat: tensor 1 has shape [2, 4] but tensor 0 has [2, 3]; all dims except dim 0 must match");
  REQUIRE_THROWS_WITH(concat({a, a, Tensor::ones({3, 3})}, -1),
                      "concat: tensor 2 has shape [3, 3] but tensor 0 has [2, 3]; all dims except dim 1 must match");
  REQUIRE_THROWS_WITH(concat({a, Tensor::ones({2, 3, 1})}, 0),
                      Catch::Contains("concat: tensor 1 has shape [2, 3, 1] but tensor 0 has [2, 3]"));
  REQUIRE_THROWS_AS(concat({a, Tensor::ones({2, 3}, DType::f64)}, 0), DTypeError);
  REQUIRE_THROWS_WITH(concat({a, Tensor::ones({2, 3}, DType::f64)}, 0),
                      Catch::Contains("concat: tensor 1 has dtype f64 but tensor 0 has f32"));
  REQUIRE_THROWS_AS(concat({a, b}, 2), IndexError);
  REQUIRE_THROWS_WITH(concat({a, b}, 2), Catch::Contains("concat") && Catch::Contains("dim 2"));
  REQUIRE_THROWS_AS(concat({Tensor::scalar(1), Tensor::scalar(2)}, 0), ShapeError);
  REQUIRE_THROWS_WITH(concat({Tensor::scalar(1)}, 0), Catch::Contains("concat") && Catch::Contains("0-dim"));
  REQUIRE_THROWS_AS(concat({a, Tensor()}, 0), ValueError);
}

TEST_CASE("stack inserts a new dim", "[tensor][index]") {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    Tensor a = random_tensor({2, 3}, dt, 7);
    Tensor b = random_tensor({3, 2}, dt, 8).mT();
    Tensor c = random_tensor({2, 6}, dt, 9).slice(1, 0, 6, 2);
    std::vector<Tensor> xs = {a, b, c};
    for (int64_t dim : {0, 1, 2, -1, -3}) {
      Tensor out = stack(xs, dim);
      const int64_t d = dim < 0 ? dim + 3 : dim;
      Shape shape = {2, 3};
      shape.insert(static_cast<size_t>(d), 3);
      require_equal(out, build(shape, dt, [&](const std::vector<int64_t>& i) {
                      std::vector<int64_t> rest = i;
                      rest.erase(rest.begin() + d);
                      return xs[static_cast<size_t>(i[static_cast<size_t>(d)])].at(rest);
                    }));
    }
  }
  // Scalars stack into a vector; empty tensors into an empty batch.
  REQUIRE(stack({Tensor::scalar(1), Tensor::scalar(2)}).to_vector() == std::vector<double>{1, 2});
  REQUIRE(stack({Tensor::zeros({0, 2}), Tensor::zeros({0, 2})}, 1).shape() == Shape{0, 2, 2});
}

TEST_CASE("stack errors", "[tensor][index]") {
  REQUIRE_THROWS_AS(stack({}), ValueError);
  REQUIRE_THROWS_WITH(stack({}), Catch::Contains("stack") && Catch::Contains("empty"));
  REQUIRE_THROWS_AS(stack({Tensor::ones({2, 3}), Tensor::ones({3, 2})}), ShapeError);
  REQUIRE_THROWS_WITH(stack({Tensor::ones({2, 3}), Tensor::ones({3, 2})}),
                      "stack: tensor 1 has shape [3, 2] but tensor 0 has [2, 3]; all tensors must have the same shape");
  REQUIRE_THROWS_AS(stack({Tensor::ones({2}), Tensor::ones({2}, DType::i64)}), DTypeError);
  REQUIRE_THROWS_WITH(stack({Tensor::ones({2}), Tensor::ones({2}, DType::i64)}),
                      Catch::Contains("stack") && Catch::Contains("i64") && Catch::Contains("f32"));
  REQUIRE_THROWS_AS(stack({Tensor::ones({2})}, 2), IndexError);
  REQUIRE_THROWS_WITH(stack({Tensor::ones({2})}, 2), Catch::Contains("stack") && Catch::Contains("dim 2"));
}

// ---- split and chunk -------------------------------------------------------------------------

TEST_CASE("split and chunk return views", "[tensor][index]") {
  Tensor a = random_tensor({4, 6}, DType::f64, 10).mT();  // [6, 4], not contiguous
  std::vector<Tensor> parts = split(a, {1, 0, 3, 2}, 0);
  REQUIRE(parts.size() == 4);
  REQUIRE(parts[1].shape() == Shape{0, 4});
  int64_t row = 0;
  for (const Tensor& p : parts) {
    REQUIRE(p.shares_storage(a));
    for (int64_t i = 0; i < p.size(0); ++i, ++row)
      for (int64_t j = 0; j < 4; ++j) REQUIRE(p.at({i, j}) == a.at({row, j}));
  }
  REQUIRE(row == 6);

  std::vector<Tensor> cols = chunk(a, 2, -1);
  REQUIRE(cols.size() == 2);
  for (int64_t c = 0; c < 2; ++c) {
    const Tensor& p = cols[static_cast<size_t>(c)];
    REQUIRE(p.shape() == Shape{6, 2});
    REQUIRE(p.shares_storage(a));
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 2; ++j) REQUIRE(p.at({i, j}) == a.at({i, 2 * c + j}));
  }
  // Writing through a part writes into the original: they alias.
  Tensor b = Tensor::zeros({2, 4});
  chunk(b, 4, 1)[3].fill_(7);
  REQUIRE(b.to_vector() == std::vector<double>{0, 0, 0, 7, 0, 0, 0, 7});
  // An empty dim splits into empty parts.
  std::vector<Tensor> empty = chunk(Tensor::zeros({0, 3}), 3, 0);
  REQUIRE(empty.size() == 3);
  REQUIRE(empty[2].shape() == Shape{0, 3});
}

TEST_CASE("split and chunk errors", "[tensor][index]") {
  Tensor a = Tensor::ones({5, 3});
  REQUIRE_THROWS_AS(split(a, {2, 2}, 0), ShapeError);
  REQUIRE_THROWS_WITH(split(a, {2, 2}, 0), "split: sizes [2, 2] sum to 4 but dim 0 of shape [5, 3] has size 5");
  REQUIRE_THROWS_AS(split(a, {6, -1}, 0), ValueError);
  REQUIRE_THROWS_WITH(split(a, {6, -1}, 0), Catch::Contains("split") && Catch::Contains("negative"));
  REQUIRE_THROWS_AS(split(a, {5}, 2), IndexError);
  REQUIRE_THROWS_AS(chunk(a, 2, 0), ShapeError);
  REQUIRE_THROWS_WITH(chunk(a, 2, 0), Catch::Contains("chunk: dim 0 of shape [5, 3] has size 5") &&
                                          Catch::Contains("2 equal chunks"));
  REQUIRE_THROWS_AS(chunk(a, 0, 0), ValueError);
  REQUIRE_THROWS_WITH(chunk(a, -1, 0), Catch::Contains("chunk") && Catch::Contains("-1"));
}

// ---- index_select, gather, embedding ---------------------------------------------------------

TEST_CASE("index_select matches a naive loop", "[tensor][index]") {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    Tensor a = random_tensor({4, 3, 5}, dt, 11).permute({1, 0, 2});  // [3, 4, 5], strided
    // Repeats, reordering, and an index read with a step.
    Tensor index = ids({3, 9, 0, 9, 3, 9, 3, 9, 1, 9}, {10}).slice(0, 0, 10, 2);  // [3, 0, 3, 3, 1]
    for (int64_t dim : {0, 1, 2, -1}) {
      const int64_t d = dim < 0 ? dim + 3 : dim;
      Tensor idx = d == 0 ? index.slice(0, 4, 5) : index;  // dim 0 has size 3: use index [1]
      Shape shape = a.shape();
      shape[static_cast<size_t>(d)] = idx.size(0);
      require_equal(index_select(a, dim, idx), build(shape, dt, [&](const std::vector<int64_t>& i) {
                      std::vector<int64_t> src = i;
                      src[static_cast<size_t>(d)] = static_cast<int64_t>(idx.at({i[static_cast<size_t>(d)]}));
                      return a.at(src);
                    }));
    }
    REQUIRE(index_select(a, 1, ids({}, {0})).shape() == Shape{3, 0, 5});
  }
  // bool tensors too (masks).
  Tensor m = tril_mask(3, 3);
  REQUIRE(index_select(m, 0, ids({2, 0}, {2})).to_vector() == std::vector<double>{1, 1, 1, 1, 0, 0});
}

TEST_CASE("gather matches a naive loop", "[tensor][index]") {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    Tensor a = random_tensor({3, 4, 5}, dt, 12).mT();  // [3, 5, 4], strided
    for (int64_t dim : {0, 1, 2, -2}) {
      const size_t d = static_cast<size_t>(dim < 0 ? dim + 3 : dim);
      // The index may be smaller than the input in every dim, and larger along `dim`.
      Shape ishape = {2, 3, 4};
      ishape[d] = 6;
      Generator g(static_cast<uint64_t>(13 + dim));
      Tensor index = randint(0, a.shape()[d], ishape, g);
      Tensor want = build(ishape, dt, [&](const std::vector<int64_t>& i) {
        std::vector<int64_t> src = i;
        src[d] = static_cast<int64_t>(index.at(i));
        return a.at(src);
      });
      require_equal(gather(a, dim, index), want);
      // A transposed (non-contiguous) index gives the same answer.
      Tensor index_t = index.mT().contiguous().mT();
      REQUIRE_FALSE(index_t.is_contiguous());
      require_equal(gather(a, dim, index_t), want);
    }
  }
  // By hand: picking one class score per row, as cross-entropy does.
  Tensor logits = Tensor::from_vector(std::vector<double>{0.1, 0.2, 0.3, 1.1, 1.2, 1.3}, {2, 3}, DType::f64);
  REQUIRE(gather(logits, 1, ids({2, 0}, {2, 1})).to_vector() == std::vector<double>{0.3, 1.1});
  REQUIRE(gather(logits, 1, ids({}, {2, 0})).shape() == Shape{2, 0});
}

TEST_CASE("gather on a large input uses the threaded loop and stays exact", "[tensor][index]") {
  Tensor a = random_tensor({300, 257}, DType::f32, 14);
  Generator g(15);
  Tensor index = randint(0, 257, {300, 200}, g);
  Tensor out = gather(a, 1, index);
  const float* pa = a.data<float>();
  const int64_t* pi = index.data<int64_t>();
  const float* po = out.data<float>();
  for (int64_t i = 0; i < 300; ++i)
    for (int64_t j = 0; j < 200; ++j) REQUIRE(po[i * 200 + j] == pa[i * 257 + pi[i * 200 + j]]);
}

TEST_CASE("embedding looks up rows", "[tensor][index]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor weight = random_tensor({4, 10}, dt, 16).mT();  // [10, 4], strided
    Tensor x = ids({3, 0, 9, 3, 7, 1}, {2, 3});
    Tensor out = embedding(weight, x);
    REQUIRE(out.shape() == Shape{2, 3, 4});
    require_equal(out, build({2, 3, 4}, dt, [&](const std::vector<int64_t>& i) {
                    return weight.at({static_cast<int64_t>(x.at({i[0], i[1]})), i[2]});
                  }));
    // Non-contiguous ids, a single id (0-dim) and no ids at all.
    require_equal(embedding(weight, x.mT()), build({3, 2, 4}, dt, [&](const std::vector<int64_t>& i) {
                    return weight.at({static_cast<int64_t>(x.at({i[1], i[0]})), i[2]});
                  }));
    Tensor one = embedding(weight, Tensor::scalar(9, DType::i64));
    REQUIRE(one.shape() == Shape{4});
    REQUIRE(one.to_vector() == weight.select(0, 9).to_vector());
    REQUIRE(embedding(weight, ids({}, {0, 5})).shape() == Shape{0, 5, 4});
  }
}

TEST_CASE("index_select, gather and embedding errors", "[tensor][index]") {
  Tensor a = Tensor::ones({3, 2});
  REQUIRE_THROWS_AS(index_select(a, 0, Tensor::ones({2})), DTypeError);
  REQUIRE_THROWS_WITH(index_select(a, 0, Tensor::ones({2})),
                      Catch::Contains("index_select") && Catch::Contains("i64") && Catch::Contains("f32"));
  REQUIRE_THROWS_AS(index_select(a, 0, ids({0, 1}, {1, 2})), ShapeError);
  REQUIRE_THROWS_WITH(index_select(a, 0, ids({0, 1}, {1, 2})),
                      Catch::Contains("index_select") && Catch::Contains("1-D") && Catch::Contains("[1, 2]"));
  REQUIRE_THROWS_AS(index_select(a, 0, ids({0, 5}, {2})), IndexError);
  REQUIRE_THROWS_WITH(index_select(a, 0, ids({0, 5}, {2})),
                      "index_select: index 5 out of range for dim 0 of size 3 (shape [3, 2])");
  REQUIRE_THROWS_WITH(index_select(a, 1, ids({-1}, {1})),
                      "index_select: index -1 out of range for dim 1 of size 2 (shape [3, 2])");
  REQUIRE_THROWS_AS(index_select(a, 2, ids({0}, {1})), IndexError);

  REQUIRE_THROWS_AS(gather(a, 1, Tensor::zeros({3, 1})), DTypeError);
  REQUIRE_THROWS_AS(gather(a, 1, ids({0, 1}, {2})), ShapeError);
  REQUIRE_THROWS_WITH(gather(a, 1, ids({0, 1}, {2})),
                      Catch::Contains("gather") && Catch::Contains("same rank") && Catch::Contains("[3, 2]") &&
                          Catch::Contains("[2]"));
  REQUIRE_THROWS_AS(gather(a, 1, ids({0, 0, 0, 0}, {4, 1})), ShapeError);
  REQUIRE_THROWS_WITH(gather(a, 1, ids({0, 0, 0, 0}, {4, 1})),
                      "gather: index is larger than the input at dim 0 (input shape [3, 2], index shape [4, 1])");
  REQUIRE_THROWS_AS(gather(a, 1, ids({0, 2}, {2, 1})), IndexError);
  REQUIRE_THROWS_WITH(gather(a, 1, ids({0, 2}, {2, 1})),
                      "gather: index 2 out of range for dim 1 of size 2 (input shape [3, 2], index shape [2, 1])");
  REQUIRE_THROWS_WITH(gather(a, 0, ids({-3}, {1, 1})), Catch::Contains("gather: index -3 out of range"));

  Tensor w = Tensor::ones({10, 4});
  REQUIRE_THROWS_AS(embedding(w, ids({1, 12}, {2})), IndexError);
  REQUIRE_THROWS_WITH(embedding(w, ids({1, 12}, {2})),
                      "embedding: id 12 out of range for a table of 10 rows (weight [10, 4])");
  REQUIRE_THROWS_WITH(embedding(w, ids({-1}, {1})),
                      "embedding: id -1 out of range for a table of 10 rows (weight [10, 4])");
  REQUIRE_THROWS_AS(embedding(w, Tensor::zeros({2})), DTypeError);
  REQUIRE_THROWS_WITH(embedding(w, Tensor::zeros({2})), Catch::Contains("embedding") && Catch::Contains("ids"));
  REQUIRE_THROWS_AS(embedding(Tensor::ones({10}), ids({1}, {1})), ShapeError);
  REQUIRE_THROWS_WITH(embedding(Tensor::ones({10}), ids({1}, {1})),
                      Catch::Contains("embedding") && Catch::Contains("2-D") && Catch::Contains("[10]"));
  REQUIRE_THROWS_AS(embedding(Tensor(), ids({1}, {1})), ValueError);
}

// ---- scatter_add and index_add ---------------------------------------------------------------

TEST_CASE("scatter_add by hand, repeated indices accumulate", "[tensor][index]") {
  // out[index[i][j]][j] += src[i][j] (dim 0)
  Tensor src = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, DType::f64);
  Tensor index = ids({0, 1, 0, 0, 1, 2}, {2, 3});
  Tensor out = scatter_add({3, 3}, 0, index, src);
  REQUIRE(out.dtype() == DType::f64);
  REQUIRE(out.to_vector() == std::vector<double>{5, 0, 3, 0, 7, 0, 0, 0, 6});
  // dim 1: all of a row into one column.
  Tensor same = scatter_add({2, 2}, 1, ids({1, 1, 1, 0, 0, 0}, {2, 3}), src);
  REQUIRE(same.to_vector() == std::vector<double>{0, 6, 15, 0});
}

TEST_CASE("scatter_add matches a naive loop and is the transpose of gather", "[tensor][index]") {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    for (int64_t dim : {0, 1, 2, -1}) {
      const size_t d = static_cast<size_t>(dim < 0 ? dim + 3 : dim);
      Shape shape = {3, 4, 5};
      Shape ishape = {2, 3, 4};  // smaller than the output off `dim`, larger along it
      ishape[d] = 7;
      Generator g(static_cast<uint64_t>(20 + dim));
      Tensor index = randint(0, shape[d], ishape, g);
      // src larger than the index, and transposed: only its leading [ishape] block is read.
      Shape sshape = ishape;
      sshape[0] += 1;
      std::swap(sshape[1], sshape[2]);
      Tensor src = random_tensor(sshape, dt, 21).transpose(1, 2);
      Tensor got = scatter_add(shape, dim, index, src);
      std::vector<double> want(static_cast<size_t>(shape_numel(shape)), 0.0);
      for_each_index(ishape, [&](const std::vector<int64_t>& i) {
        std::vector<int64_t> o = i;
        o[d] = static_cast<int64_t>(index.at(i));
        want[static_cast<size_t>((o[0] * shape[1] + o[1]) * shape[2] + o[2])] += src.at(i);
      });
      REQUIRE(got.shape() == shape);
      std::vector<double> gv = got.to_vector();
      for (size_t k = 0; k < want.size(); ++k) REQUIRE(gv[k] == Approx(want[k]).margin(1e-6));
    }
  }
  // <gather(a, index), s> == <a, scatter_add(index, s)>: the two are transposes.
  Tensor a = random_tensor({4, 6}, DType::f64, 22);
  Generator g(23);
  Tensor index = randint(0, 6, {4, 9}, g);
  Tensor s = random_tensor({4, 9}, DType::f64, 24);
  std::vector<double> ga = gather(a, 1, index).to_vector(), sv = s.to_vector();
  std::vector<double> av = a.to_vector(), sc = scatter_add({4, 6}, 1, index, s).to_vector();
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < ga.size(); ++i) lhs += ga[i] * sv[i];
  for (size_t i = 0; i < av.size(); ++i) rhs += av[i] * sc[i];
  REQUIRE(lhs == Approx(rhs).epsilon(1e-12));
}

TEST_CASE("scatter_add and index_add sum repeated indices in a fixed order", "[tensor][index]") {
  // 100000 f32 values into 3 slots: rounding makes the sum order-dependent, so the result must
  // equal a sequential row-major f32 sum bit for bit, whatever the thread count.
  const int64_t n = 100000;
  Tensor src = random_tensor({n}, DType::f32, 25);
  Generator g(26);
  Tensor index = randint(0, 3, {n}, g);
  std::vector<float> want(3, 0.0f);
  const float* ps = src.data<float>();
  const int64_t* pi = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) want[static_cast<size_t>(pi[i])] += ps[i];
  auto check = [&] {
    Tensor s = scatter_add({3}, 0, index, src);
    Tensor a = index_add({3}, 0, index, src);
    for (int64_t k = 0; k < 3; ++k) {
      REQUIRE(s.data<float>()[k] == want[static_cast<size_t>(k)]);
      REQUIRE(a.data<float>()[k] == want[static_cast<size_t>(k)]);
    }
  };
  check();
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  check();
  omp_set_num_threads(4);
  check();
  omp_set_num_threads(saved);
#endif
}

TEST_CASE("index_add matches a naive loop", "[tensor][index]") {
  // By hand: rows 0 and 2 of src both land in row 1.
  Tensor src = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64);
  REQUIRE(index_add({2, 2}, 0, ids({1, 0, 1}, {3}), src).to_vector() == std::vector<double>{3, 4, 6, 8});
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    for (int64_t dim : {0, 1, 2}) {
      const size_t d = static_cast<size_t>(dim);
      Shape shape = {3, 4, 2};
      // Read with a step, so the index is not contiguous.
      Tensor index = ids({2, 9, 0, 9, 2, 9, 1, 9, 0, 9}, {10}).slice(0, 0, 10, 2);
      if (shape[d] < 3) index = ids({1, 0, 1, 1, 0}, {5});
      Shape sshape = shape;
      sshape[d] = 5;
      Tensor src3 = random_tensor({sshape[2], sshape[1], sshape[0]}, dt, 27).permute({2, 1, 0});
      Tensor got = index_add(shape, dim, index, src3);
      std::vector<double> want(static_cast<size_t>(shape_numel(shape)), 0.0);
      for_each_index(sshape, [&](const std::vector<int64_t>& i) {
        std::vector<int64_t> o = i;
        o[d] = static_cast<int64_t>(index.at({i[d]}));
        want[static_cast<size_t>((o[0] * shape[1] + o[1]) * shape[2] + o[2])] += src3.at(i);
      });
      std::vector<double> gv = got.to_vector();
      for (size_t k = 0; k < want.size(); ++k) REQUIRE(gv[k] == Approx(want[k]).margin(1e-6));
    }
  }
  // An empty index adds nothing.
  REQUIRE(index_add({2, 3}, 1, ids({}, {0}), Tensor::zeros({2, 0})).to_vector() == std::vector<double>(6, 0.0));
}

TEST_CASE("scatter_add and index_add errors", "[tensor][index]") {
  Tensor src = Tensor::ones({2, 3});
  Tensor index = ids({0, 1, 0, 0, 1, 2}, {2, 3});
  REQUIRE_THROWS_AS(scatter_add({3, 3}, 0, Tensor::zeros({2, 3}), src), DTypeError);
  REQUIRE_THROWS_AS(scatter_add({3, 3}, 0, index, Tensor::zeros({2, 3}, DType::boolean)), DTypeError);
  REQUIRE_THROWS_WITH(scatter_add({3, 3}, 0, index, Tensor::zeros({2, 3}, DType::boolean)),
                      Catch::Contains("scatter_add") && Catch::Contains("bool"));
  REQUIRE_THROWS_AS(scatter_add({3}, 0, index, src), ShapeError);
  REQUIRE_THROWS_WITH(scatter_add({3}, 0, index, src),
                      Catch::Contains("scatter_add") && Catch::Contains("same rank") &&
                          Catch::Contains("output shape [3], index shape [2, 3], src shape [2, 3]"));
  REQUIRE_THROWS_AS(scatter_add({3, 3}, 0, index, Tensor::ones({2, 2})), ShapeError);
  REQUIRE_THROWS_WITH(scatter_add({3, 3}, 0, index, Tensor::ones({2, 2})),
                      Catch::Contains("scatter_add: index is larger than src at dim 1"));
  REQUIRE_THROWS_WITH(scatter_add({3, 2}, 0, index, src),
                      Catch::Contains("scatter_add: index is larger than the output at dim 1"));
  REQUIRE_THROWS_AS(scatter_add({2, 3}, 0, index, src), IndexError);
  REQUIRE_THROWS_WITH(scatter_add({2, 3}, 0, index, src),
                      "scatter_add: index 2 out of range for dim 0 of size 2 (output shape [2, 3], index shape "
                      "[2, 3], src shape [2, 3])");
  REQUIRE_THROWS_WITH(scatter_add({3, 3}, 0, ids({0, -1, 0, 0, 1, 2}, {2, 3}), src),
                      Catch::Contains("scatter_add: index -1 out of range"));
  REQUIRE_THROWS_AS(scatter_add({3, 3}, 5, index, src), IndexError);

  Tensor rows = Tensor::ones({3, 2});
  REQUIRE_THROWS_AS(index_add({2, 2}, 0, ids({0, 1, 0}, {3}), Tensor::ones({3, 3})), ShapeError);
  REQUIRE_THROWS_WITH(index_add({2, 2}, 0, ids({0, 1, 0}, {3}), Tensor::ones({3, 3})),
                      "index_add: src must have shape [3, 2] (output shape [2, 2], index shape [3], src shape "
                      "[3, 3])");
  REQUIRE_THROWS_AS(index_add({2, 2}, 0, ids({0, 1, 0}, {3}), Tensor::ones({6})), ShapeError);
  REQUIRE_THROWS_AS(index_add({2, 2}, 0, ids({0, 1, 0}, {1, 3}), rows), ShapeError);
  REQUIRE_THROWS_WITH(index_add({2, 2}, 0, ids({0, 1, 0}, {1, 3}), rows),
                      Catch::Contains("index_add") && Catch::Contains("1-D"));
  REQUIRE_THROWS_AS(index_add({2, 2}, 0, ids({0, 2, 0}, {3}), rows), IndexError);
  REQUIRE_THROWS_WITH(index_add({2, 2}, 0, ids({0, 2, 0}, {3}), rows),
                      Catch::Contains("index_add: index 2 out of range for dim 0 of size 2"));
  REQUIRE_THROWS_AS(index_add({2, 2}, 0, Tensor::zeros({3}), rows), DTypeError);
  REQUIRE_THROWS_AS(index_add({2, 2}, 0, ids({0, 1, 0}, {3}), Tensor::zeros({3, 2}, DType::boolean)), DTypeError);
}

// ---- one_hot and tril_mask -------------------------------------------------------------------

TEST_CASE("one_hot", "[tensor][index]") {
  Tensor x = ids({2, 0, 3, 2}, {2, 2});
  for (DType dt : {DType::f32, DType::f64, DType::i64, DType::boolean}) {
    Tensor out = one_hot(x, 4, dt);
    REQUIRE(out.dtype() == dt);
    require_equal(out, build({2, 2, 4}, dt, [&](const std::vector<int64_t>& i) {
                    return x.at({i[0], i[1]}) == static_cast<double>(i[2]) ? 1.0 : 0.0;
                  }));
  }
  // Non-contiguous ids, and empty cases.
  REQUIRE(one_hot(x.mT(), 4).to_vector() ==
          std::vector<double>{0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0});
  REQUIRE(one_hot(ids({}, {0}), 3).shape() == Shape{0, 3});
  REQUIRE(one_hot(ids({}, {0}), 0).shape() == Shape{0, 0});
  REQUIRE_THROWS_AS(one_hot(x, 3), IndexError);
  REQUIRE_THROWS_WITH(one_hot(x, 3), "one_hot: id 3 out of range for 3 classes (ids shape [2, 2])");
  REQUIRE_THROWS_WITH(one_hot(ids({-1}, {1}), 3), Catch::Contains("one_hot: id -1 out of range"));
  REQUIRE_THROWS_AS(one_hot(Tensor::zeros({2}), 3), DTypeError);
  REQUIRE_THROWS_WITH(one_hot(Tensor::zeros({2}), 3), Catch::Contains("one_hot") && Catch::Contains("f32"));
  REQUIRE_THROWS_AS(one_hot(x, -1), ValueError);
}

TEST_CASE("tril_mask", "[tensor][index]") {
  for (int64_t diagonal : {-1, 0, 2}) {
    Tensor m = tril_mask(3, 4, diagonal);
    REQUIRE(m.dtype() == DType::boolean);
    require_equal(m, build({3, 4}, DType::boolean, [&](const std::vector<int64_t>& i) {
                    return i[1] <= i[0] + diagonal ? 1.0 : 0.0;
                  }));
  }
  // The causal mask of attention: row i sees columns 0..i.
  REQUIRE(tril_mask(3, 3).to_vector() == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1});
  REQUIRE(tril_mask(0, 5).shape() == Shape{0, 5});
  REQUIRE_THROWS_AS(tril_mask(-1, 2), ValueError);
  REQUIRE_THROWS_WITH(tril_mask(2, -3), Catch::Contains("tril_mask") && Catch::Contains("-3"));
}
