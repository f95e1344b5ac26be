// Joining, splitting and indexing: concat, stack, split, chunk, index_select, gather,
// scatter_add, index_add, embedding, one_hot, tril_mask.
//
// The gathers are written as elementwise loops over the output with one twist: the source's
// stride along `dim` is set to 0, and the index tensor supplies the position along `dim`
// instead. So one strided kernel serves index_select, gather and embedding, for any strides.
// The scatters are the same loop run backwards (adding into the output), on one thread, so
// repeated indices always accumulate in the same order.
#include <optional>
#include <string>
#include <type_traits>

#include "tensor/kernels/strided.h"
#include "tensor/ops.h"
#include "tensor/ops_util.h"

namespace lumen {
namespace {

// ---- shared helpers --------------------------------------------------------------------------

// The first index value outside [0, n), if any. Checked before any kernel runs, so the kernels
// never read out of bounds and a bad index leaves no half-written output behind.
std::optional<int64_t> first_out_of_range(const Tensor& index, int64_t n) {
  Tensor c = index.contiguous();
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0, count = c.numel(); i < count; ++i)
    if (p[i] < 0 || p[i] >= n) return p[i];
  return std::nullopt;
}

Strides with_stride(Strides strides, size_t dim, int64_t stride) {
  strides[dim] = stride;
  return strides;
}

// out[pos] = src[pos with its `dim` coordinate replaced by idx[pos]], over out's shape.
// src_st has 0 at `dim`; src_dim_stride is the real stride there.
template <class T>
void gather_kernel(const Shape& shape, T* out, const Strides& out_st, const T* src, const Strides& src_st,
                   int64_t src_dim_stride, const int64_t* idx, const Strides& idx_st) {
  kernels::strided_loop<3>(shape, {&out_st, &src_st, &idx_st}, [&](int64_t n, const auto& off, const auto& step) {
    T* o = out + off[0];
    const T* s = src + off[1];
    const int64_t* ix = idx + off[2];
    for (int64_t k = 0; k < n; ++k) o[k * step[0]] = s[k * step[1] + ix[k * step[2]] * src_dim_stride];
  });
}

// The transpose of gather_kernel, over src's shape: out[pos with `dim` replaced by idx[pos]] +=
// src[pos]. Two positions may hit the same output element, so this runs on one thread, in
// row-major order: the sums come out the same on every run.
template <class T>
void scatter_add_kernel(const Shape& shape, T* out, const Strides& out_st, int64_t out_dim_stride, const T* src,
                        const Strides& src_st, const int64_t* idx, const Strides& idx_st) {
  const int64_t total = shape_numel(shape);
  if (total == 0) return;
  auto plan = kernels::plan_loop<3>(shape, {&out_st, &src_st, &idx_st});
  auto body = [&](int64_t n, const auto& off, const auto& step) {
    T* o = out + off[0];
    const T* s = src + off[1];
    const int64_t* ix = idx + off[2];
    for (int64_t k = 0; k < n; ++k) o[k * step[0] + ix[k * step[2]] * out_dim_stride] += s[k * step[1]];
  };
  kernels::run_loop_range<3>(plan, 0, total, body);
}

void check_addable(const char* op, const Tensor& src) {
  detail::check_defined(op, src);
  if (src.dtype() == DType::boolean)
    throw DTypeError(std::string(op) + ": src must be f32, f64 or i64, got bool of shape " + shape_str(src.shape()));
}

void check_index_1d(const char* op, const Tensor& index) {
  detail::check_dtype(op, index, DType::i64, "index");
  if (index.dim() != 1)
    throw ShapeError(std::string(op) + ": index must be 1-D, got shape " + shape_str(index.shape()));
}

// index_select without the checks, shared with embedding (which words its errors its own way).
Tensor index_select_unchecked(const Tensor& a, size_t dim, const Tensor& index) {
  Shape shape = a.shape();
  shape[dim] = index.size(0);
  Tensor out = Tensor::empty(shape, a.dtype());
  // The index is 1-D, so it varies along `dim` only and repeats along every other dim.
  Strides idx_st = with_stride(Strides::filled(shape.size(), 0), dim, index.strides()[0]);
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T>(shape, out.data<T>(), out.strides(), a.data<T>(), with_stride(a.strides(), dim, 0),
                     a.strides()[dim], index.data<int64_t>(), idx_st);
  });
  return out;
}

}  // namespace

