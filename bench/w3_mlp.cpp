// W3: one training step of a small MLP, the reference's w3_mlp.py in Lumen.
//   784 -> 256 -> ReLU -> 256 -> ReLU -> 10, batch 64, mean cross-entropy, SGD lr 0.1, no momentum.
// Data: 16 fixed batches, x ~ N(0, 1), each labelled argmax(x @ W_teacher) for one fixed random
// W_teacher (a task with something to learn); the batches are cycled.
// A step: zero_grad (gradients set to undefined), forward, loss, backward, SGD step, loss.item().
// Warm-up: 50 steps whose loss must fall, 5 more; then the timed steps.
#include <benchmark/benchmark.h>

#include <vector>

#include "autograd/ops.h"
#include "bench/train_util.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kBatch = 64, kIn = 784, kHidden = 256, kOut = 10, kBatches = 16;

class Mlp : public lumen::nn::Module {
 public:
  explicit Mlp(lumen::Generator& gen)
      : Module("Mlp"),
        fc1_({.in = kIn, .out = kHidden}, gen),
        fc2_({.in = kHidden, .out = kHidden}, gen),
        fc3_({.in = kHidden, .out = kOut}, gen) {
    register_module("fc1", fc1_);
    register_module("fc2", fc2_);
    register_module("fc3", fc3_);
  }

  // x [B, 784] -> logits [B, 10]
  lumen::Var forward(const lumen::Var& x) const {
    return fc3_(lumen::relu(fc2_(lumen::relu(fc1_(x)))));
  }

 private:
  lumen::nn::Linear fc1_, fc2_, fc3_;
};

void W3_MlpTrainStep(benchmark::State& state) {
  lumen::set_num_threads(static_cast<int>(state.range(0)));
  lumen::Generator gen(0);
  Mlp model(gen);
  lumen::nn::SGD optimizer(model.parameters(), {.lr = 0.1});

  const lumen::Tensor teacher = lumen::randn({kIn, kOut}, lumen::DType::f32, gen);
  std::vector<lumen::Var> inputs;
  std::vector<lumen::Tensor> labels;  // i64 [B]
  for (int64_t i = 0; i < kBatches; ++i) {
    lumen::Tensor x = lumen::randn({kBatch, kIn}, lumen::DType::f32, gen);
    labels.push_back(lumen::argmax(lumen::matmul(x, teacher), 1));
    inputs.emplace_back(x);
  }

  int64_t step_count = 0;
  auto train_step = [&] {
    const int64_t i = step_count++ % kBatches;
    optimizer.zero_grad();
    lumen::Var loss = lumen::nn::cross_entropy(model.forward(inputs[i]), labels[i]);
    loss.backward();
    optimizer.step();
    return loss.item();
  };

  if (!lumen::bench::warm_up(state, train_step, 50, 5)) return;
  for (auto _ : state) benchmark::DoNotOptimize(train_step());
  lumen::bench::report_memory(state);
}

BENCHMARK(W3_MlpTrainStep)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
