#pragma once
// The checker behind `lumen exercise`: a custom op's backward against finite differences
// (gradcheck, f64) on each of the exercise's shapes, with hints where the error has a known
// pattern.
//
// For each shape it
//   1. runs forward and compares it with the exercise's reference forward (built-in ops);
//   2. runs backward by hand, with a random dL/dout, and checks what came back: one gradient
//      per input, each of its input's shape (a wrong shape is reported with its likely cause);
//   3. runs gradcheck on the op, for every input whose gradient has the right shape;
//   4. for each input that fails, compares the learner's gradient a with the right one t (from
//      the reference's backward) and names the pattern: a = -t (sign), 2t or t/2 (factor of 2),
//      c t (a constant factor), t / count (a broadcast input averaged, not summed), t^T
//      (transposed), or one of the exercise's known mistakes (such as the diagonal of the
//      softmax Jacobian only).
#include <string>
#include <vector>

#include "lessons/common/exercise.h"
#include "lessons/common/exercise_catalog.h"

namespace lumen::lessons {

enum class ExerciseStatus { todo, passed, failed };
// "todo", "passed", "failed": the words `lumen exercise --list` prints.
const char* status_name(ExerciseStatus status);

struct Hint {
  HintKind kind;
  std::string input;  // the input whose gradient it concerns; empty for backward as a whole
  std::string text;
};

struct InputCheck {
  std::string name;
  Shape shape;
  bool checked = false;   // false when its gradient could not be compared (see `problem`)
  std::string problem;    // e.g. "gradient has shape [4, 3]"
  double max_abs_err = 0;
  double max_rel_err = 0;
  std::vector<int64_t> worst_index;  // empty: no element to name
  double worst_analytic = 0;
  double worst_numeric = 0;
  bool passed = false;
};

struct CaseCheck {
  std::string shapes;  // "x [2, 3], h [2, 4]"
  bool passed = false;
  std::string error;   // what stopped the check before any gradient was compared
  std::vector<InputCheck> inputs;
  std::vector<Hint> hints;
};

struct ExerciseResult {
  ExerciseStatus status = ExerciseStatus::failed;
  std::vector<CaseCheck> cases;
  std::string report;  // what `lumen exercise NAME` prints
  double worst_rel_err = 0;
  // Every hint given, over all shapes.
  std::vector<Hint> hints() const;
  bool has_hint(HintKind kind, const std::string& input = "") const;
};

struct ExerciseCheckOptions {
  // Prefix for the exercise's file in the report (the repository root); empty: relative path.
  std::string source_dir;
};

ExerciseResult check_exercise(const ExerciseInfo& exercise, const ExerciseOp& op,
                              const ExerciseCheckOptions& options = {});

}  // namespace lumen::lessons
