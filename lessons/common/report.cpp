#include "lessons/common/report.h"

#include <fmt/format.h>

#include <fstream>

#include "tensor/error.h"
#include "tensor/parallel.h"

namespace lumen::lessons {

LessonReport::LessonReport(const LessonOptions& options)
    : options_(options), start_(std::chrono::steady_clock::now()) {}

void LessonReport::metric(const std::string& name, const nlohmann::json& value) { metrics_[name] = value; }

bool LessonReport::at_least(const std::string& name, double got, double want) {
  bool ok = got >= want;
  targets_[name] = {{"want", fmt::format(">= {}", want)}, {"got", got}, {"passed", ok}};
  fmt::print("  [{}] {} = {:.4g} (target >= {})\n", ok ? "pass" : "FAIL", name, got, want);
  passed_ = passed_ && ok;
  return ok;
}

bool LessonReport::at_most(const std::string& name, double got, double want) {
  bool ok = got <= want;
  targets_[name] = {{"want", fmt::format("<= {}", want)}, {"got", got}, {"passed", ok}};
  fmt::print("  [{}] {} = {:.4g} (target <= {})\n", ok ? "pass" : "FAIL", name, got, want);
  passed_ = passed_ && ok;
  return ok;
}

bool LessonReport::check(const std::string& name, bool ok, const std::string& description) {
  targets_[name] = {{"want", description}, {"passed", ok}};
  fmt::print("  [{}] {}: {}\n", ok ? "pass" : "FAIL", name, description);
  passed_ = passed_ && ok;
  return ok;
}

int LessonReport::finish() {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  nlohmann::json out = {{"lesson", options_.slug}, {"passed", passed_},   {"metrics", metrics_},
                        {"targets", targets_},     {"seconds", seconds}, {"threads", get_num_threads()},
                        {"quick", options_.quick}, {"seed", options_.seed}};
  write_json(options_.out_dir + "/metrics.json", out);
  fmt::print("\n{}: {} in {:.1f} s (files in {})\n", options_.slug, passed_ ? "PASSED" : "FAILED", seconds,
             options_.out_dir);
  return passed_ ? 0 : 1;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  if (!f) throw ValueError("cannot write '" + path + "'");
  f << j.dump(2) << "\n";
}

}  // namespace lumen::lessons
