// Normalisation along one dim: softmax, log_softmax and layer_norm.
//
// Each op is a function of one row (the elements along the normalised dim) at a time. The row
// kernels below take a contiguous row; that is the common case (attention's softmax over the
// last dim of a contiguous score tensor, layer_norm over features), and then they read the
// input and write the output directly. Any other layout (a softmax over dim 0, a transposed
// or sliced input) copies rows into a small scratch buffer first, runs the same kernel, and
// copies the results out, so every layout gives the same numbers.
//
// Rows are independent, so threads split the rows; each row is computed by one thread in a
// fixed order, and results do not depend on the thread count.
//
// Sums over a row accumulate in double, also for f32: the cost is small next to the exp.
//
// Fully masked rows: a softmax row of all -inf has no largest element to subtract, and gives
// NaN, as in PyTorch (log_softmax too). Attention handles fully masked rows itself.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/ops_util.h"

namespace lumen {
namespace {

// Softmax and layer_norm cost several flops per element (an exp, a division), so they pay for
// threads at a smaller size than a plain sum does.
constexpr int64_t kNormGrain = 1 << 13;

// Largest element of a row, ignoring NaN: a NaN still turns the whole row into NaN, through
// exp(x - max) and the sum, so it need not be tracked here. Kept in 8 lanes so that it
// vectorises (max is exact, so the lanes do not change the result).
template <class T> T row_max(const T* x, int64_t n) {
  constexpr int64_t kLanes = 8;
  T lanes[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) lanes[j] = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) lanes[j] = x[i + j] > lanes[j] ? x[i + j] : lanes[j];
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < kLanes; ++j) m = lanes[j] > m ? lanes[j] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// y = exp(x - max) / sum(exp(x - max)). Subtracting the max makes every exponent <= 0, so
// nothing overflows and the largest element contributes exactly 1 to the sum. y may be x.
template <class T> void softmax_row(const T* x, T* y, int64_t n) {
  const T m = row_max(x, n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T e = std::exp(x[i] - m);
    y[i] = e;
    s += e;
  }
  const T inv = static_cast<T>(1.0 / s);
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

// y = (x - max) - log(sum(exp(x - max))): never takes the log of a rounded-down tiny
// probability, so very negative log-probabilities stay exact. y may be x.
template <class T> void log_softmax_row(const T* x, T* y, int64_t n) {
  const T m = row_max(x, n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  const T log_s = static_cast<T>(std::log(s));
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - log_s;
}

// y = (x - mean) / sqrt(var + eps) * w + b, with the population variance computed in two
// passes (mean first, then squared deviations) in double. A constant row has x - mean == 0
// exactly, so it gives y = b. w and b may be null (weight 1, bias 0). y may be x.
template <class T> void layer_norm_row(const T* x, T* y, int64_t n, const T* w, const T* b, double eps) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  const double mean = s / static_cast<double>(n);
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double dev = static_cast<double>(x[i]) - mean;
    ss += dev * dev;
  }
  const double rstd = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) {
    T v = static_cast<T>((static_cast<double>(x[i]) - mean) * rstd);
    if (w) v *= w[i];
    if (b) v += b[i];
    y[i] = v;
  }
}

