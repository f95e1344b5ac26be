// lumen inspect FILE.safetensors: one line per tensor with its name, dtype, shape and value range,
// to see what a checkpoint holds (ours or PyTorch's) without writing code.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nn/safetensors.h"
#include "tools/commands.h"

namespace lumen::tools {

namespace {

struct Summary {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double mean = 0;
  int64_t nans = 0;
};

// min and max over the non-NaN elements; the mean over all (so a NaN shows there).
Summary summarize(const Tensor& t) {
  Summary s;
  double sum = 0;
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = t.data<T>();  // read_safetensors returns contiguous tensors
    for (int64_t i = 0, n = t.numel(); i < n; ++i) {
      double v = static_cast<double>(x[i]);
      sum += v;
      if (std::isnan(v)) {
        ++s.nans;
        continue;
      }
      s.min = std::min(s.min, v);
      s.max = std::max(s.max, v);
    }
  });
  s.mean = sum / static_cast<double>(t.numel());
  return s;
}

}  // namespace

Command add_inspect_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("inspect", "list the tensors in a safetensors checkpoint with their shapes and value ranges");
  auto path = std::make_shared<std::string>();
  cmd->add_option("file", *path, "a .safetensors file")->required();

  return {cmd, [=]() -> int {
    nn::NamedTensors tensors = nn::read_safetensors(*path);  // a CheckpointError exits 2 in main
    size_t name_width = 4, shape_width = 5;
    for (const auto& [name, t] : tensors) {
      name_width = std::max(name_width, name.size());
      shape_width = std::max(shape_width, shape_str(t.shape()).size());
    }
    for (const auto& [name, t] : tensors) {
      std::string line = fmt::format("{:<{}}  {:<4}  {:<{}}", name, name_width, nn::safetensors_dtype_name(t.dtype()),
                                     shape_str(t.shape()), shape_width);
      if (t.numel() == 0) {
        line += "  (empty)";
      } else {
        Summary s = summarize(t);
        if (s.nans == t.numel())
          line += fmt::format("  min nan  max nan  mean nan");
        else
          line += fmt::format("  min {:.6g}  max {:.6g}  mean {:.6g}", s.min, s.max, s.mean);
        if (s.nans) line += fmt::format("  ({} NaN)", s.nans);
      }
      fmt::print("{}\n", line);
    }
    return 0;
  }};
}

}  // namespace lumen::tools
