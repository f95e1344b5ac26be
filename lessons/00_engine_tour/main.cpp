// Lesson 00: the engine tour. Tensors and views, autograd on a tiny expression drawn
// micrograd-style, and the gradient check of every op the later lessons use.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/engine.h"
#include "autograd/graph_export.h"
#include "autograd/gradcheck_catalog.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/gradcheck_modules.h"
#include "tensor/print.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

void part1_tensors() {
  fmt::print("== 1. Tensors are views of memory\n\n");
  Tensor x = Tensor::arange(0, 6, 1, DType::f32).reshape({2, 3});
  fmt::print("x = arange(6).reshape([2, 3])\n{}\n", x);
  fmt::print("x.strides() = {}: one step along dim 0 skips 3 elements\n\n", x.strides());
  Tensor xt = x.mT();
  fmt::print("x.mT() is a view: shape {}, strides {}, same memory: {}\n{}\n", xt.shape(), xt.strides(),
             xt.shares_storage(x), xt);
  fmt::print("is it contiguous? {}. contiguous() copies it into row-major order.\n\n", xt.is_contiguous());
  Tensor col = Tensor::from_vector(std::vector<double>{10, 20}, {2, 1});
  fmt::print("broadcasting: x [2, 3] + col [2, 1] stretches col along dim 1\n{}\n\n", add(x, col));
}

// micrograd's expression: L = (a*b + c) * f.
int64_t part2_autograd(const LessonOptions& opt) {
  fmt::print("== 2. Autograd on a tiny expression (micrograd's)\n\n");
  auto leaf = [](double v, const char* name) {
    return Var(Tensor::scalar(v, DType::f64), true).set_name(name);
  };
  Var a = leaf(2.0, "a"), b = leaf(-3.0, "b"), c = leaf(10.0, "c"), f = leaf(-2.0, "f");
  Var e = (a * b).set_name("e");
  Var d = (e + c).set_name("d");
  Var L = (d * f).set_name("L");
  backward(L, Tensor(), {.retain_graph = true});
  fmt::print("e = a*b = {}, d = e + c = {}, L = d*f = {}\n", e.item(), d.item(), L.item());
  fmt::print("dL/da = {} (= f*b), dL/db = {} (= f*a), dL/dc = {} (= f), dL/df = {} (= d)\n", a.grad().item(),
             b.grad().item(), c.grad().item(), f.grad().item());
  std::string dot = to_dot({L}, {.show_values = true, .title = "L = (a*b + c) * f"});
  render(dot, opt.out_dir + "/tiny_expression.dot");
  render(dot, opt.out_dir + "/tiny_expression.svg");
  fmt::print("graph with values and gradients: {}/tiny_expression.svg\n\n", opt.out_dir);
  // Each gradient follows from the chain rule by hand; count the ones autograd got right.
  int64_t right = (a.grad().item() == 6.0) + (b.grad().item() == -4.0) + (c.grad().item() == -2.0) +
                  (f.grad().item() == 4.0);
  return right;
}

struct TableResult {
  double max_rel_err = 0;
  int64_t ops = 0;
  bool all_passed = true;
};

TableResult part3_gradcheck_table() {
  fmt::print("== 3. Every op, checked against central differences in f64 (eps = 1e-6)\n\n");
  std::vector<GradcheckCase> cases = gradcheck_catalog(DType::f64);
  for (auto* more : {nn::sequence_gradcheck_cases, nn::transformer_gradcheck_cases})
    for (GradcheckCase& c : more()) cases.push_back(std::move(c));
  fmt::print("{:<26} {:<34} {:>11} {:>11}  {}\n", "op", "shapes", "max abs", "max rel", "");
  TableResult r;
  std::set<std::string> ops;
  for (const GradcheckCase& c : cases) {
    GradcheckRecord rec = run_gradcheck_case(c);
    fmt::print("{:<26} {:<34} {:>11.2e} {:>11.2e}  {}\n", rec.op, rec.shapes, rec.max_abs_err, rec.max_rel_err,
               rec.passed ? "pass" : "FAIL");
    r.max_rel_err = std::max(r.max_rel_err, rec.max_rel_err);
    r.all_passed = r.all_passed && rec.passed;
    ops.insert(rec.op);
  }
  r.ops = static_cast<int64_t>(ops.size());
  fmt::print("\n{} checks of {} ops; the largest relative error is {:.2e}\n\n", cases.size(), r.ops, r.max_rel_err);
  return r;
}

