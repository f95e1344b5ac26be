// Lesson 01: the bottleneck. An RNN encoder-decoder (Sutskever et al., Cho et al.) learns to
// reverse strings of digits, and everything the decoder knows about the input must pass through
// one vector, the encoder's last state:
//
//   h_i = GRU_enc(h_{i-1}, emb(x_i))             i = 1..T
//   c   = h_T                                   the whole string, in 64 numbers
//   s_0 = tanh(W_init c)
//   s_t = GRU_dec(s_{t-1}, [emb(y_{t-1}); c])
//   p(y_t) = softmax(W_o [s_t; c] + b_o)
//
// Short strings fit in c; long ones do not, and accuracy falls with length. Lesson 04 keeps
// every h_i and lets the decoder look back at them (attention).
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/digits.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/reversal_seq2seq.h"
#include "lessons/common/svg.h"
#include "tensor/parallel.h"
#include "tensor/print.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

constexpr int64_t kLongestTrained = 20;
constexpr int64_t kLongestTested = 40;

struct Sizes {
  ReversalModelOptions model{.attention = false};
  ReversalTraining training{.steps = 0};
  int64_t eval_per_length = 0;  // fresh strings per trained length, 3..20
  int64_t eval_per_long = 0;    // and per untrained length, 21..40
};

Sizes choose_sizes(const LessonOptions& opt) {
  Sizes z;
  z.training.steps = opt.steps_or(2000, 1000);
  z.training.data_seed = opt.seed + 1;
  z.eval_per_length = opt.quick ? 50 : 200;
  z.eval_per_long = opt.quick ? 20 : 50;
  return z;
}

std::vector<double> head(const Tensor& v, size_t n) {
  std::vector<double> all = v.to_vector();
  all.resize(std::min(all.size(), n));
  return all;
}

std::vector<int64_t> row_tokens(const Tensor& t, int64_t row, int64_t n) {
  const std::vector<double> all = t.select(0, row).to_vector();
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n && i < static_cast<int64_t>(all.size()); ++i)
    out.push_back(static_cast<int64_t>(all[static_cast<size_t>(i)]));
  return out;
}

// ---- 1. the data ------------------------------------------------------------------------------

void show_batch() {
  fmt::print("== 1. The task: reverse a string of digits\n\n");
  DigitBatch b = reversal_batch_from({{3, 1, 4}, {2, 7, 1, 8, 2}, {6, 0}});
  fmt::print("three strings of different lengths share one batch, padded to the longest (token ids: 0 <pad>,\n"
             "1 <bos>, 2 <eos>, 3..12 the digits 0..9):\n\n");
  fmt::print("src (x_1..x_T)\n{}\nsrc_lengths (T of each row; the encoder carries its state through the padding)\n{}\n",
             b.src, b.src_lengths);
  fmt::print("y_in (what the decoder reads under teacher forcing: <bos>, then the right answer so far)\n{}\n", b.y_in);
  fmt::print("y_out (what it must predict at each step: the reversed digits, then <eos>; pad scores nothing)\n{}\n\n",
             b.y_out);
}

// ---- 2. the bottleneck, looked at ------------------------------------------------------------

void show_encoding(const nn::Seq2Seq& model, const std::string& when) {
  NoGradGuard no_grad;
  DigitBatch b = reversal_batch_from({{3, 1, 4, 1, 5}});
  nn::EncoderOutput enc = model.encode(b.src, b.src_lengths);
  fmt::print("encoding x = 3 1 4 1 5 {}:\n", when);
  for (int64_t i = 0; i < 5; ++i)
    fmt::print("  h_{} = {}...\n", i + 1, row_str(head(enc.h.value().select(1, i), 5), 3));
  nn::DecoderState st = model.decoder().start(enc);
  fmt::print("  c = h_5 = {}... ({} numbers; the decoder sees nothing else of x)\n", row_str(head(st.c.value(), 5), 3),
             st.c.size(1));
  fmt::print("  s_0 = tanh(W_init c) = {}...\n\n", row_str(head(st.s.h.value(), 5), 3));
}

