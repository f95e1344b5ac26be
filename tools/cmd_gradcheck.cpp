// lumen gradcheck: every differentiable op against central differences, as one table.
#include <fmt/core.h>

#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "autograd/gradcheck_catalog.h"
#include "nn/gradcheck_modules.h"
#include "tools/commands.h"

namespace lumen::tools {

Command add_gradcheck_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("gradcheck", "check every differentiable op's backward against finite differences (f64)");
  auto json_path = std::make_shared<std::string>();
  auto only_op = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("--json", *json_path, "also write one JSON record per check to FILE");
  cmd->add_option("--op", *only_op, "check only this op");
  cmd->add_flag("--quiet", *quiet, "print only failures and the summary line");

  return {cmd, [=]() -> int {
    std::vector<GradcheckCase> cases = gradcheck_catalog(DType::f64);
    for (auto* more : {nn::sequence_gradcheck_cases, nn::transformer_gradcheck_cases})
      for (GradcheckCase& c : more()) cases.push_back(std::move(c));
    if (!only_op->empty()) {
      std::erase_if(cases, [&](const GradcheckCase& c) { return c.op != *only_op; });
      if (cases.empty()) throw UsageError("gradcheck: no op named '" + *only_op + "' in the catalogue");
    }
    std::ofstream json_file;
    if (!json_path->empty()) {
      json_file.open(*json_path);
      if (!json_file) throw UsageError("gradcheck: cannot write '" + *json_path + "'");
    }

    if (!*quiet)
      fmt::print("{:<14} {:<36} {:>12} {:>12} {:>6}  {}\n", "op", "shapes", "max abs err", "max rel err", "kinks", "result");
    nlohmann::json records = nlohmann::json::array();
    int failed = 0;
    for (const GradcheckCase& c : cases) {
      GradcheckRecord r = run_gradcheck_case(c);
      if (!r.passed) ++failed;
      if (!*quiet || !r.passed)
        fmt::print("{:<14} {:<36} {:>12.3e} {:>12.3e} {:>6}  {}\n", r.op, r.shapes, r.max_abs_err, r.max_rel_err,
                   r.kinks, r.passed ? "pass" : "FAIL");
      records.push_back({{"op", r.op},
                         {"shapes", r.shapes},
                         {"dtype", r.dtype},
                         {"max_abs_err", r.max_abs_err},
                         {"max_rel_err", r.max_rel_err},
                         {"kinks", r.kinks},
                         {"passed", r.passed}});
    }
    std::set<std::string> ops;
    for (const GradcheckCase& c : cases) ops.insert(c.op);
    fmt::print("{} checks of {} ops: {} passed, {} failed\n", cases.size(), ops.size(), cases.size() - failed, failed);
    if (json_file) json_file << records.dump(2) << "\n";
    return failed == 0 ? 0 : 1;
  }};
}

}  // namespace lumen::tools
