// lumen exercise: check a learner's backward for one of the gradient exercises.
//
//   lumen exercise --list           every exercise: name, lesson, status (todo, passed, failed)
//   lumen exercise NAME             rebuild the tool with your code, then check NAME
//   lumen exercise NAME --solution  check the reference solution in lessons/solutions/ instead
//
// The exercise files are compiled into this tool (tools/exercise_ops.cpp). So that an edit
// counts without a separate build step, the command first runs `cmake --build` on the build
// folder the tool was configured in, then runs the freshly built tool again with the hidden
// flag --no-rebuild, which only checks. Tests pass --no-rebuild directly.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "lessons/common/exercise_catalog.h"
#include "lessons/common/exercise_check.h"
#include "tools/commands.h"
#include "tools/exercise_ops.h"

namespace lumen::tools {
namespace {

struct ExerciseFlags {
  std::string name;
  bool list = false;
  bool solution = false;
  bool no_rebuild = false;
};

std::string source_dir() {
#ifdef LUMEN_SOURCE_DIR
  return LUMEN_SOURCE_DIR;
#else
  return "";
#endif
}

const ExerciseOps& ops_for(const std::string& name) {
  for (const ExerciseOps& ops : exercise_ops())
    if (ops.name == name) return ops;
  throw UsageError("exercise: '" + name + "' is in the catalogue but not compiled into the tool");
}

lessons::ExerciseResult run_check(const lessons::ExerciseInfo& info, bool solution) {
  const ExerciseOps& ops = ops_for(info.name);
  return lessons::check_exercise(info, solution ? ops.solution : ops.learner, {.source_dir = source_dir()});
}

int check(const ExerciseFlags& flags) {
  if (flags.list) {
    for (const lessons::ExerciseInfo& info : lessons::exercise_catalog())
      fmt::print("{:<18} {:<24} {}\n", info.name, info.lesson,
                 lessons::status_name(run_check(info, flags.solution).status));
    return 0;
  }
  const lessons::ExerciseInfo* info = lessons::find_exercise(flags.name);
  if (!info) throw UsageError("exercise: no exercise named '" + flags.name + "' (lumen exercise --list shows them)");
  lessons::ExerciseResult result = run_check(*info, flags.solution);
  fmt::print("{}", result.report);
  return result.status == lessons::ExerciseStatus::passed ? 0 : 1;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

// Rebuilds the tool, so the learner's latest edit is compiled in, then replaces this process by
// the new tool with --no-rebuild. Returns only if that cannot be done (then the caller checks
// the version compiled into this binary) or the build failed (returns 1).
int rebuild_and_rerun(const ExerciseFlags& flags) {
#if defined(LUMEN_BINARY_DIR) && defined(LUMEN_CMAKE_COMMAND)
  namespace fs = std::filesystem;
  const std::string build_dir = LUMEN_BINARY_DIR;
  const std::string tool = build_dir + "/tools/lumen";
  if (!fs::exists(fs::path(build_dir) / "CMakeCache.txt") || !fs::exists(tool)) {
    fmt::print(stderr, "lumen exercise: build folder {} not found; checking the code this binary was built with\n",
               build_dir);
    return -1;
  }
  const std::string command = shell_quote(LUMEN_CMAKE_COMMAND) + " --build " + shell_quote(build_dir) +
                              " --target lumen_tool 2>&1";
  fmt::print(stderr, "lumen exercise: rebuilding with your code ({} --build {} --target lumen_tool)\n",
             LUMEN_CMAKE_COMMAND, build_dir);
  std::fflush(stderr);
  std::string output;
  int status = -1;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    status = pclose(pipe);
  }
  if (status != 0) {
    fmt::print(stderr, "{}\n", output);
    fmt::print("FAIL: {}: the build failed; the compiler's messages are above\n",
               flags.list ? std::string("exercise --list") : flags.name);
    return 1;
  }
  std::vector<std::string> args = {tool, "exercise"};
  if (flags.list) args.push_back("--list");
  if (!flags.name.empty()) args.push_back(flags.name);
  if (flags.solution) args.push_back("--solution");
  args.push_back("--no-rebuild");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(tool.c_str(), argv.data());
  fmt::print(stderr, "lumen exercise: could not run {} after rebuilding; checking the code this binary was built "
                     "with\n", tool);
  return -1;
#else
  (void)flags;
  return -1;
#endif
}

}  // namespace

Command add_exercise_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("exercise", "check your backward for a gradient exercise (docs/exercises.md)");
  auto flags = std::make_shared<ExerciseFlags>();
  cmd->add_option("name", flags->name, "the exercise to check (see --list)");
  cmd->add_flag("--list", flags->list, "list the exercises: name, lesson, status (todo, passed, failed)");
  cmd->add_flag("--solution", flags->solution, "check the reference solution in lessons/solutions/ instead of yours");
  // Hidden: only check, without rebuilding first (the rebuilt tool runs itself with it; tests use it).
  cmd->add_flag("--no-rebuild", flags->no_rebuild, "")->group("");

  return {cmd, [flags]() -> int {
    if (flags->list == !flags->name.empty())
      throw UsageError("exercise: give an exercise NAME or --list (lumen exercise --list shows the names)");
    if (!flags->list && !lessons::find_exercise(flags->name))
      throw UsageError("exercise: no exercise named '" + flags->name + "' (lumen exercise --list shows them)");
    if (!flags->no_rebuild) {
      const int code = rebuild_and_rerun(*flags);
      if (code >= 0) return code;
    }
    return check(*flags);
  }};
}

}  // namespace lumen::tools
