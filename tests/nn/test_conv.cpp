// Conv1d and Conv2d by im2col: values against a direct convolution loop, im2col and col2im as
// each other's transpose, gradients (first and second order), names, shapes and errors.
#include <catch2/catch.hpp>

#include <tuple>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/conv.h"
#include "nn/im2col.h"
#include "tensor/random.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {
Tensor randn_t(const Shape& shape, uint64_t seed, DType dt = DType::f64) {
  Generator gen(seed);
  return randn(shape, dt, gen);
}

// The textbook definition, one output element at a time:
//   y[b, o, r, c] = bias[o] + sum_{ch, i, j} w[o, ch, i, j] * x[b, ch, r * s - p + i, c * s - p + j]
// with x zero outside its bounds. x [B, C, H, W], w [O, C, kh, kw], bias [O] or undefined.
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t s, int64_t p) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t OH = (H + 2 * p - kh) / s + 1, OW = (W + 2 * p - kw) / s + 1;
  std::vector<double> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t r = 0; r < OH; ++r)
        for (int64_t c = 0; c < OW; ++c) {
          double acc = bias.defined() ? bias.at({o}) : 0.0;
          for (int64_t ch = 0; ch < C; ++ch)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = r * s - p + i, iw = c * s - p + j;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += w.at({o, ch, i, j}) * x.at({b, ch, ih, iw});
              }
          out.push_back(acc);
        }
  return Tensor::from_vector(out, {B, O, OH, OW}, DType::f64);
}

// y[b, o, t] = bias[o] + sum_{ch, i} w[o, ch, i] * x[b, ch, t * s - p + i]
Tensor naive_conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t s, int64_t p) {
  const int64_t B = x.size(0), C = x.size(1), L = x.size(2);
  const int64_t O = w.size(0), k = w.size(2);
  const int64_t OL = (L + 2 * p - k) / s + 1;
  std::vector<double> out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < OL; ++t) {
        double acc = bias.defined() ? bias.at({o}) : 0.0;
        for (int64_t ch = 0; ch < C; ++ch)
          for (int64_t i = 0; i < k; ++i) {
            const int64_t il = t * s - p + i;
            if (il >= 0 && il < L) acc += w.at({o, ch, i}) * x.at({b, ch, il});
          }
        out.push_back(acc);
      }
  return Tensor::from_vector(out, {B, O, OL}, DType::f64);
}

void require_close(const Tensor& got, const Tensor& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  INFO("max abs diff " << max_abs_diff(got.to(DType::f64), want));
  REQUIRE(max_abs_diff(got.to(DType::f64), want) <= tol);
}

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
}  // namespace

TEST_CASE("im2col: rows are the windows, zero in the padding", "[nn]") {
  // x [1, 1, 3, 3] = 1..9, 2x2 kernel, stride 1, padding 0: four windows.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3}, DType::f64);
  Tensor cols = im2col(x, {.kh = 2, .kw = 2});
  REQUIRE(cols.shape() == Shape{1, 4, 4});
  REQUIRE(cols.to_vector() == std::vector<double>{1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9});
  // Stride 2 and padding 1 with a 2x2 kernel: windows at (-1, -1), (-1, 1), (1, -1), (1, 1).
  cols = im2col(x, {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1});
  REQUIRE(cols.shape() == Shape{1, 4, 4});
  REQUIRE(cols.to_vector() == std::vector<double>{0, 0, 0, 1, 0, 0, 2, 3, 0, 4, 0, 7, 5, 6, 8, 9});
  // col2im adds overlapping windows back: the centre of 3x3 was in all four 2x2 windows.
  Tensor back = col2im(im2col(x, {.kh = 2, .kw = 2}), {1, 1, 3, 3}, {.kh = 2, .kw = 2});
  REQUIRE(back.to_vector() == std::vector<double>{1, 4, 3, 8, 20, 12, 7, 16, 9});
}

TEST_CASE("im2col and col2im are each other's transpose", "[nn]") {
  // <im2col(x), y> == <x, col2im(y)> for random x and y, with strides that skip and overlap,
  // and a non-contiguous x.
  for (auto [s, p, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 0, 3}, {2, 1, 3}, {3, 2, 2}}) {
    Window2d win{.kh = k, .kw = k - 1, .sh = s, .sw = s, .ph = p, .pw = p};
    Tensor x = randn_t({2, 7, 3, 6}, 1).permute({0, 2, 3, 1});  // [2, 3, 6, 7] view
    Tensor cols = im2col(x, win);
    Tensor y = randn_t(cols.shape(), 2);
    const double lhs = sum(mul(cols, y)).item();
    const double rhs = sum(mul(x, col2im(y, x.shape(), win))).item();
    REQUIRE(lhs == Approx(rhs).epsilon(1e-12));
    // col2im of a transposed view of y reads it through its strides.
    Tensor yt = y.transpose(1, 2).contiguous().transpose(1, 2);
    REQUIRE(col2im(yt, x.shape(), win).to_vector() == col2im(y, x.shape(), win).to_vector());
  }
}

