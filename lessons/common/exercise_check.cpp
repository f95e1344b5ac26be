// The exercise checker: forward against the reference, backward's shapes, gradcheck, and the
// hints. The report is built as the checks run, in the order a learner reads it.
#include "lessons/common/exercise_check.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "tensor/random.h"

namespace lumen::lessons {
namespace {

// gradcheck's seed for dL/dout; the checker's own backward call uses the same dL/dout, so the
// gradients it inspects for hints are the ones gradcheck compared.
constexpr uint64_t kSeed = 0;
// Two gradients "match" (for a hint) when they agree to this fraction of their largest entry.
// Mistaken and right gradients differ by far more; rounding by far less.
constexpr double kMatch = 1e-6;

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

bool close(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  std::vector<double> x = a.to_vector(), y = b.to_vector();
  double scale = std::max({max_abs(x), max_abs(y), 1e-300}), err = 0;
  for (size_t k = 0; k < x.size(); ++k) err = std::max(err, std::abs(x[k] - y[k]));
  return err <= kMatch * scale;
}

std::string shapes_line(const ExerciseInfo& ex, const std::vector<Tensor>& inputs) {
  std::string s;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) s += ", ";
    s += (i < ex.inputs.size() ? ex.inputs[i] : "input " + std::to_string(i)) + " " + shape_str(inputs[i].shape());
  }
  return s;
}

// CS231n's bands for the relative error of an f64 gradient check.
const char* band(double rel) {
  if (std::isnan(rel) || rel > 1e-2) return "wrong";
  if (rel > 1e-4) return "suspect";
  if (rel > 1e-7) return "close";
  return "right";
}

// The right gradients: the reference forward's backward with dL/dout = w.
std::vector<Tensor> true_gradients(const ExerciseInfo& ex, const std::vector<Tensor>& inputs, const Tensor& w) {
  GradModeGuard on(true);
  std::vector<Var> xs;
  for (const Tensor& t : inputs) xs.push_back(Var(t, true));
  Var out = ex.reference(xs);
  std::vector<Var> g = grad({out}, xs, {Var(w)}, {.allow_unused = true});
  std::vector<Tensor> result;
  for (size_t i = 0; i < g.size(); ++i)
    result.push_back(g[i].defined() ? g[i].value() : Tensor::zeros(inputs[i].shape(), inputs[i].dtype()));
  return result;
}

// ---- hints -------------------------------------------------------------------------------------

// For a gradient of the wrong shape.
void shape_hints(const std::string& name, const Shape& x, const Tensor& g, const Tensor& t, std::vector<Hint>& hints) {
  const Shape& gs = g.shape();
  const std::string d = "dL/d" + name;
  if (gs.size() >= 2 && gs.size() == x.size()) {
    Shape swapped = gs;
    std::swap(swapped[gs.size() - 1], swapped[gs.size() - 2]);
    if (swapped == x && gs != x) {
      std::string text = d + " has shape " + shape_str(gs) + ", the transpose of " + name + "'s " + shape_str(x) +
                         ": a transpose is missing or extra (for Y = X W, dL/dW = X^T dL/dY has W's shape)";
      if (close(g.mT(), t)) text += ". Transposed, your gradient would be right";
      hints.push_back({HintKind::transposed, name, text});
      return;
    }
  }
  // Is g a gradient that was never summed back? Either x broadcasts to g's shape (NumPy's rule,
  // aligned on the right: sum_to undoes it), or x's dims appear in g in order with extra dims in
  // between (an unsqueeze in forward, as in s W_s broadcast over the positions).
  if (shape_numel(gs) <= shape_numel(x)) return;
  bool right_aligned = x.size() <= gs.size();
  for (size_t k = 1; right_aligned && k <= x.size(); ++k)
    right_aligned = x[x.size() - k] == gs[gs.size() - k] || x[x.size() - k] == 1;
  std::vector<int64_t> extra;  // g's dims to sum for the in-order match
  size_t j = 0;
  for (size_t k = 0; k < gs.size(); ++k) {
    if (j < x.size() && (x[j] == gs[k] || x[j] == 1)) {
      if (x[j] != gs[k]) extra.push_back(static_cast<int64_t>(k));
      ++j;
    } else {
      extra.push_back(static_cast<int64_t>(k));
    }
  }
  const bool in_order = j == x.size();
  if (!right_aligned && !in_order) return;
  std::string text = d + " has shape " + shape_str(gs) + " but " + name + " has shape " + shape_str(x) + ": " + name +
                     " was broadcast (used by every row or position) in forward, so its gradient is the sum over "
                     "the broadcast axes: sum_to(g, " + name + ".shape()), or sum(g, {dims})";
  if (right_aligned && close(sum_to(g, x), t))
    text += ". Summed that way, your gradient would be right";
  else if (in_order && close(sum(g, extra).reshape(x), t))
    text += fmt::format(". Summed over dim {}, your gradient would be right", fmt::join(extra, " and "));
  hints.push_back({HintKind::broadcast_not_summed, name, text});
}

