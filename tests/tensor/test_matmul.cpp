// matmul: torch.matmul's 1-D / 2-D / batched cases, broadcast batch dims, views passed without
// copies, zero sizes and errors, checked against a naive loop written here.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tensor/kernels/gemm.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

using namespace lumen;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed) {
  Generator g(seed);
  return uniform(shape, -1.0, 1.0, dtype, g);
}

// The product of two tensors of rank >= 2 by the definition: batch dims broadcast (a size-1 or
// missing dim repeats), then out[..., i, j] = sum_p a[..., i, p] * b[..., p, j], summed in
// double. Deliberately slow and simple: it reads elements one at a time with at().
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  const size_t ra = a.shape().size(), rb = b.shape().size();
  const size_t nb = std::max(ra, rb) - 2;
  Shape out_shape;
  for (size_t d = 0; d < nb; ++d) {
    int64_t x = d + ra >= nb + 2 ? a.shape()[d + ra - nb - 2] : 1;
    int64_t y = d + rb >= nb + 2 ? b.shape()[d + rb - nb - 2] : 1;
    out_shape.push_back(x == 1 ? y : x);
  }
  const int64_t M = a.shape()[ra - 2], K = a.shape()[ra - 1], N = b.shape()[rb - 1];
  out_shape.push_back(M);
  out_shape.push_back(N);
  std::vector<double> values;
  std::vector<int64_t> index(nb, 0);
  const int64_t batches = shape_numel(out_shape) / std::max<int64_t>(M * N, 1);
  for (int64_t bi = 0; bi < (M * N == 0 ? 0 : batches); ++bi) {
    // Index of this batch entry in a and b: drop missing leading dims, pin size-1 dims to 0.
    std::vector<int64_t> ia, ib;
    for (size_t d = 0; d < nb; ++d) {
      if (d + ra >= nb + 2) ia.push_back(a.shape()[d + ra - nb - 2] == 1 ? 0 : index[d]);
      if (d + rb >= nb + 2) ib.push_back(b.shape()[d + rb - nb - 2] == 1 ? 0 : index[d]);
    }
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t p = 0; p < K; ++p) {
          std::vector<int64_t> ea = ia, eb = ib;
          ea.push_back(i);
          ea.push_back(p);
          eb.push_back(p);
          eb.push_back(j);
          s += a.at(ea) * b.at(eb);
        }
        values.push_back(s);
      }
    for (size_t d = nb; d-- > 0;)
      if (++index[d] < out_shape[d]) break;
      else index[d] = 0;
  }
  if (values.empty()) return Tensor::zeros(out_shape, DType::f64);
  return Tensor::from_vector(values, out_shape, DType::f64);
}

// Same shape, and every element within tol of the expectation (relative for large values).
void require_close(const Tensor& got, const Tensor& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  std::vector<double> g = got.to_vector(), w = want.to_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": got " << g[i] << ", want " << w[i]);
    REQUIRE(std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i])));
  }
}

double tol_for(DType dt) { return dt == DType::f32 ? 1e-5 : 1e-12; }

}  // namespace

TEST_CASE("matmul of small matrices by hand", "[tensor][matmul]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, dt);
    Tensor b = Tensor::from_vector(std::vector<double>{7, 8, 9, 10, 11, 12}, {3, 2}, dt);
    Tensor c = matmul(a, b);
    REQUIRE(c.dtype() == dt);
    REQUIRE(c.shape() == Shape{2, 2});
    REQUIRE(c.to_vector() == std::vector<double>{58, 64, 139, 154});
    REQUIRE(c.is_contiguous());
    // The inputs are left alone.
    REQUIRE(a.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  }
}

