#pragma once
// The exercises' custom ops as compiled into the `lumen` tool: the learner's version (the
// exercise files next to the lessons) and the reference solution (lessons/solutions/).
#include <string>
#include <vector>

#include "lessons/common/exercise.h"

namespace lumen::tools {

struct ExerciseOps {
  std::string name;  // as in lessons/common/exercise_catalog.cpp
  lessons::ExerciseOp learner;
  lessons::ExerciseOp solution;
};

const std::vector<ExerciseOps>& exercise_ops();

}  // namespace lumen::tools
