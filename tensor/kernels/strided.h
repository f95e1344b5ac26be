#pragma once
// The loop every elementwise kernel shares: walk an N-d index space over several operands with
// their own strides (0 for a broadcast dim), in runs along the innermost dim.
//
// Dims that are laid out back to back in every operand are merged first, so a contiguous tensor
// of any rank becomes one long run and the kernel's inner loop vectorises. Large loops are split
// across OpenMP threads; each element is computed by exactly the same code whatever the thread
// count, so results do not depend on it.
#include <algorithm>
#include <array>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/shape.h"

namespace lumen::kernels {

// Below this many elements a loop stays on one thread: starting threads costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

template <size_t N>
struct LoopPlan {
  Shape shape;                  // merged extents, outermost first
  std::array<Strides, N> strides;  // per operand, same rank as shape
};

// Drops size-1 dims and merges dims that are contiguous with each other in every operand.
template <size_t N>
LoopPlan<N> plan_loop(const Shape& shape, const std::array<const Strides*, N>& strides) {
  LoopPlan<N> plan;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !plan.shape.empty();
    for (size_t k = 0; k < N && merge; ++k)
      merge = plan.strides[k].back() == (*strides[k])[d] * shape[d];
    if (merge) {
      size_t last = plan.shape.size() - 1;
      plan.shape[last] *= shape[d];
      for (size_t k = 0; k < N; ++k) plan.strides[k][last] = (*strides[k])[d];
    } else {
      plan.shape.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) plan.strides[k].push_back((*strides[k])[d]);
    }
  }
  if (plan.shape.empty()) {  // a scalar, or all dims of size 1: one run of one element
    plan.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

// Calls body(n, offsets, steps) once per run: `n` elements, operand k starting at element
// offsets[k] and advancing by steps[k]. Covers elements [first, last) of the row-major order,
// so a range may start or end in the middle of a run.
template <size_t N, class Body>
void run_loop_range(const LoopPlan<N>& plan, int64_t first, int64_t last, Body& body) {
  if (first >= last) return;
  const size_t rank = plan.shape.size();
  const int64_t inner = plan.shape[rank - 1];
  std::array<int64_t, N> steps;
  for (size_t k = 0; k < N; ++k) steps[k] = plan.strides[k][rank - 1];
  // Decompose `first` into an index over all dims.
  Dims index = Dims::filled(rank, 0);
  int64_t rest = first;
  for (size_t d = rank; d-- > 0;) {
    index[d] = rest % plan.shape[d];
    rest /= plan.shape[d];
  }
  std::array<int64_t, N> offsets{};
  for (size_t k = 0; k < N; ++k)
    for (size_t d = 0; d < rank; ++d) offsets[k] += index[d] * plan.strides[k][d];
  int64_t pos = first;
  while (pos < last) {
    int64_t n = std::min(inner - index[rank - 1], last - pos);
    body(n, offsets, steps);
    pos += n;
    // Back to the start of this run, then advance the outer index like an odometer.
    for (size_t k = 0; k < N; ++k) offsets[k] -= index[rank - 1] * steps[k];
    index[rank - 1] = 0;
    for (size_t d = rank - 1; d-- > 0;) {
      for (size_t k = 0; k < N; ++k) offsets[k] += plan.strides[k][d];
      if (++index[d] < plan.shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= plan.strides[k][d] * plan.shape[d];
      index[d] = 0;
    }
  }
}

template <size_t N, class Body>
void strided_loop(const Shape& shape, const std::array<const Strides*, N>& strides, Body&& body) {
  const int64_t total = shape_numel(shape);
  if (total == 0) return;
  LoopPlan<N> plan = plan_loop<N>(shape, strides);
  if (total < kParallelGrain) {
    run_loop_range<N>(plan, 0, total, body);
    return;
  }
#pragma omp parallel
  {
    int64_t nt = 1, t = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads();
    t = omp_get_thread_num();
#endif
    run_loop_range<N>(plan, total * t / nt, total * (t + 1) / nt, body);
  }
}

}  // namespace lumen::kernels
