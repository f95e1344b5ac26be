#pragma once
// A caching allocator for tensor buffers. A training step allocates the same sizes every step, so
// freed buffers are kept in per-size free lists and handed out again: after the first step, a
// step takes no new memory from the operating system. Every buffer is 64-byte aligned, a cache
// line and one AVX-512 register, so kernels may use aligned loads at the start of a buffer.
#include <cstddef>
#include <cstdint>

namespace lumen {

struct AllocatorStats {
  int64_t os_allocations = 0;    // buffers obtained from the operating system
  int64_t cache_hits = 0;        // requests served from a free list
  int64_t bytes_from_os = 0;     // total bytes ever obtained from the OS (minus released ones)
  int64_t bytes_in_use = 0;      // bytes handed out and not yet returned
  int64_t bytes_cached = 0;      // bytes sitting in free lists
  int64_t peak_bytes_in_use = 0;
};

namespace allocator {

constexpr size_t kAlignment = 64;

// A buffer of at least `bytes` bytes; never null (throws std::bad_alloc).
void* allocate(size_t bytes);
// Returns a buffer obtained from allocate(bytes) to the cache.
void deallocate(void* ptr, size_t bytes);
// Gives every cached buffer back to the OS.
void release_cached();
AllocatorStats stats();
// Sets the hit/allocation counters to zero (bytes are left alone), for "after warm-up" checks.
void reset_counters();
// The size class a request of `bytes` is rounded up to.
size_t round_size(size_t bytes);

}  // namespace allocator
}  // namespace lumen
