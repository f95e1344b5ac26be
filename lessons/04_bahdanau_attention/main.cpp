// Lesson 04: Bahdanau attention. The task of lesson 01 (reverse a string of digits), but the
// decoder no longer reads one fixed vector c = h_T. At every output step it scores every
// encoder state h_i against its previous state s_{t-1}, turns the scores into weights, and reads
// their weighted sum:
//
//   e_ti    = v^T tanh(W_s s_{t-1} + W_h h_i)
//   alpha_t = softmax_i(e_ti)
//   c_t     = sum_i alpha_ti h_i
//   s_t     = GRU(s_{t-1}, [emb(y_{t-1}); c_t])
//
// The lesson trains it next to lesson 01's model on the same batches and shows what changes:
// accuracy no longer falls with length (Bahdanau et al.'s Fig. 2), the weights find the
// anti-diagonal on their own, and the gradient reaches every h_i directly.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/digits.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/reversal_seq2seq.h"
#include "lessons/common/svg.h"
#include "nn/loss.h"
#include "tensor/parallel.h"
#include "tensor/print.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

constexpr int64_t kLongestTrained = 20;
constexpr int64_t kLongestTested = 40;

struct Sizes {
  ReversalModelOptions attention{.attention = true};
  ReversalModelOptions bottleneck{.attention = false};  // lesson 01's model
  ReversalTraining training{.steps = 0};
  int64_t eval_per_length = 0;  // fresh strings per trained length, 3..20
  int64_t eval_per_long = 0;    // and per untrained length, 21..40 (they cost more, and both models fail)
  int64_t align_strings = 0;    // strings of lengths 3..align_max for the alignment accuracy
  int64_t align_max = 0;        // the quick run has learned only the shorter strings
  int64_t probe_batch = 32;     // length-20 strings for the gradient probe
};

Sizes choose_sizes(const LessonOptions& opt) {
  Sizes z;
  z.training.steps = opt.steps_or(1200, 350);
  z.training.data_seed = opt.seed + 1;
  z.eval_per_length = opt.quick ? 40 : 200;
  z.eval_per_long = opt.quick ? 20 : 50;
  z.align_strings = opt.quick ? 200 : 1000;
  z.align_max = opt.quick ? 10 : kLongestTrained;
  return z;
}

std::vector<double> head(const Var& v, size_t n) {
  std::vector<double> all = v.value().to_vector();
  all.resize(std::min(all.size(), n));
  return all;
}

const nn::BahdanauAttention& attention_of(const nn::Seq2Seq& model) {
  return dynamic_cast<const nn::BahdanauAttention&>(*model.decoder().attention());
}

// ---- 2. one step by hand ----------------------------------------------------------------------

// The score of the notes written as a loop over plain numbers, next to the module's answer:
// e_i = sum_a v_a tanh((W_s s)_a + b_a + (W_h h_i)_a), for row 0 of the batch.
std::vector<double> scores_by_hand(const nn::BahdanauAttention& attn, const Var& s, const Var& h) {
  const std::vector<double> Ws = attn.W_s().weight().value().to_vector();  // [A, Q]
  const std::vector<double> bs = attn.W_s().bias().value().to_vector();    // [A]
  const std::vector<double> Wh = attn.W_h().weight().value().to_vector();  // [A, K]
  const std::vector<double> v = attn.v().weight().value().to_vector();     // [1, A]
  const std::vector<double> sv = s.value().to_vector(), hv = h.value().to_vector();
  const size_t A = bs.size(), Q = static_cast<size_t>(s.size(1)), T = static_cast<size_t>(h.size(1)),
               K = static_cast<size_t>(h.size(2));
  std::vector<double> e(T);
  for (size_t i = 0; i < T; ++i) {
    double e_i = 0;
    for (size_t a = 0; a < A; ++a) {
      double u = bs[a];
      for (size_t q = 0; q < Q; ++q) u += Ws[a * Q + q] * sv[q];          // W_s s_{t-1} + b
      for (size_t k = 0; k < K; ++k) u += Wh[a * K + k] * hv[i * K + k];  // W_h h_i
      e_i += v[a] * std::tanh(u);
    }
    e[i] = e_i;
  }
  return e;
}

