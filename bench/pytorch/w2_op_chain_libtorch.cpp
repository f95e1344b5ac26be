// W2, libtorch (C++) side: the same 1000-op chain as w2_op_chain.py without Python, so the
// comparison with Lumen is C++ against C++. See w2_op_chain.py for what is measured.
//
// Not part of the CMake build; bench/compare.py compiles it when libtorch-dev is installed:
//   g++ -O2 -std=c++17 -I/usr/include/torch/csrc/api/include w2_op_chain_libtorch.cpp \
//       -o w2_op_chain_libtorch -ltorch -ltorch_cpu -lc10
// Run: w2_op_chain_libtorch [SAMPLES=30]. One RESULT line per variant goes to stdout.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

constexpr int kOps = 1000;

torch::Tensor chain(torch::Tensor y) {
  for (int i = 0; i < kOps; ++i) y = i % 2 == 0 ? y * 1.0001 : y + 0.0001;
  return y;
}

// Median and fastest of `samples` timed calls after 5 warm-up calls, in milliseconds.
std::pair<double, double> time_samples(const std::function<void()>& fn, int samples) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 5; ++i) fn();
  std::vector<double> ms;
  for (int s = 0; s < samples; ++s) {
    const auto start = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

}  // namespace

int main(int argc, char** argv) {
  const int samples = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
  torch::manual_seed(0);
  torch::set_num_threads(1);
  torch::Tensor x = torch::randn({16}, torch::requires_grad());

  auto forward_graph = [&] { chain(x); };
  auto forward_backward = [&] {
    x.mutable_grad() = torch::Tensor();
    chain(x).sum().backward();
  };
  auto forward_no_grad = [&] {
    torch::NoGradGuard no_grad;
    chain(x);
  };

  // 500 multiplications by 1.0001: the gradient of the sum, for every element.
  forward_backward();
  if (!torch::allclose(x.grad(), torch::full({16}, std::pow(1.0001, 500)))) {
    std::fprintf(stderr, "error: wrong gradient\n");
    return 1;
  }

  const std::pair<const char*, std::function<void()>> variants[] = {
      {"W2_OpChain_ForwardGraph", forward_graph},
      {"W2_OpChain_ForwardBackward", forward_backward},
      {"W2_OpChain_ForwardNoGrad", forward_no_grad}};
  for (const auto& [name, fn] : variants) {
    const auto [median_ms, min_ms] = time_samples(fn, samples);
    const double us_per_op = median_ms * 1e3 / kOps;
    std::fprintf(stderr, "%-28s %6.3f us/op\n", name, us_per_op);
    std::printf(
        "RESULT {\"workload\":\"W2\",\"name\":\"%s\",\"impl\":\"libtorch\",\"threads\":1,"
        "\"median_ms\":%.6f,\"min_ms\":%.6f,\"samples\":%d,\"us_per_op\":%.4f,"
        "\"min_us_per_op\":%.4f}\n",
        name, median_ms, min_ms, samples, us_per_op, min_ms * 1e3 / kOps);
    std::fflush(stdout);
  }
  return 0;
}