TEST_CASE("conv2d equals a direct convolution loop, with stride and padding", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    for (auto [s, p] : std::vector<std::pair<int64_t, int64_t>>{{1, 0}, {1, 1}, {2, 0}, {2, 2}, {3, 1}}) {
      Tensor x = randn_t({2, 3, 7, 6}, 10, dt), w = randn_t({4, 3, 3, 2}, 11, dt), b = randn_t({4}, 12, dt);
      Tensor want = naive_conv2d(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64), s, p);
      Var y = conv2d(Var(x), Var(w), Var(b), s, p);
      REQUIRE(y.dtype() == dt);
      require_close(y.value(), want, dt == DType::f32 ? 1e-4 : 1e-12);
      REQUIRE(y.value().is_contiguous());
      // Without bias, and with a channels-last input viewed as [B, C, H, W].
      Tensor x_cl = x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
      REQUIRE_FALSE(x_cl.is_contiguous());
      want = naive_conv2d(x.to(DType::f64), w.to(DType::f64), Tensor(), s, p);
      require_close(conv2d(Var(x_cl), Var(w), Var(), s, p).value(), want, dt == DType::f32 ? 1e-4 : 1e-12);
    }
  }
}

TEST_CASE("conv1d equals a direct convolution loop, with stride and padding", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    for (auto [s, p] : std::vector<std::pair<int64_t, int64_t>>{{1, 0}, {1, 2}, {2, 1}, {4, 0}}) {
      Tensor x = randn_t({3, 2, 9}, 20, dt), w = randn_t({5, 2, 3}, 21, dt), b = randn_t({5}, 22, dt);
      Tensor want = naive_conv1d(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64), s, p);
      Var y = conv1d(Var(x), Var(w), Var(b), s, p);
      require_close(y.value(), want, dt == DType::f32 ? 1e-4 : 1e-12);
      REQUIRE(y.value().is_contiguous());
      // A [B, L, C] sequence transposed to [B, C, L], as a sequence model would pass it.
      Tensor x_t = x.transpose(1, 2).contiguous().transpose(1, 2);
      require_close(conv1d(Var(x_t), Var(w), Var(b), s, p).value(), want, dt == DType::f32 ? 1e-4 : 1e-12);
    }
  }
}

TEST_CASE("conv: a 1x1 conv is a Linear over channels, the kernel may cover the whole input", "[nn]") {
  Tensor x = randn_t({2, 3, 4, 5}, 30), w = randn_t({6, 3, 1, 1}, 31);
  Tensor y = conv2d(Var(x), Var(w)).value();
  // y[b, :, h, w] = W x[b, :, h, w]
  Tensor want = matmul(w.reshape({6, 3}), x.reshape({2, 3, 20})).reshape({2, 6, 4, 5});
  REQUIRE(max_abs_diff(y, want) < 1e-12);
  Tensor full = conv2d(Var(x), Var(randn_t({1, 3, 4, 5}, 32))).value();
  REQUIRE(full.shape() == Shape{2, 1, 1, 1});
}

TEST_CASE("conv2d and conv1d: gradients of input, weight and bias", "[nn][gradcheck]") {
  for (auto [s, p] : std::vector<std::pair<int64_t, int64_t>>{{1, 0}, {1, 1}, {2, 1}}) {
    require_gradcheck([s, p](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], s, p); },
                      {randn_t({2, 2, 5, 4}, 40), randn_t({3, 2, 3, 2}, 41), randn_t({3}, 42)});
    require_gradcheck([s, p](const std::vector<Var>& v) { return conv1d(v[0], v[1], v[2], s, p); },
                      {randn_t({2, 3, 6}, 43), randn_t({2, 3, 3}, 44), randn_t({2}, 45)});
  }
  // Non-contiguous input and weight, no bias.
  require_gradcheck([](const std::vector<Var>& v) { return conv2d(v[0], v[1], Var(), 2, 0); },
                    {randn_t({2, 5, 4, 2}, 46).permute({0, 3, 1, 2}), randn_t({2, 2, 2, 3}, 47).transpose(2, 3)});
}

TEST_CASE("im2col, col2im and conv2d: second derivatives", "[nn][gradcheck]") {
  const Window2d win{.kh = 2, .kw = 2, .sh = 1, .sw = 2, .ph = 1, .pw = 0};
  auto square_im2col = [win](const std::vector<Var>& v) { return square(im2col(v[0], win)); };
  GradcheckResult r = gradgradcheck(square_im2col, {randn_t({1, 2, 3, 4}, 50)});
  INFO(r.summary());
  REQUIRE(r.passed);
  auto square_col2im = [win](const std::vector<Var>& v) { return square(col2im(v[0], {1, 2, 3, 4}, win)); };
  r = gradgradcheck(square_col2im, {randn_t({1, 8, 8}, 51)});
  INFO(r.summary());
  REQUIRE(r.passed);
  r = gradgradcheck([](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], 1, 1); },
                    {randn_t({1, 2, 3, 3}, 52), randn_t({2, 2, 2, 2}, 53), randn_t({2}, 54)});
  INFO(r.summary());
  REQUIRE(r.passed);
}

