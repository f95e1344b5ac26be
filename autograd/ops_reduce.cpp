// Reductions on Vars. Backward undoes the reduction's loss of shape: the output's gradient g is
// reshaped to keep the reduced dims as size 1 and expanded back over them, because every
// element that was summed received the same gradient.
#include <cmath>
#include <string>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/ops_util.h"

namespace lumen {
namespace {

// The shape of a reduction with keepdim: the reduced dims become 1.
Shape kept_shape(const Shape& in, const std::vector<bool>& reduced) {
  Shape s = in;
  for (size_t d = 0; d < s.size(); ++d)
    if (reduced[d]) s[d] = 1;
  return s;
}

// How many elements each output element summarises.
int64_t reduced_count(const Shape& in, const std::vector<bool>& reduced) {
  int64_t n = 1;
  for (size_t d = 0; d < in.size(); ++d)
    if (reduced[d]) n *= in[d];
  return n;
}

// g [out shape] -> [in shape]: every input element that fed an output element gets its gradient.
Var spread(const Var& g, const Shape& in, const std::vector<bool>& reduced) {
  return expand(reshape(g, kept_shape(in, reduced)), in);
}

// Nothing for the default (all dims, no keepdim), so a plain sum stays a plain label.
std::string dims_attr(const std::vector<int64_t>& dims, bool keepdim) {
  std::string s = dims.empty() ? "" : "dims=" + shape_str(Dims(dims));
  if (keepdim) s += s.empty() ? "keepdim" : " keepdim";
  return s;
}

Var with_attrs(Var out, const std::string& attrs) {
  if (out.node() && !attrs.empty()) out.node()->set_attrs(attrs);
  return out;
}

}  // namespace

Var sum(const Var& a, const std::vector<int64_t>& dims, bool keepdim) {
  // a [*], out [* with dims removed (or 1 with keepdim)]; d out / d a = 1 for every summand
  std::vector<bool> reduced = detail::reduce_mask("sum", a.value(), dims);
  Var out = record("sum", lumen::sum(a.value(), dims, keepdim), {a},
                   [reduced](const Node& n, const Var& g) -> Grads { return {spread(g, n.input(0).shape(), reduced)}; },
                   Saved{.inputs = false});
  return with_attrs(out, dims_attr(dims, keepdim));
}

Var mean(const Var& a, const std::vector<int64_t>& dims, bool keepdim) {
  // a [*], out [reduced]; each of the N summands gets g / N
  std::vector<bool> reduced = detail::reduce_mask("mean", a.value(), dims);
  Var out = record("mean", lumen::mean(a.value(), dims, keepdim), {a},
                   [reduced](const Node& n, const Var& g) -> Grads {
                     const Shape& in = n.input(0).shape();
                     return {spread(g, in, reduced) / static_cast<double>(reduced_count(in, reduced))};
                   },
                   Saved{.inputs = false});
  return with_attrs(out, dims_attr(dims, keepdim));
}

Var var(const Var& a, const std::vector<int64_t>& dims, bool keepdim, bool unbiased) {
  // out = sum((a - mu)^2) / (N - ddof); d/da = 2 (a - mu) / (N - ddof). The mean's own
  // dependence on a drops out of the first derivative (sum(a - mu) = 0) but not of the
  // second, so mu stays a Var here.
  std::vector<bool> reduced = detail::reduce_mask("var", a.value(), dims);
  Var out = record("var", lumen::var(a.value(), dims, keepdim, unbiased), {a},
                   [reduced, dims, unbiased](const Node& n, const Var& g) -> Grads {
                     const Var& a = n.input(0);
                     double denom = static_cast<double>(reduced_count(a.shape(), reduced) - (unbiased ? 1 : 0));
                     Var centred = sub(a, mean(a, dims, true));  // [*]
                     return {mul(spread(g, a.shape(), reduced), mul(centred, 2.0 / denom))};
                   });
  std::string attrs = dims_attr(dims, keepdim);
  if (unbiased) attrs += attrs.empty() ? "unbiased" : " unbiased";
  return with_attrs(out, attrs);
}

// amax/amin: the gradient goes to the elements equal to the extreme, split evenly between ties
// (so the shares always add up to one). The shares are constants of the backward.
static Var extreme(const char* op, Tensor value, const Var& a, const std::vector<int64_t>& dims, bool keepdim) {
  std::vector<bool> reduced = detail::reduce_mask(op, a.value(), dims);
  Var out = record(op, std::move(value), {a},
                   [reduced](const Node& n, const Var& g) -> Grads {
                     const Tensor& x = n.input(0).value();                              // [*]
                     Tensor best = n.output().value().reshape(kept_shape(x.shape(), reduced));  // [kept]
                     Tensor hit = lumen::eq(x, best).to(x.dtype());                     // [*]
                     std::vector<int64_t> all;
                     for (size_t d = 0; d < reduced.size(); ++d)
                       if (reduced[d]) all.push_back(static_cast<int64_t>(d));
                     Tensor share = lumen::div(hit, lumen::sum(hit, all, true));        // [*]
                     return {mul(spread(g, x.shape(), reduced), Var(share))};
                   },
                   Saved{.inputs = true, .output = true});
  return with_attrs(out, dims_attr(dims, keepdim));
}

Var amax(const Var& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme("amax", lumen::amax(a.value(), dims, keepdim), a, dims, keepdim);
}

Var amin(const Var& a, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme("amin", lumen::amin(a.value(), dims, keepdim), a, dims, keepdim);
}

Var sum_to(const Var& a, const Shape& shape) {
  // a [broadcast of shape] -> out [shape]; its backward broadcasts g back
  if (a.shape() == shape) return a;  // nothing was broadcast: free
  Var out = record("sum_to", lumen::sum_to(a.value(), shape), {a},
                   [](const Node& n, const Var& g) -> Grads { return {expand(g, n.input(0).shape())}; },
                   Saved{.inputs = false});
  return with_attrs(out, "shape=" + shape_str(shape));
}

Var logsumexp(const Var& a, int64_t dim, bool keepdim) {
  // out = log(sum(exp(a), dim)); d/da = exp(a - out) = softmax(a) along dim
  const int64_t k = normalize_dim(dim, a.dim(), "logsumexp");
  const Tensor& x = a.value();  // [*]
  // Shifting by the max keeps exp from overflowing; an infinite max (a row of -inf, or an inf)
  // would turn the shift into NaN, so such rows are not shifted.
  Tensor m = lumen::amax(x, {k}, true);  // [kept]
  m = lumen::masked_fill(m, lumen::eq(lumen::abs(m), Tensor::scalar(INFINITY, m.dtype())), 0.0);
  Tensor lse = lumen::add(lumen::log(lumen::sum(lumen::exp(lumen::sub(x, m)), {k}, true)), m);  // [kept]
  if (!keepdim) lse = lse.squeeze(k);
  Var out = record("logsumexp", lse, {a},
                   [k, keepdim](const Node& n, const Var& g) -> Grads {
                     Var g_kept = keepdim ? g : unsqueeze(g, k);                        // [kept]
                     Var lse_kept = keepdim ? n.output() : unsqueeze(n.output(), k);    // [kept]
                     return {mul(g_kept, exp(sub(n.input(0), lse_kept)))};
                   },
                   Saved{.inputs = true, .output = true});
  return with_attrs(out, "dim=" + std::to_string(k) + (keepdim ? " keepdim" : ""));
}

}  // namespace lumen