void one_step_by_hand(const nn::Seq2Seq& model) {
  fmt::print("== 2. One decoder step by hand, before training\n\n");
  NoGradGuard no_grad;
  DigitBatch b = reversal_batch_from({{3, 1, 4, 1, 5, 9}});
  nn::EncoderOutput enc = model.encode(b.src, b.src_lengths);
  fmt::print("the encoder reads x = 3 1 4 1 5 9 in both directions: h_i = [h_i(fwd); h_i(bwd)], h is {}\n",
             enc.h.shape());
  const nn::BahdanauAttention& attn = attention_of(model);
  nn::DecoderState st = model.decoder().start(enc);
  fmt::print("s_0 = tanh(W_init [h_6(fwd); h_1(bwd)]), first values {}\n", row_str(head(st.s.h, 4), 3));
  Var e_1 = attn.scores(st.s.h, st.keys);  // the module: keys = W_h h_i, computed once per string
  std::vector<double> by_hand = scores_by_hand(attn, st.s.h, enc.h);
  std::vector<double> module = e_1.value().to_vector();
  double diff = 0;
  for (size_t i = 0; i < module.size(); ++i) diff = std::max(diff, std::abs(module[i] - by_hand[i]));
  fmt::print("e_1i = v^T tanh(W_s s_0 + W_h h_i):\n  by the module  {}\n  by hand        {}\n", row_str(module, 4),
             row_str(by_hand, 4));
  fmt::print("  max |diff| = {:.1e} (f32 rounding)\n", diff);
  nn::DecoderStepOutput o = model.decoder().step(st, Tensor::full({1}, static_cast<double>(kBos), DType::i64));
  fmt::print("alpha_1 = softmax(e_1) = {}: nearly uniform, the untrained model looks everywhere\n",
             row_str(o.alpha_t.value().to_vector(), 3));
  fmt::print("c_1 = sum_i alpha_1i h_i, first values {}; then s_1 = GRU(s_0, [emb(<bos>); c_1])\n\n",
             row_str(head(st.c, 4), 3));
}

// ---- 3. the gradient probe --------------------------------------------------------------------

// Runs the encoder one step at a time with the model's own cells, h_i = f_enc(h_{i-1}, x_i),
// keeping every forward state h_i(fwd) as a Var of its own, so the gradient of the loss with
// respect to each can be asked for. Every row must have the full length (no padding).
struct ProbedEncoding {
  nn::EncoderOutput enc;
  std::vector<Var> h_fwd;  // h_i(fwd), each [B, H]
};

ProbedEncoding encode_step_by_step(const nn::Encoder& encoder, const Tensor& src) {
  const int64_t B = src.size(0), S = src.size(1);
  const nn::Embedding& emb = *encoder.embedding();
  ProbedEncoding p;
  nn::CellState s = encoder.fwd().zero_state(B);
  for (int64_t i = 0; i < S; ++i) {
    s = encoder.fwd().step(emb(src.select(1, i)), s);
    p.h_fwd.push_back(s.h);
  }
  p.enc.h = stack(p.h_fwd, 1);  // [B, S, H]
  p.enc.final = s;
  if (const nn::RecurrentCell* bwd = encoder.bwd()) {
    std::vector<Var> h_bwd(static_cast<size_t>(S));
    nn::CellState r = bwd->zero_state(B);
    for (int64_t i = S - 1; i >= 0; --i) {
      r = bwd->step(emb(src.select(1, i)), r);
      h_bwd[static_cast<size_t>(i)] = r.h;
    }
    p.enc.h = concat({p.enc.h, stack(h_bwd, 1)}, 2);  // [B, S, 2H]
    p.enc.final.h = concat({s.h, r.h}, 1);
  }
  return p;
}

// ||dL/dh_i(fwd)|| for i = 1..S on a batch of full-length strings; L is the batch's mean loss.
// Also returns how far the step-by-step encoder is from Encoder::forward (it should be 0).
std::vector<double> grad_norm_by_position(const nn::Seq2Seq& model, const DigitBatch& b, double* encoder_diff) {
  ProbedEncoding p = encode_step_by_step(model.encoder(), b.src);
  {
    NoGradGuard no_grad;
    Tensor reference = model.encode(b.src, Tensor()).h.value();
    *encoder_diff = amax(lumen::abs(sub(reference, p.enc.h.value()))).item();
  }
  Var loss = nn::cross_entropy(model.decoder().forward(p.enc, b.y_in).logits, b.y_out, {.ignore_index = kPad});
  std::vector<Var> g = grad({loss}, p.h_fwd);
  std::vector<double> norms;
  for (const Var& g_i : g) norms.push_back(std::sqrt(sum(square(g_i.value())).item()));
  return norms;
}

