// Lesson 17: the encoder-decoder transformer, the notes' "full transformer" (section 2 of the
// transformer-block part): a stack of self-attention blocks reads the source; a stack of
// decoder blocks writes the target, each with
//
//   masked self-attention   Z = softmax(Q K^T / sqrt(d) + causal mask) V   over the target so far
//   cross-attention         Z = softmax(Q K^T / sqrt(d)) V,  Q from the decoder, K and V from the
//                           encoder's output: the transformer's e_ti, alpha_t and c_t
//   feed-forward            FFN(x) = W_2 relu(W_1 x + b_1) + b_2
//
// It learns two tasks: copying digit strings, and lesson 07's dates. The dates are also solved
// again by lesson 07's RNN with Bahdanau attention, on the same batches for the same number of
// steps, so the two kinds of model meet in one table.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/dates.h"
#include "lessons/common/digits.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "nn/transformer_models.h"
#include "tensor/parallel.h"
#include "tensor/print.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

constexpr int64_t kMaxLen = 32;  // the longest source (a date's text) and target
constexpr int64_t kCopyMin = 3, kCopyMax = 12;

struct Sizes {
  int64_t copy_steps = 0, date_steps = 0;
  int64_t batch = 64;
  int64_t eval_copy = 0, eval_dates = 0;
  int64_t curve_every = 0, curve_dates = 200;  // the accuracy-by-step curve of both date models
};

Sizes choose_sizes(const LessonOptions& opt) {
  Sizes z;
  z.copy_steps = opt.steps_or(400, 150);
  z.date_steps = opt.steps_or(1500, 200);
  z.eval_copy = opt.quick ? 200 : 1000;
  z.eval_dates = opt.quick ? 300 : 1000;
  z.curve_every = std::max<int64_t>(z.date_steps / 8, 1);
  return z;
}

nn::EncoderDecoderOptions transformer_options(int64_t src_vocab, int64_t tgt_vocab) {
  return {.src_vocab = src_vocab,
          .tgt_vocab = tgt_vocab,
          .max_len = kMaxLen,
          .d_model = 64,
          .heads = 4,
          .ffn = 128,
          .num_encoder_layers = 2,
          .num_decoder_layers = 2,
          .dropout = 0.0,  // fresh data every step: nothing to overfit
          .norm_first = true,
          // Embeddings start as N(0, 1); times sqrt(64) = 8 they would drown the sinusoidal
          // positions (at most 1), and copying needs the positions.
          .scale_embeddings = false};
}

// ---- the copy task ----------------------------------------------------------------------------

// "3 1 4" -> "3 1 4 <eos>", digits as tokens 3..12 of digits.h.
struct CopyBatch {
  Tensor src, src_real, y_in, y_out;
  std::vector<std::vector<int>> rows;
};

CopyBatch copy_batch(Generator& gen, int64_t B) {
  CopyBatch b;
  int64_t S = 0;
  for (int64_t r = 0; r < B; ++r) {
    std::vector<int> row(static_cast<size_t>(kCopyMin + static_cast<int64_t>(gen.below(kCopyMax - kCopyMin + 1))));
    for (int& d : row) d = static_cast<int>(gen.below(10));
    S = std::max<int64_t>(S, static_cast<int64_t>(row.size()));
    b.rows.push_back(std::move(row));
  }
  std::vector<int64_t> src(static_cast<size_t>(B * S), kPad), len, y_in(static_cast<size_t>(B * (S + 1)), kPad),
      y_out(static_cast<size_t>(B * (S + 1)), kPad);
  for (int64_t r = 0; r < B; ++r) {
    const std::vector<int>& row = b.rows[static_cast<size_t>(r)];
    const int64_t n = static_cast<int64_t>(row.size());
    y_in[static_cast<size_t>(r * (S + 1))] = kBos;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t tok = kFirstDigit + row[static_cast<size_t>(i)];
      src[static_cast<size_t>(r * S + i)] = tok;
      y_in[static_cast<size_t>(r * (S + 1) + i + 1)] = tok;
      y_out[static_cast<size_t>(r * (S + 1) + i)] = tok;
    }
    y_out[static_cast<size_t>(r * (S + 1) + n)] = kEos;
    len.push_back(n);
  }
  b.src = Tensor::from_vector(src, {B, S});
  b.src_real = nn::length_mask(Tensor::from_vector(len, {B}), S);
  b.y_in = Tensor::from_vector(y_in, {B, S + 1});
  b.y_out = Tensor::from_vector(y_out, {B, S + 1});
  return b;
}