TEST_CASE("Conv1d and Conv2d modules: names, shapes, forward and parameter gradients", "[nn][gradcheck]") {
  Generator gen(60);
  Conv2d c2({.in = 2, .out = 3, .kernel = 3, .stride = 2, .padding = 1, .dtype = DType::f64}, gen);
  auto params = c2.named_parameters();
  REQUIRE(params.size() == 2);
  REQUIRE(params[0].first == "weight");
  REQUIRE(params[0].second.shape() == Shape{3, 2, 3, 3});
  REQUIRE(params[1].first == "bias");
  REQUIRE(params[1].second.shape() == Shape{3});
  Var x(randn_t({2, 2, 5, 4}, 61));
  Var y = c2(x);
  REQUIRE(y.shape() == Shape{2, 3, 3, 2});
  require_close(y.value(), naive_conv2d(x.value(), c2.weight().value(), c2.bias().value(), 2, 1), 1e-12);
  testing::require_param_grads(c2, [&] { return c2(x); });

  Conv1d c1({.in = 3, .out = 2, .kernel = 2, .padding = 1, .bias = false, .dtype = DType::f64}, gen);
  REQUIRE(c1.named_parameters().size() == 1);
  REQUIRE(c1.weight().shape() == Shape{2, 3, 2});
  Var x1(randn_t({2, 3, 5}, 62));
  REQUIRE(c1(x1).shape() == Shape{2, 2, 6});
  require_close(c1(x1).value(), naive_conv1d(x1.value(), c1.weight().value(), Tensor(), 1, 1), 1e-12);
  testing::require_param_grads(c1, [&] { return c1(x1); });
}

TEST_CASE("conv: bad shapes, dtypes and options are errors naming them", "[nn]") {
  Var x(Tensor::zeros({1, 3, 5, 5}));
  Var w(Tensor::zeros({4, 2, 3, 3}));
  REQUIRE_THROWS_AS(conv2d(x, w), ShapeError);
  REQUIRE_THROWS_WITH(conv2d(x, w), Catch::Contains("conv2d") && Catch::Contains("[1, 3, 5, 5]") &&
                                        Catch::Contains("[4, 2, 3, 3]"));
  REQUIRE_THROWS_AS(conv2d(Var(Tensor::zeros({3, 5, 5})), Var(Tensor::zeros({4, 3, 3, 3}))), ShapeError);
  Var w_big(Tensor::zeros({4, 3, 7, 7}));
  REQUIRE_THROWS_AS(conv2d(x, w_big), ShapeError);
  REQUIRE_THROWS_WITH(conv2d(x, w_big), Catch::Contains("conv2d") && Catch::Contains("smaller than the kernel"));
  REQUIRE_NOTHROW(conv2d(x, w_big, Var(), 1, 1));  // padding makes it fit
  REQUIRE(conv2d(x, w_big, Var(), 1, 1).shape() == Shape{1, 4, 1, 1});
  Var w3(Tensor::zeros({4, 3, 3, 3}));
  REQUIRE_THROWS_AS(conv2d(x, w3, Var(), 0, 0), ValueError);
  REQUIRE_THROWS_WITH(conv2d(x, w3, Var(), 1, -1), Catch::Contains("conv2d") && Catch::Contains("padding = -1"));
  REQUIRE_THROWS_WITH(conv2d(x, w3, Var(Tensor::zeros({3}))), Catch::Contains("bias") && Catch::Contains("[3]"));
  REQUIRE_THROWS_AS(conv2d(x, Var(Tensor::zeros({4, 3, 3, 3}, DType::f64))), DTypeError);
  REQUIRE_THROWS_WITH(conv1d(Var(Tensor::zeros({1, 2, 4})), Var(Tensor::zeros({1, 3, 2}))),
                      Catch::Contains("conv1d") && Catch::Contains("[1, 2, 4]") && Catch::Contains("[1, 3, 2]"));
  REQUIRE_THROWS_AS(Conv2d({.in = 0, .out = 2, .kernel = 3}), ValueError);
  REQUIRE_THROWS_AS(Conv1d({.in = 1, .out = 2, .kernel = 3, .stride = 0}), ValueError);
  REQUIRE_THROWS_AS(im2col(Tensor::zeros({3, 4, 4}), {}), ShapeError);
  REQUIRE_THROWS_AS(im2col(Tensor::zeros({1, 1, 4, 4}, DType::i64), {}), DTypeError);
  REQUIRE_THROWS_WITH(col2im(Tensor::zeros({1, 4, 5}), {1, 1, 3, 3}, {.kh = 2, .kw = 2}),
                      Catch::Contains("col2im") && Catch::Contains("[1, 4, 5]") && Catch::Contains("[1, 4, 4]"));
}