TEST_CASE("matmul with 1-D operands", "[tensor][matmul]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor v = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, dt);
    Tensor w = Tensor::from_vector(std::vector<double>{4, 5, 6}, {3}, dt);
    Tensor m = Tensor::from_vector(std::vector<double>{1, 0, 2, -1, 3, 1}, {3, 2}, dt);  // [[1,0],[2,-1],[3,1]]

    SECTION("1-D x 1-D is a dot product with a 0-dim result") {
      Tensor d = matmul(v, w);
      REQUIRE(d.shape() == Shape{});
      REQUIRE(d.item() == 32);
    }
    SECTION("1-D x 2-D: the vector is a row, then the row dim is dropped") {
      Tensor r = matmul(v, m);
      REQUIRE(r.shape() == Shape{2});
      REQUIRE(r.to_vector() == std::vector<double>{14, 1});
    }
    SECTION("2-D x 1-D: the vector is a column, then the column dim is dropped") {
      Tensor r = matmul(m.mT(), v);  // [2, 3] x [3]
      REQUIRE(r.shape() == Shape{2});
      REQUIRE(r.to_vector() == std::vector<double>{14, 1});
    }
    SECTION("1-D x N-D and N-D x 1-D broadcast over the batch") {
      Tensor b = random_tensor({4, 3, 2}, dt, 1);
      Tensor r = matmul(v, b);
      REQUIRE(r.shape() == Shape{4, 2});
      require_close(r, naive_matmul(v.unsqueeze(0), b).squeeze(-2), tol_for(dt));
      Tensor a = random_tensor({2, 4, 3}, dt, 2);
      Tensor s = matmul(a, w);
      REQUIRE(s.shape() == Shape{2, 4});
      require_close(s, naive_matmul(a, w.unsqueeze(1)).squeeze(-1), tol_for(dt));
    }
    SECTION("strided 1-D operands") {
      Tensor big = Tensor::from_vector(std::vector<double>{1, 9, 2, 9, 3, 9}, {6}, dt);
      REQUIRE(matmul(big.slice(0, 0, 6, 2), w).item() == 32);
    }
  }
}

TEST_CASE("matmul of 2-D matrices against a naive loop", "[tensor][matmul]") {
  for (DType dt : {DType::f32, DType::f64}) {
    // Sizes past a few micro-tiles and cache blocks, with ragged edges.
    for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {5, 7, 3}, {17, 33, 9}, {67, 129, 45}}) {
      Tensor a = random_tensor({M, K}, dt, 10), b = random_tensor({K, N}, dt, 11);
      Tensor want = naive_matmul(a, b);
      require_close(matmul(a, b), want, tol_for(dt));
      // Transposed views go straight in (as swapped strides) and give the same product.
      Tensor at = a.mT().contiguous().mT(), bt = b.mT().contiguous().mT();
      REQUIRE(at.strides()[0] == 1);
      require_close(matmul(at, b), want, tol_for(dt));
      require_close(matmul(a, bt), want, tol_for(dt));
      require_close(matmul(at, bt), want, tol_for(dt));
    }
  }
}

TEST_CASE("matmul with sliced, expanded and permuted operands", "[tensor][matmul]") {
  for (DType dt : {DType::f32, DType::f64}) {
    SECTION("slices with steps in both dims") {
      Tensor a = random_tensor({9, 12}, dt, 3).slice(0, 1, 9, 2).slice(1, 0, 12, 3);  // [4, 4]
      Tensor b = random_tensor({8, 10}, dt, 4).slice(0, 0, 8, 2).slice(1, 3, 8);     // [4, 5]
      require_close(matmul(a, b), naive_matmul(a, b), tol_for(dt));
    }
    SECTION("an expanded operand (row or column stride 0)") {
      Tensor row = random_tensor({1, 4}, dt, 5).expand({3, 4});
      Tensor col = random_tensor({4, 1}, dt, 6).expand({4, 6});
      require_close(matmul(row, col), naive_matmul(row, col), tol_for(dt));
    }
    SECTION("permuted batch dims that do not flatten to one stride") {
      Tensor a = random_tensor({3, 2, 4, 5}, dt, 7).permute({1, 0, 2, 3});  // [2, 3, 4, 5]
      Tensor b = random_tensor({2, 3, 5, 6}, dt, 8).mT().contiguous().mT(); // [2, 3, 5, 6] transposed
      REQUIRE_FALSE(a.is_contiguous());
      require_close(matmul(a, b), naive_matmul(a, b), tol_for(dt));
    }
    SECTION("a batch taken with a step") {
      Tensor a = random_tensor({6, 3, 4}, dt, 9).slice(0, 0, 6, 2);  // [3, 3, 4]
      Tensor b = random_tensor({3, 4, 2}, dt, 10);
      require_close(matmul(a, b), naive_matmul(a, b), tol_for(dt));
    }
  }
}