// ---- training ---------------------------------------------------------------------------------

struct Curve {
  std::vector<double> steps, loss, acc_steps, acc;
  double seconds = 0;  // CPU time is not a metric: printed only
};

// Adam with warm-up and a cosine decay, clipping at norm 1: the same for every model here.
struct Trainer {
  nn::Adam opt;
  nn::WarmupCosineLR schedule;
  Trainer(const std::vector<Var>& params, double lr, int64_t steps)
      : opt(params, {.lr = lr}),
        schedule({.base_lr = lr, .warmup_steps = std::clamp<int64_t>(steps - 1, 0, std::min<int64_t>(50, steps / 10)),
                  .total_steps = std::max<int64_t>(steps, 1), .min_lr = lr / 30}) {}
  double step(const Var& loss) {
    schedule.apply(opt);
    backward(loss);
    nn::clip_grad_norm(opt.params(), 1.0);
    opt.step();
    opt.zero_grad();
    return loss.item();
  }
};

Curve train_copy(nn::EncoderDecoder& m, int64_t steps, int64_t batch, uint64_t seed, bool progress) {
  Trainer tr(m.parameters(), 2e-3, steps);
  Generator data(seed);
  Curve c;
  ProgressBar bar("copy", steps, progress);
  double running = 0;
  const auto t0 = std::clock();
  for (int64_t step = 1; step <= steps; ++step) {
    CopyBatch b = copy_batch(data, batch);
    // Teacher forcing: every target position at once, the causal mask hiding what follows it.
    const double l = tr.step(nn::cross_entropy(m.forward(b.src, b.y_in, b.src_real), b.y_out, {.ignore_index = kPad}));
    running = step == 1 ? l : 0.95 * running + 0.05 * l;
    if (step % 10 == 0 || step == steps) c.steps.push_back(static_cast<double>(step)), c.loss.push_back(running);
    bar.update(step, running);
  }
  bar.finish();
  c.seconds = static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
  return c;
}

double copy_accuracy(const nn::EncoderDecoder& m, Generator& gen, int64_t n) {
  int64_t right = 0;
  for (int64_t done = 0; done < n; done += 250) {
    const int64_t k = std::min<int64_t>(250, n - done);
    CopyBatch b = copy_batch(gen, k);
    nn::Decoded d = m.greedy_decode(b.src, b.src_real, {.bos = kBos, .eos = kEos, .max_len = b.src.size(1) + 1, .pad = kPad});
    right += static_cast<int64_t>(std::lround(nn::sequence_accuracy(d.tokens, b.y_out, kPad) * static_cast<double>(k)));
  }
  return static_cast<double>(right) / static_cast<double>(n);
}

// The dates, one function per kind of model, so that both read the same batches.
double transformer_dates_acc(const nn::EncoderDecoder& m, const DateBatch& b) {
  nn::Decoded d = m.greedy_decode(b.src, b.src_real, {.bos = kDateBos, .eos = kDateEos, .max_len = kIsoLength + 1, .pad = kDatePad});
  return date_exact_match(d.tokens, b);
}
double rnn_dates_acc(const nn::Seq2Seq& m, const DateBatch& b) { return date_exact_match(greedy_dates(m, b).tokens, b); }

