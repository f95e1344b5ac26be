#pragma once
// Part (b) of lesson 07: visual question answering on lesson 02's images.
#include "lessons/common/cli.h"

namespace lumen::lessons {

struct VqaResult {
  double acc = 0;           // answers right on held-out questions
  double pointing_acc = 0;  // the argmax attention cell holds the object asked about
  double chance = 0;        // the accuracy of always giving the most common answer
};

// Trains the VQA model, prints its story, writes its figures to options.out_dir.
VqaResult run_vqa(const LessonOptions& options);

}  // namespace lumen::lessons