struct GradProbe {
  std::vector<double> with_attention, without_attention;
};

GradProbe gradient_probe(const nn::Seq2Seq& attn_model, const nn::Seq2Seq& plain_model, const DigitBatch& b,
                         const std::string& when) {
  double d1 = 0, d2 = 0;
  GradProbe g{grad_norm_by_position(attn_model, b, &d1), grad_norm_by_position(plain_model, b, &d2)};
  fmt::print("the step-by-step encoder matches Encoder::forward: max |diff| = {:.1e} and {:.1e}\n", d1, d2);
  const size_t S = g.with_attention.size();
  fmt::print("||dL/dh_i(fwd)|| {} on {} strings of length {}:\n", when, b.src.size(0), S);
  fmt::print("  {:>4} {:>16} {:>16}\n", "i", "with attention", "c = h_T only");
  for (size_t i = 0; i < S; ++i)
    if (i < 3 || i + 3 >= S || i % 4 == 3)
      fmt::print("  {:>4} {:>16.3e} {:>16.3e}\n", i + 1, g.with_attention[i], g.without_attention[i]);
  fmt::print("  first / last position: {:.3f} with attention, {:.2e} without\n\n",
             g.with_attention.front() / g.with_attention.back(),
             g.without_attention.front() / g.without_attention.back());
  return g;
}

Svg gradient_chart(const GradProbe& init, const GradProbe& trained) {
  auto series = [](const std::string& name, const std::vector<double>& ys, const std::string& colour, bool dashed) {
    Series s{name, {}, ys, colour, dashed};
    for (size_t i = 0; i < ys.size(); ++i) s.xs.push_back(static_cast<double>(i + 1));
    return s;
  };
  return line_chart({series("attention, untrained", init.with_attention, "#1f77b4", false),
                     series("h_T only, untrained", init.without_attention, "#d62728", false),
                     series("attention, trained", trained.with_attention, "#1f77b4", true),
                     series("h_T only, trained", trained.without_attention, "#d62728", true)},
                    {.title = "gradient reaching each encoder state, ||dL/dh_i(fwd)||, length-20 strings",
                     .x_label = "source position i",
                     .y_label = "||dL/dh_i|| (log scale)",
                     .width = 760,
                     .height = 420,
                     .log_y = true});
}

// ---- 5. reading the trained attention ---------------------------------------------------------

struct Alignment {
  std::vector<std::vector<double>> alpha;  // one row per output step, including <eos>
  std::vector<int64_t> outputs;
};

// Decodes one string greedily, printing the notes' variables at the steps listed in `show`.
Alignment walk_through(const nn::Seq2Seq& model, const std::vector<int>& digits, const std::vector<int64_t>& show) {
  NoGradGuard no_grad;
  DigitBatch b = reversal_batch_from({digits});
  const int64_t S = b.src.size(1);
  nn::EncoderOutput enc = model.encode(b.src, b.src_lengths);
  const nn::BahdanauAttention& attn = attention_of(model);
  nn::DecoderState st = model.decoder().start(enc);
  Tensor y = Tensor::full({1}, static_cast<double>(kBos), DType::i64);
  Alignment out;
  for (int64_t t = 1; t <= S + 1; ++t) {
    std::vector<double> s_prev = head(st.s.h, 3);
    Var e_t = attn.scores(st.s.h, st.keys);               // e_ti from s_{t-1}
    nn::DecoderStepOutput o = model.decoder().step(st, y);  // alpha_t, c_t, s_t, logits
    Tensor next = argmax(o.logits.value(), 1);
    const int64_t y_t = static_cast<int64_t>(next.item());
    std::vector<double> alpha = o.alpha_t.value().to_vector();
    const int64_t focus = std::max_element(alpha.begin(), alpha.end()) - alpha.begin();
    if (std::find(show.begin(), show.end(), t) != show.end()) {
      fmt::print("t = {}: s_{} = {}...\n", t, t - 1, row_str(s_prev, 3));
      fmt::print("  e_t     = {}\n", row_str(e_t.value().to_vector(), 1));
      fmt::print("  alpha_t = {}\n", row_str(alpha, 2));
      fmt::print("  argmax_i alpha_ti = {} (x_{} = {}), c_t = {}..., y_t = {}\n", focus + 1, focus + 1,
                 digits[static_cast<size_t>(focus)], row_str(head(st.c, 3), 3), digit_token_str(y_t));
    }
    out.alpha.push_back(alpha);
    out.outputs.push_back(y_t);
    if (y_t == kEos) break;
    y = next;
  }
  return out;
}

