#pragma once
// The flags every lesson accepts (DESIGN section 5) and the lesson's run: the output folder, the
// seed, the thread count, the number of steps, and whether to show a progress bar.
#include <cstdint>
#include <optional>
#include <string>

namespace lumen::lessons {

struct LessonOptions {
  std::string slug;             // "04_bahdanau_attention"
  bool quick = false;           // the CI-sized run
  std::string out_dir;          // default out/<slug>
  uint64_t seed = 0;
  int threads = 0;              // 0: all cores
  std::optional<int64_t> steps; // overrides the run's default number of training steps
  bool quiet = false;           // no progress bar
  std::string corpus;           // lesson 16 only: --corpus PATH

  // The number of training steps: --steps if given, else the quick or full default.
  int64_t steps_or(int64_t full, int64_t quick_default) const {
    return steps ? *steps : (quick ? quick_default : full);
  }
};

// The most worker threads a lesson accepts: far more than any machine it runs on, yet few
// enough that OpenMP can start them (a million threads would abort the process).
inline constexpr int kMaxThreads = 1024;

// What parse_lesson_args found: the options, or a one-line error, or a request for help.
struct ParsedFlags {
  LessonOptions options;
  std::string error;  // non-empty for a bad flag or value, e.g. "--threads must be at least 1, got 0"
  bool help = false;  // --help was given; `usage` holds the text
  std::string usage;
};

// Parses argv and checks every value, with no side effects: it never exits, prints, creates the
// output folder or changes the thread count. (The fuzzer in tests/fuzz calls it.)
ParsedFlags parse_lesson_args(int argc, const char* const* argv, const std::string& slug, const std::string& title,
                              bool accepts_corpus = false);

// Parses argv. On --help prints usage and exits 0; on a bad flag or value (--threads 0,
// --steps -1, an unwritable --out) prints one line to stderr and exits 2. Creates the output
// folder and applies the thread count.
LessonOptions parse_lesson_flags(int argc, char** argv, const std::string& slug, const std::string& title,
                                 bool accepts_corpus = false);

}  // namespace lumen::lessons
