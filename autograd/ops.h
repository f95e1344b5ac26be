#pragma once
// Differentiable ops on Vars. Each mirrors the tensor op of the same name (tensor/ops.h) and
// records a node whose backward is written with these same ops, so gradients can be
// differentiated again. Index, mask and condition arguments are plain Tensors: nothing flows
// back into them. Every derivative is listed in docs/derivatives.md.
#include <cstdint>
#include <vector>

#include "autograd/var.h"
#include "tensor/ops.h"

namespace lumen {

// ---- elementwise (broadcasting; backward reduces with sum_to) ---------------------------------
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var add(const Var& a, double b);
Var mul(const Var& a, double b);
Var sub(double a, const Var& b);
Var div(double a, const Var& b);
Var neg(const Var& a);
Var pow(const Var& a, double exponent);
Var pow(const Var& a, const Var& exponent);  // a > 0 where the exponent needs a gradient
Var maximum(const Var& a, const Var& b);     // the gradient goes to the larger (half each on ties)
Var minimum(const Var& a, const Var& b);

Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator+(const Var& a, double b);
Var operator+(double a, const Var& b);
Var operator-(const Var& a, double b);
Var operator-(double a, const Var& b);
Var operator*(const Var& a, double b);
Var operator*(double a, const Var& b);
Var operator/(const Var& a, double b);
Var operator/(double a, const Var& b);
Var operator-(const Var& a);

Var exp(const Var& a);
Var log(const Var& a);
Var sqrt(const Var& a);
Var square(const Var& a);
Var abs(const Var& a);
Var sin(const Var& a);
Var cos(const Var& a);
Var tanh(const Var& a);
Var sigmoid(const Var& a);
Var relu(const Var& a);
Var gelu(const Var& a);
Var clamp(const Var& a, double lo, double hi);

// cond ? a : b (cond is a bool Tensor; everything broadcasts).
Var where(const Tensor& cond, const Var& a, const Var& b);
// `value` where mask is true; no gradient flows to the filled places.
Var masked_fill(const Var& a, const Tensor& mask, double value);

// ---- reductions ------------------------------------------------------------------------------
Var sum(const Var& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var mean(const Var& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var var(const Var& a, const std::vector<int64_t>& dims = {}, bool keepdim = false, bool unbiased = false);
// The gradient goes to the maximal elements (split evenly between ties).
Var amax(const Var& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Var amin(const Var& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Undoes a broadcast: the reduction in every broadcasting op's backward. Its backward is expand.
Var sum_to(const Var& a, const Shape& shape);
Var logsumexp(const Var& a, int64_t dim, bool keepdim = false);

// ---- normalisation ---------------------------------------------------------------------------
Var softmax(const Var& a, int64_t dim = -1);
Var log_softmax(const Var& a, int64_t dim = -1);
// Over the last dim; weight and bias [D] are optional (pass an undefined Var).
Var layer_norm(const Var& x, const Var& weight, const Var& bias, double eps = 1e-5);

// ---- linear algebra --------------------------------------------------------------------------
Var matmul(const Var& a, const Var& b);

// ---- views and shape (backward maps the gradient back through the view) ---------------------
Var reshape(const Var& a, const Shape& shape);
Var flatten(const Var& a);
Var transpose(const Var& a, int64_t d0, int64_t d1);
Var permute(const Var& a, const std::vector<int64_t>& dims);
Var slice(const Var& a, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Var select(const Var& a, int64_t dim, int64_t index);
Var expand(const Var& a, const Shape& shape);
Var squeeze(const Var& a, int64_t dim);
Var unsqueeze(const Var& a, int64_t dim);
Var contiguous(const Var& a);
Var concat(const std::vector<Var>& xs, int64_t dim = 0);
Var stack(const std::vector<Var>& xs, int64_t dim = 0);
std::vector<Var> split(const Var& a, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Var> chunk(const Var& a, int64_t chunks, int64_t dim = 0);

// ---- indexing (backward scatters with index_add / scatter_add) --------------------------------
Var index_select(const Var& a, int64_t dim, const Tensor& index);
Var gather(const Var& a, int64_t dim, const Tensor& index);
// The transposes of the two above, differentiable too (their backward is the gather).
Var index_add(const Shape& shape, int64_t dim, const Tensor& index, const Var& src);
Var scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Var& src);
// Rows of weight [V, D] for every id: ids.shape + [D]. `padding_idx` rows get no gradient.
Var embedding(const Var& weight, const Tensor& ids, int64_t padding_idx = -1);

}  // namespace lumen
