// Reductions: sum, mean, var, amax, amin, argmax, argmin, topk and sum_to.
//
// A reduction splits the input's dims into two index spaces: the kept dims, one output element
// per index, and the reduced dims, whose elements fold into that output element. Each space is
// listed in row-major order, with size-1 dims dropped and neighbours that sit back to back in
// memory merged, so summing [B, T, D] over {0, 1} becomes one reduced dim of B*T elements with
// stride D, and one kept dim of D elements with stride 1.
//
// Two loops cover every layout:
//  - by output element (reduce_by_output): for each output element, walk its reduced index
//    space. When the innermost reduced dim is contiguous (a row sum, a full sum) the inner
//    loop keeps 8 partial results that the compiler turns into SIMD lanes.
//  - by column block (reduce_by_columns): when neighbouring output elements are closer in
//    memory than neighbouring reduced elements (the bias gradient: [B, D] summed to [D]),
//    gathering each output from a stride-D column would touch a new cache line per element.
//    Instead a block of neighbouring outputs is accumulated together, adding whole rows into
//    a small array of accumulators.
//
// Determinism: every output element is reduced by one thread, always in the same order (the
// order depends on the layout, never on how many threads run). Threads split output elements
// only, so a full sum runs on one thread.
//
// Accuracy: f32 and f64 sums accumulate in double. For f32 the loops are bound by memory, not
// arithmetic, so the wider accumulator is nearly free, and a sum of a million f32 values stays
// within f32 rounding of the true sum. (For f64 the 8 lanes of the contiguous loop help a
// little: they split a long sum into 8 shorter ones, and rounding error grows with length.)
// i64 sums accumulate in uint64, so that overflow wraps (as in PyTorch) instead of being
// undefined behaviour.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/kernels/strided.h"
#include "tensor/ops.h"
#include "tensor/ops_util.h"

namespace lumen {
namespace {

// ---- dtype checks and dispatch ---------------------------------------------------------------

void check_numeric(const char* op, const Tensor& a) {
  detail::check_defined(op, a);
  if (a.dtype() == DType::boolean)
    throw DTypeError(std::string(op) + ": expected f32, f64 or i64, got bool of shape " + shape_str(a.shape()));
}

// visit_dtype without the bool case, so kernels are never instantiated for bool.
template <class Fn> decltype(auto) visit_numeric(DType d, Fn&& fn) {
  if (d == DType::i64) return fn(int64_t{});
  return visit_floating(d, fn);
}

template <class T> bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(x);
  else
    return false;
}

// ---- the reduction plan ----------------------------------------------------------------------

struct ReducePlan {
  Dims kept_sizes, kept_strides;  // input strides; the output is contiguous over these dims
  Dims red_sizes, red_strides;
  int64_t outputs = 1;  // product of the kept sizes
  int64_t count = 1;    // product of the reduced sizes: input elements per output element
};

// Appends a dim, merging it into the previous one when the two are laid out back to back.
void push_merged(Dims& sizes, Dims& strides, int64_t size, int64_t stride) {
  if (size == 1) return;
  if (!sizes.empty() && strides.back() == stride * size) {
    sizes[sizes.size() - 1] *= size;
    strides[strides.size() - 1] = stride;
    return;
  }
  sizes.push_back(size);
  strides.push_back(stride);
}

ReducePlan make_plan(const Tensor& a, const std::vector<bool>& mask) {
  ReducePlan p;
  for (size_t d = 0; d < mask.size(); ++d) {
    const int64_t size = a.shape()[d], stride = a.strides()[d];
    if (mask[d]) {
      p.count *= size;
      push_merged(p.red_sizes, p.red_strides, size, stride);
    } else {
      p.outputs *= size;
      push_merged(p.kept_sizes, p.kept_strides, size, stride);
    }
  }
  // An empty index space has one index; a dim of size 1 keeps the loops free of special cases.
  if (p.kept_sizes.empty()) {
    p.kept_sizes.push_back(1);
    p.kept_strides.push_back(0);
  }
  if (p.red_sizes.empty()) {
    p.red_sizes.push_back(1);
    p.red_strides.push_back(0);
  }
  return p;
}

Shape reduced_shape(const Shape& shape, const std::vector<bool>& mask, bool keepdim) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!mask[d])
      out.push_back(shape[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

std::string reduced_dims_str(const std::vector<bool>& mask) {
  Dims dims;
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) dims.push_back(static_cast<int64_t>(d));
  return shape_str(dims);
}

// max and min have no value for an empty set.
void check_nonempty(const char* op, const Tensor& a, const std::vector<bool>& mask) {
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d] && a.shape()[d] == 0)
      throw ValueError(std::string(op) + ": cannot reduce over a zero-size dim: shape " + shape_str(a.shape()) +
                       ", reduced dims " + reduced_dims_str(mask));
}

