#include "lessons/common/cli.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tensor/parallel.h"

namespace lumen::lessons {
namespace {

[[noreturn]] void usage_error(const std::string& slug, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", slug.c_str(), message.c_str());
  std::exit(2);
}

// The folder must exist (or be creatable) and accept a file.
void ensure_writable(const std::string& slug, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) usage_error(slug, "cannot create --out folder '" + dir + "': " + ec.message());
  std::string probe = dir + "/.write-test";
  {
    std::ofstream f(probe);
    if (!f) usage_error(slug, "--out folder '" + dir + "' is not writable");
  }
  std::filesystem::remove(probe, ec);
}

}  // namespace

LessonOptions parse_lesson_flags(int argc, char** argv, const std::string& slug, const std::string& title,
                                 bool accepts_corpus) {
  LessonOptions o;
  o.slug = slug;
  CLI::App app{slug + ": " + title};
  int64_t steps = -2;  // sentinel: not given
  int64_t seed = 0;
  app.add_flag("--quick", o.quick, "the CI-sized run (at most 30 s), with a looser target");
  app.add_option("--out", o.out_dir, "where figures, graphs and metrics.json go (default out/" + slug + ")");
  app.add_option("--seed", seed, "random seed (the same seed gives the same output)");
  app.add_option("--threads", o.threads, "worker threads (default: all cores)");
  app.add_option("--steps", steps, "training steps, overriding the run's default");
  app.add_flag("--quiet", o.quiet, "no progress bar");
  if (accepts_corpus) app.add_option("--corpus", o.corpus, "a text file to train on");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    usage_error(slug, std::string(e.what()) + " (see --help)");
  }
  if (app.count("--threads") && o.threads < 1)
    usage_error(slug, "--threads must be at least 1, got " + std::to_string(o.threads));
  if (app.count("--steps")) {
    if (steps < 0) usage_error(slug, "--steps must be 0 or more, got " + std::to_string(steps));
    o.steps = steps;
  }
  if (seed < 0) usage_error(slug, "--seed must be 0 or more, got " + std::to_string(seed));
  o.seed = static_cast<uint64_t>(seed);
  if (o.out_dir.empty()) o.out_dir = "out/" + slug;
  ensure_writable(slug, o.out_dir);
  if (o.threads > 0) set_num_threads(o.threads);
  return o;
}

}  // namespace lumen::lessons
