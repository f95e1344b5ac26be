// W2: per-op autograd overhead. x = randn(16) requiring grad; 1000 ops alternating y * 1.0001
// and y + 0.0001; then sum(y).backward(). Reported as microseconds per chain op.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int kOps = 1000;

lumen::Var chain(lumen::Var y) {
  for (int i = 0; i < kOps; ++i) y = (i % 2 == 0) ? y * 1.0001 : y + 0.0001;
  return y;
}

// Also pins Lumen to one thread, as in the reference: the benchmarks run one after another in
// one process, and W1 leaves the thread count at 2.
lumen::Var make_x() {
  lumen::set_num_threads(1);
  lumen::Generator gen(0);
  return lumen::Var(lumen::randn({16}, lumen::DType::f32, gen), true);
}

// Times the whole benchmark loop and reports microseconds per chain op.
class OpTimer {
 public:
  OpTimer() : start_(std::chrono::steady_clock::now()) {}
  void report(benchmark::State& state) const {
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start_).count();
    state.counters["us_per_op"] = us / (double(kOps) * double(state.iterations()));
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

void W2_OpChain_ForwardGraph(benchmark::State& state) {
  lumen::Var x = make_x();
  OpTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(chain(x));
  timer.report(state);
}

void W2_OpChain_ForwardBackward(benchmark::State& state) {
  lumen::Var x = make_x();
  OpTimer timer;
  for (auto _ : state) {
    x.zero_grad();
    lumen::sum(chain(x)).backward();
  }
  timer.report(state);
  // The gradient is 1.0001^500 everywhere.
  double expect = std::pow(1.0001, 500);
  for (double g : x.grad().to_vector())
    if (std::abs(g - expect) > 1e-4) state.SkipWithError("wrong gradient");
}

void W2_OpChain_ForwardNoGrad(benchmark::State& state) {
  lumen::Var x = make_x();
  lumen::NoGradGuard no_grad;
  OpTimer timer;
  for (auto _ : state) benchmark::DoNotOptimize(chain(x));
  timer.report(state);
}

BENCHMARK(W2_OpChain_ForwardGraph)->Unit(benchmark::kMillisecond);
BENCHMARK(W2_OpChain_ForwardBackward)->Unit(benchmark::kMillisecond);
BENCHMARK(W2_OpChain_ForwardNoGrad)->Unit(benchmark::kMillisecond);

}  // namespace
