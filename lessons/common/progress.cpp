#include "lessons/common/progress.h"

#include <unistd.h>

#include <cstdio>

namespace lumen::lessons {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)),
      total_(total),
      active_(enabled && isatty(STDERR_FILENO) && total > 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t step, double loss) {
  if (!active_) return;
  auto now = std::chrono::steady_clock::now();
  // Redraw at most 10 times a second: drawing is cheap, but a terminal flooded is not.
  if (step < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  const int width = 30;
  int filled = static_cast<int>(width * step / total_);
  std::fprintf(stderr, "\r%-12s [", label_.c_str());
  for (int i = 0; i < width; ++i) std::fputc(i < filled ? '=' : (i == filled ? '>' : ' '), stderr);
  std::fprintf(stderr, "] %lld/%lld loss %.4f  %.0f steps/s ", static_cast<long long>(step),
               static_cast<long long>(total_), loss, secs > 0 ? step / secs : 0.0);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!active_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");  // clear the bar's line
  std::fflush(stderr);
}

}  // namespace lumen::lessons