// Input offsets of consecutive indices of an index space, advanced like an odometer.
class OffsetWalker {
 public:
  OffsetWalker(const int64_t* sizes, const int64_t* strides, size_t rank, int64_t start)
      : sizes_(sizes), strides_(strides), index_(Dims::filled(rank, 0)) {
    for (size_t d = rank; d-- > 0;) {
      index_[d] = start % sizes_[d];
      start /= sizes_[d];
      offset_ += index_[d] * strides_[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {
    for (size_t d = index_.size(); d-- > 0;) {
      offset_ += strides_[d];
      if (++index_[d] < sizes_[d]) return;
      offset_ -= strides_[d] * sizes_[d];
      index_[d] = 0;
    }
  }
  void reset() {
    std::fill(index_.begin(), index_.end(), 0);
    offset_ = 0;
  }

 private:
  const int64_t* sizes_;
  const int64_t* strides_;
  Dims index_;
  int64_t offset_ = 0;
};

// Runs body(first, last) over [0, n) split into one contiguous range per thread, or on this
// thread alone when `work` (elements touched) is too small to pay for starting threads.
template <class Body>
void parallel_ranges(int64_t n, int64_t work, const Body& body) {
  if (n < 2 || work < kernels::kParallelGrain) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    int64_t nt = 1, t = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    body(n * t / nt, n * (t + 1) / nt);
  }
}

// ---- the folding operations ------------------------------------------------------------------
// Each says how to start (init), fold in one element (add), combine two partial results
// (merge) and turn the result into the output value (finish, given the element count).

template <class T> struct SumOp {
  using Acc = std::conditional_t<std::is_same_v<T, int64_t>, uint64_t, double>;
  static Acc init() { return 0; }
  static Acc add(Acc acc, T x) { return acc + static_cast<Acc>(x); }
  static Acc merge(Acc a, Acc b) { return a + b; }
  static T finish(Acc acc, int64_t) { return static_cast<T>(acc); }
};

template <class T> struct MeanOp : SumOp<T> {
  // 0 / 0 is NaN: the mean of nothing, as in PyTorch.
  static T finish(typename SumOp<T>::Acc acc, int64_t n) {
    return static_cast<T>(static_cast<double>(acc) / static_cast<double>(n));
  }
};

// NaN wins, as in PyTorch: once the result is NaN it stays NaN.
template <class T> struct MaxOp {
  using Acc = T;
  static T init() {
    if constexpr (std::is_floating_point_v<T>)
      return -std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::lowest();
  }
  static T add(T acc, T x) { return (x > acc || is_nan(x)) ? x : acc; }
  static T merge(T a, T b) { return add(a, b); }
  static T finish(T acc, int64_t) { return acc; }
};

template <class T> struct MinOp {
  using Acc = T;
  static T init() {
    if constexpr (std::is_floating_point_v<T>)
      return std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::max();
  }
  static T add(T acc, T x) { return (x < acc || is_nan(x)) ? x : acc; }
  static T merge(T a, T b) { return add(a, b); }
  static T finish(T acc, int64_t) { return acc; }
};

// ---- the kernels -----------------------------------------------------------------------------

// Folds n elements p[0], p[stride], ... into acc. A contiguous run is folded into 8 lanes
// (element i goes to lane i % 8) which are merged in lane order at the end: the compiler can
// keep the lanes in SIMD registers, because their order is fixed by the code.
template <class Op, class T>
typename Op::Acc fold_run(const T* p, int64_t n, int64_t stride, typename Op::Acc acc) {
  using Acc = typename Op::Acc;
  constexpr int64_t kLanes = 8;
  if (stride != 1 || n < kLanes) {
    for (int64_t k = 0; k < n; ++k) acc = Op::add(acc, p[k * stride]);
    return acc;
  }
  Acc lanes[kLanes];
  for (int64_t j = 0; j < kLanes; ++j) lanes[j] = Op::init();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) lanes[j] = Op::add(lanes[j], p[i + j]);
  for (int64_t j = 0; j < kLanes; ++j) acc = Op::merge(acc, lanes[j]);
  for (; i < n; ++i) acc = Op::add(acc, p[i]);
  return acc;
}

// out[o] = fold of the reduced elements of output element o, one output element at a time.
template <class Op, class T>
void reduce_by_output(const ReducePlan& plan, const T* in, T* out) {
  // The innermost reduced dim is folded by fold_run; the walker steps through the dims outside it.
  const size_t outer_rank = plan.red_sizes.size() - 1;
  const int64_t inner_n = plan.red_sizes.back(), inner_stride = plan.red_strides.back();
  const int64_t outer_count = plan.count / inner_n;
  parallel_ranges(plan.outputs, plan.outputs * plan.count, [&](int64_t first, int64_t last) {
    OffsetWalker kept(plan.kept_sizes.data(), plan.kept_strides.data(), plan.kept_sizes.size(), first);
    OffsetWalker red(plan.red_sizes.data(), plan.red_strides.data(), outer_rank, 0);
    for (int64_t o = first; o < last; ++o, kept.next()) {
      const T* base = in + kept.offset();
      typename Op::Acc acc = Op::init();
      red.reset();
      for (int64_t r = 0; r < outer_count; ++r, red.next())
        acc = fold_run<Op>(base + red.offset(), inner_n, inner_stride, acc);
      out[o] = Op::finish(acc, plan.count);
    }
  });
}

// The same results, for when the innermost kept dim has a smaller stride than the innermost
// reduced dim (stride 1 for the bias gradient [B, D] -> [D]): each block of up to kBlock
// neighbouring output elements is accumulated together, one input row segment per reduced
// index, so the inner loop is `acc[j] += row[j]`, which vectorises. Every output element still
// folds its elements one by one, in row-major order of the reduced dims.
template <class Op, class T>
void reduce_by_columns(const ReducePlan& plan, const T* in, T* out) {
  using Acc = typename Op::Acc;
  constexpr int64_t kBlock = 256;  // accumulators stay in L1 cache
  const size_t outer_rank = plan.kept_sizes.size() - 1;
  const int64_t width = plan.kept_sizes.back(), step = plan.kept_strides.back();
  const int64_t blocks_per_row = (width + kBlock - 1) / kBlock;
  const int64_t units = (plan.outputs / width) * blocks_per_row;
  parallel_ranges(units, plan.outputs * plan.count, [&](int64_t first, int64_t last) {
    Acc acc[kBlock];
    OffsetWalker red(plan.red_sizes.data(), plan.red_strides.data(), plan.red_sizes.size(), 0);
    for (int64_t u = first; u < last; ++u) {
      const int64_t row = u / blocks_per_row, c0 = (u % blocks_per_row) * kBlock;
      const int64_t w = std::min(kBlock, width - c0);
      const OffsetWalker kept(plan.kept_sizes.data(), plan.kept_strides.data(), outer_rank, row);
      const T* base = in + kept.offset() + c0 * step;
      for (int64_t j = 0; j < w; ++j) acc[j] = Op::init();
      red.reset();
      for (int64_t r = 0; r < plan.count; ++r, red.next()) {
        const T* src = base + red.offset();
        if (step == 1)  // a separate loop, so the compiler sees the contiguous case
          for (int64_t j = 0; j < w; ++j) acc[j] = Op::add(acc[j], src[j]);
        else
          for (int64_t j = 0; j < w; ++j) acc[j] = Op::add(acc[j], src[j * step]);
      }
      T* dst = out + row * width + c0;
      for (int64_t j = 0; j < w; ++j) dst[j] = Op::finish(acc[j], plan.count);
    }
  });
}

template <class Op, class T>
void run_reduction(const ReducePlan& plan, const T* in, T* out) {
  if (plan.count == 0) {  // every output folds nothing: 0 for a sum, NaN for a mean
    std::fill(out, out + plan.outputs, Op::finish(Op::init(), 0));
    return;
  }
  // The innermost loop should walk the smallest stride: along a reduced row when it is
  // contiguous, across neighbouring output elements when they are closer in memory.
  const int64_t red_step = std::abs(plan.red_strides.back());
  const int64_t kept_step = std::abs(plan.kept_strides.back());
  if (red_step != 1 && plan.kept_sizes.back() > 1 && kept_step < red_step)
    reduce_by_columns<Op>(plan, in, out);
  else
    reduce_by_output<Op>(plan, in, out);
}

// The shared body of sum, mean, amax and amin. `Op` is one of the folding templates above.
template <template <class> class Op>
Tensor reduce(const Tensor& a, const std::vector<bool>& mask, bool keepdim) {
  const ReducePlan plan = make_plan(a, mask);
  Tensor out = Tensor::empty(reduced_shape(a.shape(), mask, keepdim), a.dtype());
  if (plan.outputs == 0) return out;
  visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    run_reduction<Op<T>>(plan, a.data<T>(), out.data<T>());
  });
  return out;
}

