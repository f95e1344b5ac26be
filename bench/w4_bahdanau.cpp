// W4: one teacher-forced training step of a Bahdanau-attention seq2seq, the reference's
// w4_seq2seq.py (variant `cell`) in Lumen.
//   Task: copy the source reversed. Vocabulary 40 (source and target; token 0 is BOS),
//   embedding 64, batch 32, source length 20, target length 12 (the first 12 tokens of the
//   reversed source).
//   Encoder: a bidirectional GRU, 128 per direction, as two GRUCells looped over time.
//   Decoder: GRUCell(64 + 256 -> 128), s0 = tanh(W_init [h_fwd(last); h_bwd(first)]); per step
//     e_j = v . tanh(W_s s + W_h h_j) (attention dim 128, W_h h_j once per sequence),
//     a = softmax(e), c = sum_j a_j h_j, s = GRUCell([emb(y_prev); c], s), logits = W_out [s; c].
//   Loss: mean cross-entropy over the 32 x 12 target tokens. Adam, lr 1e-3. 424,616 parameters.
// Data: 16 fixed batches, source tokens uniform in 1..39, cycled.
// Warm-up: 50 steps whose loss must fall, 3 more; then the timed steps.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/train_util.h"
#include "nn/optim.h"
#include "nn/seq2seq.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kVocab = 40, kEmbed = 64, kHidden = 128, kAttn = 128, kSrcLen = 20, kTgtLen = 12, kBatch = 32,
                  kBos = 0, kBatches = 16;

struct Batch {
  lumen::Tensor src;     // i64 [B, S]
  lumen::Tensor tgt_in;  // i64 [B, T]: BOS, then the target without its last token
  lumen::Tensor tgt;     // i64 [B, T]: the first T tokens of the reversed source
};

Batch make_batch(lumen::Generator& gen) {
  Batch b{.src = lumen::randint(1, kVocab, {kBatch, kSrcLen}, gen), .tgt_in = {}, .tgt = {}};
  const int64_t* src = b.src.data<int64_t>();
  std::vector<int64_t> tgt(kBatch * kTgtLen), tgt_in(kBatch * kTgtLen);
  for (int64_t r = 0; r < kBatch; ++r)
    for (int64_t t = 0; t < kTgtLen; ++t) {
      tgt[r * kTgtLen + t] = src[r * kSrcLen + (kSrcLen - 1 - t)];
      tgt_in[r * kTgtLen + t] = t == 0 ? kBos : tgt[r * kTgtLen + t - 1];
    }
  b.tgt = lumen::Tensor::from_vector(tgt, {kBatch, kTgtLen});
  b.tgt_in = lumen::Tensor::from_vector(tgt_in, {kBatch, kTgtLen});
  return b;
}

void W4_BahdanauTrainStep(benchmark::State& state) {
  lumen::set_num_threads(static_cast<int>(state.range(0)));
  lumen::Generator gen(0);
  lumen::nn::Seq2Seq model({.src_vocab = kVocab,
                            .tgt_vocab = kVocab,
                            .embed_dim = kEmbed,
                            .hidden_size = kHidden,
                            .cell = lumen::nn::CellType::gru,
                            .bidirectional = true,
                            .attention = lumen::nn::AttentionType::bahdanau,
                            .input_feeding = true,
                            .attn_dim = kAttn},
                           gen);
  lumen::nn::Adam optimizer(model.parameters(), {.lr = 1e-3});
  std::vector<Batch> data;
  for (int64_t i = 0; i < kBatches; ++i) data.push_back(make_batch(gen));

  int64_t step_count = 0;
  auto train_step = [&] {
    const Batch& b = data[static_cast<size_t>(step_count++ % kBatches)];
    optimizer.zero_grad();
    lumen::Var loss = model.loss(b.src, lumen::Tensor(), b.tgt_in, b.tgt);
    loss.backward();
    optimizer.step();
    return loss.item();
  };

  state.counters["params"] = double(model.num_parameters());
  if (!lumen::bench::warm_up(state, train_step, 50, 3)) return;
  for (auto _ : state) benchmark::DoNotOptimize(train_step());
  lumen::bench::report_memory(state);
}

BENCHMARK(W4_BahdanauTrainStep)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