// Calls row_fn(x, y, n) on every row of `a` along `dim`, where y is the matching row of `out`
// (a new contiguous tensor of a's shape). Rows are handed over contiguous: directly when the
// input's rows already are, through a scratch buffer otherwise.
//
// The scratch path moves kGroup neighbouring rows at a time. For a softmax over dim 0 of
// [N, D], row r is column r, strided by D; copying one column alone would touch a new cache
// line per element, while 16 neighbouring columns share each cache line they touch.
template <class T, class RowFn>
void for_each_row(const Tensor& a, size_t dim, const Tensor& out, const RowFn& row_fn) {
  constexpr int64_t kGroup = 16;
  const Shape& shape = a.shape();
  const int64_t n = shape[dim];
  const int64_t rows = n == 0 ? 0 : a.numel() / n;
  if (rows == 0) return;
  const int64_t in_step = a.strides()[dim];
  const int64_t out_step = out.strides()[dim];
  const T* in = a.data<T>();
  T* o = out.data<T>();
  // Rows along the last dim with stride 1 need no scratch copy; in a contiguous tensor row r
  // also starts at r * n, with no index arithmetic at all.
  const bool rows_contiguous = dim + 1 == shape.size() && (n == 1 || in_step == 1);
  const bool packed = rows_contiguous && a.is_contiguous();
  const int64_t group = rows_contiguous ? 1 : kGroup;
  const int64_t groups = (rows + group - 1) / group;

  // Where row r starts in the input and the output: r indexes the dims other than `dim` in
  // row-major order.
  auto row_start = [&](int64_t r, int64_t& in_off, int64_t& out_off) {
    if (packed) {
      in_off = out_off = r * n;
      return;
    }
    in_off = out_off = 0;
    for (size_t d = shape.size(); d-- > 0;) {
      if (d == dim) continue;
      const int64_t i = r % shape[d];
      r /= shape[d];
      in_off += i * a.strides()[d];
      out_off += i * out.strides()[d];
    }
  };

#pragma omp parallel if (rows > 1 && rows * n >= kNormGrain)
  {
    std::vector<T> scratch(rows_contiguous ? 0 : static_cast<size_t>(kGroup * n));
    int64_t in_off[kGroup], out_off[kGroup];
#pragma omp for schedule(static)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t r0 = g * group, count = std::min(group, rows - r0);
      for (int64_t b = 0; b < count; ++b) row_start(r0 + b, in_off[b], out_off[b]);
      if (rows_contiguous) {
        row_fn(in + in_off[0], o + out_off[0], n);
        continue;
      }
      T* s = scratch.data();
      for (int64_t i = 0; i < n; ++i)
        for (int64_t b = 0; b < count; ++b) s[b * n + i] = in[in_off[b] + i * in_step];
      for (int64_t b = 0; b < count; ++b) row_fn(s + b * n, s + b * n, n);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t b = 0; b < count; ++b) o[out_off[b] + i * out_step] = s[b * n + i];
    }
  }
}

enum class SoftmaxKind { plain, log };

Tensor softmax_impl(const char* op, const Tensor& a, int64_t dim, SoftmaxKind kind) {
  detail::check_floating(op, a);
  if (a.dim() == 0) {  // a scalar is a row of one element (dim 0 or -1, as in PyTorch)
    normalize_dim(dim, 1, op);
    return softmax_impl(op, a.reshape({1}), 0, kind).reshape({});
  }
  const size_t d = static_cast<size_t>(normalize_dim(dim, a.dim(), op));
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  visit_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (kind == SoftmaxKind::plain)
      for_each_row<T>(a, d, out, [](const T* x, T* y, int64_t n) { softmax_row(x, y, n); });
    else
      for_each_row<T>(a, d, out, [](const T* x, T* y, int64_t n) { log_softmax_row(x, y, n); });
  });
  return out;
}

// weight and bias are optional, but when given must be [D] with x's dtype.
void check_affine(const Tensor& x, const Tensor& p, const char* what) {
  if (!p.defined()) return;
  const int64_t D = x.shape().back();
  if (p.shape() != Shape{D})
    throw ShapeError(std::string("layer_norm: ") + what + " must have shape [" + std::to_string(D) +
                     "] to match x of shape " + shape_str(x.shape()) + ", got " + shape_str(p.shape()));
  detail::check_same_dtype("layer_norm", x, p);
}

}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_impl("softmax", a, dim, SoftmaxKind::plain); }

Tensor log_softmax(const Tensor& a, int64_t dim) { return softmax_impl("log_softmax", a, dim, SoftmaxKind::log); }

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  detail::check_floating("layer_norm", x);
  if (x.dim() == 0)
    throw ShapeError("layer_norm: x must have at least one dim (normalised over the last), got shape []");
  check_affine(x, weight, "weight");
  check_affine(x, bias, "bias");
  if (!(eps >= 0))
    throw ValueError("layer_norm: eps must be >= 0, got " + std::to_string(eps));
  // weight and bias are read once per row: make them contiguous (D elements, cheap).
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  visit_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* wp = w.defined() ? w.data<T>() : nullptr;
    const T* bp = b.defined() ? b.data<T>() : nullptr;
    for_each_row<T>(x, x.shape().size() - 1, out,
                    [&](const T* row, T* y, int64_t n) { layer_norm_row(row, y, n, wp, bp, eps); });
  });
  return out;
}

}  // namespace lumen
