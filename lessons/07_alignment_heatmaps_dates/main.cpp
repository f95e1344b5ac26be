// Lesson 07: attention as a window into the model. The notes (section 4, applications; section
// 5, interpretability) say attention maps show what a model looks at. Two tasks test that:
//
//   (a) dates: "tue 10 jul 2007", "05/03/1979", "March 5th, 1979", ... (24 formats) -> ISO
//       "YYYY-MM-DD", with lesson 04's RNN encoder-decoder and Bahdanau attention over the
//       characters. Sorting the map's rows and columns by field (year, month, day) turns it
//       into blocks: the year digits of the output read the year characters of the input.
//   (b) visual question answering: "what color is the circle?" on lesson 02's images. The
//       question is the query, the CNN's grid of features the memory; the answer's attention
//       should sit on the circle.
//
//   e_ti = score(s_{t-1}, h_i),  alpha_t = softmax_i(e_ti),  c_t = sum_i alpha_ti h_i
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/07_alignment_heatmaps_dates/vqa.h"
#include "lessons/common/cli.h"
#include "lessons/common/dates.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "tensor/parallel.h"
#include "tensor/print.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

struct Sizes {
  int64_t steps = 0;
  int64_t batch = 64;
  double lr = 3e-3, final_lr = 1e-4;
  int64_t eval_dates = 1000;
};

Sizes choose_sizes(const LessonOptions& opt) {
  Sizes z;
  z.steps = opt.steps_or(1000, 250);
  z.eval_dates = opt.quick ? 300 : 1000;
  return z;
}

std::vector<double> head(const Var& v, size_t n) {
  std::vector<double> all = v.value().to_vector();
  all.resize(std::min(all.size(), n));
  return all;
}

// A character as a heatmap label: a space would be invisible.
std::string char_label(char c) { return c == ' ' ? "\u2423" : std::string(1, c); }

// ---- training ---------------------------------------------------------------------------------

struct TrainingLog {
  std::vector<double> steps, loss;
};

TrainingLog train_dates(nn::Seq2Seq& model, const Sizes& z, uint64_t data_seed, bool progress) {
  nn::Adam opt(model.parameters(), {.lr = z.lr});
  nn::CosineLR schedule({.base_lr = z.lr, .total_steps = std::max<int64_t>(z.steps, 1), .min_lr = z.final_lr});
  Generator data(data_seed);
  std::vector<DateBatch> pool;
  TrainingLog log;
  ProgressBar bar("dates", z.steps, progress);
  double running = 0;
  for (int64_t step = 1; step <= z.steps; ++step) {
    if (pool.empty()) pool = date_buckets(data, 8, z.batch);
    DateBatch b = std::move(pool.back());
    pool.pop_back();
    schedule.apply(opt);
    opt.zero_grad();
    // Teacher forcing: the decoder reads the true previous character of the ISO date.
    Var loss = model.loss(b.src, b.src_lengths, b.y_in, b.y_out, kDatePad);
    backward(loss);
    nn::clip_grad_norm(opt.params(), 1.0);
    opt.step();
    running = step == 1 ? loss.item() : 0.95 * running + 0.05 * loss.item();
    if (step % 10 == 0 || step == z.steps) log.steps.push_back(static_cast<double>(step)), log.loss.push_back(running);
    bar.update(step, running);
  }
  bar.finish();
  return log;
}

// ---- evaluation -------------------------------------------------------------------------------

// The ISO output's rows grouped by field, the input's columns grouped by field.
constexpr std::array<DateField, 4> kRowGroups = {DateField::year, DateField::month, DateField::day, DateField::none};
constexpr std::array<DateField, 5> kColGroups = {DateField::year, DateField::month, DateField::day, DateField::weekday,
                                                 DateField::none};

// Output position t (0..10) of the ISO date: its field, "none" for the dashes and <eos>.
DateField out_field(int64_t t) { return t < kIsoLength ? iso_field(static_cast<int>(t)) : DateField::none; }