// ---- argmax / argmin -------------------------------------------------------------------------

// Index of the first maximum (or minimum) along one dim; a NaN counts as the extreme, as in
// PyTorch, so the first NaN wins.
template <class T, bool kMax>
void arg_reduce(const ReducePlan& plan, const T* in, int64_t* out) {
  const int64_t n = plan.count, stride = plan.red_strides[0];
  parallel_ranges(plan.outputs, plan.outputs * n, [&](int64_t first, int64_t last) {
    OffsetWalker kept(plan.kept_sizes.data(), plan.kept_strides.data(), plan.kept_sizes.size(), first);
    for (int64_t o = first; o < last; ++o, kept.next()) {
      const T* p = in + kept.offset();
      T best = p[0];
      int64_t best_k = 0;
      for (int64_t k = 1; k < n && !is_nan(best); ++k) {
        const T x = p[k * stride];
        if (is_nan(x) || (kMax ? x > best : x < best)) {
          best = x;
          best_k = k;
        }
      }
      out[o] = best_k;
    }
  });
}

template <bool kMax>
Tensor arg_extreme(const char* op, const Tensor& a, int64_t dim, bool keepdim) {
  check_numeric(op, a);
  std::vector<bool> mask(static_cast<size_t>(a.dim()), false);
  mask[static_cast<size_t>(normalize_dim(dim, a.dim(), op))] = true;
  check_nonempty(op, a, mask);
  // One reduced dim, so an element's position in the reduced index space is its index
  // along `dim` (a dim of size 1 is dropped from the plan, and its index is always 0).
  const ReducePlan plan = make_plan(a, mask);
  Tensor out = Tensor::empty(reduced_shape(a.shape(), mask, keepdim), DType::i64);
  if (plan.outputs == 0) return out;
  visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    arg_reduce<T, kMax>(plan, a.data<T>(), out.data<int64_t>());
  });
  return out;
}

