// lumen: the command-line companion to the lessons.
//   lumen gradcheck [--json FILE] [--op NAME]   check every differentiable op
//   lumen graph --model NAME --out FILE         draw a model's computation graph
//   lumen inspect FILE.safetensors              list a checkpoint's tensors
//   lumen exercise NAME | --list               check a gradient exercise (docs/exercises.md)
#include <cstdio>
#include <vector>

#include "tensor/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"lumen: gradient checks, computation graphs and exercises for the Lumen lessons"};
  app.require_subcommand(1);
  std::vector<lumen::tools::Command> commands = {
      lumen::tools::add_gradcheck_command(app),
      lumen::tools::add_graph_command(app),
      lumen::tools::add_inspect_command(app),
      lumen::tools::add_exercise_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage mistakes get one line and exit code 2, as the lessons do.
    std::fprintf(stderr, "lumen: %s (see lumen --help)\n", e.what());
    return 2;
  }
  try {
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
  } catch (const lumen::tools::UsageError& e) {
    std::fprintf(stderr, "lumen: %s\n", e.what());
    return 2;
  } catch (const lumen::Error& e) {
    std::fprintf(stderr, "lumen: %s\n", e.what());
    return 2;
  }
  return 2;
}
