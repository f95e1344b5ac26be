#pragma once
// What every training benchmark (W3-W5) does around its timed loop:
//   - a warm-up of real steps whose loss must fall, so the timed step is known to train;
//   - the caching allocator's counters set to zero after the warm-up and reported after the
//     timed loop: `os_allocations` must stay 0, because a warmed-up step should be served
//     entirely from buffers that earlier steps gave back.
// Failures go through SkipWithError: nothing but Google Benchmark may write to stdout.
//
// Google Benchmark calls a benchmark function a few times in its first repetition, to size the
// run, and once in each later repetition, so set-up and warm-up happen each time. For a step of a few ms that is nothing; for a slow one
// (the large GPT, ~0.5 s a step) give the benchmark a fixed ->Iterations(n) so it is not also
// called to size the run, and keep the warm-up as short as still shows the loss falling.
#include <benchmark/benchmark.h>

#include <string>

#include "tensor/allocator.h"

namespace lumen::bench {

// Runs `check_steps` steps (step() returns the loss as a double) and then `extra_steps` more,
// and reports the first and last loss of the check as counters. Returns false, after
// SkipWithError, when the loss did not fall: the caller must return without timing.
template <class Step>
bool warm_up(benchmark::State& state, Step&& step, int check_steps, int extra_steps) {
  const double first = step();
  double last = first;
  for (int i = 1; i < check_steps; ++i) last = step();
  state.counters["loss_first"] = first;
  state.counters["loss_last"] = last;
  if (!(last < first)) {
    state.SkipWithError(("the loss did not fall over " + std::to_string(check_steps) +
                         " warm-up steps: " + std::to_string(first) + " -> " + std::to_string(last))
                            .c_str());
    return false;
  }
  for (int i = 0; i < extra_steps; ++i) step();
  allocator::reset_counters();
  return true;
}

// After the timed loop: how many buffers the timed steps took from the operating system
// (0 when the caching allocator served every request) and how many it served from its cache.
inline void report_memory(benchmark::State& state) {
  const AllocatorStats s = allocator::stats();
  state.counters["os_allocations"] = double(s.os_allocations);
  state.counters["cache_hits_per_step"] =
      state.iterations() > 0 ? double(s.cache_hits) / double(state.iterations()) : 0.0;
}

}  // namespace lumen::bench
