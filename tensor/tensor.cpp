#include "tensor/tensor.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "tensor/allocator.h"
#include "tensor/kernels/strided.h"

namespace lumen {

Storage::Storage(size_t bytes) : data_(allocator::allocate(bytes)), bytes_(bytes) {}
Storage::~Storage() { allocator::deallocate(data_, bytes_); }

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {}

void Tensor::check_defined(const char* op) const {
  if (!storage_) throw ValueError(std::string(op) + ": the tensor is undefined (default-constructed)");
}

// A double converted to the element type. Converting NaN or an out-of-range value to an integer
// is undefined behaviour in C++, so it is an error here.
template <class T>
static T from_double(double v, const char* op) {
  if constexpr (std::is_same_v<T, int64_t>) {
    if (!(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18))
      throw ValueError(std::string(op) + ": " + std::to_string(v) + " does not fit in i64");
  }
  return static_cast<T>(v);
}

// ---- creation --------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  // The strides (products of the extents, a 0 counting as 1) and the byte count must fit int64:
  // a product that wraps around is undefined behaviour and would size the buffer wrongly.
  int64_t span = static_cast<int64_t>(dtype_size(dtype));
  for (int64_t x : shape) {
    if (x < 0) throw ValueError("Tensor::empty: negative extent in shape " + shape_str(shape));
    if (__builtin_mul_overflow(span, std::max<int64_t>(x, 1), &span))
      throw ValueError("Tensor::empty: shape " + shape_str(shape) + " has more elements than memory can address");
  }
  size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  return Tensor(std::make_shared<Storage>(bytes), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.nbytes());  // all-zero bytes are 0 in every dtype we have
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(int64_t n, DType dtype) { return arange(0, static_cast<double>(n), 1, dtype); }

Tensor Tensor::arange(double start, double end, double step, DType dtype) {
  if (step == 0) throw ValueError("arange: step must be non-zero");
  double span = (end - start) / step;
  int64_t n = span > 0 ? static_cast<int64_t>(std::ceil(span)) : 0;
  Tensor t = empty({n}, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = from_double<T>(start + static_cast<double>(i) * step, "arange");
  });
  return t;
}

Tensor Tensor::eye(int64_t n, DType dtype) {
  Tensor t = zeros({n, n}, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = static_cast<T>(1);
  });
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (static_cast<int64_t>(values.size()) != t.numel())
    throw ShapeError("Tensor::from_vector: " + std::to_string(values.size()) +
                     " values do not fill shape " + shape_str(shape) + " (" +
                     std::to_string(t.numel()) + " elements)");
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = from_double<T>(values[i], "Tensor::from_vector");
  });
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw ShapeError("Tensor::from_vector: " + std::to_string(values.size()) +
                     " values do not fill shape " + shape_str(shape));
  return from_data(values.data(), shape);
}

Tensor Tensor::from_vector(const std::vector<int64_t>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw ShapeError("Tensor::from_vector: " + std::to_string(values.size()) +
                     " values do not fill shape " + shape_str(shape));
  return from_data(values.data(), shape);
}

// ---- metadata and element access --------------------------------------------------------------

int64_t Tensor::size(int64_t d) const { return shape_[static_cast<size_t>(normalize_dim(d, dim(), "Tensor::size"))]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;  // a size-1 dim's stride never matters
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  check_defined("raw_data");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

static double read_as_double(const Tensor& t, int64_t element_offset) {
  return visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(static_cast<const T*>(t.raw_data())[element_offset]);
  });
}

double Tensor::item() const {
  check_defined("item");
  if (numel() != 1)
    throw ValueError("item: the tensor has " + std::to_string(numel()) + " elements (shape " +
                     shape_str(shape_) + "), item() needs exactly one");
  int64_t off = 0;  // the one element sits at offset 0 whatever the strides
  return read_as_double(*this, off);
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  return at(std::vector<int64_t>(index));
}

