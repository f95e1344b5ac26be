#include "lessons/common/reversal_seq2seq.h"

#include <cmath>

#include "autograd/engine.h"
#include "lessons/common/progress.h"
#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "tensor/error.h"

namespace lumen::lessons {

std::unique_ptr<nn::Seq2Seq> make_reversal_model(const ReversalModelOptions& o, Generator& gen) {
  nn::Seq2SeqOptions options{.src_vocab = kDigitVocab,
                             .tgt_vocab = kDigitVocab,
                             .embed_dim = o.embed_dim,
                             .hidden_size = o.hidden_size,
                             .cell = nn::CellType::gru,
                             .bidirectional = o.attention,
                             .attention = o.attention ? nn::AttentionType::bahdanau : nn::AttentionType::none,
                             .attn_dim = o.attn_dim,
                             .padding_idx = kPad};
  return std::make_unique<nn::Seq2Seq>(options, gen);
}

TrainingLog train_reversal(nn::Seq2Seq& model, const ReversalTraining& t, const std::string& label, bool progress) {
  if (t.steps < 0 || t.batch <= 0 || t.log_every <= 0)
    throw ValueError("train_reversal: need steps >= 0, batch > 0 and log_every > 0, got " + std::to_string(t.steps) +
                     ", " + std::to_string(t.batch) + " and " + std::to_string(t.log_every));
  nn::Adam opt(model.parameters(), {.lr = t.lr});
  // Large steps early to find the alignment, small ones late so the last few mistakes at the
  // longest lengths get fixed instead of shaken loose again.
  nn::CosineLR schedule({.base_lr = t.lr, .total_steps = std::max<int64_t>(t.steps, 1), .min_lr = t.final_lr});
  Generator data(t.data_seed);
  std::vector<DigitBatch> pool;
  TrainingLog log;
  ProgressBar bar(label, t.steps, progress);
  double running = 0;
  for (int64_t step = 1; step <= t.steps; ++step) {
    if (pool.empty()) pool = reversal_buckets(data, 8, t.batch, t.min_len, t.max_len);
    DigitBatch b = std::move(pool.back());
    pool.pop_back();

    schedule.apply(opt);
    opt.zero_grad();
    // Teacher forcing: the decoder reads the true previous digit y_in, and every step's
    // prediction is scored against y_out; padded targets count for nothing.
    Var loss = model.loss(b.src, b.src_lengths, b.y_in, b.y_out, kPad);
    backward(loss);
    nn::clip_grad_norm(opt.params(), t.clip);
    opt.step();

    const double l = loss.item();
    running = step == 1 ? l : 0.95 * running + 0.05 * l;
    if (step % t.log_every == 0 || step == t.steps) {
      log.steps.push_back(static_cast<double>(step));
      log.loss.push_back(running);
    }
    bar.update(step, running);
  }
  bar.finish();
  log.final_loss = running;
  return log;
}

nn::Decoded greedy_reversal(const nn::Seq2Seq& model, const DigitBatch& b) {
  return model.greedy_decode(b.src, b.src_lengths,
                             {.bos = kBos, .eos = kEos, .max_len = b.src.size(1) + 1, .pad = kPad});
}

DigitDecoder reversal_decoder(const nn::Seq2Seq& model) {
  return [&model](const DigitBatch& b) { return greedy_reversal(model, b).tokens; };
}

}  // namespace lumen::lessons