// ---- joining and splitting -------------------------------------------------------------------

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw ValueError("concat: got an empty list of tensors");
  for (const Tensor& x : xs) detail::check_defined("concat", x);
  const Tensor& first = xs[0];
  if (first.dim() == 0) throw ShapeError("concat: cannot concatenate 0-dim tensors (tensor 0 has shape [])");
  const size_t d = static_cast<size_t>(normalize_dim(dim, first.dim(), "concat"));
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    const std::string which = "concat: tensor " + std::to_string(i);
    if (x.dtype() != first.dtype())
      throw DTypeError(which + " has dtype " + detail::dtype_str(x) + " but tensor 0 has " + detail::dtype_str(first) +
                       "; all tensors must have the same dtype");
    bool same = x.dim() == first.dim();
    for (size_t k = 0; same && k < shape.size(); ++k) same = k == d || x.shape()[k] == first.shape()[k];
    if (!same)
      throw ShapeError(which + " has shape " + shape_str(x.shape()) + " but tensor 0 has " +
                       shape_str(first.shape()) + "; all dims except dim " + std::to_string(d) + " must match");
    shape[d] += x.shape()[d];
  }
  Tensor out = Tensor::empty(shape, first.dtype());
  int64_t at = 0;
  for (const Tensor& x : xs) {
    const int64_t n = x.shape()[d];
    out.slice(static_cast<int64_t>(d), at, at + n).copy_(x);
    at += n;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw ValueError("stack: got an empty list of tensors");
  for (const Tensor& x : xs) detail::check_defined("stack", x);
  const Tensor& first = xs[0];
  const int64_t d = normalize_dim(dim, first.dim() + 1, "stack");
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string which = "stack: tensor " + std::to_string(i);
    if (xs[i].dtype() != first.dtype())
      throw DTypeError(which + " has dtype " + detail::dtype_str(xs[i]) + " but tensor 0 has " +
                       detail::dtype_str(first) + "; all tensors must have the same dtype");
    if (xs[i].shape() != first.shape())
      throw ShapeError(which + " has shape " + shape_str(xs[i].shape()) + " but tensor 0 has " +
                       shape_str(first.shape()) + "; all tensors must have the same shape");
  }
  Shape shape = first.shape();
  shape.insert(static_cast<size_t>(d), static_cast<int64_t>(xs.size()));
  Tensor out = Tensor::empty(shape, first.dtype());
  for (size_t i = 0; i < xs.size(); ++i) out.select(d, static_cast<int64_t>(i)).copy_(xs[i]);
  return out;
}

std::vector<Tensor> split(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim) {
  detail::check_defined("split", a);
  const int64_t d = normalize_dim(dim, a.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw ValueError("split: sizes " + shape_str(Dims(sizes)) + " contain a negative size");
    total += s;
  }
  if (total != a.size(d))
    throw ShapeError("split: sizes " + shape_str(Dims(sizes)) + " sum to " + std::to_string(total) + " but dim " +
                     std::to_string(dim) + " of shape " + shape_str(a.shape()) + " has size " +
                     std::to_string(a.size(d)));
  std::vector<Tensor> parts;
  int64_t at = 0;
  for (int64_t s : sizes) {
    parts.push_back(a.slice(d, at, at + s));
    at += s;
  }
  return parts;
}

