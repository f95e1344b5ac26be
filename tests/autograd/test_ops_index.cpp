// Indexing ops on Vars: index_select, gather, index_add, scatter_add and embedding. Repeated
// indices must add their gradients up; padding rows must get none.
#include <catch2/catch.hpp>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/random.h"

using namespace lumen;

namespace {
Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}
Tensor ids(std::vector<int64_t> values, const Shape& shape) { return Tensor::from_vector(values, shape); }

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
}  // namespace

// ---- index_select -----------------------------------------------------------------------------

TEST_CASE("index_select: repeated indices accumulate their gradients", "[autograd]") {
  Var x(Tensor::from_vector({1.0, 2.0, 3.0, 4.0}, {4}, DType::f64), true);
  Var y = index_select(x, 0, ids({0, 0, 2, 0}, {4}));
  REQUIRE(y.value().to_vector() == std::vector<double>{1.0, 1.0, 3.0, 1.0});
  y.backward(Tensor::from_vector({1.0, 10.0, 100.0, 1000.0}, {4}, DType::f64));
  REQUIRE(x.grad().to_vector() == std::vector<double>{1011.0, 0.0, 100.0, 0.0});
  REQUIRE(std::string(y.node()->op()) == "index_select");
  REQUIRE(y.node()->attrs() == "dim=0");
}

TEST_CASE("index_select: gradcheck along every dim, repeated indices, non-contiguous", "[autograd][gradcheck]") {
  Tensor x = randn64({3, 4, 2}, 1);
  for (int64_t dim : {0, 1, 2, -1}) {
    const int64_t n = x.size(dim);
    Tensor index = ids({n - 1, 0, n - 1, 0, 0}, {5});
    INFO("dim " << dim);
    require_gradcheck([dim, index](const std::vector<Var>& v) { return index_select(v[0], dim, index); }, {x});
  }
  Tensor index = ids({1, 1, 0}, {3});
  require_gradcheck([index](const std::vector<Var>& v) { return index_select(v[0], 1, index); },
                    {randn64({4, 3}, 2).transpose(0, 1)});
  require_gradcheck([index](const std::vector<Var>& v) { return index_select(slice(v[0], 0, 0, 6, 2), 0, index); },
                    {randn64({6, 2}, 3)});
}

// ---- gather -----------------------------------------------------------------------------------

