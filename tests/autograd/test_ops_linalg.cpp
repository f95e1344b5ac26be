// matmul on Vars: every torch.matmul case (1-D, 2-D, batched, broadcast batch dims), against a
// naive loop for the values and central differences for first and second derivatives.
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

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
void require_gradgradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradgradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}

const VarFunction kMatmul = [](const std::vector<Var>& v) { return matmul(v[0], v[1]); };

// C[i, j] = sum_p A[i, p] B[p, j] for 2-D tensors of any layout.
Tensor naive_matmul(const Tensor& A, const Tensor& B) {
  const int64_t M = A.size(0), K = A.size(1), N = B.size(1);
  std::vector<double> c(static_cast<size_t>(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t p = 0; p < K; ++p) c[static_cast<size_t>(i * N + j)] += A.at({i, p}) * B.at({p, j});
  return Tensor::from_vector(c, {M, N}, DType::f64);
}
}  // namespace

TEST_CASE("matmul: forward equals a naive loop, also on transposed operands", "[autograd]") {
  Tensor A = randn64({3, 4}, 1), B = randn64({5, 4}, 2).transpose(0, 1);
  Var C = matmul(Var(A, true), Var(B, true));
  REQUIRE(C.shape() == Shape{3, 5});
  REQUIRE(allclose(C.value(), naive_matmul(A, B), 1e-12, 1e-12));
  REQUIRE(std::string(C.node()->op()) == "matmul");
}

TEST_CASE("matmul: gradients of sum(A @ B) are row and column sums", "[autograd]") {
  // dL/dA[i, p] = sum_j B[p, j], dL/dB[p, j] = sum_i A[i, p].
  Var A(Tensor::from_vector({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3}, DType::f64), true);
  Var B(Tensor::from_vector({1.0, -1.0, 2.0, 0.5, 0.0, 3.0}, {3, 2}, DType::f64), true);
  sum(matmul(A, B)).backward();
  REQUIRE(A.grad().to_vector() == std::vector<double>{0.0, 2.5, 3.0, 0.0, 2.5, 3.0});
  REQUIRE(B.grad().to_vector() == std::vector<double>{5.0, 5.0, 7.0, 7.0, 9.0, 9.0});
}

TEST_CASE("matmul: gradcheck for matrices of random shapes", "[autograd][gradcheck]") {
  Generator gen(3);
  for (uint64_t trial = 0; trial < 5; ++trial) {
    const int64_t M = 1 + static_cast<int64_t>(gen.below(4)), K = 1 + static_cast<int64_t>(gen.below(4)),
                  N = 1 + static_cast<int64_t>(gen.below(4));
    INFO("M " << M << " K " << K << " N " << N);
    require_gradcheck(kMatmul, {randn64({M, K}, 10 + trial), randn64({K, N}, 20 + trial)});
  }
}

TEST_CASE("matmul: gradcheck for 1-D operands", "[autograd][gradcheck]") {
  SECTION("dot") { require_gradcheck(kMatmul, {randn64({4}, 30), randn64({4}, 31)}); }
  SECTION("vector x matrix") { require_gradcheck(kMatmul, {randn64({3}, 32), randn64({3, 2}, 33)}); }
  SECTION("matrix x vector") { require_gradcheck(kMatmul, {randn64({2, 3}, 34), randn64({3}, 35)}); }
  SECTION("vector x batch of matrices") { require_gradcheck(kMatmul, {randn64({3}, 36), randn64({2, 3, 4}, 37)}); }
  SECTION("batch of matrices x vector") { require_gradcheck(kMatmul, {randn64({2, 2, 3}, 38), randn64({3}, 39)}); }
}

TEST_CASE("matmul: the shapes of 1-D results and gradients", "[autograd]") {
  Var a(randn64({3}, 40), true), b(randn64({3}, 41), true), M(randn64({2, 3, 4}, 42), true);
  Var dot = matmul(a, b);
  REQUIRE(dot.shape() == Shape{});
  REQUIRE(dot.item() == Approx(lumen::sum(lumen::mul(a.value(), b.value())).item()));
  dot.backward();
  REQUIRE(allclose(a.grad(), b.value(), 0, 0));  // d(a . b)/da = b
  Var vm = matmul(a, M);
  REQUIRE(vm.shape() == Shape{2, 4});
  sum(vm).backward();
  REQUIRE(a.grad().shape() == Shape{3});
  REQUIRE(M.grad().shape() == Shape{2, 3, 4});
}

