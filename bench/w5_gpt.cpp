// W5: one training step of a decoder-only transformer (GPT), the reference's w5_transformer.py
// in Lumen.
//   small: seq 64, d_model 128, 4 heads (head dim 32), 2 blocks, FFN 512; 421,697 parameters.
//   large: seq 256, d_model 256, 4 heads (head dim 64), 4 blocks, FFN 1024; 3,258,433 parameters.
//   Both: vocabulary 65, batch 16, learned token and position embeddings, pre-LN blocks
//     x = x + proj(attention(LN1(x)));  x = x + fc2(gelu(fc1(LN2(x))))   (GELU with erf)
//   then a final LayerNorm and an untied Linear(d, 65) head; every Linear has a bias; no
//   dropout. Causal attention with scores q k^T / sqrt(head dim). Loss: mean cross-entropy over
//   all 16 x T positions. AdamW, lr 3e-4, weight decay 0.01.
// Data: 16 fixed batches of x_t = (x_{t-1} + x_{t-2}) mod 65 from random starts; the target is
// the next token.
// Warm-up: 50 steps whose loss must fall (small) or 10 (large, as the reference's tuned runs),
// 3 more; then the timed steps. The warmed-up model is kept for the later repetitions, and a
// large step takes about a second, so its benchmark runs a fixed number of steps per repetition.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "bench/train_util.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/transformer_models.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kVocab = 65, kBatch = 16, kBatches = 16;

struct GptConfig {
  int64_t seq, d_model, heads, blocks, ffn;
  int check_steps;
};
constexpr GptConfig kSmall{.seq = 64, .d_model = 128, .heads = 4, .blocks = 2, .ffn = 512, .check_steps = 50};
constexpr GptConfig kLarge{.seq = 256, .d_model = 256, .heads = 4, .blocks = 4, .ffn = 1024, .check_steps = 10};

struct Batch {
  lumen::Tensor ids;   // i64 [B, T]
  lumen::Tensor next;  // i64 [B, T]: ids shifted by one
};

// A Fibonacci sequence mod 65 from two random starts: learnable, since each token follows from
// the two before it.
Batch fibonacci_batch(int64_t seq, lumen::Generator& gen) {
  std::vector<int64_t> ids(kBatch * seq), next(kBatch * seq);
  for (int64_t r = 0; r < kBatch; ++r) {
    std::vector<int64_t> x(seq + 1);
    x[0] = static_cast<int64_t>(gen.below(kVocab));
    x[1] = static_cast<int64_t>(gen.below(kVocab));
    for (int64_t t = 2; t <= seq; ++t) x[t] = (x[t - 1] + x[t - 2]) % kVocab;
    for (int64_t t = 0; t < seq; ++t) {
      ids[r * seq + t] = x[t];
      next[r * seq + t] = x[t + 1];
    }
  }
  return {lumen::Tensor::from_vector(ids, {kBatch, seq}), lumen::Tensor::from_vector(next, {kBatch, seq})};
}

// One model in training: built and warmed up by the first call of its benchmark, then kept, so
// that later calls (Google Benchmark's repetitions) time more steps of the same run instead of
// building and warming up a new model each time (a large warm-up is 13 steps of half a second
// or more).
struct GptRun {
  lumen::Generator gen{0};
  lumen::nn::DecoderOnly model;
  lumen::nn::AdamW optimizer;
  std::vector<Batch> data;
  int64_t step_count = 0;
  bool warmed_up = false;
  double loss_first = 0, loss_last = 0;

  explicit GptRun(const GptConfig& cfg)
      : model({.vocab_size = kVocab,
               .max_len = cfg.seq,
               .d_model = cfg.d_model,
               .heads = cfg.heads,
               .ffn = cfg.ffn,
               .num_layers = cfg.blocks,
               .dropout = 0.0,
               .activation = lumen::nn::Activation::gelu,
               .norm_first = true,
               .tie_embeddings = false,
               .bias = true,
               .positional = lumen::nn::PositionalKind::learned},
              gen),
        optimizer(model.parameters(), {.lr = 3e-4, .weight_decay = 0.01}) {
    for (int64_t i = 0; i < kBatches; ++i) data.push_back(fibonacci_batch(cfg.seq, gen));
  }

  double step() {
    const Batch& b = data[static_cast<size_t>(step_count++ % kBatches)];
    optimizer.zero_grad();
    lumen::Var loss = lumen::nn::cross_entropy(model.forward(b.ids), b.next);
    loss.backward();
    optimizer.step();
    return loss.item();
  }
};

void run_gpt(benchmark::State& state, const GptConfig& cfg) {
  const int threads = static_cast<int>(state.range(0));
  lumen::set_num_threads(threads);
  static std::map<std::pair<int64_t, int>, std::unique_ptr<GptRun>> runs;  // by (d_model, threads)
  std::unique_ptr<GptRun>& run = runs[{cfg.d_model, threads}];
  if (!run) {
    run = std::make_unique<GptRun>(cfg);
    run->warmed_up = lumen::bench::warm_up(state, [&] { return run->step(); }, cfg.check_steps, 3);
    run->loss_first = state.counters["loss_first"];
    run->loss_last = state.counters["loss_last"];
    if (!run->warmed_up) return;
  } else if (!run->warmed_up) {
    state.SkipWithError("the loss did not fall over the warm-up steps");
    return;
  }
  state.counters["params"] = double(run->model.num_parameters());
  state.counters["loss_first"] = run->loss_first;
  state.counters["loss_last"] = run->loss_last;
  lumen::allocator::reset_counters();
  for (auto _ : state) benchmark::DoNotOptimize(run->step());
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(kBatch * cfg.seq), benchmark::Counter::kIsIterationInvariantRate);
  lumen::bench::report_memory(state);
}

void W5_GptSmallTrainStep(benchmark::State& state) { run_gpt(state, kSmall); }
void W5_GptLargeTrainStep(benchmark::State& state) { run_gpt(state, kLarge); }

BENCHMARK(W5_GptSmallTrainStep)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(W5_GptLargeTrainStep)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
