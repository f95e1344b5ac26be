#pragma once
// Checks shared by the op implementations, so every op words its errors the same way.
// Internal to tensor/: not installed for users to include.
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lumen::detail {

inline std::string dtype_str(const Tensor& t) { return std::string(dtype_name(t.dtype())); }

inline void check_defined(const char* op, const Tensor& t) {
  if (!t.defined()) throw ValueError(std::string(op) + ": got an undefined tensor");
}

// "exp: expected a floating tensor (f32 or f64), got i64 of shape [2, 3]"
inline void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t);
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string(op) + ": expected a floating tensor (f32 or f64), got " + dtype_str(t) +
                     " of shape " + shape_str(t.shape()));
}

inline void check_dtype(const char* op, const Tensor& t, DType want, const char* what) {
  check_defined(op, t);
  if (t.dtype() != want)
    throw DTypeError(std::string(op) + ": " + what + " must be " + std::string(dtype_name(want)) + ", got " +
                     dtype_str(t) + " of shape " + shape_str(t.shape()));
}

// Binary ops do not promote: mixing f32 and f64 is almost always a mistake in a lesson.
inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  if (a.dtype() != b.dtype())
    throw DTypeError(std::string(op) + ": dtypes differ: " + dtype_str(a) + " " + shape_str(a.shape()) +
                     " vs " + dtype_str(b) + " " + shape_str(b.shape()));
}

// Normalises a list of reduction dims (empty = all), rejecting repeats.
inline std::vector<bool> reduce_mask(const char* op, const Tensor& t, const std::vector<int64_t>& dims) {
  std::vector<bool> mask(static_cast<size_t>(t.dim()), dims.empty());
  for (int64_t d : dims) {
    size_t k = static_cast<size_t>(normalize_dim(d, t.dim(), op));
    if (mask[k]) throw ValueError(std::string(op) + ": dim " + std::to_string(d) + " listed twice");
    mask[k] = true;
  }
  return mask;
}

}  // namespace lumen::detail