struct Evaluation {
  double exact_match = 0;
  std::vector<double> by_format;  // exact match per format
  // mass[r][c]: the attention that output field kRowGroups[r] puts on input field kColGroups[c],
  // averaged over the output positions of that field and the dates (rows sum to 1).
  std::vector<std::vector<double>> mass;
  std::vector<DateExample> wrong;  // a few mistakes, to print
  std::vector<std::string> wrong_pred;
};

Evaluation evaluate(const nn::Seq2Seq& model, Generator& gen, int64_t n) {
  Evaluation ev;
  std::vector<double> right(kDateFormats, 0), seen(kDateFormats, 0);
  std::vector<std::vector<double>> mass(kRowGroups.size(), std::vector<double>(kColGroups.size(), 0));
  std::vector<double> mass_rows(kRowGroups.size(), 0);
  int64_t total_right = 0;
  for (int64_t done = 0; done < n; done += 250) {
    DateBatch b = date_batch(gen, std::min<int64_t>(250, n - done));
    nn::Decoded d = greedy_dates(model, b);
    const Tensor tokens = d.tokens.contiguous(), alphas = d.alphas.to(DType::f64).contiguous();
    const int64_t L = tokens.size(1), S = alphas.size(2);
    const int64_t* tk = tokens.data<int64_t>();
    const double* al = alphas.data<double>();
    for (size_t r = 0; r < b.examples.size(); ++r) {
      const DateExample& e = b.examples[r];
      std::vector<int64_t> row(tk + static_cast<int64_t>(r) * L, tk + static_cast<int64_t>(r + 1) * L);
      const bool ok = date_tgt_text(row) == iso_date(e.date) &&
                      std::find(row.begin(), row.end(), kDateEos) == row.begin() + kIsoLength;
      total_right += ok;
      right[static_cast<size_t>(e.format)] += ok;
      seen[static_cast<size_t>(e.format)] += 1;
      if (!ok && ev.wrong.size() < 6) ev.wrong.push_back(e), ev.wrong_pred.push_back(date_tgt_text(row));
      // Where each output field looks: the weights of its steps summed over each input field.
      const std::vector<DateField> fields = date_fields(e.date, e.format);
      for (int64_t t = 0; t <= kIsoLength; ++t) {
        const size_t g = static_cast<size_t>(std::find(kRowGroups.begin(), kRowGroups.end(), out_field(t)) - kRowGroups.begin());
        for (size_t i = 0; i < fields.size(); ++i) {
          const size_t c = static_cast<size_t>(std::find(kColGroups.begin(), kColGroups.end(), fields[i]) - kColGroups.begin());
          mass[g][c] += al[(static_cast<int64_t>(r) * L + t) * S + static_cast<int64_t>(i)];
        }
        mass_rows[g] += 1;
      }
    }
  }
  ev.exact_match = static_cast<double>(total_right) / static_cast<double>(n);
  for (int f = 0; f < kDateFormats; ++f)
    ev.by_format.push_back(seen[static_cast<size_t>(f)] ? right[static_cast<size_t>(f)] / seen[static_cast<size_t>(f)] : 0.0);
  for (size_t g = 0; g < mass.size(); ++g)
    for (double& m : mass[g]) m /= std::max(mass_rows[g], 1.0);
  ev.mass = mass;
  return ev;
}

// ---- reading one date -------------------------------------------------------------------------

struct Alignment {
  DateExample example;
  std::vector<std::vector<double>> alpha;  // one row per output step, <eos> included
  std::vector<int64_t> outputs;
};

