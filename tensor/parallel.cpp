#include "tensor/parallel.h"

#include <atomic>
#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace lumen {

namespace {
// 0 means "not chosen yet": the default is looked up on first use rather than in a static
// initializer, so it is right even when another static initializer asks first.
std::atomic<int> g_num_threads{0};
}  // namespace

void set_num_threads(int n) {
  if (n < 1)
    throw std::invalid_argument("lumen::set_num_threads: the thread count must be at least 1, got " +
                                std::to_string(n));
#ifdef _OPENMP
  omp_set_num_threads(n);
  g_num_threads.store(n, std::memory_order_relaxed);
#else
  g_num_threads.store(1, std::memory_order_relaxed);  // built without OpenMP: one thread only
#endif
}

int get_num_threads() {
  int n = g_num_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
#ifdef _OPENMP
  n = omp_get_max_threads();  // OMP_NUM_THREADS if set, else the cores we may run on
#else
  n = 1;
#endif
  if (n < 1) n = 1;
  int expected = 0;
  // If two threads race here they compute the same value; keep whichever was stored first.
  g_num_threads.compare_exchange_strong(expected, n, std::memory_order_relaxed);
  return g_num_threads.load(std::memory_order_relaxed);
}

}  // namespace lumen
