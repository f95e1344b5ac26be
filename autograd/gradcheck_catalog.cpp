#include "autograd/gradcheck_catalog.h"

#include <algorithm>

#include "autograd/ops.h"
#include "tensor/random.h"

namespace lumen {
namespace {

// Builds the catalogue with one generator, so every input is fixed by the seed.
class CatalogBuilder {
 public:
  explicit CatalogBuilder(DType dtype) : dtype_(dtype), gen_(2024) {}

  Tensor randn_(const Shape& s) { return randn(s, dtype_, gen_); }
  // Values in [0.5, 2): for log, sqrt, pow and division.
  Tensor positive(const Shape& s) { return uniform(s, 0.5, 2.0, dtype_, gen_); }
  // A transposed view of a fresh [cols, rows] tensor: non-contiguous, shape [rows, cols].
  Tensor transposed(int64_t rows, int64_t cols) { return randn_({cols, rows}).mT(); }
  // Every other column of a [rows, 2 * cols] tensor: a strided, non-contiguous [rows, cols].
  Tensor strided(int64_t rows, int64_t cols) { return randn_({rows, 2 * cols}).slice(1, 0, 2 * cols, 2); }
  // A size-1 dim expanded to `n` columns (stride 0).
  Tensor expanded(int64_t rows, int64_t n) { return randn_({rows, 1}).expand({rows, n}); }

  void add(std::string op, std::string shapes, VarFunction f, std::vector<Tensor> inputs, bool smooth = true) {
    cases_.push_back({std::move(op), std::move(shapes), std::move(f), std::move(inputs), smooth});
  }
  std::vector<GradcheckCase> take() { return std::move(cases_); }