double Tensor::at(const std::vector<int64_t>& index) const {
  check_defined("at");
  if (static_cast<int64_t>(index.size()) != dim())
    throw IndexError("at: " + std::to_string(index.size()) + " indices for a tensor of rank " +
                     std::to_string(dim()) + " (shape " + shape_str(shape_) + ")");
  int64_t off = 0;
  for (size_t d = 0; d < index.size(); ++d) {
    int64_t i = index[d] < 0 ? index[d] + shape_[d] : index[d];
    if (i < 0 || i >= shape_[d])
      throw IndexError("at: index " + std::to_string(index[d]) + " out of range for dim " +
                       std::to_string(d) + " of shape " + shape_str(shape_));
    off += i * strides_[d];
  }
  return read_as_double(*this, off);
}

std::vector<double> Tensor::to_vector() const {
  check_defined("to_vector");
  std::vector<double> out(static_cast<size_t>(numel()));
  Tensor c = contiguous();
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    const T* p = c.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}

// ---- views -----------------------------------------------------------------------------------

// Resolves a single -1 and checks the element count.
static Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer_at >= 0) throw ValueError(std::string(op) + ": more than one -1 in " + shape_str(requested));
      infer_at = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw ValueError(std::string(op) + ": negative extent in " + shape_str(requested));
    } else if (__builtin_mul_overflow(known, shape[i], &known)) {
      throw ShapeError(std::string(op) + ": cannot reshape " + shape_str(from) + " to " + shape_str(requested) +
                       " (its element count overflows)");
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0)
      throw ShapeError(std::string(op) + ": cannot reshape " + shape_str(from) + " to " + shape_str(requested));
    shape[static_cast<size_t>(infer_at)] = numel / known;
  }
  if (shape_numel(shape) != numel)
    throw ShapeError(std::string(op) + ": cannot reshape " + shape_str(from) + " (" +
                     std::to_string(numel) + " elements) to " + shape_str(requested));
  return shape;
}

