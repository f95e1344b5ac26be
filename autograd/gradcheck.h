#pragma once
// gradcheck: compares the gradients backward computes (analytic) with central differences
// (numeric), in f64, element by element, and says where they disagree.
//
// For f with any output shape, it checks L(x) = sum(w * f(x)) for a fixed random w: dL/dx is
// one backward pass, and (L(x + eps e_i) - L(x - eps e_i)) / (2 eps) is the numeric value for
// each input element i. A wrong backward disagrees for almost every w, so one projection
// suffices, and it costs two forward passes per input element.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace lumen {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  uint64_t seed = 0;  // for the projection w
  // Which inputs to check (empty: every floating input).
  std::vector<bool> check_input = {};
};

struct InputReport {
  size_t input = 0;
  Shape shape;
  double max_abs_err = 0;  // max_i |a_i - n_i|, leaving out kinks
  // max_i |a_i - n_i| / max(max_j |a_j|, max_j |n_j|, 1e-8): scaled by the largest gradient
  // entry, so one near-zero element cannot blow it up.
  double max_rel_err = 0;
  int64_t worst_flat = -1;          // row-major index of the worst element (-1: none)
  std::vector<int64_t> worst_index;  // the same as a full index
  double worst_analytic = 0;
  double worst_numeric = 0;
  int64_t failures = 0;  // elements with |a - n| > atol + rtol * |n|
  int64_t kinks = 0;     // elements whose finite difference crossed a kink (left out)
  bool passed = true;
};

struct GradcheckResult {
  bool passed = true;
  std::vector<InputReport> inputs;
  std::vector<std::string> warnings;  // e.g. "input 0 is f32: use f64 for gradient checks"
  // A readable table, one line per input.
  std::string summary() const;
};

using VarFunction = std::function<Var(const std::vector<Var>&)>;

// Inputs are leaves made from `inputs` (their dtype is kept: pass f64; f32 gives a warning).
GradcheckResult gradcheck(const VarFunction& f, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

// Checks second derivatives: gradcheck of x -> dL/dx (with create_graph) for L = sum(w * f(x)).
GradcheckResult gradgradcheck(const VarFunction& f, const std::vector<Tensor>& inputs,
                              GradcheckOptions options = {});

}  // namespace lumen
