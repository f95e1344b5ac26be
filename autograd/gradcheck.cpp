// gradcheck: backward's gradients against central differences, element by element.
//
// For L(x) = sum(w * f(x)) with a fixed random w, the analytic gradient is one backward pass
// with w as the output's gradient. The numeric one nudges each input element by +-eps:
//
//   n_i = (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)
//
// Kinks. At a point where f is not differentiable (relu or abs at 0, maximum at a tie) the
// central difference averages two different slopes and matches no gradient backward could
// give. Such an element is recognised by its one-sided differences
//
//   d+ = (L(x + eps e_i) - L(x)) / eps,   d- = (L(x) - L(x - eps e_i)) / eps,
//
// which for a smooth f differ by about eps * L'' (tiny), but across a kink by the jump in slope,
// whatever eps is. The rule:
//   1. |d+ - d-| <= 1e-3 * max(1, |d+|, |d-|): smooth, use the central difference.
//   2. Otherwise look again with eps / 4. If the one-sided differences now agree (rule 1), or
//      their gap shrank to less than half (it shrinks 4x for a smooth but strongly curved f),
//      the point is smooth: use the central difference at eps / 4, which is also more accurate.
//   3. Otherwise the gap did not shrink with the step: a kink. The element is counted in
//      `kinks` and left out of every error and of the pass test.
//
// Steps are divided by the step actually taken ((x + eps) - x as stored), which matters only
// for f32, where x + eps rounds. f32 is still far too coarse for eps = 1e-6, hence the warning.
#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "tensor/random.h"

namespace lumen {
namespace {

constexpr double kKinkTol = 1e-3;

// True if no two elements of `t` share memory (no stride-0 dim, no overlapping steps).
bool non_overlapping(const Tensor& t) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of the dims that matter
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] > 1) dims.push_back({t.strides()[d], t.shape()[d]});
  std::sort(dims.begin(), dims.end());
  int64_t reach = 1;  // the smallest stride the next dim may have
  for (auto [stride, size] : dims) {
    if (stride < reach) return false;
    reach = stride * size;
  }
  return true;
}

// A copy of `t` in memory of its own, so nudging it cannot touch the caller's tensor. A view
// (transposed, sliced with a step) keeps its strides, so the checked function sees the same
// layout the caller made. An expanded or otherwise overlapping tensor becomes contiguous, since
// its elements are not independent: nudging one would nudge every alias.
Tensor private_copy(const Tensor& t) {
  if (t.numel() == 0 || !non_overlapping(t)) return t.clone();
  int64_t span = 1;
  for (int64_t d = 0; d < t.dim(); ++d) span += (t.shape()[d] - 1) * t.strides()[d];
  Tensor buffer = Tensor::empty({span}, t.dtype());
  std::memcpy(buffer.raw_data(), t.raw_data(), static_cast<size_t>(span) * dtype_size(t.dtype()));
  return Tensor(buffer.storage(), t.shape(), t.strides(), 0, t.dtype());
}

// Element offset (from t's first element) of the element with row-major number `flat`.
int64_t element_offset(const Tensor& t, int64_t flat) {
  int64_t off = 0;
  for (int64_t d = t.dim(); d-- > 0;) {
    off += (flat % t.shape()[d]) * t.strides()[d];
    flat /= t.shape()[d];
  }
  return off;
}

std::vector<int64_t> unravel(const Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

double read(const Tensor& t, int64_t off) {
  return visit_floating(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(t.data<T>()[off]);
  });
}

// Stores x, returning the value actually stored (x rounded to t's dtype).
double write(const Tensor& t, int64_t off, double x) {
  return visit_floating(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    t.data<T>()[off] = static_cast<T>(x);
    return static_cast<double>(t.data<T>()[off]);
  });
}