// Trains one date model on the batches of `seed`; every `every` steps scores it on `probe`.
template <class LossFn, class AccFn>
Curve train_dates(const std::string& label, const std::vector<Var>& params, const LossFn& loss_of, const AccFn& acc_of,
                  double lr, int64_t steps, int64_t batch, uint64_t seed, const DateBatch& probe, int64_t every,
                  bool progress) {
  Trainer tr(params, lr, steps);
  Generator data(seed);
  std::vector<DateBatch> pool;
  Curve c;
  ProgressBar bar(label, steps, progress);
  double running = 0, spent = 0;
  for (int64_t step = 1; step <= steps; ++step) {
    const auto t0 = std::clock();
    if (pool.empty()) pool = date_buckets(data, 8, batch);
    DateBatch b = std::move(pool.back());
    pool.pop_back();
    const double l = tr.step(loss_of(b));
    spent += static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
    running = step == 1 ? l : 0.95 * running + 0.05 * l;
    if (step % 10 == 0 || step == steps) c.steps.push_back(static_cast<double>(step)), c.loss.push_back(running);
    if (step % every == 0 || step == steps) {
      c.acc_steps.push_back(static_cast<double>(step));
      c.acc.push_back(acc_of(probe));
    }
    bar.update(step, running);
  }
  bar.finish();
  c.seconds = spent;
  return c;
}

// ---- the maps ---------------------------------------------------------------------------------

std::string char_label(char c) { return c == ' ' ? "\u2423" : std::string(1, c); }

// The cross-attention of every block and head for one date, with the greedy output as the
// decoder's input: one heatmap per (layer, head), rows the output characters, columns the input.
void cross_attention_maps(const nn::EncoderDecoder& m, const DateExample& ex, const std::string& dir) {
  NoGradGuard no_grad;
  DateBatch b = date_batch_from({ex});
  nn::Decoded d = m.greedy_decode(b.src, b.src_real, {.bos = kDateBos, .eos = kDateEos, .max_len = kIsoLength + 1, .pad = kDatePad});
  const int64_t n = d.lengths.to_vector()[0] > 0 ? static_cast<int64_t>(d.lengths.to_vector()[0]) : 1;
  std::vector<int64_t> out, in{kDateBos};
  for (int64_t t = 0; t < n; ++t) out.push_back(static_cast<int64_t>(d.tokens.at({0, t})));
  in.insert(in.end(), out.begin(), out.end() - 1);
  nn::StackOutput w;
  m.decode(Tensor::from_vector(in, {1, n}), m.encode(b.src, b.src_real), b.src_real, Tensor(), &w);
  std::vector<std::string> rows, cols;
  for (int64_t y : out) rows.push_back(date_tgt_str(y));
  for (char c : b.examples[0].text) cols.push_back(char_label(c));
  const std::string text = b.examples[0].text;
  fmt::print("cross-attention of \"{}\" -> {}, the largest weight of each output step per head:\n", text,
             date_tgt_text(out));
  for (size_t layer = 0; layer < w.cross_alphas.size(); ++layer) {
    const Tensor a = w.cross_alphas[layer].value().to(DType::f64).contiguous();  // [1, H, T, S]
    const int64_t H = a.size(1), S = a.size(3);
    for (int64_t h = 0; h < H; ++h) {
      std::vector<std::vector<double>> v(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(S)));
      std::string focus;
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t s = 0; s < S; ++s) v[static_cast<size_t>(t)][static_cast<size_t>(s)] = a.at({0, h, t, s});
        const auto& r = v[static_cast<size_t>(t)];
        focus += char_label(text[static_cast<size_t>(std::max_element(r.begin(), r.end()) - r.begin())]);
      }
      fmt::print("  layer {} head {}: output {} reads {}\n", layer + 1, h + 1, date_tgt_text(out), focus);
      heatmap(v, rows, cols,
              {.title = fmt::format("cross-attn L{} H{}: \"{}\"", layer + 1, h + 1, text),
               .x_label = "input (keys, values)",
               .y_label = "output (queries)", .show_values = false, .cell = 24})
          .save(fmt::format("{}/cross_attention_layer{}_head{}.svg", dir, layer + 1, h + 1));
    }
  }
}

