#pragma once
// The RNN encoder-decoder of lessons 01 and 04 on the digit-reversal task (digits.h): build it,
// train it with teacher forcing, and decode greedily. Lesson 01 builds it without attention
// (the context is c = h_T); lesson 04 with Bahdanau attention, and again without as the
// baseline, so both lessons train their models the same way.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lessons/common/digits.h"
#include "nn/seq2seq.h"

namespace lumen::lessons {

struct ReversalModelOptions {
  bool attention = false;  // true: bidirectional encoder + Bahdanau; false: c = h_T only
  // Small on purpose: with 32- or 64-wide digit embeddings the attention model finds a
  // shortcut (lesson 04's README): it attends to the digit it has just written, one place to
  // the right, and reads its neighbour from that state's memory. Right answers, wrong alignment.
  int64_t embed_dim = 8;
  int64_t hidden_size = 64;  // per encoder direction, and the decoder's s_t
  int64_t attn_dim = 16;     // the score MLP's hidden size (attention only)
};
// A Seq2Seq over the digit vocabulary with GRU cells, parameters drawn from `gen`. (Modules
// cannot move, since children are registered by address; hence the pointer.)
std::unique_ptr<nn::Seq2Seq> make_reversal_model(const ReversalModelOptions& options, Generator& gen);

struct ReversalTraining {
  int64_t steps;
  int64_t batch = 32;
  int64_t min_len = 3, max_len = 20;
  double lr = 3e-3;         // Adam
  double final_lr = 1.5e-4;  // a half cosine from lr down to this over the run
  double clip = 1.0;         // gradients clipped to this global norm
  uint64_t data_seed = 0;   // the same seed gives two models the same batches
  int64_t log_every = 10;   // how often the loss curve gets a point
};

struct TrainingLog {
  std::vector<double> steps, loss;  // the running-average loss every log_every steps
  double final_loss = 0;            // the running average at the end
};

// Adam with clipping and teacher forcing on bucketed batches (reversal_buckets, 8 batches per
// draw) of strings with lengths in [min_len, max_len]. Shows a ProgressBar named `label`
// when `progress`.
TrainingLog train_reversal(nn::Seq2Seq& model, const ReversalTraining& training, const std::string& label,
                           bool progress);

// Greedy decoding of a batch: at most S + 1 tokens (the digits and <eos>), i64 [B, S + 1].
nn::Decoded greedy_reversal(const nn::Seq2Seq& model, const DigitBatch& batch);
// The decoder for seq_acc_by_length.
DigitDecoder reversal_decoder(const nn::Seq2Seq& model);

}  // namespace lumen::lessons