Svg alignment_heatmap(const Alignment& a, const std::vector<int>& digits, const std::string& title, bool values) {
  std::vector<std::string> cols, rows;
  for (int d : digits) cols.push_back(std::to_string(d));
  for (int64_t y : a.outputs) rows.push_back(digit_token_str(y));
  return heatmap(a.alpha, rows, cols,
                 {.title = title, .x_label = "source x_i", .y_label = "output y_t", .show_values = values,
                  .cell = values ? 36.0 : 22.0});
}

// The fraction of output digits whose largest weight sits on the digit they copy: output t
// (from 0) of a string of length n reads source position n - 1 - t.
double alignment_accuracy(const nn::Seq2Seq& model, Generator& gen, int64_t strings, int64_t max_len) {
  int64_t right = 0, total = 0;
  for (int64_t done = 0; done < strings; done += 250) {
    DigitBatch b = reversal_batch(gen, std::min<int64_t>(250, strings - done), 3, max_len);
    nn::Decoded d = greedy_reversal(model, b);
    const Tensor focus = argmax(d.alphas, 2);  // [B, L]
    const std::vector<double> f = focus.to_vector(), len = b.src_lengths.to_vector();
    const int64_t L = focus.size(1);
    for (int64_t r = 0; r < focus.size(0); ++r) {
      const int64_t n = static_cast<int64_t>(len[static_cast<size_t>(r)]);
      for (int64_t t = 0; t < n; ++t) right += static_cast<int64_t>(f[static_cast<size_t>(r * L + t)]) == n - 1 - t;
      total += n;
    }
  }
  return static_cast<double>(right) / static_cast<double>(total);
}

// ---- 8. the graphs ----------------------------------------------------------------------------

void draw_graphs(const nn::Seq2Seq& model, const std::string& dir) {
  DigitBatch b = reversal_batch_from({{7, 2, 5}});
  // The whole loss as a map: the encoder and each step's attention, GRU cell, embedding and
  // output layer folded into one box each (graph_decoder_step.svg opens one step up).
  Var loss = model.loss(b.src, b.src_lengths, b.y_in, b.y_out, kPad);
  std::vector<std::string> fold{"encoder", "decoder.init", "decoder.attn"};
  for (const std::string& scope : graph_scopes({loss}))
    if (scope.starts_with("decoder.t") && std::count(scope.begin(), scope.end(), '.') == 2) fold.push_back(scope);
  std::string dot = to_dot({loss}, {.collapse = fold, .title = "Bahdanau seq2seq reversing '7 2 5': one cluster per "
                                                               "decoder step, each module folded into a box"});
  render(dot, dir + "/graph_bahdanau.dot");
  render(dot, dir + "/graph_bahdanau.svg");

  // One decoder step in full, with values: the encoder's h_i enter as constants.
  nn::EncoderOutput enc;
  {
    NoGradGuard no_grad;
    enc = model.encode(b.src, b.src_lengths);
  }
  enc.h.set_name("h_i (encoder states)");
  enc.final.h.set_name("encoder final state");
  nn::DecoderState st = model.decoder().start(enc);
  nn::DecoderStepOutput o = model.decoder().step(st, Tensor::full({1}, static_cast<double>(kBos), DType::i64));
  std::string step = to_dot({o.logits, o.alpha_t}, {.show_values = true,
                                                    .title = "decoder step t = 1: e_1i = v^T tanh(W_s s_0 + W_h h_i), "
                                                             "alpha_1 = softmax(e_1), c_1 = sum_i alpha_1i h_i"});
  render(step, dir + "/graph_decoder_step.dot");
  render(step, dir + "/graph_decoder_step.svg");
  fmt::print("graphs: {0}/graph_bahdanau.svg (the whole loss for one 3-digit string, one cluster per step)\n"
             "        {0}/graph_decoder_step.svg (step t = 1 op by op, with values)\n\n",
             dir);
}

