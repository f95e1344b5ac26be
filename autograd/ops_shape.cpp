// Views and shape ops on Vars. Forward is the tensor view (no copy); backward maps the
// gradient back through the inverse view: reshape back, transpose back, permute by the inverse
// permutation, sum over what expand repeated. Slicing and selecting have no view as their
// inverse, so their backward is an op of its own that places g into zeros; that op's backward
// is the slice again, so gradients of gradients work.
#include <string>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace lumen {
namespace {

Var with_attrs(Var out, const std::string& attrs) {
  if (out.node()) out.node()->set_attrs(attrs);
  return out;
}

bool wants(const Node& n, size_t i) { return n.input(i).requires_grad(); }

// g [slice of shape] -> [shape]: zeros with g written into the slice. The transpose of slice.
Var slice_backward(const Var& g, const Shape& shape, int64_t dim, int64_t start, int64_t end, int64_t step) {
  Tensor out = Tensor::zeros(shape, g.dtype());
  out.slice(dim, start, end, step).copy_(g.value());
  return record("slice_backward", out, {g},
                [dim, start, end, step](const Node&, const Var& gg) -> Grads {
                  return {slice(gg, dim, start, end, step)};
                },
                Saved{.inputs = false});
}

// g [shape without dim] -> [shape]: zeros with g written at `index`. The transpose of select.
Var select_backward(const Var& g, const Shape& shape, int64_t dim, int64_t index) {
  Tensor out = Tensor::zeros(shape, g.dtype());
  out.select(dim, index).copy_(g.value());
  return record("select_backward", out, {g},
                [dim, index](const Node&, const Var& gg) -> Grads { return {select(gg, dim, index)}; },
                Saved{.inputs = false});
}

}  // namespace

Var reshape(const Var& a, const Shape& shape) {
  // a [*] -> out [shape], same elements in row-major order
  Var out = record("reshape", a.value().reshape(shape), {a},
                   [](const Node& n, const Var& g) -> Grads { return {reshape(g, n.input(0).shape())}; },
                   Saved{.inputs = false});
  return with_attrs(out, "shape=" + shape_str(shape));
}

Var flatten(const Var& a) {
  // a [*] -> out [numel]
  return record("flatten", a.value().flatten(), {a},
                [](const Node& n, const Var& g) -> Grads { return {reshape(g, n.input(0).shape())}; },
                Saved{.inputs = false});
}

Var transpose(const Var& a, int64_t d0, int64_t d1) {
  // a [.., n0, .., n1, ..] -> out [.., n1, .., n0, ..]; a transpose is its own inverse
  Var out = record("transpose", a.value().transpose(d0, d1), {a},
                   [d0, d1](const Node&, const Var& g) -> Grads { return {transpose(g, d0, d1)}; },
                   Saved{.inputs = false});
  return with_attrs(out, "dims=" + std::to_string(d0) + "," + std::to_string(d1));
}

Var permute(const Var& a, const std::vector<int64_t>& dims) {
  // out dim i is a's dim dims[i]; backward puts each dim back: inverse[dims[i]] = i
  Tensor value = a.value().permute(dims);  // validates dims first
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i)
    inverse[static_cast<size_t>(normalize_dim(dims[i], a.dim(), "permute"))] = static_cast<int64_t>(i);
  Var out = record("permute", value, {a},
                   [inverse](const Node&, const Var& g) -> Grads { return {permute(g, inverse)}; },
                   Saved{.inputs = false});
  return with_attrs(out, "dims=" + shape_str(Dims(dims)));
}

Var slice(const Var& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  // a [.., n, ..] -> out [.., ceil((end - start) / step), ..]
  Var out = record("slice", a.value().slice(dim, start, end, step), {a},
                   [dim, start, end, step](const Node& n, const Var& g) -> Grads {
                     return {slice_backward(g, n.input(0).shape(), dim, start, end, step)};
                   },
                   Saved{.inputs = false});
  return with_attrs(out, "dim=" + std::to_string(dim) + " " + std::to_string(start) + ":" + std::to_string(end) +
                             (step == 1 ? "" : ":" + std::to_string(step)));
}

Var select(const Var& a, int64_t dim, int64_t index) {
  // a [.., n, ..] -> out [.., ..] (dim removed)
  Var out = record("select", a.value().select(dim, index), {a},
                   [dim, index](const Node& n, const Var& g) -> Grads {
                     return {select_backward(g, n.input(0).shape(), dim, index)};
                   },
                   Saved{.inputs = false});
  return with_attrs(out, "dim=" + std::to_string(dim) + " index=" + std::to_string(index));
}

