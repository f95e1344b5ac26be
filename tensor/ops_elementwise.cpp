// Elementwise ops: binary arithmetic with broadcasting, comparisons and selection, unary math,
// and the testing helpers allclose / max_abs_diff.
//
// Every op is one line that picks a scalar function; the work happens in three small kernels
// (binary_kernel, unary_kernel and where's loop) built on kernels::strided_loop. Broadcasting
// costs nothing: an operand is expanded to the output shape with stride 0 along broadcast dims,
// and the loop walks all operands with their own strides.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "tensor/kernels/strided.h"
#include "tensor/kernels/vmath.h"
#include "tensor/ops.h"
#include "tensor/ops_util.h"

namespace lumen {
namespace {

// ---- dtype checks and dispatch ---------------------------------------------------------------

// Arithmetic is defined on f32, f64 and i64; a bool mask in arithmetic is almost always a bug.
void check_numeric(const char* op, const Tensor& t) {
  detail::check_defined(op, t);
  if (t.dtype() == DType::boolean)
    throw DTypeError(std::string(op) + ": expected f32, f64 or i64, got bool of shape " +
                     shape_str(t.shape()));
}

// visit_dtype without the bool case, so arithmetic lambdas are never instantiated for bool.
template <class Fn> decltype(auto) visit_numeric(DType d, Fn&& fn) {
  switch (d) {
    case DType::f64: return fn(double{});
    case DType::i64: return fn(int64_t{});
    default: return fn(float{});
  }
}

// ---- i64 arithmetic that cannot overflow into undefined behaviour -----------------------------
// Signed overflow is undefined in C++, so i64 goes through uint64_t and wraps around like NumPy.
// For floating types these are the plain operators.

template <class T> T add_op(T x, T y) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y));
  else
    return x + y;
}
template <class T> T sub_op(T x, T y) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y));
  else
    return x - y;
}
template <class T> T mul_op(T x, T y) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y));
  else
    return x * y;
}
template <class T> T neg_op(T x) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(uint64_t{0} - static_cast<uint64_t>(x));
  else
    return -x;
}
// i64 truncates toward zero (C++'s rule). The caller has rejected zero divisors; INT64_MIN / -1
// is the one quotient that does not fit, and wraps to INT64_MIN.
template <class T> T div_op(T x, T y) {
  if constexpr (std::is_integral_v<T>) {
    if (y == -1) return neg_op(x);
    return x / y;
  } else {
    return x / y;
  }
}
// NaN wins, as in PyTorch: a NaN in a max should not silently disappear.
template <class T> T max_op(T x, T y) { return (x > y || x != x) ? x : y; }
template <class T> T min_op(T x, T y) { return (x < y || x != x) ? x : y; }

// ---- kernels ---------------------------------------------------------------------------------

// Contiguous runs get their own functions: __restrict__ on parameters is what tells GCC that the
// (freshly allocated) output does not overlap the inputs, so at -O3 these loops vectorise with
// no runtime overlap check. The three binary layouts that matter: same shape, and a tensor
// against a broadcast scalar on either side.
template <class O, class A, class B, class F>
void run_vv(int64_t n, O* __restrict__ o, const A* __restrict__ x, const B* __restrict__ y, const F& f) {
  for (int64_t k = 0; k < n; ++k) o[k] = f(x[k], y[k]);
}
template <class O, class A, class B, class F>
void run_vs(int64_t n, O* __restrict__ o, const A* __restrict__ x, B y0, const F& f) {
  for (int64_t k = 0; k < n; ++k) o[k] = f(x[k], y0);
}
template <class O, class A, class B, class F>
void run_sv(int64_t n, O* __restrict__ o, A x0, const B* __restrict__ y, const F& f) {
  for (int64_t k = 0; k < n; ++k) o[k] = f(x0, y[k]);
}
template <class O, class A, class F>
void run_v(int64_t n, O* __restrict__ o, const A* __restrict__ x, const F& f) {
  for (int64_t k = 0; k < n; ++k) o[k] = f(x[k]);
}

