// libFuzzer entry point for the lesson flags (lessons/common/cli.cpp): the input is split at NUL
// bytes into argv, and parse_lesson_args must return either valid options or a one-line error,
// never throw, crash or trip a sanitizer. parse_lesson_args has no side effects, so the fuzzer can
// call it millions of times in one process.
//   run: scripts/run-fuzz.sh build-fuzz SECONDS (or build-fuzz/fuzz/fuzz_cli -dict=tests/fuzz/cli.dict)
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lessons/common/cli.h"

using lumen::lessons::ParsedFlags;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // argv[0], then one argument per NUL-separated piece (at most 32, as a shell line would have).
  std::vector<std::string> args{"lesson"};
  std::string current;
  for (size_t i = 0; i < size && args.size() < 32; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty() && args.size() < 32) args.push_back(current);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());

  ParsedFlags r = lumen::lessons::parse_lesson_args(static_cast<int>(argv.size()), argv.data(), "99_fuzz", "fuzz");
  // The contract: an error is one line; options that pass are within range.
  if (!r.error.empty()) {
    if (r.error.find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  if (r.help) return 0;
  const auto& o = r.options;
  if (o.threads < 0 || o.threads > lumen::lessons::kMaxThreads) __builtin_trap();
  if (o.steps && *o.steps < 0) __builtin_trap();
  if (o.out_dir.empty()) __builtin_trap();
  return 0;
}