// Greedy decoding of one string, printing each step's output and its probability.
void decode_one(const nn::Seq2Seq& model, const std::vector<int>& digits) {
  NoGradGuard no_grad;
  DigitBatch b = reversal_batch_from({digits});
  const int64_t n = static_cast<int64_t>(digits.size());
  nn::Decoded d = greedy_reversal(model, b);
  const std::vector<int64_t> want = row_tokens(b.y_out, 0, n + 1), got = row_tokens(d.tokens, 0, n + 1);
  const std::vector<double> score = d.scores.to_vector();
  std::string marks;
  int64_t wrong = 0;
  // A digit the model never emitted (it stopped early) counts as wrong: got holds pad there.
  for (int64_t t = 0; t <= n; ++t) {
    const bool ok = got[static_cast<size_t>(t)] == want[static_cast<size_t>(t)];
    wrong += !ok;
    marks += ok ? "  " : "^ ";
  }
  fmt::print("  x      = {}\n", digit_tokens_str(row_tokens(b.src, 0, n)));
  fmt::print("  target = {}\n", digit_tokens_str(want));
  fmt::print("  greedy = {}\n", digit_tokens_str(row_tokens(d.tokens, 0, static_cast<int64_t>(d.lengths.item()))));
  fmt::print("           {}\n", marks);
  fmt::print("  {} wrong; log p(output) = {:.2f}\n\n", wrong, score[0]);
}

// ---- 7. where the errors are ------------------------------------------------------------------

// Token accuracy at each output position under teacher forcing (the decoder reads the right
// previous digits, so an error is the model's memory failing, not an earlier error echoing).
// Output position t recalls source position n + 1 - t: the first outputs recall the digits
// read last, freshest in c.
std::vector<double> token_acc_by_position(const nn::Seq2Seq& model, Generator& gen, int64_t n, int64_t strings) {
  NoGradGuard no_grad;
  DigitBatch b = reversal_batch(gen, strings, n, n);
  Tensor pred = argmax(model.forward(b.src, b.src_lengths, b.y_in).logits.value(), 2);  // [B, n + 1]
  const std::vector<double> p = pred.to_vector(), y = b.y_out.to_vector();
  std::vector<double> acc(static_cast<size_t>(n), 0.0);
  for (int64_t r = 0; r < strings; ++r)
    for (int64_t t = 0; t < n; ++t)
      acc[static_cast<size_t>(t)] += p[static_cast<size_t>(r * (n + 1) + t)] == y[static_cast<size_t>(r * (n + 1) + t)];
  for (double& a : acc) a /= static_cast<double>(strings);
  return acc;
}

// ---- 8. the graphs ----------------------------------------------------------------------------