TEST_CASE("gather: values and accumulated gradients", "[autograd]") {
  // out[i][j] = x[i][index[i][j]] along dim 1.
  Var x(Tensor::from_vector({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, DType::f64), true);
  Var y = gather(x, 1, ids({2, 2, 0, 1, 1, 1}, {2, 3}));
  REQUIRE(y.value().to_vector() == std::vector<double>{3.0, 3.0, 1.0, 5.0, 5.0, 5.0});
  y.backward(Tensor::from_vector({1.0, 2.0, 4.0, 8.0, 16.0, 32.0}, {2, 3}, DType::f64));
  REQUIRE(x.grad().to_vector() == std::vector<double>{4.0, 0.0, 3.0, 0.0, 56.0, 0.0});
}

TEST_CASE("gather: gradcheck along each dim and on non-contiguous input", "[autograd][gradcheck]") {
  Tensor x = randn64({3, 4}, 4);
  Tensor index0 = ids({2, 0, 0, 1, 2, 2, 0, 0, 1, 1, 1, 1}, {3, 4});  // along dim 0 (values < 3)
  require_gradcheck([index0](const std::vector<Var>& v) { return gather(v[0], 0, index0); }, {x});
  Tensor index1 = ids({3, 3, 0, 1, 1, 2}, {3, 2});  // along dim 1 (values < 4), fewer columns
  require_gradcheck([index1](const std::vector<Var>& v) { return gather(v[0], 1, index1); }, {x});
  require_gradcheck([index1](const std::vector<Var>& v) { return gather(v[0], -1, index1); },
                    {randn64({4, 3}, 5).transpose(0, 1)});
  Tensor index3 = ids({0, 1, 1, 0, 1, 0, 0, 0}, {2, 2, 2});
  require_gradcheck([index3](const std::vector<Var>& v) { return gather(slice(v[0], 2, 0, 4, 2), 2, index3); },
                    {randn64({2, 2, 4}, 6)});
}

// ---- index_add and scatter_add ----------------------------------------------------------------

TEST_CASE("index_add: values, and its gradient is index_select", "[autograd]") {
  Var src(Tensor::from_vector({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 2}, DType::f64), true);
  Var y = index_add({2, 2}, 0, ids({1, 0, 1}, {3}), src);
  REQUIRE(y.value().to_vector() == std::vector<double>{3.0, 4.0, 6.0, 8.0});
  y.backward(Tensor::from_vector({1.0, 2.0, 3.0, 4.0}, {2, 2}, DType::f64));
  REQUIRE(src.grad().to_vector() == std::vector<double>{3.0, 4.0, 1.0, 2.0, 3.0, 4.0});
}

TEST_CASE("index_add: gradcheck w.r.t. src", "[autograd][gradcheck]") {
  Tensor index = ids({2, 0, 2, 2}, {4});
  require_gradcheck([index](const std::vector<Var>& v) { return index_add({2, 3, 2}, 1, index, v[0]); },
                    {randn64({2, 4, 2}, 7)});
  require_gradcheck([index](const std::vector<Var>& v) { return index_add({3, 5}, 0, index, v[0]); },
                    {randn64({5, 4}, 8).transpose(0, 1)});
}

TEST_CASE("scatter_add: values, and its gradient is gather", "[autograd]") {
  Var src(Tensor::from_vector({1.0, 2.0, 3.0, 4.0}, {2, 2}, DType::f64), true);
  Var y = scatter_add({2, 3}, 1, ids({2, 2, 0, 1}, {2, 2}), src);
  REQUIRE(y.value().to_vector() == std::vector<double>{0.0, 0.0, 3.0, 3.0, 4.0, 0.0});
  y.backward(Tensor::from_vector({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, DType::f64));
  REQUIRE(src.grad().to_vector() == std::vector<double>{3.0, 3.0, 4.0, 5.0});
}

TEST_CASE("scatter_add: gradcheck w.r.t. src", "[autograd][gradcheck]") {
  Tensor index = ids({0, 2, 2, 1, 0, 0}, {2, 3});
  require_gradcheck([index](const std::vector<Var>& v) { return scatter_add({2, 4}, 1, index, v[0]); },
                    {randn64({2, 3}, 9)});
  require_gradcheck([index](const std::vector<Var>& v) { return scatter_add({3, 3}, 0, index, v[0]); },
                    {randn64({3, 2}, 10).transpose(0, 1)});
}

TEST_CASE("index_add and scatter_add: their backward is differentiable again", "[autograd][gradcheck]") {
  // With create_graph, the gradient of src is index_select(g) / gather(g), a function of g.
  Tensor index = ids({1, 1, 0}, {3});
  Var src(randn64({3, 2}, 11), true);
  Var g(randn64({2, 2}, 12), true);
  Var y = index_add({2, 2}, 0, index, src);
  std::vector<Var> d = grad({y}, {src}, {g}, {.create_graph = true});
  REQUIRE(d[0].requires_grad());
  sum(d[0]).backward();
  // d(sum(index_select(g)))/dg counts how often each row of g was selected.
  REQUIRE(g.grad().to_vector() == std::vector<double>{1.0, 1.0, 2.0, 2.0});
}

// ---- embedding --------------------------------------------------------------------------------

TEST_CASE("embedding: rows for every id, and repeated ids accumulate", "[autograd]") {
  Var w(Tensor::from_vector({0.0, 1.0, 10.0, 11.0, 20.0, 21.0}, {3, 2}, DType::f64), true);
  Tensor id = ids({2, 0, 2, 2}, {2, 2});
  Var y = embedding(w, id);
  REQUIRE(y.shape() == Shape{2, 2, 2});
  REQUIRE(y.value().to_vector() == std::vector<double>{20.0, 21.0, 0.0, 1.0, 20.0, 21.0, 20.0, 21.0});
  Tensor g = Tensor::from_vector({1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}, {2, 2, 2}, DType::f64);
  y.backward(g);
  REQUIRE(w.grad().to_vector() == std::vector<double>{3.0, 4.0, 0.0, 0.0, 13.0, 16.0});
}

TEST_CASE("embedding: padding_idx rows get a zero gradient", "[autograd]") {
  Var w(randn64({4, 3}, 13), true);
  Tensor id = ids({1, 3, 1, 0, 3}, {5});
  Var y = embedding(w, id, /*padding_idx=*/1);
  // The forward still reads the padding row.
  REQUIRE(allclose(y.value().select(0, 0), w.value().select(0, 1), 0, 0));
  Tensor g = randn64({5, 3}, 14);
  y.backward(g);
  std::vector<double> gw = w.grad().to_vector();
  for (size_t j = 0; j < 3; ++j) {
    REQUIRE(gw[0 * 3 + j] == g.at({3, static_cast<int64_t>(j)}));
    REQUIRE(gw[1 * 3 + j] == 0.0);
    REQUIRE(gw[2 * 3 + j] == 0.0);
    REQUIRE(gw[3 * 3 + j] == Approx(g.at({1, static_cast<int64_t>(j)}) + g.at({4, static_cast<int64_t>(j)})));
  }
  REQUIRE(y.node()->attrs() == "padding_idx=1");
  // Without padding_idx the same lookups send row 1 its two gradients.
  Var w2(w.value(), true);
  embedding(w2, id).backward(g);
  REQUIRE(w2.grad().at({1, 0}) == Approx(g.at({0, 0}) + g.at({2, 0})));
}

TEST_CASE("embedding: gradcheck with repeated and non-contiguous ids", "[autograd][gradcheck]") {
  Tensor id = ids({0, 4, 4, 2, 0, 0}, {2, 3});
  require_gradcheck([id](const std::vector<Var>& v) { return embedding(v[0], id); }, {randn64({5, 3}, 15)});
  Tensor ids_transposed = id.transpose(0, 1);  // [3, 2], non-contiguous
  require_gradcheck([ids_transposed](const std::vector<Var>& v) { return embedding(v[0], ids_transposed); },
                    {randn64({5, 3}, 16)});
  require_gradcheck([id](const std::vector<Var>& v) { return embedding(v[0], id); },
                    {randn64({3, 5}, 17).transpose(0, 1)});
  // Scalar ids give a single row.
  Tensor one = Tensor::from_vector(std::vector<int64_t>{3}, {});
  require_gradcheck([one](const std::vector<Var>& v) { return embedding(v[0], one); }, {randn64({5, 2}, 18)});
}

TEST_CASE("embedding: with padding_idx, the other rows still pass gradcheck", "[autograd][gradcheck]") {
  // The padding row's true derivative is not zero (the forward reads it), so the check covers a
  // function in which the padding id never occurs; the test above covers the padding row.
  Tensor id = ids({0, 2, 2, 3}, {4});
  require_gradcheck([id](const std::vector<Var>& v) { return embedding(v[0], id, 1); }, {randn64({4, 2}, 19)});
}

TEST_CASE("embedding: bad ids and a bad padding_idx are IndexErrors", "[autograd]") {
  Var w(randn64({4, 3}, 20), true);
  REQUIRE_THROWS_AS(embedding(w, ids({0, 4}, {2})), IndexError);
  REQUIRE_THROWS_WITH(embedding(w, ids({0, 4}, {2})), Catch::Contains("embedding"));
  REQUIRE_THROWS_AS(embedding(w, ids({0, 1}, {2}), 4), IndexError);
  REQUIRE_THROWS_WITH(embedding(w, ids({0, 1}, {2}), 4),
                      Catch::Contains("embedding") && Catch::Contains("padding_idx 4") && Catch::Contains("[4, 3]"));
}

TEST_CASE("index ops: out-of-range indices are IndexErrors naming the op", "[autograd]") {
  Var x(randn64({3, 2}, 21), true);
  REQUIRE_THROWS_AS(index_select(x, 0, ids({3}, {1})), IndexError);
  REQUIRE_THROWS_WITH(index_select(x, 0, ids({3}, {1})), Catch::Contains("index_select"));
  REQUIRE_THROWS_AS(gather(x, 1, ids({0, 2, 1, 0, 0, 1}, {3, 2})), IndexError);
  REQUIRE_THROWS_WITH(gather(x, 1, ids({0, 2, 1, 0, 0, 1}, {3, 2})), Catch::Contains("gather"));
}
