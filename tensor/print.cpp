#include "tensor/print.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace lumen {
namespace {

constexpr int64_t kSummarizeAbove = 1000;  // more elements than this: show only the edges
constexpr int64_t kEdgeItems = 3;          // how many entries each edge keeps
constexpr size_t kLineWidth = 80;          // a long last dim wraps at this column
constexpr int64_t kGap = -1;               // marks the `...` in a list of shown indices
constexpr size_t kPrefix = 7;              // strlen("tensor(")

// The indices shown along a dim of extent n.
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  if (summarize && n > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    idx.push_back(kGap);
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

// Element offsets of the shown elements, in the order they are printed.
void collect_offsets(const Tensor& t, bool summarize, size_t d, int64_t offset, std::vector<int64_t>& out) {
  if (d == t.shape().size()) {
    out.push_back(offset);
    return;
  }
  for (int64_t i : shown_indices(t.shape()[d], summarize))
    if (i != kGap) collect_offsets(t, summarize, d + 1, offset + i * t.strides()[d], out);
}

// Floats follow PyTorch's choice: fixed-point with 4 decimals, unless the finite non-zero
// magnitudes are very large, very small, or span more than three orders of magnitude, where
// fixed-point would print 0.0000 or a wall of digits. Whole numbers only switch for > 1e8.
// The space flag leaves a sign column, so positive and negative entries line up.
std::vector<std::string> format_floats(const std::vector<double>& values) {
  double lo = INFINITY, hi = 0;
  bool whole = true;
  for (double v : values) {
    if (!std::isfinite(v) || v == 0) continue;
    lo = std::min(lo, std::fabs(v));
    hi = std::max(hi, std::fabs(v));
    whole = whole && v == std::nearbyint(v);
  }
  bool any = hi > 0;
  bool sci = any && (whole ? hi > 1e8 : (hi / lo > 1000 || hi > 1e8 || lo < 1e-4));
  std::vector<std::string> cells;
  cells.reserve(values.size());
  for (double v : values) cells.push_back(sci ? fmt::format("{: .4e}", v) : fmt::format("{: .4f}", v));
  return cells;
}

// The shown elements as text, in printing order.
std::vector<std::string> format_cells(const Tensor& t, const std::vector<int64_t>& offsets) {
  return visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(t.raw_data());
    std::vector<std::string> cells;
    if constexpr (std::is_floating_point_v<T>) {
      std::vector<double> values;
      for (int64_t off : offsets) values.push_back(static_cast<double>(p[off]));
      cells = format_floats(values);
    } else {
      for (int64_t off : offsets) {
        if constexpr (std::is_same_v<T, bool>)
          cells.push_back(p[off] ? "true" : "false");
        else
          cells.push_back(fmt::format("{}", p[off]));
      }
    }
    return cells;
  });
}

struct Printer {
  const Tensor& t;
  bool summarize;
  std::vector<std::string> cells;  // every shown element, padded to one width
  size_t width;
  size_t next = 0;                 // the next cell to print
  std::string out;

  std::string cell(int64_t i) {
    if (i == kGap) return " ...";  // every row has its gap in the same column, so no padding
    return cells[next++];
  }

  // Prints the sub-tensor along dims [d, rank) whose `[` sits at column `column`.
  void print(size_t d, size_t column) {
    const size_t rank = t.shape().size();
    std::vector<int64_t> idx = shown_indices(t.shape()[d], summarize);
    out += '[';
    if (d + 1 == rank) {
      // The last dim: entries separated by ", ", wrapped so no line passes kLineWidth.
      size_t per_line = std::max<size_t>(1, (kLineWidth - std::min(kLineWidth, column + 1)) / (width + 2));
      for (size_t k = 0; k < idx.size(); ++k) {
        if (k > 0 && k % per_line == 0) {
          out += ",\n";
          out.append(column + 1, ' ');
        } else if (k > 0) {
          out += ", ";
        }
        out += cell(idx[k]);
      }
    } else {
      // Outer dims: one row per line, with a blank line per level of nesting below.
      for (size_t k = 0; k < idx.size(); ++k) {
        if (k > 0) {
          out += ',';
          out.append(rank - d - 1, '\n');
          out.append(column + 1, ' ');
        }
        if (idx[k] == kGap)
          out += "...";
        else
          print(d + 1, column + 1);
      }
    }
    out += ']';
  }
};

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  std::string tail = ", dtype=" + std::string(dtype_name(t.dtype())) + ")";
  if (t.dim() > 0) tail = ", shape=" + shape_str(t.shape()) + tail;
  if (t.numel() == 0) return "tensor([]" + tail;

  bool summarize = t.numel() > kSummarizeAbove;
  std::vector<int64_t> offsets;
  collect_offsets(t, summarize, 0, 0, offsets);
  std::vector<std::string> cells = format_cells(t, offsets);

  if (t.dim() == 0) {
    std::string s = cells[0];
    s.erase(0, s.find_first_not_of(' '));  // a lone number needs no sign column
    return "tensor(" + s + tail;
  }

  size_t width = 0;
  for (const std::string& c : cells) width = std::max(width, c.size());
  for (std::string& c : cells) c.insert(0, width - c.size(), ' ');
  Printer p{t, summarize, std::move(cells), width, 0, "tensor("};
  p.print(0, kPrefix);
  return p.out + tail;
}

}  // namespace lumen
