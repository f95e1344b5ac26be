#include "lessons/common/cli.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tensor/parallel.h"

namespace lumen::lessons {
namespace {

[[noreturn]] void usage_error(const std::string& slug, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", slug.c_str(), message.c_str());
  std::exit(2);
}

// The folder must exist (or be creatable) and accept a file; returns what is wrong, or "".
std::string check_writable(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create --out folder '" + dir + "': " + ec.message();
  std::string probe = dir + "/.write-test";
  {
    std::ofstream f(probe);
    if (!f) return "--out folder '" + dir + "' is not writable";
  }
  std::filesystem::remove(probe, ec);
  return "";
}

// A whole number in [lo, hi], written plainly: digits with an optional leading minus. CLI11's
// own conversion saturates an out-of-range int64 at its maximum instead of failing, so the
// numbers are read here; returns what is wrong, or "".
template <class Int>
std::string read_number(const std::string& flag, const std::string& text, Int lo, Int hi, Int& out) {
  const std::string want = flag + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
  Int value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < lo || value > hi)
    return want + ", got '" + text + "'";
  out = value;
  return "";
}

// The contract is one line on stderr, but CLI11 may word a message over several lines, and a
// message may quote what the user typed, newlines and all (the fuzzer found that): every
// control character becomes a space.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

ParsedFlags parse_lesson_args(int argc, const char* const* argv, const std::string& slug, const std::string& title,
                              bool accepts_corpus) {
  ParsedFlags r;
  LessonOptions& o = r.options;
  o.slug = slug;
  CLI::App app{slug + ": " + title};
  // The numbers are taken as text and read by read_number, which rejects anything out of range.
  std::string threads, steps, seed;
  app.add_flag("--quick", o.quick, "the CI-sized run (at most 30 s), with a looser target");
  app.add_option("--out", o.out_dir, "where figures, graphs and metrics.json go (default out/" + slug + ")");
  app.add_option("--seed", seed, "random seed, 0 or more (the same seed gives the same output)");
  app.add_option("--threads", threads, "worker threads, 1 to " + std::to_string(kMaxThreads) + " (default: all cores)");
  app.add_option("--steps", steps, "training steps, 0 or more, overriding the run's default");
  app.add_flag("--quiet", o.quiet, "no progress bar");
  if (accepts_corpus) app.add_option("--corpus", o.corpus, "a text file to train on");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    r.help = true;
    r.usage = app.help();
    return r;
  } catch (const CLI::ParseError& e) {
    r.error = one_line(e.what()) + " (see --help)";
    return r;
  }
  if (app.count("--threads")) r.error = read_number("--threads", threads, 1, kMaxThreads, o.threads);
  if (r.error.empty() && app.count("--steps")) {
    int64_t n = 0;
    r.error = read_number<int64_t>("--steps", steps, 0, std::numeric_limits<int64_t>::max(), n);
    o.steps = n;
  }
  if (r.error.empty() && app.count("--seed"))
    r.error = read_number<uint64_t>("--seed", seed, 0, std::numeric_limits<uint64_t>::max(), o.seed);
  if (!r.error.empty()) {
    r.error = one_line(r.error);
    return r;
  }
  if (app.count("--out") && o.out_dir.empty()) {
    r.error = "--out needs a folder name, got an empty one";
    return r;
  }
  if (o.out_dir.empty()) o.out_dir = "out/" + slug;
  return r;
}

LessonOptions parse_lesson_flags(int argc, char** argv, const std::string& slug, const std::string& title,
                                 bool accepts_corpus) {
  ParsedFlags r = parse_lesson_args(argc, argv, slug, title, accepts_corpus);
  if (r.help) {
    std::fputs(r.usage.c_str(), stdout);
    std::exit(0);
  }
  if (!r.error.empty()) usage_error(slug, r.error);
  if (std::string problem = check_writable(r.options.out_dir); !problem.empty()) usage_error(slug, one_line(problem));
  if (r.options.threads > 0) set_num_threads(r.options.threads);
  return r.options;
}

}  // namespace lumen::lessons