// Strides for viewing this tensor as `shape` without copying, if its layout allows: each group
// of old dims that merges into new dims must be contiguous within itself.
static bool view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& shape,
                         Strides& out) {
  out = Strides::filled(shape.size(), 0);
  if (shape_numel(old_shape) == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  size_t o = 0, n = 0;
  const size_t on = old_shape.size(), nn = shape.size();
  while (o < on || n < nn) {
    // Skip size-1 dims on both sides; they take any stride.
    if (n < nn && shape[n] == 1) { out[n] = 1; ++n; continue; }
    if (o < on && old_shape[o] == 1) { ++o; continue; }
    if (o >= on || n >= nn) return false;
    // Grow a group of old dims [o0, o) and new dims [n0, n) with equal element counts.
    size_t o0 = o, n0 = n;
    int64_t old_count = old_shape[o++], new_count = shape[n++];
    while (old_count != new_count) {
      if (old_count < new_count) {
        if (o >= on) return false;
        old_count *= old_shape[o++];
      } else {
        if (n >= nn) return false;
        new_count *= shape[n++];
      }
    }
    // The old dims of the group must be contiguous with each other (size-1 dims take any
    // stride); then the group's innermost stride is where the new dims' strides start.
    int64_t innermost = 0, expected = 0;
    bool first = true;
    for (size_t k = o; k-- > o0;) {
      if (old_shape[k] == 1) continue;
      if (first) {
        innermost = old_strides[k];
        first = false;
      } else if (old_strides[k] != expected) {
        return false;
      }
      expected = old_strides[k] * old_shape[k];
    }
    int64_t acc = innermost;
    for (size_t k = n; k-- > n0;) {
      out[k] = acc;
      acc *= shape[k];
    }
  }
  return true;
}

Tensor Tensor::view(const Shape& requested) const {
  check_defined("view");
  Shape shape = infer_shape(requested, numel(), "view", shape_);
  Strides st;
  if (!view_strides(shape_, strides_, shape, st))
    throw ShapeError("view: a tensor of shape " + shape_str(shape_) + " with strides " +
                     shape_str(strides_) + " cannot be viewed as " + shape_str(shape) +
                     " without a copy; use reshape()");
  return Tensor(storage_, shape, st, offset_, dtype_);
}

Tensor Tensor::reshape(const Shape& requested) const {
  check_defined("reshape");
  Shape shape = infer_shape(requested, numel(), "reshape", shape_);
  Strides st;
  if (view_strides(shape_, strides_, shape, st)) return Tensor(storage_, shape, st, offset_, dtype_);
  return contiguous().view(shape);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  check_defined("transpose");
  size_t a = static_cast<size_t>(normalize_dim(d0, dim(), "transpose"));
  size_t b = static_cast<size_t>(normalize_dim(d1, dim(), "transpose"));
  Shape shape = shape_;
  Strides st = strides_;
  std::swap(shape[a], shape[b]);
  std::swap(st[a], st[b]);
  return Tensor(storage_, shape, st, offset_, dtype_);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  check_defined("permute");
  if (static_cast<int64_t>(dims.size()) != dim())
    throw ValueError("permute: " + std::to_string(dims.size()) + " dims given for a tensor of rank " +
                     std::to_string(dim()) + " (shape " + shape_str(shape_) + ")");
  Shape shape = Shape::filled(dims.size(), 0);
  Strides st = Strides::filled(dims.size(), 0);
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    size_t d = static_cast<size_t>(normalize_dim(dims[i], dim(), "permute"));
    if (seen[d]) throw ValueError("permute: dim " + std::to_string(dims[i]) + " appears twice");
    seen[d] = true;
    shape[i] = shape_[d];
    st[i] = strides_[d];
  }
  return Tensor(storage_, shape, st, offset_, dtype_);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  check_defined("slice");
  size_t k = static_cast<size_t>(normalize_dim(d, dim(), "slice"));
  if (step <= 0) throw ValueError("slice: step must be positive, got " + std::to_string(step));
  int64_t n = shape_[k];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = shape_;
  Strides st = strides_;
  shape[k] = (end - start + step - 1) / step;
  st[k] = strides_[k] * step;
  return Tensor(storage_, shape, st, offset_ + start * strides_[k], dtype_);
}

Tensor Tensor::select(int64_t d, int64_t i) const {
  check_defined("select");
  size_t k = static_cast<size_t>(normalize_dim(d, dim(), "select"));
  int64_t n = shape_[k];
  int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    throw IndexError("select: index " + std::to_string(i) + " out of range for dim " +
                     std::to_string(d) + " of size " + std::to_string(n) + " (shape " + shape_str(shape_) + ")");
  Shape shape = shape_;
  Strides st = strides_;
  shape.erase(k);
  st.erase(k);
  return Tensor(storage_, shape, st, offset_ + j * strides_[k], dtype_);
}