// ---- topk ------------------------------------------------------------------------------------

// A total order on values with NaN above everything (PyTorch's order for sorting and topk).
template <class T> bool value_less(T a, T b) { return !is_nan(a) && (is_nan(b) || a < b); }

template <class T>
void topk_kernel(const Tensor& a, size_t dim, int64_t k, bool largest, const Tensor& values,
                 const Tensor& indices) {
  std::vector<bool> mask(static_cast<size_t>(a.dim()), false);
  mask[dim] = true;
  const ReducePlan plan = make_plan(a, mask);
  const int64_t n = a.shape()[dim], stride = a.strides()[dim];
  // Kept elements after `dim` in the output: output element o of the kept space, entry j,
  // sits at (o / after) * k * after + j * after + o % after.
  int64_t after = 1;
  for (size_t d = dim + 1; d < a.shape().size(); ++d) after *= a.shape()[d];
  const T* in = a.data<T>();
  T* out_v = values.data<T>();
  int64_t* out_i = indices.data<int64_t>();
  // Sorted position: larger (or smaller) value first, then the lower index.
  auto before = [largest](const std::pair<T, int64_t>& x, const std::pair<T, int64_t>& y) {
    const bool x_first = largest ? value_less(y.first, x.first) : value_less(x.first, y.first);
    const bool y_first = largest ? value_less(x.first, y.first) : value_less(y.first, x.first);
    return x_first || (!y_first && x.second < y.second);
  };
  parallel_ranges(plan.outputs, plan.outputs * n, [&](int64_t first, int64_t last) {
    std::vector<std::pair<T, int64_t>> items(static_cast<size_t>(n));
    OffsetWalker kept(plan.kept_sizes.data(), plan.kept_strides.data(), plan.kept_sizes.size(), first);
    for (int64_t o = first; o < last; ++o, kept.next()) {
      const T* p = in + kept.offset();
      for (int64_t i = 0; i < n; ++i) items[static_cast<size_t>(i)] = {p[i * stride], i};
      std::partial_sort(items.begin(), items.begin() + k, items.end(), before);
      const int64_t base = (o / after) * k * after + o % after;
      for (int64_t j = 0; j < k; ++j) {
        out_v[base + j * after] = items[static_cast<size_t>(j)].first;
        out_i[base + j * after] = items[static_cast<size_t>(j)].second;
      }
    }
  });
}

}  // namespace

