#include "tensor/random.h"

#include <cmath>
#include <numbers>
#include <string>
#include <utility>

namespace lumen {

// ---- PCG32 -----------------------------------------------------------------------------------
// O'Neill's PCG-XSH-RR: a 64-bit linear congruential state, and an output that xor-folds the
// high bits and rotates them by an amount the state itself picks. The LCG alone has weak low
// bits; the permuted output passes the standard statistical test batteries.

namespace {
constexpr uint64_t kMultiplier = 6364136223846793005ULL;
// The stream (odd increment) is fixed, so one seed names one sequence. 54 is the stream of the
// reference implementation's demo, which lets the tests check against its published output.
constexpr uint64_t kStream = 54;
}  // namespace

// The reference seeding: start from 0, step once, mix in the seed, step again, so that nearby
// seeds do not give nearby first outputs.
void Generator::seed_(uint64_t seed) {
  state_ = 0;
  inc_ = (kStream << 1) | 1;
  next_u32();
  state_ += seed;
  next_u32();
  has_spare_ = false;
  spare_ = 0;
}

uint32_t Generator::next_u32() {
  uint64_t old = state_;
  state_ = old * kMultiplier + inc_;  // unsigned overflow wraps: this is the mod 2^64
  uint32_t xorshifted = static_cast<uint32_t>(((old >> 18) ^ old) >> 27);
  uint32_t rot = static_cast<uint32_t>(old >> 59);
  // (32 - rot) & 31 rather than 32 - rot: a shift by 32 would be undefined when rot is 0.
  return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

// Two outputs make 64 bits; the top 53 fill a double's mantissa exactly, so every value is a
// multiple of 2^-53 in [0, 1) and the conversion involves no rounding.
double Generator::uniform() {
  uint64_t hi = next_u32();
  uint64_t lo = next_u32();
  uint64_t bits = ((hi << 32) | lo) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

// Box-Muller turns two uniforms into two independent normals; the second is kept for the next
// call instead of being thrown away.
double Generator::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 1.0 - uniform();  // in (0, 1], so log(u1) is finite
  double u2 = uniform();
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

// `x % n` alone favours small values whenever n does not divide 2^bits. Rejecting draws below
// 2^bits mod n leaves a range that is a whole multiple of n, so every residue is equally likely.
uint64_t Generator::below(uint64_t n) {
  if (n == 0) throw ValueError("Generator::below: n must be positive, got 0");
  if (n <= (uint64_t{1} << 32)) {
    uint64_t threshold = ((uint64_t{1} << 32) - n) % n;
    for (;;) {
      uint64_t r = next_u32();
      if (r >= threshold) return r % n;
    }
  }
  uint64_t threshold = (0 - n) % n;  // 2^64 mod n, computed without overflow
  for (;;) {
    uint64_t r = (uint64_t{next_u32()} << 32) | next_u32();
    if (r >= threshold) return r % n;
  }
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().seed_(seed); }

// ---- tensor fills ----------------------------------------------------------------------------
// Every fill runs on one thread in row-major order: element i is always the i-th draw, whatever
// the thread count. f32 values are drawn in double and rounded, so an f32 tensor holds the
// rounded values of the f64 tensor drawn from the same seed.

namespace {

void check_floating_dtype(const char* op, DType dtype, const Shape& shape) {
  if (!is_floating(dtype))
    throw DTypeError(std::string(op) + ": dtype must be f32 or f64, got " + std::string(dtype_name(dtype)) +
                     " for shape " + shape_str(shape));
}

template <class Draw>
Tensor fill_floating(const char* op, const Shape& shape, DType dtype, Draw&& draw) {
  check_floating_dtype(op, dtype, shape);
  Tensor t = Tensor::empty(shape, dtype);
  visit_floating(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    const int64_t n = t.numel();
    for (int64_t i = 0; i < n; ++i) p[i] = draw(T{});
  });
  return t;
}

// Rounding a double in [lo, hi) to float may land exactly on hi; step back to the largest float
// below it so the half-open range promised to the caller holds in f32 too.
template <class T> T round_below(double x, double lo, double hi) {
  T v = static_cast<T>(x);
  if (static_cast<double>(v) >= hi && hi > lo) v = std::nextafter(static_cast<T>(hi), static_cast<T>(lo));
  return v;
}

}  // namespace

Tensor rand(const Shape& shape, DType dtype, Generator& gen) {
  return fill_floating("rand", shape, dtype, [&](auto tag) {
    return round_below<decltype(tag)>(gen.uniform(), 0.0, 1.0);
  });
}

Tensor randn(const Shape& shape, DType dtype, Generator& gen) {
  return fill_floating("randn", shape, dtype,
                       [&](auto tag) { return static_cast<decltype(tag)>(gen.normal()); });
}

Tensor uniform(const Shape& shape, double lo, double hi, DType dtype, Generator& gen) {
  if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi))
    throw ValueError("uniform: need finite lo <= hi, got lo = " + std::to_string(lo) +
                     " and hi = " + std::to_string(hi));
  return fill_floating("uniform", shape, dtype, [&](auto tag) {
    return round_below<decltype(tag)>(lo + (hi - lo) * gen.uniform(), lo, hi);
  });
}

Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator& gen) {
  if (!(std >= 0) || !std::isfinite(std) || !std::isfinite(mean))
    throw ValueError("normal: need a finite mean and a finite std >= 0, got mean = " + std::to_string(mean) +
                     " and std = " + std::to_string(std));
  return fill_floating("normal", shape, dtype,
                       [&](auto tag) { return static_cast<decltype(tag)>(mean + std * gen.normal()); });
}

Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator& gen) {
  if (lo >= hi)
    throw ValueError("randint: need lo < hi, got lo = " + std::to_string(lo) + " and hi = " + std::to_string(hi));
  // The span as unsigned: hi - lo can exceed INT64_MAX (lo = -2^62, hi = 2^62 + 1, say).
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  Tensor t = Tensor::empty(shape, DType::i64);
  int64_t* p = t.data<int64_t>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i)
    p[i] = static_cast<int64_t>(static_cast<uint64_t>(lo) + gen.below(span));
  return t;
}

Tensor bernoulli(const Shape& shape, double p, Generator& gen) {
  if (!(p >= 0 && p <= 1)) throw ValueError("bernoulli: p must be in [0, 1], got " + std::to_string(p));
  Tensor t = Tensor::empty(shape, DType::boolean);
  bool* out = t.data<bool>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = gen.uniform() < p;
  return t;
}

// Fisher-Yates from the back: position i takes a uniformly chosen element of the first i + 1,
// which makes all n! orders equally likely.
Tensor randperm(int64_t n, Generator& gen) {
  if (n < 0) throw ValueError("randperm: n must be >= 0, got " + std::to_string(n));
  Tensor t = Tensor::arange(n, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(gen.below(static_cast<uint64_t>(i) + 1));
    std::swap(p[i], p[j]);
  }
  return t;
}

}  // namespace lumen