// Decodes one date greedily with the decoder's own steps, printing the notes' variables at the
// steps listed in `show` (1-based).
Alignment walk_through(const nn::Seq2Seq& model, const DateExample& ex, const std::vector<int64_t>& show) {
  NoGradGuard no_grad;
  DateBatch b = date_batch_from({ex});
  Alignment out{b.examples[0], {}, {}};
  const std::string& text = out.example.text;
  nn::EncoderOutput enc = model.encode(b.src, b.src_lengths);
  const auto& attn = dynamic_cast<const nn::BahdanauAttention&>(*model.decoder().attention());
  nn::DecoderState st = model.decoder().start(enc);
  Tensor y = Tensor::full({1}, static_cast<double>(kDateBos), DType::i64);
  if (!show.empty()) fmt::print("reading \"{}\" (h is {}):\n", text, enc.h.shape());
  for (int64_t t = 1; t <= kIsoLength + 1; ++t) {
    std::vector<double> s_prev = head(st.s.h, 3);
    Var e_t = attn.scores(st.s.h, st.keys);
    nn::DecoderStepOutput o = model.decoder().step(st, y);
    Tensor next = argmax(o.logits.value(), 1);
    const int64_t y_t = static_cast<int64_t>(next.item());
    std::vector<double> alpha = o.alpha_t.value().to_vector();
    if (std::find(show.begin(), show.end(), t) != show.end()) {
      std::vector<size_t> order(alpha.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t c) { return alpha[a] > alpha[c]; });
      std::string top;
      for (size_t k = 0; k < 3 && k < order.size(); ++k)
        top += fmt::format("{}'{}'@{} {:.2f}", k ? ", " : "", text[order[k]], order[k] + 1, alpha[order[k]]);
      const std::vector<double> e = e_t.value().to_vector();
      fmt::print("  t = {:>2}: s_{} = {}..., e_t in [{:.1f}, {:.1f}], alpha_t largest: {}; c_t = {}..., y_t = '{}'\n", t,
                 t - 1, row_str(s_prev, 2), *std::min_element(e.begin(), e.end()), *std::max_element(e.begin(), e.end()),
                 top, row_str(head(st.c, 2), 2), date_tgt_str(y_t));
    }
    out.alpha.push_back(alpha);
    out.outputs.push_back(y_t);
    if (y_t == kDateEos) break;
    y = next;
  }
  return out;
}

Svg alignment_heatmap(const Alignment& a, const std::string& title) {
  std::vector<std::string> cols, rows;
  for (char c : a.example.text) cols.push_back(char_label(c));
  for (int64_t y : a.outputs) rows.push_back(date_tgt_str(y));
  return heatmap(a.alpha, rows, cols,
                 {.title = title, .x_label = "input x_i", .y_label = "output y_t", .show_values = false,
                  .cell = 24});
}

// The same map with rows and columns sorted by field (year, month, day, weekday, other; order
// kept within a field), so that a model which reads each field where it is written shows
// blocks on the diagonal. Labels carry the field's initial.
Svg reordered_heatmap(const Alignment& a, const std::string& title) {
  const std::vector<DateField> fields = date_fields(a.example.date, a.example.format);
  std::vector<size_t> cols, rows;
  for (DateField f : kColGroups)
    for (size_t i = 0; i < fields.size(); ++i)
      if (fields[i] == f) cols.push_back(i);
  for (DateField f : kRowGroups)
    for (size_t t = 0; t < a.outputs.size(); ++t)
      if (out_field(static_cast<int64_t>(t)) == f) rows.push_back(t);
  std::vector<std::vector<double>> v;
  std::vector<std::string> row_labels, col_labels;
  auto tag = [](DateField f) { return std::string(1, date_field_name(f)[0]); };
  for (size_t t : rows) {
    std::vector<double> r;
    for (size_t i : cols) r.push_back(a.alpha[t][i]);
    v.push_back(r);
    row_labels.push_back(tag(out_field(static_cast<int64_t>(t))) + ":" + date_tgt_str(a.outputs[t]));
  }
  for (size_t i : cols) col_labels.push_back(tag(fields[i]) + ":" + char_label(a.example.text[i]));
  return heatmap(v, row_labels, col_labels,
                 {.title = title, .x_label = "input, by field",
                  .y_label = "output, by field", .show_values = false, .cell = 24});
}

