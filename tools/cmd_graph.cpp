// lumen graph: draw a built-in model's computation graph as .dot, .svg, .png or .json.
#include <fmt/core.h>

#include <filesystem>
#include <fstream>

#include "autograd/engine.h"
#include "autograd/graph_export.h"
#include "tools/commands.h"
#include "tools/graph_models.h"

namespace lumen::tools {

Command add_graph_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("graph", "draw a built-in model's computation graph");
  struct Flags {
    bool list = false, values = false, backward = false, saved = false;
    std::string model, out, rankdir;
    std::vector<std::string> collapse;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_flag("--list", f->list, "list the built-in models, one per line");
  cmd->add_option("--model", f->model, "the model to draw (see --list)");
  cmd->add_flag("--values", f->values, "show small tensors' values and, after backward, their gradients");
  cmd->add_flag("--backward", f->backward, "draw the backward graph, with its broadcast reductions (sum_to)");
  cmd->add_flag("--saved", f->saved, "show what each op saved for backward, with its size");
  cmd->add_option("--collapse", f->collapse, "fold a module scope into one node (repeatable)");
  cmd->add_option("--rankdir", f->rankdir, "LR or TB (default: LR for sequences, TB otherwise)")
      ->check(CLI::IsMember({"LR", "TB"}));
  cmd->add_option("--out", f->out, "the file to write: .dot, .svg, .png or .json");

  return {cmd, [f]() -> int {
            if (f->list) {
              for (const GraphModel& m : graph_models()) fmt::print("{:<22} {}\n", m.name, m.description);
              return 0;
            }
            if (f->model.empty()) throw UsageError("graph: give --model NAME (or --list)");
            const GraphModel* model = find_graph_model(f->model);
            if (!model) throw UsageError("graph: unknown model '" + f->model + "' (lumen graph --list shows them)");
            if (f->out.empty()) throw UsageError("graph: give --out FILE (.dot, .svg, .png or .json)");
            std::string ext = std::filesystem::path(f->out).extension().string();
            if (ext != ".dot" && ext != ".svg" && ext != ".png" && ext != ".json")
              throw UsageError("graph: --out '" + f->out + "' must end in .dot, .svg, .png or .json");
            {
              std::ofstream probe(f->out, std::ios::app);
              if (!probe) throw UsageError("graph: cannot write '" + f->out + "'");
            }

            GraphExample ex = model->build();
            // Gradients for the picture: a backward that keeps the graph (and every gradient).
            if (f->values && !f->backward) {
              bool scalar = ex.outputs.size() == 1 && ex.outputs[0].numel() == 1 && ex.outputs[0].requires_grad();
              if (scalar) backward(ex.outputs[0], Tensor(), {.retain_graph = true});
            }
            DotOptions o{.show_values = f->values,
                         .show_saved = f->saved,
                         .backward = f->backward,
                         .collapse = f->collapse,
                         .rankdir = f->rankdir,
                         .title = f->model + (f->backward ? " (backward)" : "")};
            try {
              if (ext == ".json") {
                std::ofstream out(f->out);
                out << to_json(ex.outputs, o);
                if (!out) throw UsageError("graph: writing '" + f->out + "' failed");
              } else {
                std::string warnings = render(to_dot(ex.outputs, o), f->out);
                if (!warnings.empty()) fmt::print(stderr, "{}", warnings);
              }
            } catch (const ValueError& e) {
              throw UsageError(std::string("graph: ") + e.what());
            }
            fmt::print("wrote {}\n", f->out);
            return 0;
          }};
}

}  // namespace lumen::tools