// ---- the public ops --------------------------------------------------------------------------

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_numeric("sum", a);
  return reduce<SumOp>(a, detail::reduce_mask("sum", a, dims), keepdim);
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_floating("mean", a);
  return reduce<MeanOp>(a, detail::reduce_mask("mean", a, dims), keepdim);
}

Tensor amax(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_numeric("amax", a);
  std::vector<bool> mask = detail::reduce_mask("amax", a, dims);
  check_nonempty("amax", a, mask);
  return reduce<MaxOp>(a, mask, keepdim);
}

Tensor amin(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  check_numeric("amin", a);
  std::vector<bool> mask = detail::reduce_mask("amin", a, dims);
  check_nonempty("amin", a, mask);
  return reduce<MinOp>(a, mask, keepdim);
}

// Two passes per output element (the mean, then the squared deviations from it), which stays
// accurate when the mean is large compared with the spread, unlike E[x^2] - E[x]^2. The input
// is first laid out as a contiguous [outputs, count] matrix (a view when the layout allows).
Tensor var(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim, bool unbiased) {
  detail::check_floating("var", a);
  const std::vector<bool> mask = detail::reduce_mask("var", a, dims);
  std::vector<int64_t> order;
  int64_t outputs = 1, count = 1;
  for (size_t d = 0; d < mask.size(); ++d)
    if (!mask[d]) {
      order.push_back(static_cast<int64_t>(d));
      outputs *= a.shape()[d];
    }
  for (size_t d = 0; d < mask.size(); ++d)
    if (mask[d]) {
      order.push_back(static_cast<int64_t>(d));
      count *= a.shape()[d];
    }
  const Tensor rows = a.permute(order).reshape({outputs, count}).contiguous();
  Tensor out = Tensor::empty(reduced_shape(a.shape(), mask, keepdim), a.dtype());
  // 0 / 0 gives NaN for an empty set, and for a single element when unbiased, as in PyTorch.
  const double divisor = static_cast<double>(count) - (unbiased ? 1.0 : 0.0);
  visit_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = rows.data<T>();
    T* o = out.data<T>();
    parallel_ranges(outputs, outputs * count, [&](int64_t first, int64_t last) {
      for (int64_t r = first; r < last; ++r) {
        const T* x = in + r * count;
        const double m = fold_run<SumOp<T>>(x, count, 1, 0.0) / static_cast<double>(count);
        double ss = 0;
        for (int64_t i = 0; i < count; ++i) {
          const double dev = static_cast<double>(x[i]) - m;
          ss += dev * dev;
        }
        o[r] = static_cast<T>(ss / divisor);
      }
    });
  });
  return out;
}

Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) { return arg_extreme<true>("argmax", a, dim, keepdim); }

Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) { return arg_extreme<false>("argmin", a, dim, keepdim); }

TopK topk(const Tensor& a, int64_t k, int64_t dim, bool largest) {
  check_numeric("topk", a);
  const size_t d = static_cast<size_t>(normalize_dim(dim, a.dim(), "topk"));
  const int64_t n = a.shape()[d];
  if (k < 0 || k > n)
    throw ValueError("topk: k = " + std::to_string(k) + " is out of range for dim " + std::to_string(dim) +
                     " of size " + std::to_string(n) + " (shape " + shape_str(a.shape()) + ")");
  Shape shape = a.shape();
  shape[d] = k;
  TopK result{Tensor::empty(shape, a.dtype()), Tensor::empty(shape, DType::i64)};
  if (result.values.numel() == 0) return result;
  visit_numeric(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    topk_kernel<T>(a, d, k, largest, result.values, result.indices);
  });
  return result;
}

// The dims that a broadcast from `shape` to a.shape() added (the leading ones) or stretched
// (size 1 in `shape`) are summed away; the result always has exactly `shape`, in a new tensor.
Tensor sum_to(const Tensor& a, const Shape& shape) {
  check_numeric("sum_to", a);
  const size_t rank = a.shape().size();
  auto fail = [&]() {
    return ShapeError("sum_to: shape " + shape_str(shape) + " does not broadcast to the tensor's shape " +
                      shape_str(a.shape()));
  };
  if (shape.size() > rank) throw fail();
  const size_t lead = rank - shape.size();
  std::vector<bool> mask(rank, false);
  bool any = false;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t have = a.shape()[d];
    if (d < lead) {
      mask[d] = true;
    } else {
      const int64_t want = shape[d - lead];
      if (want == have) continue;
      if (want != 1) throw fail();
      mask[d] = true;
    }
    any = true;
  }
  if (!any) return a.clone();
  return reduce<SumOp>(a, mask, /*keepdim=*/true).view(shape);
}

}  // namespace lumen
