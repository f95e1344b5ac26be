#pragma once
// How many threads Lumen's kernels use (gemm, the elementwise loops, reductions).
//
// Kernels split their work so that results do not depend on this number: changing it changes
// speed, never the numbers.

namespace lumen {

// Use n worker threads from now on (n >= 1; throws std::invalid_argument otherwise).
// Also sets OpenMP's default for this thread, so plain `#pragma omp parallel` regions follow.
void set_num_threads(int n);

// The current thread count. Until set_num_threads is called it is OpenMP's default: the
// OMP_NUM_THREADS environment variable when set, otherwise the number of cores.
// Without OpenMP it is always 1.
int get_num_threads();

}  // namespace lumen