std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) {
  detail::check_defined("chunk", a);
  if (chunks <= 0) throw ValueError("chunk: chunks must be positive, got " + std::to_string(chunks));
  const int64_t d = normalize_dim(dim, a.dim(), "chunk");
  const int64_t n = a.size(d);
  if (n % chunks != 0)
    throw ShapeError("chunk: dim " + std::to_string(dim) + " of shape " + shape_str(a.shape()) + " has size " +
                     std::to_string(n) + ", which does not divide into " + std::to_string(chunks) + " equal chunks");
  return split(a, std::vector<int64_t>(static_cast<size_t>(chunks), n / chunks), d);
}

// ---- gathers ---------------------------------------------------------------------------------

Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index) {
  detail::check_defined("index_select", a);
  check_index_1d("index_select", index);
  const size_t d = static_cast<size_t>(normalize_dim(dim, a.dim(), "index_select"));
  if (auto bad = first_out_of_range(index, a.shape()[d]))
    throw IndexError("index_select: index " + std::to_string(*bad) + " out of range for dim " + std::to_string(dim) +
                     " of size " + std::to_string(a.shape()[d]) + " (shape " + shape_str(a.shape()) + ")");
  return index_select_unchecked(a, d, index);
}

Tensor gather(const Tensor& a, int64_t dim, const Tensor& index) {
  detail::check_defined("gather", a);
  detail::check_dtype("gather", index, DType::i64, "index");
  const std::string shapes = "input shape " + shape_str(a.shape()) + ", index shape " + shape_str(index.shape());
  if (index.dim() != a.dim())
    throw ShapeError("gather: index must have the same rank as the input (" + shapes + ")");
  const size_t d = static_cast<size_t>(normalize_dim(dim, a.dim(), "gather"));
  // Off `dim`, out[i][j][k] reads a at the same i and k, so the index may not reach past a.
  for (size_t k = 0; k < index.shape().size(); ++k)
    if (k != d && index.shape()[k] > a.shape()[k])
      throw ShapeError("gather: index is larger than the input at dim " + std::to_string(k) + " (" + shapes + ")");
  if (auto bad = first_out_of_range(index, a.shape()[d]))
    throw IndexError("gather: index " + std::to_string(*bad) + " out of range for dim " + std::to_string(dim) +
                     " of size " + std::to_string(a.shape()[d]) + " (" + shapes + ")");
  Tensor out = Tensor::empty(index.shape(), a.dtype());
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T>(out.shape(), out.data<T>(), out.strides(), a.data<T>(), with_stride(a.strides(), d, 0),
                     a.strides()[d], index.data<int64_t>(), index.strides());
  });
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  detail::check_defined("embedding", weight);
  detail::check_dtype("embedding", ids, DType::i64, "ids");
  if (weight.dim() != 2)
    throw ShapeError("embedding: weight must be 2-D [V, D], got shape " + shape_str(weight.shape()));
  const int64_t V = weight.size(0), D = weight.size(1);
  if (auto bad = first_out_of_range(ids, V))
    throw IndexError("embedding: id " + std::to_string(*bad) + " out of range for a table of " + std::to_string(V) +
                     " rows (weight " + shape_str(weight.shape()) + ")");
  Shape shape = ids.shape();
  shape.push_back(D);
  return index_select_unchecked(weight, 0, ids.reshape({-1})).view(shape);
}