Tensor Tensor::expand(const Shape& target) const {
  check_defined("expand");
  if (target.size() < shape_.size())
    throw ShapeError("expand: cannot expand shape " + shape_str(shape_) + " to fewer dims " + shape_str(target));
  size_t lead = target.size() - shape_.size();
  Shape shape = target;
  Strides st = Strides::filled(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      if (target[i] < 0) throw ShapeError("expand: -1 is not allowed for a new leading dim in " + shape_str(target));
      continue;  // new leading dims repeat with stride 0
    }
    int64_t have = shape_[i - lead];
    int64_t want = target[i] == -1 ? have : target[i];
    if (want < 0) throw ShapeError("expand: negative extent in target shape " + shape_str(target));
    shape[i] = want;
    if (have == want) {
      st[i] = strides_[i - lead];
    } else if (have == 1) {
      st[i] = 0;
    } else {
      throw ShapeError("expand: cannot expand shape " + shape_str(shape_) + " to " + shape_str(target) +
                       " (dim " + std::to_string(i) + " has size " + std::to_string(have) + ", not 1)");
    }
  }
  return Tensor(storage_, shape, st, offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t d) const {
  check_defined("squeeze");
  size_t k = static_cast<size_t>(normalize_dim(d, dim(), "squeeze"));
  if (shape_[k] != 1)
    throw ShapeError("squeeze: dim " + std::to_string(d) + " of shape " + shape_str(shape_) + " is not 1");
  Shape shape = shape_;
  Strides st = strides_;
  shape.erase(k);
  st.erase(k);
  return Tensor(storage_, shape, st, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  check_defined("unsqueeze");
  size_t k = static_cast<size_t>(normalize_dim(d, dim() + 1, "unsqueeze"));
  Shape shape = shape_;
  Strides st = strides_;
  int64_t stride = k < shape_.size() ? strides_[k] * shape_[k] : 1;
  shape.insert(k, 1);
  st.insert(k, stride);
  return Tensor(storage_, shape, st, offset_, dtype_);
}

// ---- copies ----------------------------------------------------------------------------------

// Writing through a stride-0 (expanded) dim would store into one element many times, from
// several threads at once: refuse, as PyTorch does.
static void check_writable(const Tensor& t, const char* op) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.strides()[static_cast<size_t>(d)] == 0 && t.shape()[static_cast<size_t>(d)] > 1)
      throw ValueError(std::string(op) + ": cannot write into an expanded view (shape " + shape_str(t.shape()) +
                       ", strides " + shape_str(t.strides()) + "); clone() it first");
}

void Tensor::copy_(const Tensor& src) {
  check_defined("copy_");
  src.check_defined("copy_");
  check_writable(*this, "copy_");
  Tensor s = src.shape() == shape_ ? src : src.expand(shape_);
  visit_dtype(dtype_, [&](auto dst_tag) {
    using D = decltype(dst_tag);
    visit_dtype(s.dtype(), [&](auto src_tag) {
      using S = decltype(src_tag);
      D* out = static_cast<D*>(raw_data());
      const S* in = static_cast<const S*>(s.raw_data());
      kernels::strided_loop<2>(shape_, {&strides_, &s.strides()},
                               [&](int64_t n, const auto& off, const auto& step) {
                                 D* o = out + off[0];
                                 const S* i = in + off[1];
                                 for (int64_t k = 0; k < n; ++k) o[k * step[0]] = static_cast<D>(i[k * step[1]]);
                               });
    });
  });
}

void Tensor::fill_(double value) {
  check_defined("fill_");
  check_writable(*this, "fill_");
  visit_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T v = from_double<T>(value, "fill_");
    T* out = static_cast<T*>(raw_data());
    kernels::strided_loop<1>(shape_, {&strides_}, [&](int64_t n, const auto& off, const auto& step) {
      T* o = out + off[0];
      for (int64_t k = 0; k < n; ++k) o[k * step[0]] = v;
    });
  });
}

Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor t = empty(shape_, dtype_);
  t.copy_(*this);
  return t;
}

Tensor Tensor::contiguous() const {
  check_defined("contiguous");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::to(DType dtype) const {
  check_defined("to");
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype);
  t.copy_(*this);
  return t;
}

// ---- shape helpers ---------------------------------------------------------------------------

int64_t normalize_dim(int64_t dim, int64_t rank, const char* op) {
  int64_t d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank)
    throw IndexError(std::string(op) + ": dim " + std::to_string(dim) + " out of range for a tensor of rank " +
                     std::to_string(rank));
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out = Shape::filled(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x != y && x != 1 && y != 1)
      throw ShapeError(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                       " cannot broadcast (dim " + std::to_string(i) + ": " + std::to_string(x) +
                       " vs " + std::to_string(y) + ")");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

}  // namespace lumen
