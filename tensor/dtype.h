#pragma once
// Element types. f32 trains, f64 checks gradients, i64 holds indices and boolean holds masks.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lumen {

enum class DType : uint8_t { f32, f64, i64, boolean };

constexpr size_t dtype_size(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::boolean: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::boolean: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType d) { return d == DType::f32 || d == DType::f64; }

// The C++ type behind each dtype, and back.
template <DType D> struct CppType;
template <> struct CppType<DType::f32> { using type = float; };
template <> struct CppType<DType::f64> { using type = double; };
template <> struct CppType<DType::i64> { using type = int64_t; };
template <> struct CppType<DType::boolean> { using type = bool; };

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }

// The one place a runtime dtype becomes a compile-time type: `fn` is called with a value of the
// element type (only its type matters), so kernels are written once as templates.
template <class Fn> decltype(auto) visit_dtype(DType d, Fn&& fn) {
  switch (d) {
    case DType::f32: return fn(float{});
    case DType::f64: return fn(double{});
    case DType::i64: return fn(int64_t{});
    case DType::boolean: return fn(bool{});
  }
  return fn(float{});
}

// The same for ops defined only on floating types; the caller has checked the dtype already.
template <class Fn> decltype(auto) visit_floating(DType d, Fn&& fn) {
  if (d == DType::f64) return fn(double{});
  return fn(float{});
}

}  // namespace lumen