// out = f(a, b) over the broadcast shape of a and b, with element types O <- (A, B).
template <class O, class A, class B, class F>
Tensor binary_kernel(const char* op, const Tensor& a, const Tensor& b, DType out_dtype, F f) {
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor ea = a.shape() == shape ? a : a.expand(shape);
  Tensor eb = b.shape() == shape ? b : b.expand(shape);
  Tensor out = Tensor::empty(shape, out_dtype);
  O* po = out.data<O>();
  const A* pa = ea.data<A>();
  const B* pb = eb.data<B>();
  kernels::strided_loop<3>(shape, {&out.strides(), &ea.strides(), &eb.strides()},
                           [&](int64_t n, const auto& off, const auto& step) {
    O* o = po + off[0];
    const A* x = pa + off[1];
    const B* y = pb + off[2];
    // The output is contiguous, so its step is 1 on every run longer than one element.
    if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
      run_vv(n, o, x, y, f);
    } else if (step[0] == 1 && step[1] == 1 && step[2] == 0) {
      run_vs(n, o, x, y[0], f);
    } else if (step[0] == 1 && step[1] == 0 && step[2] == 1) {
      run_sv(n, o, x[0], y, f);
    } else {
      for (int64_t k = 0; k < n; ++k) o[k * step[0]] = f(x[k * step[1]], y[k * step[2]]);
    }
  });
  return out;
}

// out = f(a) elementwise, same shape.
template <class O, class A, class F>
Tensor unary_kernel(const Tensor& a, DType out_dtype, F f) {
  Tensor out = Tensor::empty(a.shape(), out_dtype);
  O* po = out.data<O>();
  const A* pa = a.data<A>();
  kernels::strided_loop<2>(a.shape(), {&out.strides(), &a.strides()},
                           [&](int64_t n, const auto& off, const auto& step) {
    O* o = po + off[0];
    const A* x = pa + off[1];
    if (step[0] == 1 && step[1] == 1) {
      run_v(n, o, x, f);
    } else {
      for (int64_t k = 0; k < n; ++k) o[k * step[0]] = f(x[k * step[1]]);
    }
  });
  return out;
}

// Binary arithmetic on f32, f64 or i64; `f` is a generic lambda over the element type.
template <class F>
Tensor arithmetic(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::check_same_dtype(op, a, b);
  check_numeric(op, a);
  return visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return binary_kernel<T, T, T>(op, a, b, a.dtype(), [f](T x, T y) { return static_cast<T>(f(x, y)); });
  });
}

// Binary ops defined on floating types only.
template <class F>
Tensor floating_binary(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::check_same_dtype(op, a, b);
  detail::check_floating(op, a);
  return visit_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return binary_kernel<T, T, T>(op, a, b, a.dtype(), [f](T x, T y) { return static_cast<T>(f(x, y)); });
  });
}

// Comparisons accept every dtype (both sides the same) and give bool.
template <class F>
Tensor comparison(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::check_same_dtype(op, a, b);
  return visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return binary_kernel<bool, T, T>(op, a, b, DType::boolean, [f](T x, T y) { return static_cast<bool>(f(x, y)); });
  });
}

template <class F>
Tensor floating_unary(const char* op, const Tensor& a, F f) {
  detail::check_floating(op, a);
  return visit_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return unary_kernel<T, T>(a, a.dtype(), [f](T x) { return static_cast<T>(f(x)); });
  });
}

// exp, tanh, sigmoid and GELU: f32 goes through the vectorised array functions of
// tensor/kernels/vmath.h (a few ulp, many times faster than libm one number at a time); f64 keeps
// the library function `f`, exact enough for gradient checks. A strided run is gathered into a
// small buffer first, so every element gets the same arithmetic whatever the layout.
using FloatArrayFn = void (*)(const float*, float*, int64_t);

template <class F>
Tensor vector_unary(const char* op, const Tensor& a, FloatArrayFn f32, F f) {
  detail::check_floating(op, a);
  if (a.dtype() != DType::f32) return floating_unary(op, a, f);
  Tensor out = Tensor::empty(a.shape(), DType::f32);
  float* po = out.data<float>();
  const float* pa = a.data<float>();
  kernels::strided_loop<2>(a.shape(), {&out.strides(), &a.strides()}, [&](int64_t n, const auto& off, const auto& step) {
    float* o = po + off[0];
    const float* x = pa + off[1];
    if (step[0] == 1 && step[1] == 1) {
      f32(x, o, n);
      return;
    }
    constexpr int64_t kChunk = 64;
    float buf[kChunk];
    for (int64_t k0 = 0; k0 < n; k0 += kChunk) {
      const int64_t m = std::min(kChunk, n - k0);
      for (int64_t k = 0; k < m; ++k) buf[k] = x[(k0 + k) * step[1]];
      f32(buf, buf, m);
      for (int64_t k = 0; k < m; ++k) o[(k0 + k) * step[0]] = buf[k];
    }
  });
  return out;
}

