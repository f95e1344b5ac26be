#pragma once
// The one seeded random generator. The same seed gives bit-identical tensors on every machine and
// every thread count: values are drawn on one thread, in row-major order, from PCG32, and turned
// into floats with exact integer arithmetic (no library distributions, whose output differs
// between standard libraries).
#include <cstdint>

#include "tensor/tensor.h"

namespace lumen {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { seed_(seed); }
  void seed_(uint64_t seed);
  uint32_t next_u32();
  // Uniform in [0, 1) with 53 random bits.
  double uniform();
  // Standard normal (Box-Muller, both values used).
  double normal();
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n);

 private:
  uint64_t state_ = 0;
  uint64_t inc_ = 0;
  bool has_spare_ = false;
  double spare_ = 0;
};

// The process-wide default generator, used when no generator is passed.
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator& gen = default_generator());
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator& gen = default_generator());
Tensor uniform(const Shape& shape, double lo, double hi, DType dtype = DType::f32,
               Generator& gen = default_generator());
Tensor normal(const Shape& shape, double mean, double std, DType dtype = DType::f32,
              Generator& gen = default_generator());
// Integers uniform in [lo, hi), i64.
Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator& gen = default_generator());
// Bool tensor, true with probability p.
Tensor bernoulli(const Shape& shape, double p, Generator& gen = default_generator());
// A random permutation of 0..n-1 (i64).
Tensor randperm(int64_t n, Generator& gen = default_generator());

}  // namespace lumen