double mean_over(const std::map<int64_t, double>& curve, int64_t lo, int64_t hi) {
  double s = 0;
  int64_t n = 0;
  for (const auto& [len, acc] : curve)
    if (len >= lo && len <= hi) s += acc, ++n;
  return n ? s / static_cast<double>(n) : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "04_bahdanau_attention", "Bahdanau attention on digit reversal");
  // The model is small: a thread team per op costs more than the op saves. --threads N overrides.
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    const Sizes z = choose_sizes(opt);
    Generator init_gen(opt.seed), eval_gen(opt.seed + 2);

    fmt::print("== 1. The task and the two models\n\n");
    fmt::print("reverse a string of digits: 3 1 4 1 5 9 -> 9 5 1 4 1 3 <eos>.\n"
               "Trained on lengths 3-{}, tested on 3-{}.\n",
               kLongestTrained, kLongestTested);
    std::unique_ptr<nn::Seq2Seq> model = make_reversal_model(z.attention, init_gen);
    std::unique_ptr<nn::Seq2Seq> plain = make_reversal_model(z.bottleneck, init_gen);
    fmt::print("with attention: a bidirectional GRU encoder (2 x {}), a GRU decoder ({}) and the score MLP ({}): {} "
               "parameters\n",
               z.attention.hidden_size, z.attention.hidden_size, z.attention.attn_dim, model->num_parameters());
    fmt::print("without (lesson 01's model): one GRU direction, c = h_T fed to every step: {} parameters\n\n",
               plain->num_parameters());

    one_step_by_hand(*model);

    fmt::print("== 3. Where the gradient goes, before training\n\n");
    fmt::print("Without attention, the loss reaches h_i only through h_(i+1), ..., h_T: a product of T - i\n"
               "Jacobians, which shrinks (the vanishing gradient). With attention, c_t = sum_i alpha_ti h_i\n"
               "hands every h_i a path of length one.\n\n");
    Generator probe_gen(opt.seed + 3);
    DigitBatch probe = reversal_batch(probe_gen, z.probe_batch, kLongestTrained, kLongestTrained);
    GradProbe at_init = gradient_probe(*model, *plain, probe, "at initialisation");

    fmt::print("== 4. Training both on the same batches ({} steps of {} strings)\n\n", z.training.steps,
               z.training.batch);
    TrainingLog log_attn = train_reversal(*model, z.training, "attention", !opt.quiet);
    TrainingLog log_plain = train_reversal(*plain, z.training, "c = h_T", !opt.quiet);
    fmt::print("final running loss: {:.4f} with attention, {:.4f} without\n", log_attn.final_loss,
               log_plain.final_loss);
    line_chart({{"with attention", log_attn.steps, log_attn.loss}, {"c = h_T only", log_plain.steps, log_plain.loss}},
               {.title = "training loss (running average)", .x_label = "step", .y_label = "cross-entropy per token",
                .log_y = true, .points = false})
        .save(opt.out_dir + "/loss_curves.svg");
    fmt::print("figure: {}/loss_curves.svg\n\n", opt.out_dir);

    fmt::print("== 5. Reading the trained attention\n\n");
    const std::vector<int> pi{3, 1, 4, 1, 5, 9, 2, 6};
    Alignment a8 = walk_through(*model, pi, {1, 2, 8, 9});
    alignment_heatmap(a8, pi, "alpha_ti reversing 3 1 4 1 5 9 2 6", true).save(opt.out_dir + "/attention_8_digits.svg");
    std::vector<int> long_digits;
    for (int64_t i = 0; i < kLongestTrained; ++i) long_digits.push_back(static_cast<int>(eval_gen.below(10)));
    Alignment a20 = walk_through(*model, long_digits, {});
    alignment_heatmap(a20, long_digits, "alpha_ti on a 20-digit string", false)
        .save(opt.out_dir + "/attention_20_digits.svg");
    fmt::print("heatmaps (the anti-diagonal: output t reads source S + 1 - t): {0}/attention_8_digits.svg, "
               "{0}/attention_20_digits.svg\n",
               opt.out_dir);
    const double align = alignment_accuracy(*model, eval_gen, z.align_strings, z.align_max);
    fmt::print("alignment accuracy (argmax_i alpha_ti is the digit being copied), {} strings of 3-{} digits: "
               "{:.4f}\n\n",
               z.align_strings, z.align_max, align);

    fmt::print("== 6. Accuracy by length: Bahdanau et al.'s Fig. 2 in miniature\n\n");
    auto by_length = [&](const nn::Seq2Seq& m) {
      std::map<int64_t, double> curve =
          seq_acc_by_length(reversal_decoder(m), eval_gen, 3, kLongestTrained, z.eval_per_length);
      curve.merge(seq_acc_by_length(reversal_decoder(m), eval_gen, kLongestTrained + 1, kLongestTested,
                                    z.eval_per_long));
      return curve;
    };
    std::map<int64_t, double> acc = by_length(*model);
    std::map<int64_t, double> acc_plain = by_length(*plain);
    fmt::print("sequence accuracy on {} fresh strings per length up to {}, {} beyond:\n  {:>6} {:>10} {:>10}\n",
               z.eval_per_length, kLongestTrained, z.eval_per_long, "length", "attention", "c = h_T");
    for (const auto& [len, a] : acc)
      if (len <= 10 || len % 5 == 0) fmt::print("  {:>6} {:>10.3f} {:>10.3f}\n", len, a, acc_plain.at(len));
    accuracy_by_length_chart({{"attention", acc}, {"c = h_T only", acc_plain}}, kLongestTrained,
                             "sequence accuracy by length (trained on 3-20 digits)")
        .save(opt.out_dir + "/accuracy_by_length.svg");
    fmt::print("figure: {}/accuracy_by_length.svg\n", opt.out_dir);
    fmt::print("Bahdanau et al. 2014, Table 1 (BLEU, all sentences / no unknown words): RNNencdec-50 17.82 / 26.71,\n"
               "RNNsearch-50 26.75 / 34.16, and even RNNsearch-30 (21.50 / 31.44) beats RNNencdec-50. In their\n"
               "Fig. 2 RNNencdec falls with sentence length while RNNsearch-50 holds. Here: at 5 digits {:.2f}\n"
               "with attention and {:.2f} without, at 20 digits {:.2f} and {:.2f}, at 25 digits {:.2f} and {:.2f}:\n"
               "a few digits past the longest trained length both fail. The decoder never learned to go on that\n"
               "long, and attention does not fix that.\n\n",
               acc.at(5), acc_plain.at(5), acc.at(20), acc_plain.at(20), acc.at(25), acc_plain.at(25));

    fmt::print("== 7. The gradient after training\n\n");
    GradProbe trained = gradient_probe(*model, *plain, probe, "after training");
    gradient_chart(at_init, trained).save(opt.out_dir + "/grad_norm_by_position.svg");
    fmt::print("figure: {}/grad_norm_by_position.svg\n\n", opt.out_dir);

    fmt::print("== 8. The computation graph\n\n");
    draw_graphs(*model, opt.out_dir);

    const double min_trained = min_accuracy(acc, 3, kLongestTrained);
    report.metric("seq_acc_by_length", length_curve_json(acc));
    report.metric("no_attention_seq_acc_by_length", length_curve_json(acc_plain));
    report.metric("min_seq_acc_trained_lengths", min_trained);
    report.metric("alignment_acc", align);
    report.metric("grad_norm_by_position", {{"with_attention", at_init.with_attention},
                                            {"without_attention", at_init.without_attention}});

    // The gradient that reaches the first position, relative to the last: attention keeps it
    // within the same order; the bottleneck loses orders of magnitude.
    const double keep_attn = at_init.with_attention.front() / at_init.with_attention.back();
    const double keep_plain = at_init.without_attention.front() / at_init.without_attention.back();
    fmt::print("== Targets\n");
    if (opt.quick) {
      // The mean over every trained length, so the target holds for any --steps: early on
      // attention wins on the short strings, later on the long ones.
      const double gain = mean_over(acc, 3, kLongestTrained) - mean_over(acc_plain, 3, kLongestTrained);
      report.at_least("mean_acc_gain_over_no_attention", gain, 0.3);
      report.at_least("alignment_acc", align, 0.8);
    } else {
      report.at_least("min_seq_acc_trained_lengths", min_trained, 0.95);
      report.at_least("alignment_acc", align, 0.95);
      report.at_least("len20_acc_gain_over_no_attention", acc.at(20) - acc_plain.at(20), 0.5);
    }
    report.check("gradient_reaches_h_1", keep_attn > 10 * keep_plain,
                 fmt::format("||dL/dh_1|| / ||dL/dh_20|| at initialisation is over 10x larger with attention "
                             "({:.3g}) than without ({:.3g})",
                             keep_attn, keep_plain));
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "04_bahdanau_attention: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