// Against a double threshold, floating tensors compare with the threshold rounded to their dtype
// (as PyTorch does), but i64 and bool compare exactly: rounding 0.5 to the integer 0 would make
// `ids < 0.5` false for id 0.
template <class Cmp>
Tensor compare_scalar(const char* op, const Tensor& a, double b, Cmp cmp) {
  detail::check_defined(op, a);
  return visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return unary_kernel<bool, T>(a, DType::boolean, [b, cmp](T x) {
      if constexpr (std::is_floating_point_v<T>)
        return cmp(x, static_cast<T>(b));
      else
        return cmp(static_cast<double>(x), b);
    });
  });
}

// Converting NaN, or a double beyond the i64 range, to an integer is undefined behaviour in
// C++, so a scalar meant for an i64 tensor is checked first.
void check_fits_i64(const char* op, const Tensor& t, double value) {
  if (t.dtype() == DType::i64 && !(value >= -0x1p63 && value < 0x1p63))
    throw ValueError(std::string(op) + ": the scalar " + std::to_string(value) + " does not fit the i64 tensor of shape " +
                     shape_str(t.shape()));
}

// A rank-0 tensor holding `value` in t's dtype: broadcasting it is free, and the kernels'
// scalar branch keeps the loop as fast as a hand-written tensor-scalar one.
Tensor scalar_like(const Tensor& t, double value, const char* op) {
  detail::check_defined(op, t);
  check_fits_i64(op, t, value);
  return Tensor::scalar(value, t.dtype());
}

// a (op) b for a tensor and a number: the same element function, applied in the same order, as
// the tensor-tensor op against scalar_like(a, b), so the bits are identical; but without making
// a one-element tensor and a broadcast view of it. On small tensors (a chain of tiny autograd
// ops) those two cost more than the arithmetic.
template <class F>
Tensor arithmetic_scalar(const char* op, const Tensor& a, double b, F f) {
  check_numeric(op, a);
  check_fits_i64(op, a, b);
  return visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T y = static_cast<T>(b);
    return unary_kernel<T, T>(a, a.dtype(), [f, y](T x) { return static_cast<T>(f(x, y)); });
  });
}

// True if any element of an i64 tensor is zero.
bool has_zero(const Tensor& t) {
  std::atomic<bool> found{false};
  const int64_t* p = t.data<int64_t>();
  kernels::strided_loop<1>(t.shape(), {&t.strides()}, [&](int64_t n, const auto& off, const auto& step) {
    for (int64_t k = 0; k < n; ++k)
      if (p[off[0] + k * step[0]] == 0) found.store(true, std::memory_order_relaxed);
  });
  return found.load();
}

// The standard normal's density and distribution function, for gelu. erfc keeps Phi accurate
// (in relative terms) far into the negative tail, where 1 + erf(x) would cancel to 0.
template <class T> T normal_cdf(T x) {
  return T(0.5) * std::erfc(-x * T(0.70710678118654752440));
}
template <class T> T normal_pdf(T x) {
  return T(0.39894228040143267794) * std::exp(T(-0.5) * x * x);
}

}  // namespace

// ---- elementwise binary ----------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  return arithmetic("add", a, b, [](auto x, auto y) { return add_op(x, y); });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return arithmetic("sub", a, b, [](auto x, auto y) { return sub_op(x, y); });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return arithmetic("mul", a, b, [](auto x, auto y) { return mul_op(x, y); });
}
Tensor div(const Tensor& a, const Tensor& b) {
  detail::check_same_dtype("div", a, b);
  // Integer division by zero is undefined behaviour, so it is caught before the loop starts
  // (an exception cannot leave an OpenMP region).
  if (b.dtype() == DType::i64 && has_zero(b))
    throw ValueError("div: integer division by zero (the i64 divisor of shape " + shape_str(b.shape()) +
                     " holds a 0)");
  return arithmetic("div", a, b, [](auto x, auto y) { return div_op(x, y); });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return arithmetic("maximum", a, b, [](auto x, auto y) { return max_op(x, y); });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return arithmetic("minimum", a, b, [](auto x, auto y) { return min_op(x, y); });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return floating_binary("pow", a, b, [](auto x, auto y) { return std::pow(x, y); });
}
Tensor pow(const Tensor& a, double exponent) {
  detail::check_floating("pow", a);
  // Squaring is the common case (variances, MSE); x * x is exact and much cheaper than pow.
  if (exponent == 2.0) return floating_unary("pow", a, [](auto x) { return x * x; });
  return floating_binary("pow", a, scalar_like(a, exponent, "pow"), [](auto x, auto y) { return std::pow(x, y); });
}