// Which inputs to check: the options' list, or every floating input.
std::vector<bool> inputs_to_check(const std::vector<Tensor>& inputs, const GradcheckOptions& options, const char* who) {
  if (!options.check_input.empty() && options.check_input.size() != inputs.size())
    throw ValueError(std::string(who) + ": check_input has " + std::to_string(options.check_input.size()) +
                     " entries for " + std::to_string(inputs.size()) + " inputs");
  std::vector<bool> check(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) throw ValueError(std::string(who) + ": input " + std::to_string(i) + " is undefined");
    bool floating = is_floating(inputs[i].dtype());
    check[i] = options.check_input.empty() ? floating : options.check_input[i];
    if (check[i] && !floating)
      throw DTypeError(std::string(who) + ": input " + std::to_string(i) + " is " +
                       std::string(dtype_name(inputs[i].dtype())) + " of shape " + shape_str(inputs[i].shape()) +
                       "; only floating inputs have gradients to check");
  }
  return check;
}

Var call_checked(const VarFunction& f, const std::vector<Var>& xs, const char* who) {
  Var out = f(xs);
  if (!out.defined()) throw ValueError(std::string(who) + ": the function returned an undefined Var");
  if (!is_floating(out.dtype()))
    throw DTypeError(std::string(who) + ": the function returned " + std::string(dtype_name(out.dtype())) +
                     " of shape " + shape_str(out.shape()) + "; it must return a floating Var");
  return out;
}

// L = sum(w * out), summed in f64.
double project(const Var& out, const std::vector<double>& w, const Shape& expected, const char* who) {
  if (out.shape() != expected)
    throw ShapeError(std::string(who) + ": the function returned shape " + shape_str(out.shape()) +
                     " for a nudged input but " + shape_str(expected) + " at the start");
  std::vector<double> v = out.value().to_vector();
  double total = 0;
  for (size_t k = 0; k < v.size(); ++k) total += w[k] * v[k];
  return total;
}

bool one_sided_agree(double d_plus, double d_minus) {
  return std::abs(d_plus - d_minus) <= kKinkTol * std::max({1.0, std::abs(d_plus), std::abs(d_minus)});
}