TEST_CASE("matmul: gradcheck for batched and broadcast batch dims", "[autograd][gradcheck]") {
  SECTION("same batch") { require_gradcheck(kMatmul, {randn64({2, 3, 4}, 50), randn64({2, 4, 2}, 51)}); }
  SECTION("[2, 1, 3, 4] x [5, 4, 2]") {
    require_gradcheck(kMatmul, {randn64({2, 1, 3, 4}, 52), randn64({5, 4, 2}, 53)});
  }
  SECTION("one weight for a batch: [2, 3, 4] x [4, 5]") {
    require_gradcheck(kMatmul, {randn64({2, 3, 4}, 54), randn64({4, 5}, 55)});
  }
  SECTION("one matrix times a batch: [3, 4] x [2, 4, 5]") {
    require_gradcheck(kMatmul, {randn64({3, 4}, 56), randn64({2, 4, 5}, 57)});
  }
  SECTION("size-1 batch dims on both sides: [1, 2, 2, 3] x [3, 1, 3, 2]") {
    require_gradcheck(kMatmul, {randn64({1, 2, 2, 3}, 58), randn64({3, 1, 3, 2}, 59)});
  }
}

TEST_CASE("matmul: broadcast batch gradients equal the sum over the broadcast copies", "[autograd]") {
  // [2, 1, 3, 4] x [5, 4, 2]: each A[i] meets all five B[k]; each B[k] meets both A[i].
  Tensor A = randn64({2, 1, 3, 4}, 60), B = randn64({5, 4, 2}, 61), G = randn64({2, 5, 3, 2}, 62);
  Var a(A, true), b(B, true);
  Var C = matmul(a, b);
  REQUIRE(C.shape() == Shape{2, 5, 3, 2});
  C.backward(G);
  for (int64_t i = 0; i < 2; ++i) {
    Tensor want = Tensor::zeros({3, 4}, DType::f64);
    for (int64_t k = 0; k < 5; ++k)
      want = lumen::add(want, naive_matmul(G.select(0, i).select(0, k), B.select(0, k).transpose(0, 1)));
    REQUIRE(allclose(a.grad().select(0, i).select(0, 0), want, 1e-10, 1e-10));
  }
  for (int64_t k = 0; k < 5; ++k) {
    Tensor want = Tensor::zeros({4, 2}, DType::f64);
    for (int64_t i = 0; i < 2; ++i)
      want = lumen::add(want, naive_matmul(A.select(0, i).select(0, 0).transpose(0, 1), G.select(0, i).select(0, k)));
    REQUIRE(allclose(b.grad().select(0, k), want, 1e-10, 1e-10));
  }
}

TEST_CASE("matmul: gradcheck on non-contiguous operands", "[autograd][gradcheck]") {
  SECTION("transposed leaves") {
    require_gradcheck(kMatmul, {randn64({4, 3}, 70).transpose(0, 1), randn64({2, 4}, 71).transpose(0, 1)});
  }
  SECTION("transposes inside the function") {
    require_gradcheck([](const std::vector<Var>& v) { return matmul(transpose(v[0], -1, -2), transpose(v[1], 0, 1)); },
                      {randn64({2, 4, 3}, 72), randn64({2, 4}, 73)});
  }
  SECTION("step slices") {
    require_gradcheck([](const std::vector<Var>& v) { return matmul(slice(v[0], 1, 0, 8, 2), slice(v[1], 0, 1, 8, 2)); },
                      {randn64({3, 8}, 74), randn64({8, 2}, 75)});
  }
  SECTION("an expanded batch") {
    require_gradcheck([](const std::vector<Var>& v) { return matmul(expand(v[0], {3, 2, 4}), v[1]); },
                      {randn64({1, 2, 4}, 76), randn64({3, 4, 2}, 77)});
  }
  SECTION("a permuted batch times one weight") {
    require_gradcheck([](const std::vector<Var>& v) { return matmul(permute(v[0], {1, 0, 2}), v[1]); },
                      {randn64({3, 2, 4}, 78), randn64({4, 2}, 79)});
  }
}