Tensor add(const Tensor& a, double b) {
  return arithmetic_scalar("add", a, b, [](auto x, auto y) { return add_op(x, y); });
}
Tensor mul(const Tensor& a, double b) {
  return arithmetic_scalar("mul", a, b, [](auto x, auto y) { return mul_op(x, y); });
}
Tensor sub(double a, const Tensor& b) { return sub(scalar_like(b, a, "sub"), b); }
Tensor div(double a, const Tensor& b) { return div(scalar_like(b, a, "div"), b); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) {
  return arithmetic_scalar("sub", a, b, [](auto x, auto y) { return sub_op(x, y); });
}
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
// Divides rather than multiplying by 1/b, so x / 3 gives the same bits as the tensor version.
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b, "div")); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

// ---- comparisons and selection ---------------------------------------------------------------

Tensor eq(const Tensor& a, const Tensor& b) { return comparison("eq", a, b, [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return comparison("ne", a, b, [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return comparison("lt", a, b, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return comparison("le", a, b, [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return comparison("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return comparison("ge", a, b, [](auto x, auto y) { return x >= y; }); }

Tensor gt(const Tensor& a, double b) { return compare_scalar("gt", a, b, [](auto x, auto y) { return x > y; }); }
Tensor lt(const Tensor& a, double b) { return compare_scalar("lt", a, b, [](auto x, auto y) { return x < y; }); }

Tensor logical_not(const Tensor& mask) {
  detail::check_dtype("logical_not", mask, DType::boolean, "the mask");
  return unary_kernel<bool, bool>(mask, DType::boolean, [](bool x) { return !x; });
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  detail::check_dtype("logical_and", a, DType::boolean, "the first operand");
  detail::check_dtype("logical_and", b, DType::boolean, "the second operand");
  return binary_kernel<bool, bool, bool>("logical_and", a, b, DType::boolean, [](bool x, bool y) { return x && y; });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  detail::check_dtype("logical_or", a, DType::boolean, "the first operand");
  detail::check_dtype("logical_or", b, DType::boolean, "the second operand");
  return binary_kernel<bool, bool, bool>("logical_or", a, b, DType::boolean, [](bool x, bool y) { return x || y; });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_dtype("where", cond, DType::boolean, "the condition");
  detail::check_same_dtype("where", a, b);
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  } catch (const ShapeError&) {
    // The nested broadcast would name an intermediate shape; name the three the caller passed.
    throw ShapeError("where: the condition " + shape_str(cond.shape()) + ", a " + shape_str(a.shape()) + " and b " +
                     shape_str(b.shape()) + " cannot broadcast to one shape");
  }
  Tensor ec = cond.expand(shape), ea = a.expand(shape), eb = b.expand(shape);
  Tensor out = Tensor::empty(shape, a.dtype());
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data<T>();
    const bool* pc = ec.data<bool>();
    const T* pa = ea.data<T>();
    const T* pb = eb.data<T>();
    kernels::strided_loop<4>(shape, {&out.strides(), &ec.strides(), &ea.strides(), &eb.strides()},
                             [&](int64_t n, const auto& off, const auto& step) {
      T* o = po + off[0];
      const bool* c = pc + off[1];
      const T* x = pa + off[2];
      const T* y = pb + off[3];
      if (step[0] == 1 && step[1] == 1 && step[2] == 1 && step[3] == 1) {
        for (int64_t k = 0; k < n; ++k) o[k] = c[k] ? x[k] : y[k];
      } else {
        for (int64_t k = 0; k < n; ++k) o[k * step[0]] = c[k * step[1]] ? x[k * step[2]] : y[k * step[3]];
      }
    });
  });
  return out;
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  detail::check_defined("masked_fill", a);
  detail::check_dtype("masked_fill", mask, DType::boolean, "the mask");
  check_fits_i64("masked_fill", a, value);
  return visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(value);
    return binary_kernel<T, T, bool>("masked_fill", a, mask, a.dtype(), [v](T x, bool m) { return m ? v : x; });
  });
}

// ---- elementwise unary -----------------------------------------------------------------------

Tensor neg(const Tensor& a) {
  check_numeric("neg", a);
  return visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return unary_kernel<T, T>(a, a.dtype(), [](T x) { return neg_op(x); });
  });
}

Tensor abs(const Tensor& a) {
  check_numeric("abs", a);
  return visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // |INT64_MIN| does not fit, and wraps to itself.
    return unary_kernel<T, T>(a, a.dtype(), [](T x) { return x < T(0) ? neg_op(x) : x; });
  });
}