TEST_CASE("batched matmul with broadcast batch dims", "[tensor][matmul]") {
  for (DType dt : {DType::f32, DType::f64}) {
    SECTION("same batch shapes") {
      Tensor a = random_tensor({2, 3, 4, 5}, dt, 20), b = random_tensor({2, 3, 5, 6}, dt, 21);
      Tensor c = matmul(a, b);
      REQUIRE(c.shape() == Shape{2, 3, 4, 6});
      require_close(c, naive_matmul(a, b), tol_for(dt));
      // Batched transposes: Q K^T as attention computes it.
      Tensor k = random_tensor({2, 3, 6, 5}, dt, 22);
      require_close(matmul(a, k.mT()), naive_matmul(a, k.mT()), tol_for(dt));
    }
    SECTION("[2, 1, 3, 4] x [5, 4, 2] -> [2, 5, 3, 2]") {
      Tensor a = random_tensor({2, 1, 3, 4}, dt, 23), b = random_tensor({5, 4, 2}, dt, 24);
      Tensor c = matmul(a, b);
      REQUIRE(c.shape() == Shape{2, 5, 3, 2});
      require_close(c, naive_matmul(a, b), tol_for(dt));
      // Swapping the roles: [5, 2, 4] x [2, 1, 4, 3]
      Tensor d = matmul(b.mT(), a.mT());
      REQUIRE(d.shape() == Shape{2, 5, 2, 3});
      require_close(d, naive_matmul(b.mT(), a.mT()), tol_for(dt));
    }
    SECTION("one matrix for the whole batch, on either side") {
      Tensor x = random_tensor({3, 7, 5}, dt, 25), w = random_tensor({6, 5}, dt, 26);
      require_close(matmul(x, w.mT()), naive_matmul(x, w.mT()), tol_for(dt));         // [3, 7, 6]
      require_close(matmul(x, w.mT().unsqueeze(0)), naive_matmul(x, w.mT().unsqueeze(0)), tol_for(dt));
      require_close(matmul(w, x.mT()), naive_matmul(w, x.mT()), tol_for(dt));         // [3, 6, 7]
      // A transposed left operand whose rows do not flatten with its batch.
      Tensor xt = random_tensor({3, 5, 7}, dt, 27).mT();                               // [3, 7, 5]
      require_close(matmul(xt, w.mT()), naive_matmul(xt, w.mT()), tol_for(dt));
    }
    SECTION("size-1 batch dims on both sides and an explicitly expanded batch") {
      Tensor a = random_tensor({1, 4, 1, 2, 3}, dt, 28), b = random_tensor({2, 1, 5, 3, 2}, dt, 29);
      Tensor c = matmul(a, b);
      REQUIRE(c.shape() == Shape{2, 4, 5, 2, 2});
      require_close(c, naive_matmul(a, b), tol_for(dt));
      Tensor e = random_tensor({1, 3, 4}, dt, 30).expand({6, 3, 4});
      Tensor f = random_tensor({6, 4, 2}, dt, 31);
      require_close(matmul(e, f), naive_matmul(e, f), tol_for(dt));
    }
  }
}

TEST_CASE("matmul with zero sizes", "[tensor][matmul]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = matmul(Tensor::ones({0, 3}, dt), Tensor::ones({3, 4}, dt));
    REQUIRE(a.shape() == Shape{0, 4});
    Tensor b = matmul(Tensor::ones({2, 3}, dt), Tensor::ones({3, 0}, dt));
    REQUIRE(b.shape() == Shape{2, 0});
    // An empty inner dim is an empty sum: zeros.
    Tensor c = matmul(Tensor::ones({2, 0}, dt), Tensor::ones({0, 3}, dt));
    REQUIRE(c.shape() == Shape{2, 3});
    REQUIRE(c.to_vector() == std::vector<double>(6, 0.0));
    REQUIRE(matmul(Tensor::ones({0}, dt), Tensor::ones({0}, dt)).item() == 0);
    Tensor d = matmul(Tensor::ones({0, 2, 3}, dt), Tensor::ones({3, 4}, dt));
    REQUIRE(d.shape() == Shape{0, 2, 4});
    Tensor e = matmul(Tensor::ones({3, 1, 2, 0}, dt), Tensor::ones({4, 0, 5}, dt));
    REQUIRE(e.shape() == Shape{3, 4, 2, 5});
    REQUIRE(e.to_vector() == std::vector<double>(120, 0.0));
  }
}

