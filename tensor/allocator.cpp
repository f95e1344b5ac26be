#include "tensor/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace lumen::allocator {
namespace {

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  AllocatorStats stats;
};

// Never destroyed: a static Tensor may give its buffer back during static teardown, after a
// normal static cache would already be gone.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

size_t round_size(size_t bytes) {
  if (bytes <= 512) return bytes <= kAlignment ? kAlignment : (bytes + kAlignment - 1) / kAlignment * kAlignment;
  // Above 512 bytes, four classes per power of two (2^k, 1.25, 1.5, 1.75 x 2^k): at most 25%
  // waste, and few enough classes that a training step's buffers are reused.
  size_t pow2 = 512;
  while (pow2 * 2 < bytes) pow2 *= 2;
  size_t quarter = pow2 / 4;
  return (bytes + quarter - 1) / quarter * quarter;
}

void* allocate(size_t bytes) {
  size_t size = round_size(bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_lists.find(size);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      c.stats.bytes_cached -= static_cast<int64_t>(size);
      c.stats.bytes_in_use += static_cast<int64_t>(size);
      if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (!p) {
    release_cached();
    p = std::aligned_alloc(kAlignment, size);
    if (!p) throw std::bad_alloc();
  }
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.os_allocations++;
  c.stats.bytes_from_os += static_cast<int64_t>(size);
  c.stats.bytes_in_use += static_cast<int64_t>(size);
  if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  return p;
}

void deallocate(void* ptr, size_t bytes) {
  if (!ptr) return;
  size_t size = round_size(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.free_lists[size].push_back(ptr);
  c.stats.bytes_in_use -= static_cast<int64_t>(size);
  c.stats.bytes_cached += static_cast<int64_t>(size);
}

void release_cached() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, list] : c.free_lists) {
    for (void* p : list) std::free(p);
    c.stats.bytes_from_os -= static_cast<int64_t>(size * list.size());
    c.stats.bytes_cached -= static_cast<int64_t>(size * list.size());
    list.clear();
  }
}

AllocatorStats stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void reset_counters() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.os_allocations = 0;
  c.stats.cache_hits = 0;
  c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
}

}  // namespace lumen::allocator
