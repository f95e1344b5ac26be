#include "lessons/common/rows.h"

#include <string>

#include <fmt/format.h>

#include "tensor/error.h"
#include "tensor/shape.h"

namespace lumen::lessons {

std::vector<std::vector<double>> rows_of(const Tensor& m) {
  if (m.dim() != 2) throw ShapeError("rows_of: expected a 2-D tensor, got shape " + shape_str(m.shape()));
  const int64_t R = m.size(0), C = m.size(1);
  const std::vector<double> flat = m.contiguous().to_vector();
  std::vector<std::vector<double>> out(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r)
    out[static_cast<size_t>(r)].assign(flat.begin() + r * C, flat.begin() + (r + 1) * C);
  return out;
}

std::string row_str(const std::vector<double>& v, int decimals) {
  std::string s;
  for (double x : v) s += fmt::format("{}{:.{}f}", s.empty() ? "" : " ", x, decimals);
  return "[" + s + "]";
}

}  // namespace lumen::lessons
