// Custom ops (autograd/function.h): a learner's op with a Tensor forward and backward works like a
// built-in, and a backward that returns the wrong gradients fails with a message naming the op.
#include <catch2/catch.hpp>

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/gradcheck.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "tensor/random.h"

using namespace lumen;

namespace {
Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}

// y = x^2, the exercise's example.
struct Square {
  static constexpr const char* name = "square";
  // x [*] -> y [*]
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return lumen::mul(x, x);
  }
  // dL/dy [*] -> {dL/dx [*]}
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad_y) {
    const Tensor& x = ctx.saved_tensors()[0];
    return {lumen::mul(grad_y, lumen::mul(x, 2.0))};
  }
};

// y = a * b (broadcasting), with a backward that skips inputs that need no gradient. It also
// passes a number from forward to backward through ctx.values.
struct Product {
  static constexpr const char* name = "product";
  static Tensor forward(Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save_for_backward({a, b});
    ctx.values = {static_cast<double>(a.dim())};
    return lumen::mul(a, b);
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    const Tensor& a = ctx.saved_tensors()[0];
    const Tensor& b = ctx.saved_tensors()[1];
    REQUIRE(ctx.values == std::vector<double>{static_cast<double>(a.dim())});
    return {ctx.needs_input_grad(0) ? lumen::sum_to(lumen::mul(g, b), a.shape()) : Tensor(),
            ctx.needs_input_grad(1) ? lumen::sum_to(lumen::mul(g, a), b.shape()) : Tensor()};
  }
};

// A derivative that is off by a factor: gradcheck must catch it.
struct WrongSquare {
  static constexpr const char* name = "wrong_square";
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save_for_backward({x});
    return lumen::mul(x, x);
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {lumen::mul(g, lumen::mul(ctx.saved_tensors()[0], 3.0))};
  }
};

struct TwoGrads {
  static constexpr const char* name = "square";
  static Tensor forward(Context&, const Tensor& x) { return lumen::mul(x, x); }
  static std::vector<Tensor> backward(Context&, const Tensor& g) { return {g, g}; }
};

struct SummedGrad {
  static constexpr const char* name = "square";
  static Tensor forward(Context&, const Tensor& x) { return lumen::mul(x, x); }
  static std::vector<Tensor> backward(Context&, const Tensor& g) { return {lumen::sum(g, {0})}; }
};

struct F32Grad {
  static constexpr const char* name = "to_f32";
  static Tensor forward(Context&, const Tensor& x) { return x.clone(); }
  static std::vector<Tensor> backward(Context&, const Tensor& g) { return {g.to(DType::f32)}; }
};
}  // namespace

TEST_CASE("custom op: Square gives x^2 forward and 2 x g backward", "[autograd]") {
  Var x(Tensor::from_vector({1.0, -2.0, 3.0}, {3}, DType::f64), true);
  Var y = apply<Square>(x);
  REQUIRE(y.value().to_vector() == std::vector<double>{1.0, 4.0, 9.0});
  REQUIRE(std::string(y.node()->op()) == "square");
  REQUIRE(y.node()->saved_spec().extra.size() == 1);
  y.backward(Tensor::from_vector({1.0, 10.0, 100.0}, {3}, DType::f64));
  REQUIRE(x.grad().to_vector() == std::vector<double>{2.0, -40.0, 600.0});
}

TEST_CASE("custom op: Square composes with built-in ops like a built-in", "[autograd]") {
  // L = sum(square(A @ B)) = sum(C^2): dL/dA = 2 C B^T.
  Var A(randn64({2, 3}, 1), true), B(randn64({3, 4}, 2), true);
  Var C = matmul(A, B);
  sum(apply<Square>(C) * 0.5).backward();
  Tensor want = lumen::matmul(C.value(), B.value().transpose(0, 1));
  REQUIRE(allclose(A.grad(), want, 1e-12, 1e-12));
  // The same through the built-in square.
  Var A2(A.value(), true);
  sum(square(matmul(A2, B)) * 0.5).backward();
  REQUIRE(allclose(A.grad(), A2.grad(), 1e-12, 1e-12));
}