// gradcheck's body; gradgradcheck leaves out the per-input note about inputs that do not
// reach the output when it has a better explanation of its own.
GradcheckResult check_gradients(const VarFunction& f, const std::vector<Tensor>& inputs,
                                const GradcheckOptions& options, bool note_unreached) {
  const char* who = "gradcheck";
  if (!(options.eps > 0)) throw ValueError("gradcheck: eps must be positive, got " + fmt::format("{}", options.eps));
  std::vector<bool> check = inputs_to_check(inputs, options, who);
  GradcheckResult result;

  std::vector<Var> xs;
  std::vector<Var> wrt;  // the checked leaves, in input order
  for (size_t i = 0; i < inputs.size(); ++i) {
    xs.push_back(Var(private_copy(inputs[i]), check[i]));
    if (check[i]) wrt.push_back(xs.back());
    if (check[i] && inputs[i].dtype() == DType::f32)
      result.warnings.push_back("input " + std::to_string(i) +
                                " is f32: use f64 for gradient checks (f32 rounds x + eps = x + " +
                                fmt::format("{}", options.eps) + " too coarsely for the differences to mean much)");
  }

  // Analytic: one backward pass with w as the output's gradient.
  Var out;
  std::vector<Var> analytic;
  {
    GradModeGuard on(true);
    out = call_checked(f, xs, who);
  }
  Generator gen(options.seed);
  Tensor w = randn(out.shape(), out.dtype(), gen);
  const std::vector<double> w_values = w.to_vector();
  const Shape out_shape = out.shape();
  if (out.requires_grad() && !wrt.empty())
    analytic = grad({out}, wrt, {Var(w)}, {.allow_unused = true});
  else
    analytic.resize(wrt.size());
  out = Var();  // let the graph go before the many forward passes

  NoGradGuard no_grad;
  auto L = [&] { return project(call_checked(f, xs, who), w_values, out_shape, who); };
  const double L0 = L();

  size_t k = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!check[i]) continue;
    const Tensor& x = xs[i].value();
    std::vector<double> a;
    if (analytic[k].defined()) {
      a = analytic[k].value().to_vector();
    } else {
      a.assign(static_cast<size_t>(x.numel()), 0.0);
      if (note_unreached)
        result.warnings.push_back("input " + std::to_string(i) +
                                " does not reach the output; its analytic gradient is taken as zero");
    }
    ++k;

    InputReport rep;
    rep.input = i;
    rep.shape = x.shape();
    std::vector<double> numeric(a.size());
    std::vector<bool> kink(a.size(), false);
    for (int64_t e = 0; e < x.numel(); ++e) {
      const int64_t off = element_offset(x, e);
      const double x0 = read(x, off);
      // One-sided and central differences with step h, over the steps actually stored.
      auto differences = [&](double h, double& d_plus, double& d_minus, double& central) {
        const double xp = write(x, off, x0 + h);
        const double Lp = L();
        const double xm = write(x, off, x0 - h);
        const double Lm = L();
        write(x, off, x0);
        d_plus = (Lp - L0) / (xp - x0);
        d_minus = (L0 - Lm) / (x0 - xm);
        central = (Lp - Lm) / (xp - xm);
      };
      double d_plus = 0, d_minus = 0, central = 0;
      differences(options.eps, d_plus, d_minus, central);
      if (!one_sided_agree(d_plus, d_minus)) {
        const double gap = std::abs(d_plus - d_minus);
        differences(options.eps / 4, d_plus, d_minus, central);
        const double gap_quarter = std::abs(d_plus - d_minus);
        kink[static_cast<size_t>(e)] = !one_sided_agree(d_plus, d_minus) && gap_quarter > 0.5 * gap;
      }
      numeric[static_cast<size_t>(e)] = central;
    }

    // Errors over the elements away from kinks.
    double scale = 1e-8, worst_excess = -1;
    for (size_t e = 0; e < a.size(); ++e) {
      if (kink[e]) {
        ++rep.kinks;
        continue;
      }
      const double err = std::abs(a[e] - numeric[e]);
      const double tol = options.atol + options.rtol * std::abs(numeric[e]);
      // NaN fails: !(err <= tol) also catches it.
      if (!(err <= tol)) ++rep.failures;
      rep.max_abs_err = std::isnan(err) ? err : std::max(rep.max_abs_err, err);
      scale = std::max({scale, std::abs(a[e]), std::abs(numeric[e])});
      // The worst element is the one furthest past its own tolerance.
      const double excess = std::isnan(err) ? INFINITY : err / tol;
      if (excess > worst_excess) {
        worst_excess = excess;
        rep.worst_flat = static_cast<int64_t>(e);
        rep.worst_analytic = a[e];
        rep.worst_numeric = numeric[e];
      }
    }
    rep.max_rel_err = rep.max_abs_err / scale;
    if (rep.worst_flat >= 0) rep.worst_index = unravel(rep.shape, rep.worst_flat);
    rep.passed = rep.failures == 0;
    result.passed = result.passed && rep.passed;
    result.inputs.push_back(std::move(rep));
  }
  return result;
}

}  // namespace

GradcheckResult gradcheck(const VarFunction& f, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  return check_gradients(f, inputs, options, true);
}

