#pragma once
// Printing tensors, in PyTorch's style:
//
//   tensor([[ 1.0000,  2.0000],
//           [ 3.0000,  4.0000]], shape=[2, 2], dtype=f32)
//
// Columns line up, floats show 4 decimals (scientific notation when the magnitudes span too
// much), and a tensor of more than 1000 elements shows its first and last 3 entries along each
// dim with `...` between. `fmt::print("{}", t)` and `fmt::format("{}", shape)` work too.
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace lumen {

std::string to_string(const Tensor& t);

}  // namespace lumen

template <>
struct fmt::formatter<lumen::Tensor> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const lumen::Tensor& t, FormatContext& ctx) const {
    std::string s = lumen::to_string(t);
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};

// "[2, 3]". A full specialisation, so it wins over fmt/ranges.h's range formatter.
template <>
struct fmt::formatter<lumen::Dims> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const lumen::Dims& d, FormatContext& ctx) const {
    std::string s = lumen::shape_str(d);
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};
