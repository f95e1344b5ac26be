#pragma once
// The catalogue of gradient checks: every differentiable op, on several shapes, including
// broadcasting and non-contiguous inputs. `lumen gradcheck` runs it and prints the table; lesson
// 00 shows it; the tests run it too.
#include <string>
#include <vector>

#include "autograd/gradcheck.h"

namespace lumen {

struct GradcheckCase {
  std::string op;      // "matmul"
  std::string shapes;  // "[2, 1, 3, 4] x [5, 4, 2]" or "[4, 3]^T" for a transposed view
  VarFunction f;
  std::vector<Tensor> inputs;  // f64; may be non-contiguous views
  bool smooth = true;          // false for ops with kinks (relu, abs, max): kinks are flagged
};

// Every case, with inputs drawn from a fixed seed (the same on every machine).
std::vector<GradcheckCase> gradcheck_catalog(DType dtype = DType::f64);

struct GradcheckRecord {
  std::string op;
  std::string shapes;
  std::string dtype;
  double max_abs_err = 0;
  double max_rel_err = 0;
  int64_t kinks = 0;
  bool passed = false;
};

// Runs one case: the worst error over its inputs.
GradcheckRecord run_gradcheck_case(const GradcheckCase& c, const GradcheckOptions& options = {});

}  // namespace lumen
