// Lesson 05: Luong's score functions, side by side on one task. The same encoder-decoder reverses
// digit strings with four ways of scoring s_t against h_i (dot, general, concat, location), and
// with the two orders of the notes: score with s_(t-1) before the state update (Bahdanau) or
// with s_t after it (Luong).
#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/digits.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "nn/seq2seq.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

struct Config {
  std::string label;  // "dot", "general, s_(t-1)", ...
  std::string key;    // the metrics key; empty for the query comparison runs
  nn::LuongScore score;
  nn::AttentionQuery query;
  std::string colour;
  bool dashed = false;
};

struct Sizes {
  int64_t min_len = 3, max_len = 8;
  int64_t batch = 64;
  int64_t embed = 16, hidden = 24;  // per encoder direction; the decoder has 2 * hidden, so dot fits
  int64_t steps = 0, eval_every = 0, eval_size = 0;
  double lr = 1e-2;
};

struct Run {
  Config config;
  std::unique_ptr<nn::Seq2Seq> model;
  std::vector<double> steps, acc;  // the learning curve: sequence accuracy on the eval set
  double final_acc = 0;
  std::optional<int64_t> steps_to_99;  // from this evaluation on, accuracy stays >= 0.99
  int64_t parameters = 0;
};

// Greedy decoding of a digit batch: one more step than the longest source, for the <eos>.
Tensor decode(const nn::Seq2Seq& model, const DigitBatch& b) {
  return model
      .greedy_decode(b.src, b.src_lengths, {.bos = kBos, .eos = kEos, .max_len = b.src.size(1) + 1, .pad = kPad})
      .tokens;
}

Run train(const Config& c, const Sizes& z, const DigitBatch& eval, const LessonOptions& opt) {
  Run r;
  r.config = c;
  // Every run starts from the same seed and sees the same batches: only the score differs.
  Generator init_gen(opt.seed), data_gen(opt.seed + 1);
  r.model = std::make_unique<nn::Seq2Seq>(nn::Seq2SeqOptions{.src_vocab = kDigitVocab,
                                                             .tgt_vocab = kDigitVocab,
                                                             .embed_dim = z.embed,
                                                             .hidden_size = z.hidden,
                                                             .decoder_hidden = 2 * z.hidden,
                                                             .attention = nn::AttentionType::luong,
                                                             .luong_score = c.score,
                                                             .query = c.query,
                                                             .max_src_len = z.max_len,
                                                             .padding_idx = kPad},
                                          init_gen);
  r.parameters = r.model->num_parameters();
  nn::Adam adam(r.model->parameters(), {.lr = z.lr});
  // A cosine decay settles the end of training, so the final accuracy is not one noisy step.
  nn::CosineLR schedule({.base_lr = z.lr, .total_steps = z.steps, .min_lr = z.lr / 20});
  ProgressBar bar(c.label, z.steps, !opt.quiet);
  for (int64_t step = 1; step <= z.steps; ++step) {
    DigitBatch b = reversal_batch(data_gen, z.batch, z.min_len, z.max_len);
    schedule.apply(adam);
    adam.zero_grad();
    Var loss = r.model->loss(b.src, b.src_lengths, b.y_in, b.y_out, kPad);
    loss.backward();
    nn::clip_grad_norm(r.model->parameters(), 1.0);
    adam.step();
    bar.update(step, loss.item());
    if (step % z.eval_every == 0 || step == z.steps) {
      double acc = nn::sequence_accuracy(decode(*r.model, eval), eval.y_out, kPad);
      r.steps.push_back(static_cast<double>(step));
      r.acc.push_back(acc);
    }
  }
  bar.finish();
  r.final_acc = r.acc.back();
  // Steps to 99%: the first evaluation from which accuracy stays at or above 0.99 to the end, so
  // a lucky evaluation followed by a dip does not count.
  for (size_t k = r.acc.size(); k-- > 0 && r.acc[k] >= 0.99;) r.steps_to_99 = static_cast<int64_t>(r.steps[k]);
  return r;
}