// The copy task's cross-attention, averaged over the heads of the last block: a diagonal.
void copy_map(const nn::EncoderDecoder& m, const std::vector<int>& digits, const std::string& dir) {
  NoGradGuard no_grad;
  const int64_t S = static_cast<int64_t>(digits.size());
  std::vector<int64_t> src, in{kBos};
  for (int dgt : digits) src.push_back(kFirstDigit + dgt), in.push_back(kFirstDigit + dgt);
  const Tensor s = Tensor::from_vector(src, {1, S});
  nn::StackOutput w;
  m.decode(Tensor::from_vector(in, {1, S + 1}), m.encode(s), Tensor(), Tensor(), &w);
  const Tensor a = mean(w.cross_alphas.back().value(), {1}).to(DType::f64).contiguous();  // [1, T, S]
  std::vector<std::vector<double>> v;
  std::vector<std::string> rows, cols;
  for (int dgt : digits) cols.push_back(std::to_string(dgt));
  for (int64_t t = 0; t <= S; ++t) {
    std::vector<double> r;
    for (int64_t i = 0; i < S; ++i) r.push_back(a.at({0, t, i}));
    v.push_back(r);
    rows.push_back(t < S ? std::to_string(digits[static_cast<size_t>(t)]) : "<eos>");
  }
  heatmap(v, rows, cols, {.title = "copy: cross-attention of the last decoder layer, mean over heads",
                          .x_label = "source digit", .y_label = "output", .cell = 34})
      .save(dir + "/copy_cross_attention.svg");
}