// The eps V-curve: too large an eps and the finite difference's truncation error dominates; too
// small and rounding does. f32 has 7 digits, so its sweet spot sits near 1e-3, where f64's is
// near 1e-6.
struct VCurve {
  double f32_at_1e6 = 0, f32_at_1e3 = 0, f64_at_1e6 = 0;
  bool f32_passes_at_1e6 = false, f32_passes_at_1e3 = false;
};

VCurve part4_eps_curve(const LessonOptions& opt) {
  fmt::print("== 4. Why f64: the relative error against eps, for tanh(x) * x on 12 numbers\n\n");
  std::vector<double> eps_values;
  for (int k = 1; k <= 9; ++k) eps_values.push_back(std::pow(10.0, -k));
  VarFunction fn = [](const std::vector<Var>& v) { return tanh(v[0]) * v[0]; };
  Generator gen(opt.seed + 7);
  Tensor x64 = randn({3, 4}, DType::f64, gen);
  Tensor x32 = x64.to(DType::f32);
  Series s32{"f32", {}, {}}, s64{"f64", {}, {}};
  VCurve v;
  fmt::print("{:>8} {:>14} {:>14}\n", "eps", "f32 rel err", "f64 rel err");
  for (double eps : eps_values) {
    GradcheckOptions o;
    o.eps = eps;
    GradcheckResult r32 = gradcheck(fn, {x32}, o);
    double e32 = r32.inputs[0].max_rel_err;
    double e64 = gradcheck(fn, {x64}, o).inputs[0].max_rel_err;
    fmt::print("{:>8.0e} {:>14.2e} {:>14.2e}\n", eps, e32, e64);
    s32.xs.push_back(std::log10(eps));
    s32.ys.push_back(std::max(e32, 1e-16));
    s64.xs.push_back(std::log10(eps));
    s64.ys.push_back(std::max(e64, 1e-16));
    if (eps == 1e-6) v.f32_at_1e6 = e32, v.f64_at_1e6 = e64, v.f32_passes_at_1e6 = r32.passed;
    if (eps == 1e-3) v.f32_at_1e3 = e32, v.f32_passes_at_1e3 = r32.passed;
  }
  line_chart({s32, s64}, {.title = "gradcheck error against eps (the V-curve)",
                          .x_label = "log10(eps)",
                          .y_label = "max relative error",
                          .log_y = true})
      .save(opt.out_dir + "/eps_v_curve.svg");
  fmt::print("\nf32 at eps = 1e-6: {:.2e} ({}), at eps = 1e-3: {:.2e} ({}); f64 at 1e-6: {:.2e}\n", v.f32_at_1e6,
             v.f32_passes_at_1e6 ? "passes" : "fails", v.f32_at_1e3, v.f32_passes_at_1e3 ? "passes" : "fails",
             v.f64_at_1e6);
  fmt::print("figure: {}/eps_v_curve.svg\n\n", opt.out_dir);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "00_engine_tour", "tensors, autograd and gradient checks");
  LessonReport report(opt);
  try {
    part1_tensors();
    int64_t right = part2_autograd(opt);
    TableResult table = part3_gradcheck_table();
    VCurve v = part4_eps_curve(opt);

    report.metric("max_rel_err_f64", table.max_rel_err);
    report.metric("ops_checked", table.ops);
    report.metric("tiny_expression_grads_right", right);
    report.metric("f32_rel_err_eps_1e-6", v.f32_at_1e6);
    report.metric("f32_rel_err_eps_1e-3", v.f32_at_1e3);
    fmt::print("== Targets\n");
    report.check("tiny_expression", right == 4, "autograd gives micrograd's gradients 6, -4, -2, 4");
    report.at_most("max_rel_err_f64", table.max_rel_err, 1e-6);
    report.at_least("ops_checked", static_cast<double>(table.ops), 30);
    report.check("every_op_passes", table.all_passed, "every op passes gradcheck in f64");
    report.check("f32_fails_at_eps_1e-6", !v.f32_passes_at_1e6, "gradcheck of f32 inputs fails at eps = 1e-6");
    report.check("f32_passes_at_eps_1e-3", v.f32_passes_at_1e3, "gradcheck of f32 inputs passes at eps = 1e-3");
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "00_engine_tour: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
