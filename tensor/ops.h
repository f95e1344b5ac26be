#pragma once
// Every tensor op, as free functions in namespace lumen. All of them:
//  - accept any rank and any strides (views, transposes, expanded tensors) and return a new
//    contiguous tensor unless documented as a view;
//  - broadcast binary operands with NumPy's rules;
//  - throw ShapeError / DTypeError / IndexError / ValueError whose message names the op and
//    the offending shapes, dtypes or values.
// Floating ops accept f32 and f64; binary operands must share a dtype (no silent promotion).
// None of them records gradients: autograd/ wraps them.
#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace lumen {

// ---- elementwise binary (broadcasting) -------------------------------------------------------
// f32, f64 and i64 (div on i64 truncates toward zero).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Floating only.
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
// With a scalar on one side (the scalar takes the tensor's dtype).
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor sub(double a, const Tensor& b);  // a - b
Tensor div(double a, const Tensor& b);  // a / b

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

// ---- comparisons and selection (broadcasting) -> bool tensors -------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor logical_not(const Tensor& mask);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
// cond ? a : b elementwise; cond is bool; a and b share a dtype; all three broadcast.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// A copy of `a` with `value` where the (broadcast) bool `mask` is true.
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value);

// ---- elementwise unary (floating unless noted) ----------------------------------------------
Tensor neg(const Tensor& a);  // also i64
Tensor abs(const Tensor& a);  // also i64
Tensor sign(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor square(const Tensor& a);
Tensor reciprocal(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
// GELU with the exact erf form: x * Phi(x).
Tensor gelu(const Tensor& a);
// d gelu / dx, for gelu's backward.
Tensor gelu_grad(const Tensor& a);
Tensor clamp(const Tensor& a, double lo, double hi);

// ---- reductions ------------------------------------------------------------------------------
// Over `dims` (empty = all dims); negative dims count from the end. keepdim leaves size-1 dims.
// Reductions are summed in a fixed order (independent of the thread count).
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Population variance (divides by n) unless `unbiased`.
Tensor var(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false,
           bool unbiased = false);
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Index (i64) of the first maximum along `dim`.
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);
struct TopK {
  Tensor values;   // same dtype as the input
  Tensor indices;  // i64
};
// The k largest (or smallest) along `dim`, sorted, ties broken by the lower index.
TopK topk(const Tensor& a, int64_t k, int64_t dim = -1, bool largest = true);
// Sums `a` down to `shape`, undoing a broadcast: the reduction of a broadcast op's backward.
Tensor sum_to(const Tensor& a, const Shape& shape);

// ---- normalisation ---------------------------------------------------------------------------
// Along `dim`; numerically stable (subtracts the max), finite for logits of +-1e4.
Tensor softmax(const Tensor& a, int64_t dim = -1);
Tensor log_softmax(const Tensor& a, int64_t dim = -1);
// Over the last dim, with optional weight and bias of shape [D] (undefined Tensor = none).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// ---- linear algebra --------------------------------------------------------------------------
// torch.matmul semantics: 1-D x 1-D dot, 2-D matrix product, batched with broadcast batch dims,
// 1-D operands promoted and the added dim removed afterwards. Floating only.
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- joining and splitting -------------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
// Views of `a` along `dim` with the given sizes (which must sum to size(dim)).
std::vector<Tensor> split(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim = 0);
// Views of `a` in `chunks` equal parts along `dim` (size must divide evenly).
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim = 0);

// ---- indexing --------------------------------------------------------------------------------
// out[..., i, ...] = a[..., index[i], ...] along `dim`; index is 1-D i64.
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
// torch.gather: out[i][j][k] = a[i][index[i][j][k]][k] for dim 1; index is i64, same rank.
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
// The transpose of gather: a zero tensor of `shape` with src added at the gathered places
// (repeated indices accumulate).
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// The transpose of index_select: a zero tensor of `shape` with src's slices added at `index`.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// Rows of `weight` [V, D] for every id in `ids` (any shape, i64): result ids.shape + [D].
Tensor embedding(const Tensor& weight, const Tensor& ids);
// One-hot encoding of i64 ids: ids.shape + [classes], in `dtype`.
Tensor one_hot(const Tensor& ids, int64_t classes, DType dtype = DType::f32);
// Lower-triangular bool mask [n, m] with true at (i, j) for j <= i + diagonal.
Tensor tril_mask(int64_t n, int64_t m, int64_t diagonal = 0);

// ---- testing helpers -------------------------------------------------------------------------
// True if the shapes match and every |a - b| <= atol + rtol * |b|.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
// max |a - b|, shapes must match.
double max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace lumen
