// softmax, log_softmax and layer_norm on Vars. The forward passes use the fused tensor kernels
// (one pass, max-subtracted, safe for logits of +-1e4); the backward passes are written with Var
// ops, so a second differentiation (gradgradcheck, Hessian-vector products) goes through them.
#include <cstdio>
#include <string>

#include "autograd/node.h"
#include "autograd/ops.h"

namespace lumen {

Var softmax(const Var& a, int64_t dim) {
  // a [*], y [*]: y = exp(a) / sum(exp(a), dim)
  Var y = record(
      "softmax", lumen::softmax(a.value(), dim), {a},
      [dim](const Node& n, const Var& g) -> Grads {
        // dy_i/da_j = y_i (delta_ij - y_j), so dL/da = y * (g - sum(g * y, dim)).
        // Written in y alone: no exp of the (possibly huge) logits.
        Var y = n.output();
        return {y * (g - sum(g * y, {dim}, true))};
      },
      Saved{.inputs = false, .output = true});
  if (y.node()) y.node()->set_attrs("dim=" + std::to_string(dim));
  return y;
}

Var log_softmax(const Var& a, int64_t dim) {
  // a [*], y [*]: y = a - logsumexp(a, dim)
  Var y = record(
      "log_softmax", lumen::log_softmax(a.value(), dim), {a},
      [dim](const Node& n, const Var& g) -> Grads {
        // dy_i/da_j = delta_ij - softmax(a)_j, and softmax(a) = exp(y) is already in [0, 1].
        Var p = exp(n.output());
        return {g - p * sum(g, {dim}, true)};
      },
      Saved{.inputs = false, .output = true});
  if (y.node()) y.node()->set_attrs("dim=" + std::to_string(dim));
  return y;
}

Var layer_norm(const Var& x, const Var& weight, const Var& bias, double eps) {
  // x [*, D], weight [D] or none, bias [D] or none, y [*, D]:
  //   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps), over the last dim.
  // An undefined Var cannot be a graph edge, so the node's inputs are x, then whichever of
  // weight and bias is given.
  const bool has_w = weight.defined(), has_b = bias.defined();
  std::vector<Var> inputs{x};
  if (has_w) inputs.push_back(weight);
  if (has_b) inputs.push_back(bias);
  Tensor y_value = lumen::layer_norm(x.value(), has_w ? weight.value() : Tensor(),
                                     has_b ? bias.value() : Tensor(), eps);
  Var y = record(
      "layer_norm", std::move(y_value), std::move(inputs),
      [has_w, has_b, eps](const Node& n, const Var& g) -> Grads {
        // The statistics are recomputed from x with Var ops instead of being saved by the
        // kernel: that keeps this backward differentiable in x. A constant row has var = 0,
        // x_hat = 0 and rstd = 1/sqrt(eps): large but finite.
        const Var& x = n.input(0);
        Var mu = mean(x, {-1}, true);                            // [*, 1]
        Var xc = x - mu;                                         // [*, D]
        Var rstd = 1.0 / sqrt(mean(xc * xc, {-1}, true) + eps);  // [*, 1]
        Var x_hat = xc * rstd;                                   // [*, D]
        Var g_hat = has_w ? g * n.input(1) : g;                  // dL/dx_hat [*, D]
        Grads grads(n.inputs().size());
        if (x.requires_grad())
          // Through x_hat = (x - mean) * rstd: remove the mean of g_hat and its component
          // along x_hat, then scale by rstd.
          grads[0] = rstd * (g_hat - mean(g_hat, {-1}, true) - x_hat * mean(g_hat * x_hat, {-1}, true));
        if (has_w && n.input(1).requires_grad()) grads[1] = sum_to(g * x_hat, n.input(1).shape());
        if (has_b) {
          const size_t k = has_w ? 2 : 1;
          if (n.input(k).requires_grad()) grads[k] = sum_to(g, n.input(k).shape());
        }
        return grads;
      });
  if (y.node()) {
    char attrs[32];
    std::snprintf(attrs, sizeof attrs, "eps=%g", eps);
    y.node()->set_attrs(attrs);
  }
  return y;
}

}  // namespace lumen