Var expand(const Var& a, const Shape& shape) {
  // a [*] broadcast to out [shape] (stride 0, no copy); every copy's gradient adds up
  Var out = record("expand", a.value().expand(shape), {a},
                   [](const Node& n, const Var& g) -> Grads { return {sum_to(g, n.input(0).shape())}; },
                   Saved{.inputs = false});
  return with_attrs(out, "shape=" + shape_str(shape));
}

Var squeeze(const Var& a, int64_t dim) {
  // a [.., 1, ..] -> out [.., ..]
  Tensor value = a.value().squeeze(dim);
  const int64_t k = normalize_dim(dim, a.dim(), "squeeze");
  Var out = record("squeeze", value, {a}, [k](const Node&, const Var& g) -> Grads { return {unsqueeze(g, k)}; },
                   Saved{.inputs = false});
  return with_attrs(out, "dim=" + std::to_string(k));
}

Var unsqueeze(const Var& a, int64_t dim) {
  // a [.., ..] -> out [.., 1, ..]
  Tensor value = a.value().unsqueeze(dim);
  const int64_t k = normalize_dim(dim, a.dim() + 1, "unsqueeze");
  Var out = record("unsqueeze", value, {a}, [k](const Node&, const Var& g) -> Grads { return {squeeze(g, k)}; },
                   Saved{.inputs = false});
  return with_attrs(out, "dim=" + std::to_string(k));
}

Var contiguous(const Var& a) {
  // the same values in a fresh row-major layout (or a itself's memory if already so)
  return record("contiguous", a.value().contiguous(), {a},
                [](const Node&, const Var& g) -> Grads { return {g}; }, Saved{.inputs = false});
}

Var concat(const std::vector<Var>& xs, int64_t dim) {
  // xs[i] [.., n_i, ..] -> out [.., sum n_i, ..]; backward hands each input its slice of g
  std::vector<Tensor> values;
  for (const Var& x : xs) values.push_back(x.value());
  Tensor value = lumen::concat(values, dim);  // validates shapes, dtypes and dim
  const int64_t k = normalize_dim(dim, value.dim(), "concat");
  Var out = record("concat", value, xs,
                   [k](const Node& n, const Var& g) -> Grads {
                     Grads grads(n.inputs().size());
                     int64_t start = 0;
                     for (size_t i = 0; i < grads.size(); ++i) {
                       int64_t size = n.input(i).size(k);
                       if (wants(n, i)) grads[i] = slice(g, k, start, start + size);
                       start += size;
                     }
                     return grads;
                   },
                   Saved{.inputs = false});
  return with_attrs(out, "dim=" + std::to_string(k));
}

Var stack(const std::vector<Var>& xs, int64_t dim) {
  // xs[i] [*] -> out [.., len(xs), ..] with the new dim at `dim`; input i's gradient is g's entry i
  std::vector<Tensor> values;
  for (const Var& x : xs) values.push_back(x.value());
  Tensor value = lumen::stack(values, dim);
  const int64_t k = normalize_dim(dim, value.dim(), "stack");
  Var out = record("stack", value, xs,
                   [k](const Node& n, const Var& g) -> Grads {
                     Grads grads(n.inputs().size());
                     for (size_t i = 0; i < grads.size(); ++i)
                       if (wants(n, i)) grads[i] = select(g, k, static_cast<int64_t>(i));
                     return grads;
                   },
                   Saved{.inputs = false});
  return with_attrs(out, "dim=" + std::to_string(k));
}

std::vector<Var> split(const Var& a, const std::vector<int64_t>& sizes, int64_t dim) {
  // a [.., sum sizes, ..] -> parts [.., sizes[i], ..]; each part is a slice, and backward
  // places its gradient back; the parts' gradients add up in a
  std::vector<Tensor> values = lumen::split(a.value(), sizes, dim);  // validates the sizes
  const int64_t k = normalize_dim(dim, a.dim(), "split");
  std::vector<Var> parts;
  int64_t start = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t end = start + values[i].size(k);
    Var part = record("split", values[i], {a},
                      [k, start, end](const Node& n, const Var& g) -> Grads {
                        return {slice_backward(g, n.input(0).shape(), k, start, end, 1)};
                      },
                      Saved{.inputs = false});
    const std::string range = std::to_string(start) + ":" + std::to_string(end);
    parts.push_back(with_attrs(part, "dim=" + std::to_string(k) + " " + range));
    start = end;
  }
  return parts;
}

std::vector<Var> chunk(const Var& a, int64_t chunks, int64_t dim) {
  // equal parts: the tensor op checks that they divide evenly, then it is a split
  std::vector<Tensor> values = lumen::chunk(a.value(), chunks, dim);
  const int64_t k = normalize_dim(dim, a.dim(), "chunk");
  std::vector<int64_t> sizes;
  for (const Tensor& v : values) sizes.push_back(v.size(k));
  return split(a, sizes, k);
}

}  // namespace lumen