void draw_graphs(const nn::EncoderDecoder& m, const std::string& dir) {
  DateBatch b = date_batch_from({{{1979, 3, 5}, 16, ""}});  // "5.3.1979"
  Var loss = nn::cross_entropy(m.forward(b.src, b.y_in, b.src_real), b.y_out, {.ignore_index = kDatePad});
  loss.set_name("loss");
  const std::string full = to_dot({loss}, {.title = "encoder-decoder transformer reading '5.3.1979': every module and "
                                                    "block a cluster"});
  render(full, dir + "/graph_transformer.dot");
  render(full, dir + "/graph_transformer.svg");
  // Fold each block (and the embeddings) into one box: the architecture diagram of the paper.
  std::vector<std::string> fold;
  for (const std::string& scope : graph_scopes({loss})) {
    const size_t p = scope.rfind("blocks.");
    const bool block = p != std::string::npos && scope.find_first_not_of("0123456789", p + 7) == std::string::npos;
    if (block || scope.ends_with("_emb") || scope.ends_with("_pos") || scope.ends_with(".norm")) fold.push_back(scope);
  }
  const std::string collapsed = to_dot({loss}, {.collapse = fold, .title = "the same graph, every block folded into one "
                                                                          "box: 2 encoder blocks, 2 decoder blocks"});
  render(collapsed, dir + "/graph_transformer_blocks.dot");
  render(collapsed, dir + "/graph_transformer_blocks.svg");
  std::string names;
  for (const std::string& f : fold) names += (names.empty() ? "" : ", ") + f;
  fmt::print("graphs: {0}/graph_transformer.svg (every op), {0}/graph_transformer_blocks.svg (folded: {1})\n\n", dir,
             names);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "17_encoder_decoder_transformer",
                                         "The encoder-decoder transformer: copying, dates, and an RNN for comparison");
  if (opt.threads == 0) set_num_threads(1);  // small models: a thread team per op costs more than it saves
  LessonReport report(opt);
  try {
    const Sizes z = choose_sizes(opt);
    Generator init_gen(opt.seed), eval_gen(opt.seed + 2);

    fmt::print("== 1. The model\n\n");
    nn::EncoderDecoder copier(transformer_options(kDigitVocab, kDigitVocab), init_gen);
    fmt::print("EncoderDecoder: d_model 64, 4 heads of 16, FFN 128, 2 encoder blocks and 2 decoder blocks, pre-norm,\n"
               "sinusoidal positions added to unscaled embeddings. {} parameters for the copy task.\n",
               copier.num_parameters());
    fmt::print("encoder block:  x = x + SelfAttn(LN(x));  x = x + FFN(LN(x))\n"
               "decoder block:  y = y + MaskedSelfAttn(LN(y));  y = y + CrossAttn(Q = LN(y), K = V = memory);  "
               "y = y + FFN(LN(y))\n"
               "Cross-attention is the notes' encoder-decoder attention with new names: the query q_t is the\n"
               "decoder's s_t, the keys and values are the encoder's h_i, alpha_t = softmax(q_t K^T / sqrt(16)),\n"
               "and c_t = alpha_t V. The causal mask lets target position t see positions <= t only, so teacher\n"
               "forcing trains every position at once.\n\n");

    fmt::print("== 2. Copying digit strings ({}-{} digits, {} steps of {})\n\n", kCopyMin, kCopyMax, z.copy_steps, z.batch);
    Curve copy_curve = train_copy(copier, z.copy_steps, z.batch, opt.seed + 1, !opt.quiet);
    copier.eval();
    const double copy_acc = copy_accuracy(copier, eval_gen, z.eval_copy);
    fmt::print("final running loss {:.4f}; greedy copy accuracy on {} fresh strings: {:.4f} (training took {:.1f} s of "
               "CPU)\n",
               copy_curve.loss.back(), z.eval_copy, copy_acc, copy_curve.seconds);
    copy_map(copier, {3, 1, 4, 1, 5, 9, 2, 6}, opt.out_dir);
    fmt::print("figure: {}/copy_cross_attention.svg (the diagonal: output t reads source t)\n\n", opt.out_dir);

    fmt::print("== 3. Lesson 07's dates, by a transformer and by an RNN with attention\n\n");
    nn::EncoderDecoder dater(transformer_options(kDateSrcVocab, kDateTgtVocab), init_gen);
    std::unique_ptr<nn::Seq2Seq> rnn = make_date_rnn({}, init_gen);
    fmt::print("transformer: {} parameters; lesson 07's RNN (bidirectional GRU 2 x 64, Bahdanau attention): {}\n"
               "Both train on the same batches ({} steps of {} dates), Adam with warm-up and cosine decay, clip 1.\n",
               dater.num_parameters(), rnn->num_parameters(), z.date_steps, z.batch);
    Generator probe_gen(opt.seed + 4);
    const DateBatch probe = date_batch(probe_gen, z.curve_dates);
    auto t_loss = [&](const DateBatch& b) {
      return nn::cross_entropy(dater.forward(b.src, b.y_in, b.src_real), b.y_out, {.ignore_index = kDatePad});
    };
    auto t_acc = [&](const DateBatch& b) {
      dater.eval();
      const double a = transformer_dates_acc(dater, b);
      dater.train();
      return a;
    };
    auto r_loss = [&](const DateBatch& b) { return rnn->loss(b.src, b.src_lengths, b.y_in, b.y_out, kDatePad); };
    auto r_acc = [&](const DateBatch& b) { return rnn_dates_acc(*rnn, b); };
    Curve t_curve = train_dates("transformer", dater.parameters(), t_loss, t_acc, 2e-3, z.date_steps, z.batch,
                                opt.seed + 3, probe, z.curve_every, !opt.quiet);
    Curve r_curve = train_dates("rnn", rnn->parameters(), r_loss, r_acc, 3e-3, z.date_steps, z.batch, opt.seed + 3,
                                probe, z.curve_every, !opt.quiet);
    dater.eval();
    rnn->eval();
    double dates_acc = 0, rnn_acc = 0;
    for (int64_t done = 0; done < z.eval_dates; done += 250) {
      const DateBatch b = date_batch(eval_gen, std::min<int64_t>(250, z.eval_dates - done));
      const double w = static_cast<double>(b.examples.size()) / static_cast<double>(z.eval_dates);
      dates_acc += w * transformer_dates_acc(dater, b);
      rnn_acc += w * rnn_dates_acc(*rnn, b);
    }
    fmt::print("final running loss {:.4f} (transformer), {:.4f} (RNN)\n", t_curve.loss.back(), r_curve.loss.back());
    fmt::print("\nexact match on {} fresh dates:\n", z.eval_dates);
    fmt::print("  {:<34} {:>10} {:>12} {:>14}\n", "model", "params", "exact match", "train CPU s");
    fmt::print("  {:<34} {:>10} {:>12.4f} {:>14.1f}\n", "transformer (2 + 2 blocks)", dater.num_parameters(), dates_acc,
               t_curve.seconds);
    fmt::print("  {:<34} {:>10} {:>12.4f} {:>14.1f}\n", "RNN + Bahdanau attention (lesson 07)", rnn->num_parameters(),
               rnn_acc, r_curve.seconds);
    fmt::print("(CPU seconds are printed, never stored as metrics: they depend on the machine.)\n");
    line_chart({{"transformer", t_curve.acc_steps, t_curve.acc, "#1f77b4"},
                {"RNN + Bahdanau attention", r_curve.acc_steps, r_curve.acc, "#d62728"}},
               {.title = fmt::format("dates: exact match on {} fixed dates during training", z.curve_dates),
                .x_label = "training step (same batches for both)", .y_label = "exact match", .y_from_zero = true})
        .save(opt.out_dir + "/dates_transformer_vs_rnn.svg");
    line_chart({{"transformer, dates", t_curve.steps, t_curve.loss, "#1f77b4"},
                {"RNN, dates", r_curve.steps, r_curve.loss, "#d62728"},
                {"transformer, copy", copy_curve.steps, copy_curve.loss, "#2ca02c", true}},
               {.title = "training loss (running average)", .x_label = "step", .y_label = "cross-entropy per token",
                .log_y = true, .points = false})
        .save(opt.out_dir + "/loss_curves.svg");
    fmt::print("figures: {0}/dates_transformer_vs_rnn.svg, {0}/loss_curves.svg\n\n", opt.out_dir);

    fmt::print("== 4. Cross-attention, per layer and head\n\n");
    cross_attention_maps(dater, {{2007, 7, 10}, 1, ""}, opt.out_dir);
    fmt::print("figures: {}/cross_attention_layer<l>_head<h>.svg\n\n", opt.out_dir);

    fmt::print("== 5. The computation graph\n\n");
    draw_graphs(dater, opt.out_dir);

    report.metric("copy_acc", copy_acc);
    report.metric("dates_acc", dates_acc);
    report.metric("rnn_attention_dates_acc", rnn_acc);
    report.metric("dates_acc_curve", {{"steps", t_curve.acc_steps}, {"transformer", t_curve.acc}, {"rnn", r_curve.acc}});

    fmt::print("== Targets\n");
    if (opt.quick) {
      report.at_least("copy_acc", copy_acc, 0.5);
      report.at_least("dates_acc", dates_acc, 0.1);
      report.at_least("rnn_attention_dates_acc", rnn_acc, 0.05);
    } else {
      report.at_least("copy_acc", copy_acc, 1.0);
      report.at_least("dates_acc", dates_acc, 0.99);
      report.at_least("rnn_attention_dates_acc", rnn_acc, 0.5);
    }
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "17_encoder_decoder_transformer: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
