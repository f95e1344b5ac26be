// The vectorised float functions (tensor/kernels/vmath.h): accuracy in ulp against the exact
// function (computed in double with libm) over every magnitude of float, the edge values, the
// same bits from every build and every position in an array, and the tensor ops that use them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tensor/kernels/vmath.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

using lumen::kernels::vmath_force_kernel;
using ArrayFn = void (*)(const float*, float*, int64_t);

double ref_exp(double x) { return std::exp(x); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// In double, erfc's own error (a few double ulp, also far into the tail) is 10^-8 of a float ulp.
double ref_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double ref_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double ref_gelu(double x) { return x * ref_cdf(x); }
double ref_gelu_grad(double x) { return ref_cdf(x) + x * ref_pdf(x); }

// The spacing of floats at |v| (the smallest denormal below the normal range).
double ulp_at(double v) {
  const float f = static_cast<float>(std::fabs(v));
  if (!std::isfinite(f)) return std::ldexp(1.0, 104);  // beyond FLT_MAX: the last finite spacing
  const float up = std::nextafter(f, std::numeric_limits<float>::infinity());
  return std::isfinite(up) ? double(up) - double(f) : std::ldexp(1.0, 104);
}

// Every 97th float bit pattern of both signs (all magnitudes, denormals included), a dense grid
// on [-20, 20] where the functions bend, and the edge values.
std::vector<float> sample_inputs() {
  std::vector<float> xs;
  for (uint32_t bits = 0; bits < 0x7f800000u; bits += 97) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    xs.push_back(f);
    xs.push_back(-f);
  }
  for (int i = -200000; i <= 200000; ++i) xs.push_back(static_cast<float>(i) * 1e-4f);
  const float edges[] = {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-40f, -1e-40f, 1.17549435e-38f, 0.625f, -0.625f,
                         0.62499994f, 9.1f, -9.1f, 10.0f, 88.72f, 88.7228f, 88.73f, 89.0f, -87.3f, -103.9f,
                         -103.97f, -104.0f, -110.0f, -13.0f, -14.5f, 3.4e38f, -3.4e38f};
  xs.insert(xs.end(), std::begin(edges), std::end(edges));
  return xs;
}

// The largest error, in ulp of the exact result, over inputs where the exact result is finite.
// `scale(x)`, when given, sets the size the error is measured against (gelu_grad near its zero).
template <class Scale>
double max_ulp_error(ArrayFn f, double (*ref)(double), const std::vector<float>& xs, Scale scale, float* worst) {
  std::vector<float> ys(xs.size());
  f(xs.data(), ys.data(), static_cast<int64_t>(xs.size()));
  double worst_err = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double exact = ref(xs[i]);
    if (!std::isfinite(exact) || std::fabs(exact) > 3.4028234663852886e38) continue;
    const double err = std::fabs(double(ys[i]) - exact) / ulp_at(scale(double(xs[i]), exact));
    if (!(err <= worst_err)) {  // NaN counts as the worst
      worst_err = std::isnan(err) ? 1e30 : err;
      *worst = xs[i];
    }
  }
  return worst_err;
}

double max_ulp_error(ArrayFn f, double (*ref)(double), const std::vector<float>& xs, float* worst) {
  return max_ulp_error(f, ref, xs, [](double, double exact) { return exact; }, worst);
}

float apply(ArrayFn f, float x) {
  float y;
  f(&x, &y, 1);
  return y;
}

std::vector<std::string> builds_on_this_cpu() {
  std::vector<std::string> out;
  for (const char* name : {"portable", "avx2", "avx512"}) {
    try {
      vmath_force_kernel(name);
      out.emplace_back(name);
    } catch (const std::runtime_error&) {
    }
  }
  vmath_force_kernel("auto");
  return out;
}

}  // namespace

TEST_CASE("vmath: exp, tanh and sigmoid within 3 ulp of the exact function, gelu and its derivative within 4, on every build",
          "[tensor][vmath]") {
  const std::vector<float> xs = sample_inputs();
  for (const std::string& build : builds_on_this_cpu()) {
    INFO("build " << build);
    vmath_force_kernel(build.c_str());
    float worst = 0;
    double e = max_ulp_error(lumen::kernels::vexp, ref_exp, xs, &worst);
    INFO("exp: " << e << " ulp at x = " << worst);
    CHECK(e <= 3.0);
    e = max_ulp_error(lumen::kernels::vtanh, ref_tanh, xs, &worst);
    INFO("tanh: " << e << " ulp at x = " << worst);
    CHECK(e <= 3.0);
    e = max_ulp_error(lumen::kernels::vsigmoid, ref_sigmoid, xs, &worst);
    INFO("sigmoid: " << e << " ulp at x = " << worst);
    CHECK(e <= 3.0);
    // GELU is computed in float (an exp, a division and a degree-11 polynomial, each rounding):
    // 3.7 ulp at most over every 13th float (3.4 with FMA), relative error also deep in the
    // negative tail. Where the result is a denormal (x below about -13) ulp_at gives the denormal
    // spacing 2^-149, and the error there is at most 1.6 of them.
    e = max_ulp_error(lumen::kernels::vgelu, ref_gelu, xs, &worst);
    INFO("gelu: " << e << " ulp at x = " << worst);
    CHECK(e <= 4.0);
    // gelu' = Phi + x phi crosses zero near x = -0.75: measured against the larger term.
    e = max_ulp_error(lumen::kernels::vgelu_grad, ref_gelu_grad, xs,
                      [](double x, double) { return std::max(ref_cdf(x), std::fabs(x * ref_pdf(x))); }, &worst);
    INFO("gelu_grad: " << e << " ulp of the larger term at x = " << worst);
    CHECK(e <= 4.0);
  }
  vmath_force_kernel("auto");
}

