#pragma once
// What every lesson ends with: its metrics and targets, checked, written to metrics.json, and
// the exit code (0 passed, 1 a target missed).
//
//   {"lesson": "04_bahdanau_attention", "passed": true, "metrics": {...}, "targets": {...},
//    "seconds": 41.2, "threads": 2}
//
// `metrics` holds only values the seed and flags determine; timings and thread counts go
// outside it.
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "lessons/common/cli.h"

namespace lumen::lessons {

class LessonReport {
 public:
  explicit LessonReport(const LessonOptions& options);

  // Records a metric (a number, bool, list or object).
  void metric(const std::string& name, const nlohmann::json& value);
  // Checks `got >= want` (or <= for at_most), records it under targets and prints one line.
  bool at_least(const std::string& name, double got, double want);
  bool at_most(const std::string& name, double got, double want);
  // A check that is not a threshold: `description` says what was expected.
  bool check(const std::string& name, bool ok, const std::string& description);

  bool passed() const { return passed_; }
  // Writes metrics.json, prints the verdict, and returns the exit code.
  int finish();

  const nlohmann::json& metrics() const { return metrics_; }

 private:
  const LessonOptions& options_;
  nlohmann::json metrics_ = nlohmann::json::object();
  nlohmann::json targets_ = nlohmann::json::object();
  bool passed_ = true;
  std::chrono::steady_clock::time_point start_;
};

// Writes `j` to `path` (pretty-printed); throws lumen::ValueError naming the path on failure.
void write_json(const std::string& path, const nlohmann::json& j);

}  // namespace lumen::lessons