// Second derivatives: gradcheck of G(x) = sum_i sum(w2_i * dL/dx_i) with L = sum(w * f(x)).
// dL/dx comes from grad(..., create_graph), so G carries a graph and its backward gives
// d/dx (w2 . dL/dx) = H w2, the Hessian of L times w2, which gradcheck compares with central
// differences of dL/dx.
//
// A custom op (autograd/function.h) is differentiable once: its backward returns plain tensors,
// so no graph leads from dL/dx back to x through it. gradgradcheck then sees zero for that part
// of the second derivative and fails wherever the true one is not zero; when no graph is left
// at all it also adds a warning saying so.
GradcheckResult gradgradcheck(const VarFunction& f, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  const char* who = "gradgradcheck";
  std::vector<bool> check = inputs_to_check(inputs, options, who);

  // The projections are fixed once: w over f's output, w2_i over each checked input.
  Tensor w;
  {
    NoGradGuard no_grad;
    std::vector<Var> xs;
    for (const Tensor& t : inputs) xs.push_back(Var(t));
    Var out = call_checked(f, xs, who);
    Generator gen(options.seed);
    w = randn(out.shape(), out.dtype(), gen);
  }
  std::vector<Tensor> w2(inputs.size());
  Generator gen2(options.seed + 1);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (check[i]) w2[i] = randn(inputs[i].shape(), inputs[i].dtype(), gen2);

  auto no_graph = std::make_shared<bool>(false);
  VarFunction G = [&f, w, w2, check, no_graph, who](const std::vector<Var>& xs) -> Var {
    // gradcheck calls this with grad mode on for its analytic pass (then dL/dx must carry a
    // graph) and off for its nudged passes (then the values suffice).
    const bool build = grad_enabled();
    GradModeGuard on(true);
    Var out = call_checked(f, xs, who);
    Var total(Tensor::zeros({}, out.dtype()));
    if (!out.requires_grad()) return total;  // f does not depend on x at all
    std::vector<Var> wrt;
    std::vector<size_t> which;
    for (size_t i = 0; i < xs.size(); ++i)
      if (check[i]) {
        wrt.push_back(xs[i]);
        which.push_back(i);
      }
    std::vector<Var> dL = grad({out}, wrt, {Var(w)}, {.create_graph = build, .allow_unused = true});
    for (size_t j = 0; j < dL.size(); ++j)
      if (dL[j].defined()) total = add(total, sum(mul(dL[j], Var(w2[which[j]]))));
    if (build && !total.requires_grad()) *no_graph = true;
    return total;
  };
  // Run G once with grad mode on to learn whether its result has a graph at all.
  {
    std::vector<Var> xs;
    for (size_t i = 0; i < inputs.size(); ++i) xs.push_back(Var(inputs[i], check[i]));
    GradModeGuard on(true);
    G(xs);
  }
  GradcheckResult result = check_gradients(G, inputs, options, !*no_graph);
  if (*no_graph)
    result.warnings.push_back(
        "the gradient carries no graph back to the inputs: either f is linear in them (then the second "
        "derivative is zero and this check is trivial), or an op on the way is differentiable once only "
        "(a custom op from autograd/function.h), so its second derivative is missing");
  return result;
}

std::string GradcheckResult::summary() const {
  std::string s = fmt::format("gradcheck {}\n", passed ? "passed" : "FAILED");
  s += fmt::format("{:>5}  {:<12} {:>11} {:>11} {:>9} {:>5}  {:<12} {:>13} {:>13}  {}\n", "input", "shape",
                   "max abs err", "max rel err", "failures", "kinks", "worst index", "analytic", "numeric", "result");
  for (const InputReport& r : inputs) {
    std::string worst = r.worst_flat < 0 ? "-" : shape_str(Dims(r.worst_index));
    std::string failures = fmt::format("{}/{}", r.failures, shape_numel(r.shape));
    s += fmt::format("{:>5}  {:<12} {:>11.3e} {:>11.3e} {:>9} {:>5}  {:<12} {:>13.6g} {:>13.6g}  {}\n", r.input,
                     shape_str(r.shape), r.max_abs_err, r.max_rel_err, failures, r.kinks, worst, r.worst_analytic,
                     r.worst_numeric, r.passed ? "ok" : "FAIL");
  }
  for (const std::string& warning : warnings) s += "warning: " + warning + "\n";
  return s;
}

}  // namespace lumen