void draw_graph(const nn::Seq2Seq& model, const std::string& dir) {
  DateBatch b = date_batch_from({{{1979, 3, 5}, 16, ""}});  // "5.3.1979"
  Var loss = model.loss(b.src, b.src_lengths, b.y_in, b.y_out, kDatePad);
  std::vector<std::string> fold{"encoder", "decoder.init", "decoder.attn"};
  for (const std::string& scope : graph_scopes({loss}))
    if (scope.starts_with("decoder.t") && std::count(scope.begin(), scope.end(), '.') == 2) fold.push_back(scope);
  const std::string dot = to_dot({loss}, {.collapse = fold,
                                          .title = "the date model reading '5.3.1979' and writing 1979-03-05: one cluster "
                                                   "per output step, each module folded into a box"});
  render(dot, dir + "/graph_dates.dot");
  render(dot, dir + "/graph_dates.svg");
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "07_alignment_heatmaps_dates",
                                         "Attention maps: dates to ISO, and visual question answering");
  if (opt.threads == 0) set_num_threads(1);  // small models: a thread team per op costs more than it saves
  LessonReport report(opt);
  try {
    const Sizes z = choose_sizes(opt);
    Generator init_gen(opt.seed), eval_gen(opt.seed + 2);

    fmt::print("== 1. Dates: {} ways to write a day, one way to say it\n\n", kDateFormats);
    {
      Generator show_gen(opt.seed + 5);
      for (int f = 0; f < kDateFormats; ++f) {
        const Date d = random_date(show_gen);
        fmt::print("  {:>2}  {:<32} {:<32} -> {}\n", f, date_pattern(f), format_date(d, f), iso_date(d));
      }
    }
    fmt::print("\nDates are drawn from {}-01-01 to {}-12-31; day before month (\"05/03/1979\" is 5 March); two-digit\n"
               "years are 1950-2049. The input is characters (printable ASCII), the output the ten characters of\n"
               "the ISO date and <eos>.\n\n",
               kFirstYear, kLastYear);

    fmt::print("== 2. The model: lesson 04's, over characters\n\n");
    std::unique_ptr<nn::Seq2Seq> model = make_date_rnn({}, init_gen);
    fmt::print("h_i = [h_i(fwd); h_i(bwd)]: a bidirectional GRU (2 x 64) over character embeddings (16)\n"
               "e_ti = v^T tanh(W_s s_(t-1) + W_h h_i), alpha_t = softmax(e_t), c_t = sum_i alpha_ti h_i\n"
               "s_t = GRU(s_(t-1), [emb(y_(t-1)); c_t]),  p(y_t) = softmax(W_o [s_t; c_t] + b_o)\n"
               "{} parameters\n\n",
               model->num_parameters());

    fmt::print("== 3. Training ({} steps of {} dates, Adam {} -> {} cosine, clip 1)\n\n", z.steps, z.batch, z.lr,
               z.final_lr);
    TrainingLog log = train_dates(*model, z, opt.seed + 1, !opt.quiet);
    fmt::print("final running loss {:.4f}\n", log.loss.empty() ? 0.0 : log.loss.back());
    line_chart({{"dates", log.steps, log.loss}}, {.title = "training loss (running average)", .x_label = "step",
                                                  .y_label = "cross-entropy per character", .log_y = true,
                                                  .points = false})
        .save(opt.out_dir + "/dates_loss.svg");
    fmt::print("figure: {}/dates_loss.svg\n\n", opt.out_dir);

    fmt::print("== 4. Exact match on {} fresh dates\n\n", z.eval_dates);
    model->eval();
    Evaluation ev = evaluate(*model, eval_gen, z.eval_dates);
    fmt::print("exact match (all ten characters and <eos>): {:.4f}\n", ev.exact_match);
    fmt::print("by format:\n");
    for (int f = 0; f < kDateFormats; ++f)
      fmt::print("  {:<32} {:.3f}{}", date_pattern(f), ev.by_format[static_cast<size_t>(f)], f % 2 ? "\n" : "   ");
    for (size_t k = 0; k < ev.wrong.size(); ++k)
      fmt::print("  wrong: \"{}\" -> {} (should be {})\n", ev.wrong[k].text, ev.wrong_pred[k], iso_date(ev.wrong[k].date));
    fmt::print("\n");

    fmt::print("== 5. Where the output looks: alignment heatmaps\n\n");
    const std::vector<DateExample> shown = {{{2007, 7, 10}, 1, ""},
                                            {{1979, 3, 5}, 2, ""},
                                            {{1979, 3, 5}, 12, ""},
                                            {{1999, 9, 15}, 9, ""},
                                            {{1984, 11, 23}, 17, ""}};
    for (size_t k = 0; k < shown.size(); ++k) {
      Alignment a = walk_through(*model, shown[k], k == 0 ? std::vector<int64_t>{1, 4, 6, 9, 11} : std::vector<int64_t>{});
      const std::string name = fmt::format("dates_attention_{}", k + 1);
      const std::string pred = date_tgt_text(a.outputs);
      alignment_heatmap(a, fmt::format("\"{}\" -> {}", a.example.text, pred)).save(opt.out_dir + "/" + name + ".svg");
      reordered_heatmap(a, fmt::format("by field: \"{}\"", a.example.text))
          .save(opt.out_dir + "/" + name + "_by_field.svg");
      fmt::print("{}\"{}\" -> {}: {}/{}.svg and {}_by_field.svg\n", k == 0 ? "\n" : "", a.example.text, pred,
                 opt.out_dir, name, name);
    }
    fmt::print("\nAttention mass by field, averaged over the {} dates (row: the output field; column: the input\n"
               "field; each row sums to 1):\n  {:>8}",
               z.eval_dates, "");
    for (DateField c : kColGroups) fmt::print(" {:>8}", date_field_name(c));
    fmt::print("\n");
    std::vector<std::string> row_names, col_names;
    for (size_t r = 0; r < kRowGroups.size(); ++r) {
      row_names.push_back(kRowGroups[r] == DateField::none ? "- and <eos>" : date_field_name(kRowGroups[r]));
      fmt::print("  {:>8}", kRowGroups[r] == DateField::none ? "-,<eos>" : date_field_name(kRowGroups[r]));
      for (double m : ev.mass[r]) fmt::print(" {:>8.3f}", m);
      fmt::print("\n");
    }
    for (DateField c : kColGroups) col_names.push_back(date_field_name(c));
    heatmap(ev.mass, row_names, col_names,
            {.title = "attention mass by field", .x_label = "input field",
             .y_label = "output field", .cell = 56})
        .save(opt.out_dir + "/dates_field_mass.svg");
    const double year_mass = ev.mass[0][0];
    fmt::print("year_attention_mass (output year digits on input year characters): {:.3f}\nfigure: {}/dates_field_mass.svg\n\n",
               year_mass, opt.out_dir);
    draw_graph(*model, opt.out_dir);
    fmt::print("graph: {}/graph_dates.svg\n\n", opt.out_dir);

    fmt::print("== 6. Visual question answering\n\n");
    VqaResult vqa = run_vqa(opt);

    report.metric("exact_match", ev.exact_match);
    report.metric("year_attention_mass", year_mass);
    report.metric("field_attention_mass", ev.mass);
    report.metric("exact_match_by_format", ev.by_format);
    report.metric("vqa_acc", vqa.acc);
    report.metric("vqa_pointing_acc", vqa.pointing_acc);
    report.metric("vqa_chance", vqa.chance);

    fmt::print("== Targets\n");
    if (opt.quick) {
      report.at_least("exact_match", ev.exact_match, 0.15);
      report.at_least("year_attention_mass", year_mass, 0.4);
      report.at_least("vqa_acc", vqa.acc, 0.5);
      report.at_least("vqa_pointing_acc", vqa.pointing_acc, 0.4);
    } else {
      report.at_least("exact_match", ev.exact_match, 0.95);
      report.at_least("year_attention_mass", year_mass, 0.5);
      report.at_least("vqa_acc", vqa.acc, 0.90);
      report.at_least("vqa_pointing_acc", vqa.pointing_acc, 0.80);
    }
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "07_alignment_heatmaps_dates: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