TEST_CASE("custom op: gradcheck passes for Square and Product, and fails for a wrong backward",
          "[autograd][gradcheck]") {
  GradcheckResult r = gradcheck([](const std::vector<Var>& v) { return apply<Square>(v[0]); }, {randn64({2, 3}, 3)});
  INFO(r.summary());
  REQUIRE(r.passed);
  GradcheckResult p = gradcheck([](const std::vector<Var>& v) { return apply<Product>(v[0], v[1]); },
                                {randn64({2, 3}, 4), randn64({3}, 5)});
  INFO(p.summary());
  REQUIRE(p.passed);
  GradcheckResult bad = gradcheck([](const std::vector<Var>& v) { return apply<WrongSquare>(v[0]); },
                                  {randn64({2, 3}, 6)});
  REQUIRE_FALSE(bad.passed);
  REQUIRE(bad.inputs.at(0).failures > 0);
}

TEST_CASE("custom op: inputs that need no grad get none, and no graph without a grad", "[autograd]") {
  Var a(Tensor::from_vector({1.0, 2.0}, {2}, DType::f64), true);
  Var b(Tensor::from_vector({3.0, 4.0}, {2}, DType::f64), false);
  Var y = apply<Product>(a, b);
  sum(y).backward();
  REQUIRE(a.grad().to_vector() == std::vector<double>{3.0, 4.0});
  REQUIRE_FALSE(b.grad().defined());

  Var c = apply<Product>(b, b);
  REQUIRE_FALSE(c.requires_grad());
  REQUIRE(c.node() == nullptr);
  REQUIRE(c.value().to_vector() == std::vector<double>{9.0, 16.0});
  {
    NoGradGuard no_grad;
    Var d = apply<Square>(a);
    REQUIRE(d.node() == nullptr);
    REQUIRE(d.value().to_vector() == std::vector<double>{1.0, 4.0});
  }
}

TEST_CASE("custom op: a backward returning the wrong number of gradients names the op", "[autograd]") {
  Var x(randn64({2, 3}, 7), true);
  Var y = sum(apply<TwoGrads>(x));
  REQUIRE_THROWS_AS(y.backward(Tensor(), true), GraphError);
  REQUIRE_THROWS_WITH(y.backward(Tensor(), true),
                      Catch::Contains("custom op 'square': backward returned 2 gradients for 1 inputs"));
}

TEST_CASE("custom op: a gradient of the wrong shape names the op, the gradient and the input", "[autograd]") {
  Var x(randn64({2, 3}, 8), true);
  Var y = sum(apply<SummedGrad>(x));
  REQUIRE_THROWS_AS(y.backward(Tensor(), true), GraphError);
  REQUIRE_THROWS_WITH(y.backward(Tensor(), true),
                      Catch::Contains("custom op 'square': gradient 0 has shape [3] but input 0 has shape [2, 3]"));
}

TEST_CASE("custom op: a gradient of the wrong dtype names the op", "[autograd]") {
  Var x(randn64({2}, 9), true);
  Var y = sum(apply<F32Grad>(x));
  REQUIRE_THROWS_AS(y.backward(Tensor(), true), GraphError);
  REQUIRE_THROWS_WITH(y.backward(Tensor(), true),
                      Catch::Contains("custom op 'to_f32': gradient 0 is f32 but input 0 is f64"));
}

TEST_CASE("check_custom_grads: direct calls", "[autograd]") {
  std::vector<Var> inputs{Var(randn64({2, 3}, 10), true), Var(randn64({4}, 11))};
  // One gradient per input, undefined for an input without one: accepted.
  REQUIRE_NOTHROW(check_custom_grads("pair", inputs, {Tensor::zeros({2, 3}, DType::f64), Tensor()}));
  REQUIRE_THROWS_WITH(check_custom_grads("pair", inputs, {}),
                      Catch::Contains("custom op 'pair': backward returned 0 gradients for 2 inputs"));
  REQUIRE_THROWS_WITH(check_custom_grads("pair", inputs, {Tensor(), Tensor::zeros({4, 1}, DType::f64)}),
                      Catch::Contains("custom op 'pair': gradient 1 has shape [4, 1] but input 1 has shape [4]"));
  REQUIRE_THROWS_WITH(check_custom_grads("pair", inputs, {Tensor::zeros({2, 3}), Tensor()}),
                      Catch::Contains("custom op 'pair': gradient 0 is f32 but input 0 is f64"));
}