void draw_graphs(const nn::Seq2Seq& model, const std::string& dir) {
  DigitBatch b = reversal_batch_from({{7, 2, 5}});
  // The whole loss: one cluster per time step, each module in it folded into a box.
  Var loss = model.loss(b.src, b.src_lengths, b.y_in, b.y_out, kPad);
  std::vector<std::string> fold{"decoder.init"};
  for (const std::string& scope : graph_scopes({loss}))
    if ((scope.starts_with("decoder.t") || scope.starts_with("encoder.t")) &&
        std::count(scope.begin(), scope.end(), '.') == 2)
      fold.push_back(scope);
  std::string dot = to_dot({loss}, {.collapse = fold, .title = "encoder-decoder reversing '7 2 5': the only "
                                                               "road from x to y runs through c = h_3"});
  render(dot, dir + "/graph_seq2seq.dot");
  render(dot, dir + "/graph_seq2seq.svg");

  // One encoder step in full, with values: h_1 = GRU(h_0, emb(x_1)).
  const nn::Encoder& enc = model.encoder();
  Var x_1 = (*enc.embedding())(b.src.select(1, 0));
  nn::CellState h_0 = enc.fwd().zero_state(1);
  h_0.h.set_name("h_0 (zeros)");
  Var h_1 = enc.fwd().step(x_1, h_0).h.set_name("h_1");
  std::string step = to_dot({h_1}, {.show_values = true,
                                    .title = "one GRU step, h_1 = GRU(h_0, emb(x_1)) with x_1 = 7 "
                                             "(the exercise: its backward)"});
  render(step, dir + "/graph_gru_step.dot");
  render(step, dir + "/graph_gru_step.svg");
  fmt::print("graphs: {0}/graph_seq2seq.svg (the whole loss for one 3-digit string)\n"
             "        {0}/graph_gru_step.svg (one encoder step, op by op, with values)\n\n",
             dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "01_seq2seq_bottleneck", "the seq2seq bottleneck");
  // The model is small: a thread team per op costs more than the op saves. --threads N overrides.
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    const Sizes z = choose_sizes(opt);
    Generator init_gen(opt.seed), eval_gen(opt.seed + 2);

    show_batch();

    fmt::print("== 2. The model: c = h_T is all the decoder gets\n\n");
    std::unique_ptr<nn::Seq2Seq> model = make_reversal_model(z.model, init_gen);
    fmt::print("{}\n", model->summary());
    show_encoding(*model, "before training");

    fmt::print("== 3. Training ({} steps of {} strings of 3-{} digits, teacher forcing)\n\n", z.training.steps,
               z.training.batch, kLongestTrained);
    TrainingLog log = train_reversal(*model, z.training, "train", !opt.quiet);
    fmt::print("final running loss: {:.4f} per token\n", log.final_loss);
    line_chart({{"c = h_T", log.steps, log.loss}}, {.title = "training loss (running average)", .x_label = "step",
                                                    .y_label = "cross-entropy per token", .log_y = true,
                                                    .points = false})
        .save(opt.out_dir + "/loss_curve.svg");
    fmt::print("figure: {}/loss_curve.svg\n\n", opt.out_dir);

    fmt::print("== 4. The same string after training\n\n");
    show_encoding(*model, "after training");

    fmt::print("== 5. Decoding: a short string and a long one\n\n");
    decode_one(*model, {3, 1, 4, 1, 5});
    std::vector<int> long_digits;
    for (int64_t i = 0; i < kLongestTrained; ++i) long_digits.push_back(static_cast<int>(eval_gen.below(10)));
    decode_one(*model, long_digits);

    fmt::print("== 6. Accuracy by length\n\n");
    std::map<int64_t, double> acc =
        seq_acc_by_length(reversal_decoder(*model), eval_gen, 3, kLongestTrained, z.eval_per_length);
    acc.merge(seq_acc_by_length(reversal_decoder(*model), eval_gen, kLongestTrained + 1, kLongestTested,
                                z.eval_per_long));
    fmt::print("sequence accuracy (every digit and the <eos> right) on {} fresh strings per length up to {}, {} "
               "beyond:\n",
               z.eval_per_length, kLongestTrained, z.eval_per_long);
    for (const auto& [len, a] : acc)
      if (len <= 12 || len % 4 == 0) fmt::print("  length {:>2}: {:.3f}\n", len, a);
    accuracy_by_length_chart({{"c = h_T", acc}}, kLongestTrained, "sequence accuracy by length, trained on 3-20 digits")
        .save(opt.out_dir + "/accuracy_by_length.svg");
    fmt::print("figure: {}/accuracy_by_length.svg\n\n", opt.out_dir);

    fmt::print("== 7. Which digits get lost\n\n");
    fmt::print("token accuracy under teacher forcing (the decoder reads the right previous digits, so a miss is\n"
               "c failing to hold that digit, not an earlier mistake echoing):\n");
    std::vector<Series> position_series;
    for (int64_t n : {10, 15, 20}) {
      std::vector<double> tok = token_acc_by_position(*model, eval_gen, n, z.eval_per_length);
      Series s{fmt::format("length {}", n), {}, tok};
      for (int64_t t = 1; t <= n; ++t) s.xs.push_back(static_cast<double>(t));
      position_series.push_back(s);
      double mean = 0;
      for (double a : tok) mean += a / static_cast<double>(n);
      fmt::print("  length {}: mean {:.2f}; output 1 (recalls x_{}) {:.2f}, output {} (recalls x_1) {:.2f}\n", n, mean,
                 n, tok.front(), n, tok.back());
    }
    line_chart(position_series, {.title = "token accuracy by output position (teacher forcing)",
                                 .x_label = "output position t (recalls source position T + 1 - t)",
                                 .y_label = "token accuracy",
                                 .y_from_zero = true})
        .save(opt.out_dir + "/token_acc_by_position.svg");
    fmt::print("a longer string is recalled worse at every position, not only at its start: c has the same 64\n"
               "numbers for 10 digits or 20, so each digit is held less sharply.\n"
               "figure: {}/token_acc_by_position.svg\n\n",
               opt.out_dir);

    fmt::print("== 8. The computation graph\n\n");
    draw_graphs(*model, opt.out_dir);

    const double len5 = acc.at(5), len20 = acc.at(20);
    report.metric("seq_acc_by_length", length_curve_json(acc));
    report.metric("seq_acc_len5", len5);
    report.metric("seq_acc_len20", len20);
    fmt::print("== Targets\n");
    if (opt.quick) {
      report.at_least("seq_acc_len5", len5, 0.5);
      report.at_least("len5_minus_len20", len5 - len20, 0.3);
    } else {
      report.at_least("seq_acc_len5", len5, 0.9);
      report.at_least("len5_minus_len20", len5 - len20, 0.3);
    }
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "01_seq2seq_bottleneck: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