 private:
  DType dtype_;
  Generator gen_;
  std::vector<GradcheckCase> cases_;
};

using Vs = std::vector<Var>;

}  // namespace

std::vector<GradcheckCase> gradcheck_catalog(DType dtype) {
  CatalogBuilder b(dtype);

  // ---- binary elementwise, with broadcasting and views ----
  b.add("add", "[3, 4] + [4]", [](const Vs& v) { return add(v[0], v[1]); }, {b.randn_({3, 4}), b.randn_({4})});
  b.add("add", "[3, 1] + [1, 4]", [](const Vs& v) { return add(v[0], v[1]); }, {b.randn_({3, 1}), b.randn_({1, 4})});
  b.add("sub", "[4, 3]^T - [3, 4]", [](const Vs& v) { return sub(v[0], v[1]); }, {b.transposed(3, 4), b.randn_({3, 4})});
  b.add("mul", "[2, 3, 4] * [3, 1]", [](const Vs& v) { return mul(v[0], v[1]); }, {b.randn_({2, 3, 4}), b.randn_({3, 1})});
  b.add("mul", "[3, 4]strided * [3, 4]expanded", [](const Vs& v) { return mul(v[0], v[1]); },
        {b.strided(3, 4), b.expanded(3, 4)});
  b.add("div", "[3, 4] / [4]", [](const Vs& v) { return div(v[0], v[1]); }, {b.randn_({3, 4}), b.positive({4})});
  b.add("pow", "[3, 4] ^ [3, 4]", [](const Vs& v) { return pow(v[0], v[1]); }, {b.positive({3, 4}), b.randn_({3, 4})});
  b.add("pow_scalar", "[3, 4] ^ 3", [](const Vs& v) { return pow(v[0], 3.0); }, {b.randn_({3, 4})});
  b.add("maximum", "[3, 4] max [4]", [](const Vs& v) { return maximum(v[0], v[1]); },
        {b.randn_({3, 4}), b.randn_({4})}, false);
  b.add("minimum", "[3, 4] min [3, 4]", [](const Vs& v) { return minimum(v[0], v[1]); },
        {b.randn_({3, 4}), b.randn_({3, 4})}, false);
  b.add("add_scalar", "[5] + 2", [](const Vs& v) { return v[0] + 2.0; }, {b.randn_({5})});
  b.add("mul_scalar", "[5] * 3", [](const Vs& v) { return v[0] * 3.0; }, {b.randn_({5})});
  b.add("rsub_scalar", "1 - [5]", [](const Vs& v) { return 1.0 - v[0]; }, {b.randn_({5})});
  b.add("rdiv_scalar", "1 / [5]", [](const Vs& v) { return 1.0 / v[0]; }, {b.positive({5})});

  // ---- unary ----
  b.add("neg", "[3, 4]", [](const Vs& v) { return neg(v[0]); }, {b.randn_({3, 4})});
  b.add("exp", "[4, 3]^T", [](const Vs& v) { return exp(v[0]); }, {b.transposed(3, 4)});
  b.add("log", "[3, 4]", [](const Vs& v) { return log(v[0]); }, {b.positive({3, 4})});
  b.add("sqrt", "[3, 4]", [](const Vs& v) { return sqrt(v[0]); }, {b.positive({3, 4})});
  b.add("square", "[3, 4]", [](const Vs& v) { return square(v[0]); }, {b.randn_({3, 4})});
  b.add("abs", "[3, 4]", [](const Vs& v) { return abs(v[0]); }, {b.randn_({3, 4})}, false);
  b.add("sin", "[3, 4]", [](const Vs& v) { return sin(v[0]); }, {b.randn_({3, 4})});
  b.add("cos", "[3, 4]", [](const Vs& v) { return cos(v[0]); }, {b.randn_({3, 4})});
  b.add("tanh", "[3, 4]strided", [](const Vs& v) { return tanh(v[0]); }, {b.strided(3, 4)});
  b.add("sigmoid", "[3, 4]", [](const Vs& v) { return sigmoid(v[0]); }, {b.randn_({3, 4})});
  b.add("relu", "[3, 4]", [](const Vs& v) { return relu(v[0]); }, {b.randn_({3, 4})}, false);
  b.add("gelu", "[3, 4]", [](const Vs& v) { return gelu(v[0]); }, {b.randn_({3, 4})});
  b.add("clamp", "[3, 4] to [-0.5, 0.5]", [](const Vs& v) { return clamp(v[0], -0.5, 0.5); }, {b.randn_({3, 4})},
        false);
  {
    Tensor cond = gt(b.randn_({3, 4}), 0.0);
    b.add("where", "[3, 4] ? [3, 4] : [4]", [cond](const Vs& v) { return where(cond, v[0], v[1]); },
          {b.randn_({3, 4}), b.randn_({4})});
    Tensor mask = gt(b.randn_({3, 1}), 0.0);
    b.add("masked_fill", "[3, 4] mask [3, 1]", [mask](const Vs& v) { return masked_fill(v[0], mask, -1.0); },
          {b.randn_({3, 4})});
  }

  // ---- reductions ----
  b.add("sum", "[2, 3, 4] over all", [](const Vs& v) { return sum(v[0]); }, {b.randn_({2, 3, 4})});
  b.add("sum", "[2, 3, 4] dims {0, 2} keepdim", [](const Vs& v) { return sum(v[0], {0, 2}, true); },
        {b.randn_({2, 3, 4})});
  b.add("mean", "[4, 3]^T dim 1", [](const Vs& v) { return mean(v[0], {1}); }, {b.transposed(3, 4)});
  b.add("var", "[3, 5] dim -1", [](const Vs& v) { return var(v[0], {-1}); }, {b.randn_({3, 5})});
  b.add("amax", "[3, 5] dim 1", [](const Vs& v) { return amax(v[0], {1}); }, {b.randn_({3, 5})}, false);
  b.add("amin", "[3, 5] dim 0", [](const Vs& v) { return amin(v[0], {0}); }, {b.randn_({3, 5})}, false);
  b.add("sum_to", "[2, 3, 4] -> [3, 1]", [](const Vs& v) { return sum_to(v[0], {3, 1}); }, {b.randn_({2, 3, 4})});
  b.add("logsumexp", "[3, 5] dim 1", [](const Vs& v) { return logsumexp(v[0], 1); }, {b.randn_({3, 5})});

  // ---- normalisation ----
  b.add("softmax", "[2, 3, 5] dim -1", [](const Vs& v) { return softmax(v[0], -1); }, {b.randn_({2, 3, 5})});
  b.add("softmax", "[5, 3]^T dim 0", [](const Vs& v) { return softmax(v[0], 0); }, {b.transposed(3, 5)});
  b.add("log_softmax", "[3, 5] dim 1", [](const Vs& v) { return log_softmax(v[0], 1); }, {b.randn_({3, 5})});
  b.add("layer_norm", "[2, 3, 6] w [6] b [6]", [](const Vs& v) { return layer_norm(v[0], v[1], v[2]); },
        {b.randn_({2, 3, 6}), b.randn_({6}), b.randn_({6})});
  b.add("layer_norm", "[4, 5] no affine", [](const Vs& v) { return layer_norm(v[0], Var(), Var()); },
        {b.randn_({4, 5})});

  // ---- linear algebra ----
  b.add("matmul", "[3, 4] @ [4, 5]", [](const Vs& v) { return matmul(v[0], v[1]); },
        {b.randn_({3, 4}), b.randn_({4, 5})});
  b.add("matmul", "[4, 3]^T @ [5, 4]^T", [](const Vs& v) { return matmul(v[0], v[1]); },
        {b.transposed(3, 4), b.transposed(4, 5)});
  b.add("matmul", "[2, 1, 3, 4] @ [5, 4, 2]", [](const Vs& v) { return matmul(v[0], v[1]); },
        {b.randn_({2, 1, 3, 4}), b.randn_({5, 4, 2})});
  b.add("matmul", "[4] @ [4, 3]", [](const Vs& v) { return matmul(v[0], v[1]); }, {b.randn_({4}), b.randn_({4, 3})});
  b.add("matmul", "[3, 4] @ [4]", [](const Vs& v) { return matmul(v[0], v[1]); }, {b.randn_({3, 4}), b.randn_({4})});

  // ---- views and joins ----
  b.add("reshape", "[4, 3]^T -> [12]", [](const Vs& v) { return reshape(v[0], {12}); }, {b.transposed(3, 4)});
  b.add("transpose", "[2, 3, 4] (0, 2)", [](const Vs& v) { return transpose(v[0], 0, 2); }, {b.randn_({2, 3, 4})});
  b.add("permute", "[2, 3, 4] (2, 0, 1)", [](const Vs& v) { return permute(v[0], {2, 0, 1}); },
        {b.randn_({2, 3, 4})});
  b.add("slice", "[5, 4] dim 0 [1:5:2]", [](const Vs& v) { return slice(v[0], 0, 1, 5, 2); }, {b.randn_({5, 4})});
  b.add("select", "[3, 4] dim 1 index 2", [](const Vs& v) { return select(v[0], 1, 2); }, {b.randn_({3, 4})});
  b.add("expand", "[3, 1] -> [2, 3, 4]", [](const Vs& v) { return expand(v[0], {2, 3, 4}); }, {b.randn_({3, 1})});
  b.add("squeeze", "[3, 1, 4] dim 1", [](const Vs& v) { return squeeze(v[0], 1); }, {b.randn_({3, 1, 4})});
  b.add("unsqueeze", "[3, 4] dim 0", [](const Vs& v) { return unsqueeze(v[0], 0); }, {b.randn_({3, 4})});
  b.add("concat", "[2, 3] ++ [4, 3]^T dim 0", [](const Vs& v) { return concat({v[0], v[1]}, 0); },
        {b.randn_({2, 3}), b.transposed(4, 3)});
  b.add("stack", "[3, 4] , [3, 4] dim 1", [](const Vs& v) { return stack({v[0], v[1]}, 1); },
        {b.randn_({3, 4}), b.randn_({3, 4})});
  b.add("split", "[6, 2] into {1, 2, 3}", [](const Vs& v) {
    std::vector<Var> parts = split(v[0], {1, 2, 3}, 0);
    return concat({parts[2] * 2.0, parts[0], parts[1] * 3.0}, 0);
  }, {b.randn_({6, 2})});

  // ---- indexing ----
  {
    Tensor idx = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 1}, {4});
    b.add("index_select", "[3, 4] dim 0, index [4] (repeats)",
          [idx](const Vs& v) { return index_select(v[0], 0, idx); }, {b.randn_({3, 4})});
    Tensor gidx = Tensor::from_vector(std::vector<int64_t>{0, 2, 2, 1, 0, 0}, {2, 3});
    b.add("gather", "[2, 3] dim 1, index [2, 3]", [gidx](const Vs& v) { return gather(v[0], 1, gidx); },
          {b.randn_({2, 3})});
    Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 4, 1, 0, 3, 3}, {2, 3});
    b.add("embedding", "[5, 3] ids [2, 3]", [ids](const Vs& v) { return embedding(v[0], ids); }, {b.randn_({5, 3})});
    b.add("index_add", "[4] rows into [3, 2]", [idx](const Vs& v) { return index_add({3, 2}, 0, idx, v[0]); },
          {b.randn_({4, 2})});
    b.add("scatter_add", "[2, 3] into [2, 3] dim 1", [gidx](const Vs& v) { return scatter_add({2, 3}, 1, gidx, v[0]); },
          {b.randn_({2, 3})});
  }
  return b.take();
}

GradcheckRecord run_gradcheck_case(const GradcheckCase& c, const GradcheckOptions& options) {
  GradcheckResult r = gradcheck(c.f, c.inputs, options);
  GradcheckRecord rec;
  rec.op = c.op;
  rec.shapes = c.shapes;
  rec.dtype = c.inputs.empty() ? "f64" : std::string(dtype_name(c.inputs[0].dtype()));
  rec.passed = r.passed;
  for (const InputReport& in : r.inputs) {
    rec.max_abs_err = std::max(rec.max_abs_err, in.max_abs_err);
    rec.max_rel_err = std::max(rec.max_rel_err, in.max_rel_err);
    rec.kinks += in.kinks;
  }
  return rec;
}

}  // namespace lumen
