#pragma once
// Each subcommand of `lumen` registers itself on the CLI11 app; `main` only dispatches.
// A command's callback returns the process exit code: 0 pass, 1 a check failed, 2 bad input.
#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>

namespace lumen::tools {

// Thrown for bad input that CLI11 cannot see (an unwritable file, an unknown model name):
// main prints the message on one line and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Run = std::function<int()>;
struct Command {
  CLI::App* app;  // the subcommand's parser
  Run run;        // what to do when it was given
};

Command add_gradcheck_command(CLI::App& app);
Command add_graph_command(CLI::App& app);
Command add_inspect_command(CLI::App& app);
Command add_exercise_command(CLI::App& app);

}  // namespace lumen::tools
