// Indexing ops on Vars. Reading by index (index_select, gather, embedding) and adding by index
// (index_add, scatter_add) are each other's transposes, so each one's backward is the other:
// a value read twice sends both gradients back to the same place, where they add up. Indices are
// plain i64 tensors, kept in Saved.extra; no gradient flows into them.
#include <string>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace lumen {
namespace {
void set_dim_attr(const Var& out, int64_t dim) {
  if (out.node()) out.node()->set_attrs("dim=" + std::to_string(dim));
}
}  // namespace

Var index_select(const Var& a, int64_t dim, const Tensor& index) {
  // a [..., n, ...], index [k] -> out [..., k, ...] (n and k at `dim`)
  Var out = record(
      "index_select", lumen::index_select(a.value(), dim, index), {a},
      [dim](const Node& n, const Var& g) -> Grads {
        return {index_add(n.input(0).shape(), dim, n.saved(0).value(), g)};
      },
      Saved{.inputs = false, .extra = {Var(index)}});
  set_dim_attr(out, dim);
  return out;
}

Var gather(const Var& a, int64_t dim, const Tensor& index) {
  // a [*], index [*'] (same rank, i64) -> out [*']
  Var out = record(
      "gather", lumen::gather(a.value(), dim, index), {a},
      [dim](const Node& n, const Var& g) -> Grads {
        return {scatter_add(n.input(0).shape(), dim, n.saved(0).value(), g)};
      },
      Saved{.inputs = false, .extra = {Var(index)}});
  set_dim_attr(out, dim);
  return out;
}

Var index_add(const Shape& shape, int64_t dim, const Tensor& index, const Var& src) {
  // src [..., k, ...], index [k] -> out `shape` = [..., n, ...], zero but where index points
  Var out = record(
      "index_add", lumen::index_add(shape, dim, index, src.value()), {src},
      [dim](const Node& n, const Var& g) -> Grads { return {index_select(g, dim, n.saved(0).value())}; },
      Saved{.inputs = false, .extra = {Var(index)}});
  set_dim_attr(out, dim);
  return out;
}

Var scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Var& src) {
  // src [*'], index [*'] (i64) -> out `shape`, zero but where index points
  Var out = record(
      "scatter_add", lumen::scatter_add(shape, dim, index, src.value()), {src},
      [dim](const Node& n, const Var& g) -> Grads { return {gather(g, dim, n.saved(0).value())}; },
      Saved{.inputs = false, .extra = {Var(index)}});
  set_dim_attr(out, dim);
  return out;
}

Var embedding(const Var& weight, const Tensor& ids, int64_t padding_idx) {
  // weight [V, D], ids [*] (i64) -> out [*, D]
  Tensor out_value = lumen::embedding(weight.value(), ids);
  const int64_t V = weight.size(0);
  // -1 means no padding row; any other negative value is a mistake, not "none".
  if (padding_idx >= V || padding_idx < -1)
    throw IndexError("embedding: padding_idx " + std::to_string(padding_idx) +
                     " is out of range for a weight of shape " + shape_str(weight.shape()) +
                     " (need 0 <= padding_idx < " + std::to_string(V) + ", or -1 for none)");
  Var out = record(
      "embedding", std::move(out_value), {weight},
      [padding_idx](const Node& n, const Var& g) -> Grads {
        // Every looked-up row sends its gradient back to row ids[i] of a zero [V, D]; a row
        // looked up twice gets both. The padding row is a fixed "nothing here" vector, so its
        // lookups send nothing back.
        const Shape& w_shape = n.input(0).shape();
        Tensor flat_ids = n.saved(0).value().reshape({-1});  // [N]
        Var rows = reshape(g, {flat_ids.numel(), w_shape[1]});  // [N, D]
        if (padding_idx >= 0) {
          Tensor is_pad = eq(flat_ids, Tensor::scalar(static_cast<double>(padding_idx), DType::i64));  // [N]
          rows = masked_fill(rows, is_pad.unsqueeze(1), 0.0);
        }
        return {index_add(w_shape, 0, flat_ids, rows)};
      },
      Saved{.inputs = false, .extra = {Var(ids)}});
  if (out.node()) out.node()->set_attrs("padding_idx=" + std::to_string(padding_idx));
  return out;
}

}  // namespace lumen