TEST_CASE("vmath: edge values behave like the library functions", "[tensor][vmath]") {
  using lumen::kernels::vexp, lumen::kernels::vtanh, lumen::kernels::vsigmoid, lumen::kernels::vgelu,
      lumen::kernels::vgelu_grad;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (const std::string& build : builds_on_this_cpu()) {
    INFO("build " << build);
    vmath_force_kernel(build.c_str());
    CHECK(apply(vexp, 0.0f) == 1.0f);
    CHECK(apply(vexp, -0.0f) == 1.0f);
    CHECK(apply(vexp, inf) == inf);
    CHECK(apply(vexp, 89.0f) == inf);
    CHECK(std::isfinite(apply(vexp, 88.72f)));
    CHECK(apply(vexp, -inf) == 0.0f);
    CHECK(apply(vexp, -110.0f) == 0.0f);
    const float tiny = apply(vexp, -100.0f);  // exp(-100) = 3.7e-44: a denormal
    CHECK(tiny > 0.0f);
    CHECK(tiny < 1.17549435e-38f);
    CHECK(std::isnan(apply(vexp, nan)));

    CHECK(apply(vtanh, 0.0f) == 0.0f);
    CHECK(std::signbit(apply(vtanh, -0.0f)));
    CHECK(apply(vtanh, 1e-40f) == 1e-40f);  // a denormal is its own tanh
    CHECK(apply(vtanh, inf) == 1.0f);
    CHECK(apply(vtanh, -inf) == -1.0f);
    CHECK(apply(vtanh, 20.0f) == 1.0f);
    CHECK(apply(vtanh, -3.4e38f) == -1.0f);
    CHECK(std::isnan(apply(vtanh, nan)));

    CHECK(apply(vsigmoid, 0.0f) == 0.5f);
    CHECK(apply(vsigmoid, -0.0f) == 0.5f);
    CHECK(apply(vsigmoid, inf) == 1.0f);
    CHECK(apply(vsigmoid, -inf) == 0.0f);
    CHECK(apply(vsigmoid, 1e4f) == 1.0f);
    CHECK(apply(vsigmoid, -1e4f) == 0.0f);
    CHECK(std::isnan(apply(vsigmoid, nan)));

    CHECK(apply(vgelu, 0.0f) == 0.0f);
    CHECK(apply(vgelu, inf) == inf);
    CHECK(apply(vgelu, 50.0f) == 50.0f);
    CHECK(apply(vgelu, -50.0f) == 0.0f);
    CHECK(std::isnan(apply(vgelu, -inf)));  // -inf * Phi(-inf) = -inf * 0, as x * Phi(x) in libm
    CHECK(std::isnan(apply(vgelu, nan)));
    CHECK(std::signbit(apply(vgelu, -0.0f)));  // -0 * Phi(-0) = -0
    CHECK(apply(vgelu, 1e-40f) == 5e-41f);      // a denormal: x / 2
    // the negative tail keeps its relative accuracy: x Phi(x) at -10 is -7.62e-23, at -12 -2.13e-32
    CHECK(std::fabs(double(apply(vgelu, -10.0f)) - ref_gelu(-10.0)) <= 4 * ulp_at(ref_gelu(-10.0)));
    CHECK(std::fabs(double(apply(vgelu, -12.0f)) - ref_gelu(-12.0)) <= 4 * ulp_at(ref_gelu(-12.0)));
    CHECK(apply(vgelu, -12.0f) < 0.0f);
    CHECK(apply(vgelu_grad, 0.0f) == 0.5f);
    CHECK(apply(vgelu_grad, 50.0f) == 1.0f);
    CHECK(apply(vgelu_grad, -50.0f) == 0.0f);
    CHECK(std::isnan(apply(vgelu_grad, nan)));
  }
  vmath_force_kernel("auto");
}

