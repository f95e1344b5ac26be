#include "nn/loss.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/kernels/strided.h"

namespace lumen::nn {
namespace {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
    case Reduction::none: return "none";
  }
  return "?";
}

// Checks every target once, before any arithmetic, and counts those that are not ignored.
// targets: contiguous i64 [N].
int64_t count_targets(const int64_t* t, int64_t N, int64_t C, int64_t ignore_index) {
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] == ignore_index) continue;
    if (t[i] < 0 || t[i] >= C)
      throw IndexError("cross_entropy: target " + std::to_string(t[i]) + " (at flat index " + std::to_string(i) +
                       ") is out of range for C = " + std::to_string(C) + " classes (need 0 <= target < " +
                       std::to_string(C) + " or target == ignore_index " + std::to_string(ignore_index) + ")");
    ++count;
  }
  return count;
}

// z [N, C] contiguous, t [N] -> loss [N] (double), 0 for ignored rows.
// Per row, in one pass: the running max m and s = sum_j exp(z_j - m) (rescaled whenever the max
// grows), plus sum_j z_j for the smoothing term. Then, with lse = m + log(s) and
// log p_j = z_j - lse:
//   loss = -(1 - eps) * log p_t - (eps / C) * sum_j log p_j
//        = lse - (1 - eps) * z_t - (eps / C) * sum_j z_j.
// Every exp sees a non-positive argument, so nothing overflows, even for logits of +-1e4.
template <class T>
void cross_entropy_rows(const T* z, const int64_t* t, int64_t N, int64_t C, int64_t ignore_index, double eps,
                        double* loss) {
  const bool parallel = N * C >= kernels::kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] == ignore_index) {
      loss[i] = 0.0;
      continue;
    }
    const T* row = z + i * C;
    double m = static_cast<double>(row[0]), s = 1.0, sum_z = m;
    for (int64_t j = 1; j < C; ++j) {
      const double v = static_cast<double>(row[j]);
      sum_z += v;
      if (v > m) {
        s = s * std::exp(m - v) + 1.0;
        m = v;
      } else {
        s += std::exp(v - m);
      }
    }
    const double lse = m + std::log(s);
    loss[i] = lse - (1.0 - eps) * static_cast<double>(row[t[i]]) - eps / static_cast<double>(C) * sum_z;
  }
}

// The target distribution q [N, C] (zero rows where ignored) and the row mask valid [N, 1].
void target_distribution(const Tensor& targets, int64_t C, double eps, int64_t ignore_index, DType dtype,
                         Tensor& q, Tensor& valid) {
  const int64_t N = targets.numel();
  const int64_t* t = targets.data<int64_t>();
  q = Tensor::zeros({N, C}, dtype);
  valid = Tensor::zeros({N, 1}, dtype);
  visit_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* qp = q.data<T>();
    T* vp = valid.data<T>();
    const T spread = static_cast<T>(eps / static_cast<double>(C));
    for (int64_t i = 0; i < N; ++i) {
      if (t[i] == ignore_index) continue;
      vp[i] = T(1);
      for (int64_t j = 0; j < C; ++j) qp[i * C + j] = spread;
      qp[i * C + t[i]] += static_cast<T>(1.0 - eps);
    }
  });
}

}  // namespace