TEST_CASE("matmul gives the same numbers with every gemm kernel and thread count", "[tensor][matmul]") {
  // Cases that take each path through matmul: one flat gemm, one batched call, and a loop over
  // batched calls; with transposed and broadcast operands and ragged sizes.
  Tensor x = random_tensor({3, 19, 13}, DType::f32, 40), w = random_tensor({11, 13}, DType::f32, 41);
  Tensor q = random_tensor({2, 3, 9, 8}, DType::f64, 42), k = random_tensor({2, 3, 10, 8}, DType::f64, 43);
  Tensor a = random_tensor({2, 1, 7, 5}, DType::f64, 44), b = random_tensor({4, 5, 6}, DType::f64, 45);
  auto run_all = [&] {
    return std::vector<Tensor>{matmul(x, w.mT()), matmul(q, k.mT()), matmul(a, b)};
  };
  const std::vector<Tensor> want = {naive_matmul(x, w.mT()), naive_matmul(q, k.mT()), naive_matmul(a, b)};
  const int saved_threads = get_num_threads();
  set_num_threads(1);
  const std::vector<Tensor> one_thread = run_all();
  set_num_threads(2);
  const std::vector<Tensor> two_threads = run_all();
  set_num_threads(saved_threads);
  for (size_t i = 0; i < want.size(); ++i) {
    require_close(one_thread[i], want[i], tol_for(one_thread[i].dtype()));
    REQUIRE(one_thread[i].to_vector() == two_threads[i].to_vector());
  }
  for (const char* kernel : {"portable", "avx2", "avx512"}) {
    try {
      kernels::gemm_force_kernel(kernel);
    } catch (const std::runtime_error&) {
      continue;  // this CPU cannot run it
    }
    INFO("kernel " << kernel);
    const std::vector<Tensor> got = run_all();
    for (size_t i = 0; i < want.size(); ++i) require_close(got[i], want[i], tol_for(got[i].dtype()));
  }
  kernels::gemm_force_kernel("auto");
}

TEST_CASE("matmul errors name the op, the shapes and the dtypes", "[tensor][matmul]") {
  Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 5});
  REQUIRE_THROWS_AS(matmul(a, b), ShapeError);
  REQUIRE_THROWS_WITH(matmul(a, b), "matmul: shapes [2, 3] and [4, 5] do not match (inner dims 3 vs 4)");
  REQUIRE_THROWS_WITH(matmul(Tensor::ones({3}), Tensor::ones({4})),
                      "matmul: shapes [3] and [4] do not match (inner dims 3 vs 4)");
  REQUIRE_THROWS_WITH(matmul(Tensor::ones({3}), Tensor::ones({2, 4, 5})),
                      "matmul: shapes [3] and [2, 4, 5] do not match (inner dims 3 vs 4)");
  REQUIRE_THROWS_AS(matmul(Tensor::ones({2, 3, 4}), Tensor::ones({5, 4, 2})), ShapeError);
  REQUIRE_THROWS_WITH(matmul(Tensor::ones({2, 3, 4}), Tensor::ones({5, 4, 2})),
                      Catch::Contains("matmul: shapes [2, 3, 4] and [5, 4, 2]") &&
                          Catch::Contains("batch dims [2] and [5] cannot broadcast"));
  REQUIRE_THROWS_AS(matmul(Tensor::scalar(2), Tensor::ones({2})), ShapeError);
  REQUIRE_THROWS_WITH(matmul(Tensor::scalar(2), Tensor::ones({2})),
                      Catch::Contains("matmul") && Catch::Contains("[]") && Catch::Contains("at least 1 dim"));
  REQUIRE_THROWS_AS(matmul(Tensor::ones({2, 2}, DType::f32), Tensor::ones({2, 2}, DType::f64)), DTypeError);
  REQUIRE_THROWS_WITH(matmul(Tensor::ones({2, 2}, DType::f32), Tensor::ones({2, 2}, DType::f64)),
                      Catch::Contains("matmul") && Catch::Contains("f32") && Catch::Contains("f64"));
  REQUIRE_THROWS_AS(matmul(Tensor::ones({2, 2}, DType::i64), Tensor::ones({2, 2}, DType::i64)), DTypeError);
  REQUIRE_THROWS_WITH(matmul(Tensor::ones({2, 2}), Tensor::ones({2, 2}, DType::i64)),
                      Catch::Contains("matmul") && Catch::Contains("i64") && Catch::Contains("[2, 2]"));
  REQUIRE_THROWS_AS(matmul(Tensor(), Tensor::ones({2})), ValueError);
}