// For a gradient of the right shape but wrong values: a is the learner's, t the right one.
void value_hints(const ExerciseInfo& ex, size_t i, const Tensor& a, const Tensor& t,
                 const std::vector<std::vector<Tensor>>& mistakes, std::vector<Hint>& hints) {
  const std::string& name = ex.inputs[i];
  const std::string d = "dL/d" + name;
  std::vector<double> av = a.to_vector(), tv = t.to_vector();
  const double t_max = max_abs(tv);
  if (!(t_max > 1e-12)) return;  // the right gradient is zero: every pattern would fit

  // Is a a constant multiple c of t?
  double at = 0, tt = 0;
  for (size_t k = 0; k < tv.size(); ++k) {
    at += av[k] * tv[k];
    tt += tv[k] * tv[k];
  }
  const double c = at / tt, m = std::abs(c);
  double residual = 0;
  for (size_t k = 0; k < tv.size(); ++k) residual = std::max(residual, std::abs(av[k] - c * tv[k]));
  auto near = [](double x, double y) { return std::abs(x - y) <= 1e-6 * std::max(1.0, std::abs(y)); };
  const size_t before = hints.size();
  if (std::isfinite(c) && residual <= kMatch * std::max(m, 1.0) * t_max && !near(c, 1.0)) {
    if (m < 1e-9) {
      hints.push_back({HintKind::missing_term, name, d + " is zero everywhere: is dL/dout (the `grad` argument) "
                                                         "multiplied in, and the result returned?"});
      return;
    }
    if (c < 0)
      hints.push_back({HintKind::sign, name, d + " is the right gradient times " + fmt::format("{:.6g}", c) +
                                                 ": a sign is flipped (1 - y^2 written y^2 - 1, a difference taken "
                                                 "the wrong way round, or one minus sign too many)"});
    const double k = std::round(1 / m);
    if (near(m, 2.0))
      hints.push_back({HintKind::factor_two, name, d + " is twice the right size: a factor of 2 too many (a term "
                                                       "counted twice, or a 2 from d(x^2)/dx where there is no square)"});
    else if (near(m, 0.5))
      hints.push_back({HintKind::factor_two, name, d + " is half the right size: a factor of 2 is missing "
                                                       "(d(x^2)/dx = 2x, or a term that appears twice)"});
    else if (i < ex.summed.size() && ex.summed[i] && k >= 3 && near(m * k, 1.0))
      hints.push_back({HintKind::broadcast_not_summed, name,
                       d + " is the right gradient divided by " + fmt::format("{}", k) + ": " + name +
                           " was used that many times in forward (broadcast, or shared by every row), and its "
                           "gradient is the sum over those uses, not their mean"});
    else if (!near(m, 1.0)) {
      std::string text = d + " is the right gradient times " + fmt::format("{:.6g}", m) +
                         ": a constant factor is missing or extra";
      const double n = std::round(m * m), inv = std::round(1 / (m * m));
      if (n >= 2 && near(m * m, n))
        text += fmt::format(" ({:.6g} = sqrt({}): a 1/sqrt(d) scale left out?)", m, n);
      else if (inv >= 2 && near(1 / (m * m), inv))
        text += fmt::format(" ({:.6g} = 1/sqrt({}): a 1/sqrt(d) scale applied twice?)", m, inv);
      hints.push_back({HintKind::scale, name, text});
    }
  }
  if (hints.size() > before) return;

  if (a.dim() >= 2 && a.size(-1) == a.size(-2) && !close(t, t.mT()) && close(a, t.mT())) {
    hints.push_back({HintKind::transposed, name, d + " is the transpose of the right gradient: the operands of a "
                                                     "matrix product are swapped or transposed (for Y = X W, "
                                                     "dL/dW = X^T dL/dY)"});
    return;
  }
  for (size_t k = 0; k < ex.mistakes.size(); ++k) {
    const std::vector<Tensor>& cand = mistakes[k];
    if (i < cand.size() && cand[i].defined() && !close(cand[i], t) && close(a, cand[i]))
      hints.push_back({ex.mistakes[k].kind, name, d + ": " + ex.mistakes[k].text});
  }
}