TEST_CASE("vmath: every array position and length gives the same bits, in place too, and the builds agree",
          "[tensor][vmath]") {
  lumen::Generator gen(3);
  const lumen::Tensor t = lumen::uniform({1000}, -30, 30, lumen::DType::f32, gen);
  const std::vector<float> xs(t.data<float>(), t.data<float>() + 1000);
  // How far the SSE2 build (no fused multiply-add) may be from the others: the last bit for exp,
  // tanh and sigmoid; for GELU, whose float formula rounds more often, twice its error bound
  // (gelu_grad's measured against its larger term, as in the accuracy test; 5 ulp seen).
  const auto one_ulp = [](float, float y) { return ulp_at(y); };
  struct Fn {
    ArrayFn f;
    double (*tolerance)(float x, float y);
  };
  const Fn fns[] = {{lumen::kernels::vexp, one_ulp},
                    {lumen::kernels::vtanh, one_ulp},
                    {lumen::kernels::vsigmoid, one_ulp},
                    {lumen::kernels::vgelu, [](float, float y) { return 8 * ulp_at(y); }},
                    {lumen::kernels::vgelu_grad, [](float x, float) {
                       return 8 * ulp_at(std::max(ref_cdf(x), std::fabs(x * ref_pdf(x))));
                     }}};
  for (const Fn& fn : fns) {
    const ArrayFn f = fn.f;
    vmath_force_kernel("portable");
    std::vector<float> portable(xs.size());
    for (size_t i = 0; i < xs.size(); ++i) portable[i] = apply(f, xs[i]);
    for (const std::string& build : builds_on_this_cpu()) {
      INFO("build " << build);
      vmath_force_kernel(build.c_str());
      std::vector<float> expect(xs.size());
      for (size_t i = 0; i < xs.size(); ++i) {
        expect[i] = apply(f, xs[i]);  // one element at a time: the tail path
        CHECK(std::fabs(double(expect[i]) - double(portable[i])) <= fn.tolerance(xs[i], portable[i]));
      }
      for (int64_t n : {1, 3, 15, 16, 17, 33, 1000}) {
        std::vector<float> out(static_cast<size_t>(n));
        f(xs.data(), out.data(), n);
        CHECK(std::memcmp(out.data(), expect.data(), out.size() * sizeof(float)) == 0);
      }
      std::vector<float> in_place(xs.begin() + 5, xs.end());  // unaligned start, odd length
      f(in_place.data(), in_place.data(), static_cast<int64_t>(in_place.size()));
      CHECK(std::memcmp(in_place.data(), expect.data() + 5, in_place.size() * sizeof(float)) == 0);
    }
  }
  vmath_force_kernel("auto");
}

TEST_CASE("vmath: the tensor ops use it for f32, on any strides, and keep libm for f64", "[tensor][vmath]") {
  lumen::Generator gen(5);
  const lumen::Tensor base = lumen::uniform({6, 70}, -6, 6, lumen::DType::f32, gen);
  const lumen::Tensor strided = base.transpose(0, 1).slice(0, 1, 70, 3);  // [23, 6], no unit stride
  struct Case {
    const char* name;
    lumen::Tensor (*op)(const lumen::Tensor&);
    ArrayFn f32;
    double (*f64)(double);
  };
  const Case cases[] = {{"exp", lumen::exp, lumen::kernels::vexp, [](double x) { return std::exp(x); }},
                        {"tanh", lumen::tanh, lumen::kernels::vtanh, [](double x) { return std::tanh(x); }},
                        {"sigmoid", lumen::sigmoid, lumen::kernels::vsigmoid,
                         [](double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }},
                        {"gelu", lumen::gelu, lumen::kernels::vgelu,
                         [](double x) { return x * (0.5 * std::erfc(-x * 0.70710678118654752440)); }},
                        {"gelu_grad", lumen::gelu_grad, lumen::kernels::vgelu_grad, [](double x) {
                           return 0.5 * std::erfc(-x * 0.70710678118654752440) +
                                  x * (0.39894228040143267794 * std::exp(-0.5 * x * x));
                         }}};
  for (const Case& c : cases) {
    INFO(c.name);
    for (const lumen::Tensor& in : {base, strided}) {
      const lumen::Tensor out = c.op(in);
      REQUIRE(out.shape() == in.shape());
      const lumen::Tensor in_c = in.contiguous();
      const std::vector<double> got = out.to_vector();
      for (size_t i = 0; i < got.size(); ++i)
        CHECK(static_cast<float>(got[i]) == apply(c.f32, in_c.data<float>()[i]));
    }
    const lumen::Tensor in64 = strided.to(lumen::DType::f64);
    const std::vector<double> got = c.op(in64).to_vector(), xs = in64.to_vector();
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == c.f64(xs[i]));
  }
}

TEST_CASE("vmath: forcing an unknown build is an error", "[tensor][vmath]") {
  REQUIRE_THROWS_AS(vmath_force_kernel("sse9"), std::invalid_argument);
  REQUIRE_THROWS_WITH(vmath_force_kernel("sse9"), Catch::Contains("vmath_force_kernel") && Catch::Contains("sse9"));
  CHECK(std::string(lumen::kernels::vmath_kernel_name()) != "");
}