std::string vec_str(const std::vector<double>& v, size_t show = 8, int digits = 2) {
  std::string s = "[";
  for (size_t i = 0; i < std::min(show, v.size()); ++i) s += (i ? ", " : "") + fmt::format("{:.{}f}", v[i], digits);
  return s + (v.size() > show ? ", ...]" : "]");
}

// alpha_t of every output step for one source, from greedy decoding (rows: outputs incl. <eos>).
struct Alignment {
  std::vector<std::string> outputs, sources;
  std::vector<std::vector<double>> alpha;
};

Alignment align(const nn::Seq2Seq& model, const std::vector<int>& digits) {
  DigitBatch b = reversal_batch_from({digits});
  const int64_t S = b.src.size(1);
  nn::Decoded d = model.greedy_decode(b.src, b.src_lengths, {.bos = kBos, .eos = kEos, .max_len = S + 1, .pad = kPad});
  Alignment a;
  const std::vector<double> tok = d.tokens.to_vector(), al = d.alphas.to_vector();
  const int64_t n = static_cast<int64_t>(d.lengths.item());
  for (int64_t t = 0; t < n; ++t) {
    a.outputs.push_back(digit_token_str(static_cast<int64_t>(tok[static_cast<size_t>(t)])));
    a.alpha.emplace_back(al.begin() + t * S, al.begin() + (t + 1) * S);
  }
  for (int x : digits) a.sources.push_back(std::to_string(x));
  return a;
}

