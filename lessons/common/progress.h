#pragma once
// A training progress bar with loss and speed, on stderr and only on a terminal, so logs and
// piped output stay clean.
#include <chrono>
#include <cstdint>
#include <string>

namespace lumen::lessons {

class ProgressBar {
 public:
  // `enabled` is usually !options.quiet; the bar also stays off when stderr is not a terminal.
  ProgressBar(std::string label, int64_t total, bool enabled);
  ~ProgressBar();
  void update(int64_t step, double loss);
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool active_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace lumen::lessons