TEST_CASE("matmul: gradgradcheck", "[autograd][gradcheck]") {
  SECTION("matrices") { require_gradgradcheck(kMatmul, {randn64({2, 3}, 80), randn64({3, 2}, 81)}); }
  SECTION("broadcast batch") { require_gradgradcheck(kMatmul, {randn64({2, 1, 2, 3}, 82), randn64({3, 3, 2}, 83)}); }
  SECTION("one weight for a batch") { require_gradgradcheck(kMatmul, {randn64({2, 2, 3}, 84), randn64({3, 2}, 85)}); }
  SECTION("1-D") {
    require_gradgradcheck(kMatmul, {randn64({3}, 86), randn64({3, 2}, 87)});
    require_gradgradcheck(kMatmul, {randn64({3}, 88), randn64({3}, 89)});
  }
  SECTION("a product with itself") {
    // x^T x: the second derivative meets both operand slots of one leaf.
    require_gradgradcheck([](const std::vector<Var>& v) { return matmul(transpose(v[0], 0, 1), v[0]); },
                          {randn64({3, 2}, 90)});
  }
}

TEST_CASE("matmul: an operand that needs no grad gets none, and the other is still right", "[autograd]") {
  Var a(randn64({2, 3}, 91), true);
  Var b(randn64({3, 4}, 92), false);
  sum(matmul(a, b)).backward();
  REQUIRE_FALSE(b.grad().defined());
  REQUIRE(allclose(a.grad(), lumen::sum(b.value(), {1}).unsqueeze(0).expand({2, 3}), 1e-12, 1e-12));
}

TEST_CASE("matmul: zero-size dims give zero-size or zero gradients", "[autograd]") {
  Var a(Tensor::zeros({2, 0}, DType::f64), true), b(Tensor::zeros({0, 3}, DType::f64), true);
  Var c = matmul(a, b);
  REQUIRE(c.shape() == Shape{2, 3});
  REQUIRE(c.value().to_vector() == std::vector<double>(6, 0.0));
  c.backward(Tensor::ones({2, 3}, DType::f64));
  REQUIRE(a.grad().shape() == Shape{2, 0});
  REQUIRE(b.grad().shape() == Shape{0, 3});
  Var d(Tensor::zeros({0, 2, 3}, DType::f64), true), w(randn64({3, 4}, 93), true);
  matmul(d, w).backward(Tensor::zeros({0, 2, 4}, DType::f64));
  REQUIRE(w.grad().to_vector() == std::vector<double>(12, 0.0));
}

TEST_CASE("matmul: f32 gradients agree with f64", "[autograd]") {
  Tensor A = randn64({2, 3, 4}, 94), B = randn64({4, 5}, 95), G = randn64({2, 3, 5}, 96);
  Var a32(A.to(DType::f32), true), b32(B.to(DType::f32), true), a64(A, true), b64(B, true);
  matmul(a32, b32).backward(G.to(DType::f32));
  matmul(a64, b64).backward(G);
  REQUIRE(allclose(a32.grad().to(DType::f64), a64.grad(), 1e-4, 1e-4));
  REQUIRE(allclose(b32.grad().to(DType::f64), b64.grad(), 1e-4, 1e-4));
}

TEST_CASE("matmul: mismatched inner dims are a ShapeError naming both shapes", "[autograd]") {
  Var a(randn64({2, 3}, 97), true), b(randn64({4, 2}, 98), true);
  REQUIRE_THROWS_AS(matmul(a, b), ShapeError);
  REQUIRE_THROWS_WITH(matmul(a, b), Catch::Contains("matmul") && Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  Var s(Tensor::scalar(1.0, DType::f64), true);
  REQUIRE_THROWS_WITH(matmul(s, b), Catch::Contains("matmul"));
}