Var cross_entropy(const Var& logits, const Tensor& targets, const CrossEntropyOptions& options) {
  const Tensor& z_value = logits.value();
  if (!is_floating(z_value.dtype()))
    throw DTypeError("cross_entropy: logits must be f32 or f64, got " + std::string(dtype_name(z_value.dtype())) +
                     " of shape " + shape_str(z_value.shape()));
  if (!targets.defined() || targets.dtype() != DType::i64)
    throw DTypeError("cross_entropy: targets must be i64 class ids, got " +
                     (targets.defined() ? std::string(dtype_name(targets.dtype())) + " of shape " +
                                              shape_str(targets.shape())
                                        : std::string("an undefined tensor")));
  Shape lead(z_value.shape().begin(), z_value.shape().end() - (z_value.dim() > 0 ? 1 : 0));
  if (z_value.dim() < 1 || targets.shape() != lead)
    throw ShapeError("cross_entropy: logits of shape " + shape_str(z_value.shape()) + " need targets of shape " +
                     (z_value.dim() < 1 ? std::string("[*] with logits [*, C]") : shape_str(lead)) + ", got " +
                     shape_str(targets.shape()));
  const double eps = options.label_smoothing;
  if (!(eps >= 0.0 && eps <= 1.0))
    throw ValueError("cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(eps));

  // z [N, C], t [N]: every leading dim folded into N.
  const int64_t C = z_value.size(-1);
  const int64_t N = targets.numel();
  Tensor z = z_value.contiguous();
  Tensor t = targets.contiguous().reshape({N});
  const int64_t count = count_targets(t.data<int64_t>(), N, C, options.ignore_index);

  std::vector<double> row_loss(static_cast<size_t>(N));
  visit_floating(z.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_rows<T>(z.data<T>(), t.data<int64_t>(), N, C, options.ignore_index, eps, row_loss.data());
  });
  Tensor out_value;
  if (options.reduction == Reduction::none) {
    out_value = Tensor::from_vector(row_loss, targets.shape(), z.dtype());
  } else {
    double total = 0.0;  // one thread, row order: the same sum for every thread count
    for (double l : row_loss) total += l;
    if (options.reduction == Reduction::mean) total = count > 0 ? total / static_cast<double>(count) : 0.0;
    out_value = Tensor::scalar(total, z.dtype());
  }

  const Reduction reduction = options.reduction;
  const int64_t ignore_index = options.ignore_index;
  Var out = record(
      "cross_entropy", std::move(out_value), {logits},
      [=](const Node& n, const Var& g) -> Grads {
        // logits [*, C], g [] (mean, sum) or [*] (none) -> dlogits [*, C]:
        //   dloss_i/dz_ij = softmax(z_i)_j - q_ij, times row i's weight in the reduction
        //   (g, g / count, or g_i), and zero for ignored rows.
        // softmax is the Var op, so this backward can itself be differentiated.
        const Var& z = n.input(0);
        Tensor q, valid;  // q [N, C], valid [N, 1]
        target_distribution(n.saved(0).value(), C, eps, ignore_index, z.dtype(), q, valid);
        Var w;  // [N, 1]
        if (reduction == Reduction::none)
          w = reshape(g, {N, 1}) * Var(valid);
        else if (reduction == Reduction::sum)
          w = g * Var(valid);
        else
          w = g * Var(lumen::mul(valid, count > 0 ? 1.0 / static_cast<double>(count) : 0.0));
        Var p = softmax(reshape(z, {N, C}), -1);  // [N, C]
        return {reshape((p - Var(q)) * w, z.shape())};
      },
      Saved{.inputs = true, .extra = {Var(t)}});
  if (out.node()) {
    char attrs[96];
    std::snprintf(attrs, sizeof attrs, "ignore_index=%lld smoothing=%g reduction=%s",
                  static_cast<long long>(ignore_index), eps, reduction_name(reduction));
    out.node()->set_attrs(attrs);
  }
  return out;
}

Var mse_loss(const Var& pred, const Var& target, Reduction reduction) {
  if (pred.shape() != target.shape())
    throw ShapeError("mse_loss: pred of shape " + shape_str(pred.shape()) + " and target of shape " +
                     shape_str(target.shape()) + " differ (mse_loss does not broadcast)");
  Var d = pred - target;
  Var sq = d * d;
  switch (reduction) {
    case Reduction::mean: return mean(sq);
    case Reduction::sum: return sum(sq);
    case Reduction::none: return sq;
  }
  return sq;
}

}  // namespace lumen::nn