// ---- scatters --------------------------------------------------------------------------------

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  check_addable("scatter_add", src);
  detail::check_dtype("scatter_add", index, DType::i64, "index");
  const std::string shapes = "output shape " + shape_str(shape) + ", index shape " + shape_str(index.shape()) +
                             ", src shape " + shape_str(src.shape());
  if (index.dim() != static_cast<int64_t>(shape.size()) || src.dim() != index.dim())
    throw ShapeError("scatter_add: output, index and src must have the same rank (" + shapes + ")");
  const size_t d = static_cast<size_t>(normalize_dim(dim, index.dim(), "scatter_add"));
  for (size_t k = 0; k < shape.size(); ++k) {
    if (index.shape()[k] > src.shape()[k])
      throw ShapeError("scatter_add: index is larger than src at dim " + std::to_string(k) + " (" + shapes + ")");
    if (k != d && index.shape()[k] > shape[k])
      throw ShapeError("scatter_add: index is larger than the output at dim " + std::to_string(k) + " (" + shapes +
                       ")");
  }
  if (auto bad = first_out_of_range(index, shape[d]))
    throw IndexError("scatter_add: index " + std::to_string(*bad) + " out of range for dim " + std::to_string(dim) +
                     " of size " + std::to_string(shape[d]) + " (" + shapes + ")");
  Tensor out = Tensor::zeros(shape, src.dtype());
  visit_dtype(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>)
      scatter_add_kernel<T>(index.shape(), out.data<T>(), with_stride(out.strides(), d, 0), out.strides()[d],
                            src.data<T>(), src.strides(), index.data<int64_t>(), index.strides());
  });
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src) {
  check_addable("index_add", src);
  check_index_1d("index_add", index);
  const std::string shapes = "output shape " + shape_str(shape) + ", index shape " + shape_str(index.shape()) +
                             ", src shape " + shape_str(src.shape());
  if (src.dim() != static_cast<int64_t>(shape.size()))
    throw ShapeError("index_add: src must have the output's rank (" + shapes + ")");
  const size_t d = static_cast<size_t>(normalize_dim(dim, src.dim(), "index_add"));
  // src is the output with `dim` resized to the number of indices.
  Shape expected = shape;
  expected[d] = index.size(0);
  if (src.shape() != expected)
    throw ShapeError("index_add: src must have shape " + shape_str(expected) + " (" + shapes + ")");
  if (auto bad = first_out_of_range(index, shape[d]))
    throw IndexError("index_add: index " + std::to_string(*bad) + " out of range for dim " + std::to_string(dim) +
                     " of size " + std::to_string(shape[d]) + " (" + shapes + ")");
  Tensor out = Tensor::zeros(shape, src.dtype());
  Strides idx_st = with_stride(Strides::filled(shape.size(), 0), d, index.strides()[0]);
  visit_dtype(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>)
      scatter_add_kernel<T>(src.shape(), out.data<T>(), with_stride(out.strides(), d, 0), out.strides()[d],
                            src.data<T>(), src.strides(), index.data<int64_t>(), idx_st);
  });
  return out;
}

// ---- encodings and masks ---------------------------------------------------------------------

Tensor one_hot(const Tensor& ids, int64_t classes, DType dtype) {
  detail::check_dtype("one_hot", ids, DType::i64, "ids");
  if (classes < 0) throw ValueError("one_hot: classes must be >= 0, got " + std::to_string(classes));
  if (auto bad = first_out_of_range(ids, classes))
    throw IndexError("one_hot: id " + std::to_string(*bad) + " out of range for " + std::to_string(classes) +
                     " classes (ids shape " + shape_str(ids.shape()) + ")");
  Shape shape = ids.shape();
  shape.push_back(classes);
  Tensor out = Tensor::zeros(shape, dtype);
  Tensor c = ids.contiguous();
  const int64_t* id = c.data<int64_t>();
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    for (int64_t i = 0, n = c.numel(); i < n; ++i) o[i * classes + id[i]] = T(1);
  });
  return out;
}

Tensor tril_mask(int64_t n, int64_t m, int64_t diagonal) {
  if (n < 0 || m < 0)
    throw ValueError("tril_mask: sizes must be >= 0, got n = " + std::to_string(n) + " and m = " + std::to_string(m));
  Tensor out = Tensor::empty({n, m}, DType::boolean);
  bool* o = out.data<bool>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) o[i * m + j] = j <= i + diagonal;
  return out;
}

}  // namespace lumen