// ---- one shape -----------------------------------------------------------------------------------

struct CaseOutcome {
  CaseCheck check;
  std::string not_implemented;  // NotImplemented::where(), if backward is still the TODO
  std::string forward_note;     // "forward matches the reference ..."
  std::vector<std::string> warnings;
};

CaseOutcome check_case(const ExerciseInfo& ex, const ExerciseOp& op, const std::vector<Tensor>& inputs) {
  CaseOutcome r;
  CaseCheck& c = r.check;
  c.shapes = shapes_line(ex, inputs);
  if (op.arity != inputs.size()) {
    c.error = fmt::format("forward takes {} tensors, but the exercise passes {} ({}): keep forward's arguments "
                          "as they were given",
                          op.arity, inputs.size(), c.shapes);
    return r;
  }

  // 1. forward against the reference.
  Tensor out;
  try {
    out = op.forward(inputs);
  } catch (const NotImplemented& e) {
    r.not_implemented = e.where();
    return r;
  } catch (const std::exception& e) {
    c.error = std::string("forward threw: ") + e.what();
    return r;
  }
  Tensor ref;
  {
    NoGradGuard no_grad;
    std::vector<Var> xs;
    for (const Tensor& t : inputs) xs.push_back(Var(t));
    ref = ex.reference(xs).value();
  }
  if (!out.defined() || out.shape() != ref.shape()) {
    c.error = "forward returned shape " + (out.defined() ? shape_str(out.shape()) : std::string("(undefined)")) +
              " but the exercise's forward gives " + shape_str(ref.shape()) + ": keep forward as it was given";
    return r;
  }
  const double forward_diff = max_abs_diff(out, ref);
  const double ref_scale = std::max(1.0, max_abs(ref.to_vector()));
  if (!(forward_diff <= 1e-9 * ref_scale)) {
    c.error = fmt::format("forward differs from the reference by up to {:.3e}: keep forward as it was given "
                          "(only backward is the exercise)",
                          forward_diff);
    return r;
  }
  r.forward_note = fmt::format("forward matches the reference (max abs diff {:.1e})", forward_diff);

  // 2. backward by hand: what exactly comes back?
  Generator gen(kSeed);
  const Tensor w = randn(out.shape(), out.dtype(), gen);
  std::vector<Tensor> grads;
  try {
    grads = op.backward(inputs, w);
  } catch (const NotImplemented& e) {
    r.not_implemented = e.where();
    return r;
  } catch (const ShapeError& e) {
    c.error = std::string("backward threw ShapeError: ") + e.what();
    const std::string what = e.what();
    if (what.rfind("matmul", 0) == 0)
      c.hints.push_back({HintKind::transposed, "",
                         "a matrix product in backward got shapes that do not fit: a transpose is missing or extra "
                         "(or an axis was not summed). Write each line's shape next to it (for Y = X W: "
                         "dL/dX = dL/dY W^T, dL/dW = X^T dL/dY)"});
    else if (what.find("cannot broadcast") != std::string::npos)
      c.hints.push_back({HintKind::dropped_axis, "",
                         "an elementwise op in backward got shapes that do not broadcast: did a sum or mean drop "
                         "its axis? sum(t, {-1}, true) keeps it as size 1, so the result lines up with t again"});
    return r;
  } catch (const std::exception& e) {
    c.error = std::string("backward threw: ") + e.what();
    return r;
  }
  if (grads.size() != inputs.size()) {
    c.error = fmt::format("backward returned {} gradients for {} inputs: return one per input, in forward's order "
                          "({})",
                          grads.size(), inputs.size(), fmt::join(ex.inputs, ", "));
    return r;
  }
  const std::vector<Tensor> truth = true_gradients(ex, inputs, w);

  std::vector<bool> to_check(inputs.size(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    InputCheck ic;
    ic.name = ex.inputs[i];
    ic.shape = inputs[i].shape();
    const Tensor& g = grads[i];
    if (!g.defined())
      ic.problem = "no gradient returned (an undefined Tensor)";
    else if (g.dtype() != inputs[i].dtype())
      ic.problem = "gradient is " + std::string(dtype_name(g.dtype())) + ", the input " +
                   std::string(dtype_name(inputs[i].dtype()));
    else if (g.shape() != inputs[i].shape()) {
      ic.problem = "gradient has shape " + shape_str(g.shape());
      shape_hints(ic.name, inputs[i].shape(), g, truth[i], c.hints);
    } else
      to_check[i] = true;
    c.inputs.push_back(ic);
  }

  // 3. gradcheck, over the inputs whose gradients have the right shape.
  if (std::find(to_check.begin(), to_check.end(), true) != to_check.end()) {
    GradcheckResult gc;
    try {
      gc = gradcheck(op.apply, inputs, {.seed = kSeed, .check_input = to_check});
    } catch (const std::exception& e) {
      c.error = std::string("gradcheck stopped: ") + e.what();
      return r;
    }
    r.warnings = gc.warnings;
    for (const InputReport& rep : gc.inputs) {
      InputCheck& ic = c.inputs[rep.input];
      ic.checked = true;
      ic.max_abs_err = rep.max_abs_err;
      ic.max_rel_err = rep.max_rel_err;
      ic.worst_index = rep.worst_index;
      ic.worst_analytic = rep.worst_analytic;
      ic.worst_numeric = rep.worst_numeric;
      ic.passed = rep.passed;
    }
  }

  // 4. hints for the inputs that failed.
  std::vector<std::vector<Tensor>> mistakes;
  for (const KnownMistake& m : ex.mistakes) {
    try {
      mistakes.push_back(m.grads(inputs, w, truth));
    } catch (const Error&) {
      mistakes.push_back({});  // does not apply to these shapes
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    if (c.inputs[i].checked && !c.inputs[i].passed) value_hints(ex, i, grads[i], truth[i], mistakes, c.hints);

  c.passed = std::all_of(c.inputs.begin(), c.inputs.end(), [](const InputCheck& ic) { return ic.passed; });
  return r;
}

// ---- the report ----------------------------------------------------------------------------------

std::string table(const CaseCheck& c) {
  std::string s = fmt::format("  {:<6} {:<13} {:>11} {:>11} {:<7}  {:<13} {:>12} {:>12}  {}\n", "input", "shape",
                              "max abs err", "max rel err", "band", "worst element", "analytic", "numeric", "result");
  for (const InputCheck& ic : c.inputs) {
    if (!ic.checked) {
      s += fmt::format("  {:<6} {:<13} {:<73}  FAIL\n", ic.name, shape_str(ic.shape),
                       ic.problem.empty() ? "(not checked)" : ic.problem);
      continue;
    }
    std::string worst = ic.worst_index.empty() ? "-" : shape_str(Dims(ic.worst_index));
    s += fmt::format("  {:<6} {:<13} {:>11.3e} {:>11.3e} {:<7}  {:<13} {:>12.6g} {:>12.6g}  {}\n", ic.name,
                     shape_str(ic.shape), ic.max_abs_err, ic.max_rel_err, band(ic.max_rel_err), worst,
                     ic.worst_analytic, ic.worst_numeric, ic.passed ? "ok" : "FAIL");
  }
  return s;
}

}  // namespace

const char* status_name(ExerciseStatus status) {
  switch (status) {
    case ExerciseStatus::todo: return "todo";
    case ExerciseStatus::passed: return "passed";
    case ExerciseStatus::failed: return "failed";
  }
  return "?";
}

std::vector<Hint> ExerciseResult::hints() const {
  std::vector<Hint> all;
  std::set<std::string> seen;
  for (const CaseCheck& c : cases)
    for (const Hint& h : c.hints)
      if (seen.insert(h.text).second) all.push_back(h);
  return all;
}

bool ExerciseResult::has_hint(HintKind kind, const std::string& input) const {
  for (const CaseCheck& c : cases)
    for (const Hint& h : c.hints)
      if (h.kind == kind && (input.empty() || h.input == input)) return true;
  return false;
}

ExerciseResult check_exercise(const ExerciseInfo& ex, const ExerciseOp& op, const ExerciseCheckOptions& options) {
  ExerciseResult result;
  const std::string file = options.source_dir.empty() ? ex.file : options.source_dir + "/" + ex.file;
  std::string& s = result.report;
  s += fmt::format("exercise {} (lesson {}): {}\n", ex.name, ex.lesson, file);
  s += fmt::format("  forward: {}\n  derive:  {}\n", ex.forward, ex.derive);

  const std::vector<std::vector<Tensor>> cases = ex.cases();
  std::set<std::string> hints_shown;
  int failed = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    CaseOutcome outcome = check_case(ex, op, cases[k]);
    if (!outcome.not_implemented.empty()) {
      result.status = ExerciseStatus::todo;
      result.cases.clear();
      s += fmt::format("\nnot implemented yet: {} still throws NotImplemented.\n", outcome.not_implemented);
      s += fmt::format("Write the backward in {}\n(the TODO in its backward), then run `lumen exercise {}` again.\n",
                       file, ex.name);
      s += fmt::format("\nFAIL: {}: not implemented yet\n", ex.name);
      return result;
    }
    CaseCheck& c = outcome.check;
    s += fmt::format("\nshape {} of {}: {}\n", k + 1, cases.size(), c.shapes);
    if (!outcome.forward_note.empty()) s += "  " + outcome.forward_note + "\n";
    if (!c.inputs.empty()) s += table(c);
    if (!c.error.empty()) s += "  error: " + c.error + "\n";
    for (const std::string& w : outcome.warnings) s += "  warning: " + w + "\n";
    for (const Hint& h : c.hints) {
      const std::string who = h.input.empty() ? "" : " (" + h.input + ")";
      if (hints_shown.insert(h.text).second)
        s += fmt::format("  hint [{}]{}: {}\n", hint_kind_name(h.kind), who, h.text);
      else
        s += fmt::format("  hint [{}]{}: as above\n", hint_kind_name(h.kind), who);
    }
    for (const InputCheck& ic : c.inputs)
      if (ic.checked) result.worst_rel_err = std::max(result.worst_rel_err, ic.max_rel_err);
    if (!c.passed) ++failed;
    result.cases.push_back(std::move(c));
  }

  if (failed == 0) {
    result.status = ExerciseStatus::passed;
    s += fmt::format("\nPASS: {}: backward matches finite differences on all {} shapes (largest relative error "
                     "{:.1e})\n",
                     ex.name, cases.size(), result.worst_rel_err);
  } else {
    result.status = ExerciseStatus::failed;
    std::string summary;
    for (const Hint& h : result.hints()) {
      std::string item = std::string(hint_kind_name(h.kind)) + (h.input.empty() ? "" : " (" + h.input + ")");
      if (summary.find(item) == std::string::npos) summary += (summary.empty() ? "" : ", ") + item;
    }
    s += fmt::format("\nFAIL: {}: {} of {} shapes failed{}\n", ex.name, failed, cases.size(),
                     summary.empty() ? " (no known pattern: compare the worst element with your derivation)"
                                     : ". Hints: " + summary);
  }
  return result;
}

}  // namespace lumen::lessons