// 0 and -0 keep their sign and NaN stays NaN: the result is x itself unless x is non-zero.
Tensor sign(const Tensor& a) {
  return floating_unary("sign", a, [](auto x) {
    using T = decltype(x);
    return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);
  });
}

Tensor exp(const Tensor& a) { return vector_unary("exp", a, kernels::vexp, [](auto x) { return std::exp(x); }); }
Tensor log(const Tensor& a) { return floating_unary("log", a, [](auto x) { return std::log(x); }); }
Tensor sqrt(const Tensor& a) { return floating_unary("sqrt", a, [](auto x) { return std::sqrt(x); }); }
Tensor rsqrt(const Tensor& a) {
  return floating_unary("rsqrt", a, [](auto x) { return decltype(x)(1) / std::sqrt(x); });
}
Tensor square(const Tensor& a) { return floating_unary("square", a, [](auto x) { return x * x; }); }
Tensor reciprocal(const Tensor& a) {
  return floating_unary("reciprocal", a, [](auto x) { return decltype(x)(1) / x; });
}
Tensor sin(const Tensor& a) { return floating_unary("sin", a, [](auto x) { return std::sin(x); }); }
Tensor cos(const Tensor& a) { return floating_unary("cos", a, [](auto x) { return std::cos(x); }); }
// std::tanh saturates to +-1 without ever forming exp(2x), so it cannot overflow.
Tensor tanh(const Tensor& a) { return vector_unary("tanh", a, kernels::vtanh, [](auto x) { return std::tanh(x); }); }

// exp is only ever taken of -|x|, so it lies in (0, 1]: no overflow for x = -1e4, and no
// inf / inf = NaN. The two branches are the same function written two ways.
Tensor sigmoid(const Tensor& a) {
  return vector_unary("sigmoid", a, kernels::vsigmoid, [](auto x) {
    using T = decltype(x);
    if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
    T e = std::exp(x);
    return e / (T(1) + e);
  });
}

// NaN stays NaN (x < 0 is false for it), as in PyTorch.
Tensor relu(const Tensor& a) {
  return floating_unary("relu", a, [](auto x) { return x < decltype(x)(0) ? decltype(x)(0) : x; });
}

// gelu(x) = x * Phi(x)
Tensor gelu(const Tensor& a) {
  return vector_unary("gelu", a, kernels::vgelu, [](auto x) { return x * normal_cdf(x); });
}

// d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
Tensor gelu_grad(const Tensor& a) {
  return vector_unary("gelu_grad", a, kernels::vgelu_grad, [](auto x) { return normal_cdf(x) + x * normal_pdf(x); });
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  detail::check_floating("clamp", a);
  if (lo > hi)
    throw ValueError("clamp: lower bound " + std::to_string(lo) + " is above upper bound " + std::to_string(hi));
  return visit_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T l = static_cast<T>(lo), h = static_cast<T>(hi);
    return unary_kernel<T, T>(a, a.dtype(), [l, h](T x) { return x < l ? l : (x > h ? h : x); });
  });
}

// ---- testing helpers -------------------------------------------------------------------------

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  detail::check_defined("allclose", a);
  detail::check_defined("allclose", b);
  if (a.shape() != b.shape()) return false;
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) continue;  // equal infinities are close; their difference would be NaN
    if (std::isinf(x[i]) || std::isinf(y[i])) return false;  // inf <= rtol * inf would pass
    if (!(std::fabs(x[i] - y[i]) <= atol + rtol * std::fabs(y[i]))) return false;  // NaN fails
  }
  return true;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  detail::check_defined("max_abs_diff", a);
  detail::check_defined("max_abs_diff", b);
  if (a.shape() != b.shape())
    throw ShapeError("max_abs_diff: shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                     " differ");
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == y[i]) continue;
    double d = std::fabs(x[i] - y[i]);
    if (std::isnan(d)) return d;  // a NaN anywhere is the worst possible difference
    worst = std::max(worst, d);
  }
  return worst;
}

}  // namespace lumen