// The notes' variables at t = 1 for one model and one source: the first output should look at
// the last digit.
void print_first_step(const Run& run, const std::vector<int>& digits) {
  const nn::Seq2Seq& model = *run.model;
  DigitBatch b = reversal_batch_from({digits});
  NoGradGuard no_grad;
  nn::EncoderOutput enc = model.encode(b.src, b.src_lengths);
  nn::DecoderState st = model.decoder().start(enc);
  const std::vector<double> s_prev = st.s.h.value().to_vector();
  nn::DecoderStepOutput out = model.decoder().step(st, b.y_in.select(1, 0));
  const Tensor& h = enc.h.value();
  fmt::print("  h_i = encoder states [{}, {}]; h_{} = {}\n", h.size(1), h.size(2), h.size(1),
             vec_str(h.select(0, 0).select(0, h.size(1) - 1).to_vector(), 6));
  fmt::print("  s_0 = {}\n", vec_str(s_prev, 6));
  fmt::print("  s_1 = {}\n", vec_str(st.s.h.value().to_vector(), 6));
  // e_1i from the module's own score function, with the query the model was trained with.
  const auto* attn = dynamic_cast<const nn::LuongAttention*>(model.decoder().attention());
  Var query = model.decoder().query() == nn::AttentionQuery::current_state
                  ? st.s.h
                  : Var(Tensor::from_vector(s_prev, {1, static_cast<int64_t>(s_prev.size())}));
  std::vector<double> e = attn->scores(query, st.keys).value().to_vector();
  fmt::print("  e_1i = {}\n", vec_str(e, 10, 2));
  fmt::print("  alpha_1 = softmax(e_1) = {}   (the last digit is position {})\n",
             vec_str(out.alpha_t.value().to_vector(), 10, 3), digits.size());
  fmt::print("  c_1 = sum_i alpha_1i h_i = {}\n", vec_str(st.c.value().to_vector(), 6));
  const std::vector<double> o = out.logits.value().to_vector();
  const int64_t y = std::max_element(o.begin(), o.end()) - o.begin();
  fmt::print("  o_1 = W_o [s_1; c_1] + b_o -> \"{}\" (want \"{}\")\n\n", digit_token_str(y), digits.back());
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "05_luong_scores", "dot, general, concat and location scores");
  // The model is small: a thread team per op costs more than the op. --threads N overrides.
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    Sizes z;
    z.steps = opt.steps_or(400, 140);
    z.eval_every = 25;
    z.eval_size = opt.quick ? 256 : 500;

    fmt::print("== Four ways to score s_t against h_i (Luong et al. 2015, section 3.1)\n\n");
    fmt::print("  dot       e_ti = s_t^T h_i                 no parameters\n");
    fmt::print("  general   e_ti = s_t^T W_a h_i             W_a: [{0}, {0}]\n", 2 * z.hidden);
    fmt::print("  concat    e_ti = v_a^T tanh(W_a [s_t; h_i]) (Bahdanau's additive score, fed s_t)\n");
    fmt::print("  location  e_t  = W_a s_t                   looks at no h_i: only at where the decoder is\n\n");
    fmt::print("and two orders of the notes: Luong scores with s_t, after the state update (and feeds c_(t-1)\n");
    fmt::print("into it); Bahdanau scores with s_(t-1), before it (and feeds c_t).\n\n");
    fmt::print("Task: reverse strings of {}-{} digits (\"3 1 4\" -> \"4 1 3 <eos>\"). Encoder: bidirectional GRU,\n",
               z.min_len, z.max_len);
    fmt::print(
        "{} per direction; decoder: GRU of {}; batches of {}, Adam lr {} with cosine decay, {} steps per model;\n",
        z.hidden, 2 * z.hidden, z.batch, z.lr, z.steps);
    fmt::print("accuracy = whole strings right (greedy decoding) on {} held-out strings, every {} steps.\n\n",
               z.eval_size, z.eval_every);

    Generator eval_gen(opt.seed + 2);
    DigitBatch eval = reversal_batch(eval_gen, z.eval_size, z.min_len, z.max_len);

    const std::vector<Config> configs = {
        {"dot", "dot", nn::LuongScore::dot, nn::AttentionQuery::current_state, "#1f77b4"},
        {"general", "general", nn::LuongScore::general, nn::AttentionQuery::current_state, "#ff7f0e"},
        {"concat", "concat", nn::LuongScore::concat, nn::AttentionQuery::current_state, "#2ca02c"},
        {"location", "location", nn::LuongScore::location, nn::AttentionQuery::current_state, "#d62728"},
        {"general, s_(t-1)", "", nn::LuongScore::general, nn::AttentionQuery::previous_state, "#ff7f0e", true},
    };
    std::vector<Run> runs;
    for (const Config& c : configs) {
      runs.push_back(train(c, z, eval, opt));
      const Run& r = runs.back();
      std::string curve;
      for (size_t k = 0; k < r.acc.size(); ++k)
        if ((k + 1) % 2 == 0) curve += fmt::format(" {:.2f}", r.acc[k]);
      fmt::print("{:<18} accuracy every {} steps:{}\n", c.label, 2 * z.eval_every, curve);
    }

    fmt::print("\n== The table\n\n");
    fmt::print("{:<18} {:>7} {:>10} {:>12} {:>10}\n", "score", "query", "params", "steps to 99%", "final acc");
    for (const Run& r : runs)
      fmt::print("{:<18} {:>7} {:>10} {:>12} {:>10.3f}\n", r.config.label,
                 r.config.query == nn::AttentionQuery::current_state ? "s_t" : "s_(t-1)", r.parameters,
                 r.steps_to_99 ? std::to_string(*r.steps_to_99) : "never", r.final_acc);
    auto steps_str = [](const Run& r) { return r.steps_to_99 ? fmt::format("step {}", *r.steps_to_99) : "never"; };
    fmt::print("\nLuong et al. 2015 (Table 4), on English-German translation: dot is best for global attention and\n");
    fmt::print("general for local-p; concat trained poorly. Here, on short digit strings:\n");
    fmt::print("  dot {} and general {} (from that step on, >= 99%)\n", steps_str(runs[0]), steps_str(runs[1]));
    fmt::print("  concat {}, final {:.3f}: {}\n", steps_str(runs[2]), runs[2].final_acc,
               runs[2].final_acc >= 0.99 ? "it trains well on a task this small, unlike in the paper"
                                         : "it trails the others, as in the paper");
    fmt::print("  location {}, final {:.3f}: it never looks at h_i, so it must know where it is from s_t\n",
               steps_str(runs[3]), runs[3].final_acc);
    fmt::print("  general with s_(t-1) {} vs with s_t {}: {}\n\n", steps_str(runs[4]), steps_str(runs[1]),
               std::min(runs[4].final_acc, runs[1].final_acc) >= 0.99 ? "both orders learn the task"
                                                                      : "the orders differ here");

    // Learning curves, one chart.
    std::vector<Series> series;
    for (const Run& r : runs)
      series.push_back(
          {.name = r.config.label, .xs = r.steps, .ys = r.acc, .colour = r.config.colour, .dashed = r.config.dashed});
    line_chart(series, {.title = "digit reversal: sequence accuracy by score function",
                        .x_label = "training step",
                        .y_label = "sequence accuracy (held out)",
                        .width = 760,
                        .height = 440,
                        .y_from_zero = true,
                        .points = false})
        .save(opt.out_dir + "/learning_curves.svg");
    fmt::print("figure: {}/learning_curves.svg\n\n", opt.out_dir);

    // The variables at t = 1, and every score's alignment for one string.
    const std::vector<int> example = {3, 1, 4, 1, 5, 9};
    fmt::print("== The notes' variables at t = 1 for \"3 1 4 1 5 9\" (general score, s_t)\n\n");
    print_first_step(runs[1], example);
    fmt::print("== Where each score looks: argmax_i alpha_ti for every output t of \"3 1 4 1 5 9\"\n\n");
    for (size_t k = 0; k < 4; ++k) {
      Alignment a = align(*runs[k].model, example);
      std::string peaks, said;
      for (size_t t = 0; t < a.alpha.size(); ++t) {
        peaks += fmt::format("{} ", std::max_element(a.alpha[t].begin(), a.alpha[t].end()) - a.alpha[t].begin() + 1);
        said += a.outputs[t] + " ";
      }
      fmt::print("  {:<9} says {:<16} peaks at source positions {}(6 5 4 3 2 1 is the anti-diagonal)\n",
                 runs[k].config.label, said, peaks);
      heatmap(a.alpha, a.outputs, a.sources,
              {.title = runs[k].config.label + " score", .x_label = "source digit", .y_label = "output"})
          .save(opt.out_dir + "/alignment_" + runs[k].config.key + ".svg");
    }
    fmt::print("heatmaps: {}/alignment_{{dot,general,concat,location}}.svg\n\n", opt.out_dir);

    // The graph of one decoder step (general, t = 1), encoder and GRU cell folded.
    {
      const nn::Seq2Seq& model = *runs[1].model;
      DigitBatch b = reversal_batch_from({example});
      nn::EncoderOutput enc = model.encode(b.src, b.src_lengths);
      nn::DecoderState st = model.decoder().start(enc);
      NameScope t1("t1");
      Var logits = model.decoder().step(st, b.y_in.select(1, 0)).logits;
      logits.set_name("o_1");
      std::vector<std::string> fold;
      for (const std::string& s : graph_scopes({logits}))
        if (s == "encoder" || s.ends_with(".cell") || s == "decoder.init") fold.push_back(s);
      std::string dot = to_dot({logits}, {.show_values = true,
                                          .collapse = fold,
                                          .title = "one decoder step, general score: s_1 = f(s_0, [emb(y_0); c_0]), "
                                                   "e = s_1^T W_a h_i, alpha, c_1, o_1"});
      render(dot, opt.out_dir + "/decoder_step.dot");
      render(dot, opt.out_dir + "/decoder_step.svg");
      fmt::print("graph of one decoder step: {}/decoder_step.svg\n\n", opt.out_dir);
    }

    nlohmann::json final_acc = nlohmann::json::object(), steps_to_99 = nlohmann::json::object();
    for (size_t k = 0; k < 4; ++k) {
      final_acc[runs[k].config.key] = runs[k].final_acc;
      steps_to_99[runs[k].config.key] =
          runs[k].steps_to_99 ? nlohmann::json(*runs[k].steps_to_99) : nlohmann::json(nullptr);
    }
    report.metric("final_acc", final_acc);
    report.metric("steps_to_99", steps_to_99);

    fmt::print("== Targets\n");
    const double want = opt.quick ? 0.85 : 0.99;
    report.at_least("dot_final_acc", runs[0].final_acc, want);
    report.at_least("general_final_acc", runs[1].final_acc, want);
    report.check("concat_and_location_recorded",
                 runs[2].acc.size() == runs[0].acc.size() && runs[3].acc.size() == runs[0].acc.size(),
                 "concat and location trained and evaluated like the others");
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "05_luong_scores: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
