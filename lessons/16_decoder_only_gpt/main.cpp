// Lesson 16: a decoder-only transformer (GPT). The notes' "decoder-only models: stack
// self-attention layers, but with masking so words can't see the future". One model shape,
// two jobs:
//
//   (a) sorting digits:  "3 1 4 1 5 9 2 6 |" -> "1 1 2 3 4 5 6 9", written one digit at a time
//   (b) a character-level language model of real English text, sampled at three temperatures
//
// Both train the same way: every position t predicts token t + 1 from tokens 1..t (the causal
// mask of lesson 10), so one forward pass gives T training examples at once.
#include <fmt/core.h>

#include <functional>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "nn/transformer_models.h"
#include "tensor/parallel.h"

using namespace lumen;
using namespace lumen::lessons;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kIgnore = -100;

// ---- training, shared by both parts ----------------------------------------------------------

struct Batch {
  Tensor inputs;   // i64 [B, T]: tokens 1..T
  Tensor targets;  // i64 [B, T]: tokens 2..T+1 (kIgnore where nothing is to be predicted)
};

struct TrainConfig {
  int64_t steps;
  double lr;
  int64_t warmup;
  std::string label;
  bool progress;
};

struct TrainLog {
  std::vector<double> steps, loss;  // running average of the training loss
};

// AdamW with a warm-up and a half cosine, gradients clipped to norm 1. `next_batch` draws the
// step's batch; `every(step)` runs after some steps (the LM's validation).
template <class NextBatch>
TrainLog train(const nn::DecoderOnly& model, const TrainConfig& c, NextBatch next_batch,
               const std::function<void(int64_t)>& every = {}, int64_t every_n = 0) {
  nn::AdamW opt(model.parameters(), {.lr = c.lr, .weight_decay = 0.01});
  nn::WarmupCosineLR sched({.base_lr = c.lr, .warmup_steps = std::clamp<int64_t>(c.steps - 1, 0, c.warmup), .total_steps = c.steps, .min_lr = c.lr / 10});
  ProgressBar bar(c.label, c.steps, c.progress);
  TrainLog log;
  double running = 0;
  for (int64_t step = 1; step <= c.steps; ++step) {
    Batch b = next_batch();
    sched.apply(opt);
    opt.zero_grad();
    // L = mean over predicted positions of -log p(x_{t+1} | x_1..x_t)
    Var loss = nn::cross_entropy(model.forward(b.inputs), b.targets, {.ignore_index = kIgnore});
    loss.backward();
    nn::clip_grad_norm(model.parameters(), 1.0);
    opt.step();
    const double l = loss.value().item();
    running = step == 1 ? l : 0.95 * running + 0.05 * l;
    bar.update(step, running);
    if (step % 10 == 0 || step == c.steps) {
      log.steps.push_back(static_cast<double>(step));
      log.loss.push_back(running);
    }
    if (every && every_n > 0 && (step % every_n == 0 || step == c.steps)) every(step);
  }
  bar.finish();
  return log;
}

// Per head and block: alpha [1, H, T, T] -> one heatmap file each.
void attention_maps(const std::vector<Var>& alphas, const std::vector<std::string>& labels, const std::string& dir,
                    const std::string& stem, const std::string& what, double cell) {
  for (size_t l = 0; l < alphas.size(); ++l) {
    const Tensor a = alphas[l].value().select(0, 0);  // [H, T, T]
    for (int64_t h = 0; h < a.size(0); ++h)
      heatmap(rows_of(a.select(0, h)), labels, labels,
              {.title = fmt::format("{}: block {}, head {}", what, l, h),
               .x_label = "key j (looked at)",
               .y_label = "query i (predicting the next token)",
               .show_values = false,
               .cell = cell})
          .save(fmt::format("{}/{}_block{}_head{}.svg", dir, stem, l, h));
  }
}

// The model's computation graph for one short input: every op inside its block's cluster, and
// the same graph with each block folded into one box.
void draw_graphs(const nn::DecoderOnly& model, const Tensor& ids, const Tensor& targets, const std::string& dir,
                 const std::string& stem, const std::string& what) {
  Var loss = nn::cross_entropy(model.forward(ids), targets, {.ignore_index = kIgnore}).set_name("loss");
  std::vector<std::string> blocks;
  for (const std::string& s : graph_scopes({loss})) {  // "blocks.0", not "blocks.0.self_attn"
    const size_t at = s.find("blocks.");
    if (at != std::string::npos && s.find('.', at + 7) == std::string::npos) blocks.push_back(s);
  }
  const std::string full = to_dot({loss}, {.rankdir = "TB", .title = what + ": every op, one cluster per block"});
  render(full, dir + "/" + stem + ".dot");
  render(full, dir + "/" + stem + ".svg");
  const std::string folded =
      to_dot({loss}, {.collapse = blocks, .rankdir = "TB", .title = what + ": each block folded into one box"});
  render(folded, dir + "/" + stem + "_collapsed.dot");
  render(folded, dir + "/" + stem + "_collapsed.svg");
  fmt::print("graphs: {0}/{1}.svg (blocks as clusters), {0}/{1}_collapsed.svg (blocks folded: ", dir, stem);
  for (size_t i = 0; i < blocks.size(); ++i) fmt::print("{}{}", i ? ", " : "", blocks[i]);
  fmt::print(")\n\n");
}

// ---- (a) sorting -----------------------------------------------------------------------------

// Tokens: the digits 0..9 are ids 0..9, and '|' (id 10) separates the input from the output.
constexpr int64_t kSortLen = 6;
constexpr int64_t kBar = 10;
constexpr int64_t kSortVocab = 11;

std::string sort_token(int64_t t) { return t == kBar ? "|" : std::to_string(t); }

std::vector<int64_t> random_digits(Generator& gen) {
  std::vector<int64_t> d(kSortLen);
  for (int64_t& x : d) x = static_cast<int64_t>(gen.below(10));
  return d;
}

int64_t key_of(const std::vector<int64_t>& d) {
  int64_t k = 0;
  for (int64_t x : d) k = k * 10 + x;
  return k;
}

// Rows "x_1..x_N | y_1..y_N" with y = sorted(x). The model reads all but the last token, and
// position t predicts token t + 1; only the N output digits are scored.
Batch sort_batch(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = 2 * kSortLen;
  std::vector<int64_t> in(static_cast<size_t>(B * T)), tg(static_cast<size_t>(B * T), kIgnore);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> seq = rows[b];
    seq.push_back(kBar);
    std::vector<int64_t> y = rows[b];
    std::sort(y.begin(), y.end());
    seq.insert(seq.end(), y.begin(), y.end());  // 2N + 1 tokens
    for (int64_t t = 0; t < T; ++t) {
      in[b * T + t] = seq[t];
      if (t >= kSortLen) tg[b * T + t] = seq[t + 1];  // from '|' on, predict the next output digit
    }
  }
  return {Tensor::from_vector(in, {B, T}), Tensor::from_vector(tg, {B, T})};
}

struct SortResult {
  double sort_acc = 0, digit_acc = 0;
  int64_t tested = 0;
};

// Greedy decoding of held-out rows: prompt "x_1..x_N |", N new tokens, exact match of all N.
SortResult evaluate_sort(const nn::DecoderOnly& model, const std::vector<std::vector<int64_t>>& rows,
                         std::vector<std::vector<int64_t>>* outputs) {
  SortResult r;
  int64_t exact = 0, digits_right = 0;
  for (size_t first = 0; first < rows.size(); first += 500) {
    const size_t n = std::min<size_t>(500, rows.size() - first);
    std::vector<int64_t> prompt;
    for (size_t i = 0; i < n; ++i) {
      prompt.insert(prompt.end(), rows[first + i].begin(), rows[first + i].end());
      prompt.push_back(kBar);
    }
    Tensor p = Tensor::from_vector(prompt, {static_cast<int64_t>(n), kSortLen + 1});
    Tensor out = model.generate(p, {.max_new_tokens = kSortLen, .greedy = true}).contiguous();
    const int64_t* o = out.data<int64_t>();
    for (size_t i = 0; i < n; ++i) {
      std::vector<int64_t> want = rows[first + i], got(o + i * (2 * kSortLen + 1) + kSortLen + 1,
                                                       o + (i + 1) * (2 * kSortLen + 1));
      std::sort(want.begin(), want.end());
      int64_t right = 0;
      for (int64_t k = 0; k < kSortLen; ++k) right += got[k] == want[k];
      digits_right += right;
      exact += right == kSortLen;
      if (outputs) outputs->push_back(got);
    }
  }
  r.tested = static_cast<int64_t>(rows.size());
  r.sort_acc = static_cast<double>(exact) / static_cast<double>(r.tested);
  r.digit_acc = static_cast<double>(digits_right) / static_cast<double>(r.tested * kSortLen);
  return r;
}

std::string digits_str(const std::vector<int64_t>& d) {
  std::string s;
  for (int64_t x : d) s += (s.empty() ? "" : " ") + sort_token(x);
  return s;
}

nn::DecoderOnlyOptions sort_model_options() {
  return {.vocab_size = kSortVocab, .max_len = 2 * kSortLen + 1, .d_model = 64, .heads = 4, .ffn = 256,
          .num_layers = 2, .activation = nn::Activation::relu};
}

SortResult part_a_sorting(const LessonOptions& opt, LessonReport& report) {
  fmt::print("== (a) Sorting digits\n\n");
  const int64_t steps = opt.steps_or(1600, 250);
  const int64_t held_out = opt.quick ? 500 : 2000;
  Generator init_gen(opt.seed * 1000 + 161), data_gen(opt.seed * 1000 + 162), test_gen(opt.seed * 1000 + 163);
  // The held-out rows come first; training never draws one of them.
  std::vector<std::vector<int64_t>> test;
  std::unordered_set<int64_t> test_keys;
  while (static_cast<int64_t>(test.size()) < held_out) {
    std::vector<int64_t> d = random_digits(test_gen);
    if (test_keys.insert(key_of(d)).second) test.push_back(d);
  }
  nn::DecoderOnly model(sort_model_options(), init_gen);
  fmt::print("A row is {} digits, '|', then the same digits sorted: {} tokens. The model reads tokens 1..{}\n"
             "and position t predicts token t + 1; only the {} output digits are scored (the input digits are\n"
             "random: nothing to learn there). {} held-out rows never appear in training.\n",
             kSortLen, 2 * kSortLen + 1, 2 * kSortLen, kSortLen, held_out);
  fmt::print("model: {} pre-norm blocks, d_model = {}, {} heads, FFN {}, learned positions: {} parameters\n\n",
             model.options().num_layers, model.options().d_model, model.options().heads, model.options().ffn,
             model.num_parameters());
  constexpr int64_t kBatch = 64;
  auto next = [&] {
    std::vector<std::vector<int64_t>> rows;
    while (static_cast<int64_t>(rows.size()) < kBatch) {
      std::vector<int64_t> d = random_digits(data_gen);
      if (!test_keys.count(key_of(d))) rows.push_back(d);
    }
    return sort_batch(rows);
  };
  TrainLog log = train(model, {.steps = steps, .lr = 3e-3, .warmup = 50, .label = "sort", .progress = !opt.quiet}, next);
  fmt::print("trained {} steps of {} rows; final running loss {:.4f}\n", steps, kBatch, log.loss.back());
  line_chart({{"training loss (running average)", log.steps, log.loss}},
             {.title = "(a) sorting: loss on the output digits", .x_label = "step",
              .y_label = "cross-entropy per output digit (nats)", .log_y = true, .points = false})
      .save(opt.out_dir + "/sort_loss.svg");

  NoGradGuard no_grad;
  std::vector<std::vector<int64_t>> outputs;
  SortResult r = evaluate_sort(model, test, &outputs);
  fmt::print("greedy decoding of the {} held-out rows: {:.4f} exact (every digit right), {:.4f} of digits\n",
             r.tested, r.sort_acc, r.digit_acc);
  for (size_t i = 0; i < 4; ++i) fmt::print("  {} | -> {}\n", digits_str(test[i]), digits_str(outputs[i]));
  int shown = 0;
  for (size_t i = 0; i < test.size() && shown < 3; ++i) {
    std::vector<int64_t> want = test[i];
    std::sort(want.begin(), want.end());
    if (outputs[i] != want) {
      if (shown++ == 0) fmt::print("mistakes:\n");
      fmt::print("  {} | -> {}   (want {})\n", digits_str(test[i]), digits_str(outputs[i]), digits_str(want));
    }
  }

  // Where each output digit looks: its own copy among the inputs.
  const std::vector<int64_t> example{3, 1, 4, 1, 5, 9};
  Batch one = sort_batch({example});
  std::vector<Var> alphas = model.attention_weights(one.inputs);
  std::vector<std::string> labels;
  for (int64_t t = 0; t < 2 * kSortLen; ++t) labels.push_back(sort_token(static_cast<int64_t>(one.inputs.data<int64_t>()[t])));
  attention_maps(alphas, labels, opt.out_dir, "sort_attention", "sorting 3 1 4 1 5 9", 30);
  // alpha_t of the last block, averaged over its heads, for the rows that write the output.
  const Tensor last = mean(alphas.back().value().select(0, 0), {0});  // [T, T]
  fmt::print("\nthe last block on \"3 1 4 1 5 9 |\": alpha_t, the weights of row t (mean over heads), and the\n"
             "input digit that gets the most weight, as each row writes the next output digit:\n");
  for (int64_t t = kSortLen; t < 2 * kSortLen; ++t) {
    const std::vector<double> a = last.select(0, t).to_vector();
    const int64_t j = std::max_element(a.begin(), a.begin() + kSortLen) - a.begin();
    double on_inputs = 0;
    for (int64_t k = 0; k < kSortLen; ++k) on_inputs += a[static_cast<size_t>(k)];
    fmt::print("  row {:>2} ('{}') writes {}: {:.2f} of alpha_t on the inputs, most on position {} (digit {}, {:.2f})\n",
               t + 1, labels[static_cast<size_t>(t)], sort_token(one.targets.data<int64_t>()[t]), on_inputs, j + 1,
               labels[static_cast<size_t>(j)], a[static_cast<size_t>(j)]);
  }
  fmt::print("\nheatmaps: {}/sort_attention_block*_head*.svg (rows from '|' on write the output; see which input\n"
             "digit each one reads)\n",
             opt.out_dir);
  report.metric("sort_acc", r.sort_acc);
  report.metric("sort_digit_acc", r.digit_acc);
  return r;
}


// ---- (b) a character language model -----------------------------------------------------------

// The curriculum's measurements of the two default sources (add-1 smoothing, 90/10 split).
struct KnownBaselines {
  const char* source;
  double unigram, bigram;
};
constexpr KnownBaselines kVimDocs{"vim help files", 3.48, 2.60};
constexpr KnownBaselines kLicenses{"/usr/share/common-licenses", 3.21, 2.56};

// The lesson reads at most this many bytes of the corpus (files in sorted order): enough text for
// the steps it has time for, small enough to read and count in a blink.
constexpr size_t kSampleBytes = 1 << 20;

struct Corpus {
  std::string name;                 // what it is, for the story
  const KnownBaselines* known = nullptr;  // the curriculum's numbers, for a default source
  std::vector<fs::path> files;
  std::string text;                 // every file, concatenated
};

// Regular files, sorted; a symlink to a file already listed (GPL -> GPL-3) is read once.
std::vector<fs::path> unique_files(std::vector<fs::path> paths) {
  std::sort(paths.begin(), paths.end());
  std::vector<fs::path> out;
  std::set<fs::path> seen;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    if (seen.insert(fs::canonical(p, ec)).second) out.push_back(p);
  }
  return out;
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& extension, bool recursive) {
  std::vector<fs::path> paths;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return paths;
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(dir, ec))
      if (extension.empty() || e.path().extension() == extension) paths.push_back(e.path());
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (extension.empty() || e.path().extension() == extension) paths.push_back(e.path());
  }
  return unique_files(paths);
}

// --corpus PATH (a file or a folder), else the vim help files, else the licenses. Returns a
// corpus with no files when nothing is found.
Corpus find_corpus(const LessonOptions& opt) {
  Corpus c;
  if (!opt.corpus.empty()) {
    c.name = opt.corpus;
    std::error_code ec;
    c.files = fs::is_directory(opt.corpus, ec) ? files_in(opt.corpus, "", true) : unique_files({opt.corpus});
  } else {
    std::vector<fs::path> docs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/usr/share/vim", ec))
      if (e.path().filename().string().starts_with("vim")) {
        std::vector<fs::path> d = files_in(e.path() / "doc", ".txt", false);
        docs.insert(docs.end(), d.begin(), d.end());
      }
    if (!docs.empty()) {
      c.name = "the vim help files (/usr/share/vim/vim*/doc/*.txt)";
      c.known = &kVimDocs;
      c.files = unique_files(docs);
    } else {
      c.name = "the licenses in /usr/share/common-licenses";
      c.known = &kLicenses;
      c.files = files_in("/usr/share/common-licenses", "", false);
    }
  }
  for (const fs::path& p : c.files) {
    std::ifstream in(p, std::ios::binary);
    c.text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return c;
}

// Characters are bytes; the vocabulary is the bytes that occur, in byte order.
struct Vocab {
  std::vector<int64_t> id_of = std::vector<int64_t>(256, -1);
  std::vector<unsigned char> byte_of;
  int64_t size() const { return static_cast<int64_t>(byte_of.size()); }
};

Vocab make_vocab(const std::string& text) {
  std::vector<bool> seen(256, false);
  for (unsigned char ch : text) seen[ch] = true;
  Vocab v;
  for (int b = 0; b < 256; ++b)
    if (seen[b]) {
      v.id_of[b] = v.size();
      v.byte_of.push_back(static_cast<unsigned char>(b));
    }
  return v;
}

std::vector<int64_t> encode(const std::string& text, const Vocab& v) {
  std::vector<int64_t> ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = v.id_of[static_cast<unsigned char>(text[i])];
  return ids;
}

// A character as a label: space, newline and tab made visible.
std::string char_label(unsigned char ch) {
  if (ch == ' ') return "\u2423";
  if (ch == '\n') return "\\n";
  if (ch == '\t') return "\\t";
  if (ch < 32 || ch >= 127) return fmt::format("x{:02x}", ch);
  return std::string(1, static_cast<char>(ch));
}

// The two count-based baselines, with add-1 (Laplace) smoothing over the V characters:
//   unigram  p(c)     = (n(c) + 1) / (N + V)
//   bigram   p(c | a) = (n(a c) + 1) / (n(a) + V)
// fitted on `train` and scored on val[1..], each character given the one before it (the bigram)
// or nothing (the unigram): mean -log p in nats.
struct Baselines {
  double unigram = 0, bigram = 0;
};
Baselines count_baselines(const std::vector<int64_t>& train, const std::vector<int64_t>& val, int64_t V) {
  std::vector<double> n(static_cast<size_t>(V), 0.0), n2(static_cast<size_t>(V * V), 0.0);
  for (size_t i = 0; i < train.size(); ++i) {
    n[train[i]] += 1;
    if (i > 0) n2[train[i - 1] * V + train[i]] += 1;
  }
  const double N = static_cast<double>(train.size());
  Baselines b;
  for (size_t i = 1; i < val.size(); ++i) {
    const int64_t a = val[i - 1], c = val[i];
    b.unigram -= std::log((n[c] + 1) / (N + static_cast<double>(V)));
    b.bigram -= std::log((n2[a * V + c] + 1) / (n[a] + static_cast<double>(V)));
  }
  const double M = static_cast<double>(val.size() - 1);
  return {b.unigram / M, b.bigram / M};
}

// The whole text, split 90/10, as the curriculum measured it.
Baselines baselines_of(const std::string& text) {
  const Vocab v = make_vocab(text);
  const std::vector<int64_t> ids = encode(text, v);
  const size_t cut = ids.size() * 9 / 10;
  return count_baselines({ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(cut)},
                         {ids.begin() + static_cast<std::ptrdiff_t>(cut), ids.end()}, v.size());
}

// Mean -log p(x_{t+1} | x_1..x_t) over val[1..]: windows of T + 1 characters that overlap by one,
// so every character after the first is predicted once, and the first of each window is
// predicted from one character of context, as the bigram is.
double validation_loss(const nn::DecoderOnly& model, const std::vector<int64_t>& val, int64_t T) {
  NoGradGuard no_grad;
  const int64_t windows = (static_cast<int64_t>(val.size()) - 1) / T;
  double total = 0;
  int64_t count = 0;
  for (int64_t first = 0; first < windows; first += 64) {
    const int64_t B = std::min<int64_t>(64, windows - first);
    std::vector<int64_t> in(static_cast<size_t>(B * T)), tg(static_cast<size_t>(B * T));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        in[b * T + t] = val[(first + b) * T + t];
        tg[b * T + t] = val[(first + b) * T + t + 1];
      }
    Var loss = nn::cross_entropy(model.forward(Tensor::from_vector(in, {B, T})), Tensor::from_vector(tg, {B, T}),
                                 {.reduction = nn::Reduction::sum});
    total += loss.value().item();
    count += B * T;
  }
  // The tail after the last full window is left out of both the model's and the baselines' sums.
  return total / static_cast<double>(count);
}

// Samples `n` characters after `prompt`, one at a time: softmax(z / temperature) over the logits
// of the last position, the context cut to the model's last max_len characters.
std::string sample_text(const nn::DecoderOnly& model, const Vocab& v, const std::vector<int64_t>& prompt, int64_t n,
                        double temperature, Generator& gen) {
  NoGradGuard no_grad;
  const int64_t T = model.options().max_len;
  std::vector<int64_t> seq = prompt;
  std::string out;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t L = std::min<int64_t>(T, static_cast<int64_t>(seq.size()));
    std::vector<int64_t> ctx(seq.end() - L, seq.end());
    Tensor logits = model.forward(Tensor::from_vector(ctx, {1, L})).value().select(1, L - 1);  // [1, V]
    const int64_t next = static_cast<int64_t>(
        nn::next_token(logits, {.max_new_tokens = 1, .greedy = false, .temperature = temperature, .gen = &gen}).item());
    seq.push_back(next);
    out.push_back(static_cast<char>(v.byte_of[static_cast<size_t>(next)]));
  }
  return out;
}

struct LmResult {
  double val_loss = 0, unigram = 0, bigram = 0;
};

// Sampled bytes need not form valid UTF-8 (a model can start a multi-byte character and not
// finish it). For printing, every byte that is not part of a valid character, and every control
// character but newline and tab, becomes '?'.
std::string printable(const std::string& s) {
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < s.size() && static_cast<unsigned char>(s[i]) >= lo && static_cast<unsigned char>(s[i]) <= hi;
  };
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;  // the length of a valid character starting here, 0 if none
    if (c < 0x80) n = (c >= 32 || c == '\n' || c == '\t') && c != 127 ? 1 : 0;
    else if (c >= 0xC2 && c <= 0xDF) n = cont(i + 1) ? 2 : 0;
    else if (c >= 0xE0 && c <= 0xEF) {
      const bool second = c == 0xE0 ? cont(i + 1, 0xA0) : c == 0xED ? cont(i + 1, 0x80, 0x9F) : cont(i + 1);
      n = second && cont(i + 2) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      const bool second = c == 0xF0 ? cont(i + 1, 0x90) : c == 0xF4 ? cont(i + 1, 0x80, 0x8F) : cont(i + 1);
      n = second && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    if (n == 0) {
      out += '?';
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string indent(const std::string& s) {
  std::string out = "    ";
  for (char ch : printable(s)) {
    out += ch;
    if (ch == '\n') out += "    ";
  }
  return out;
}

int part_b_language_model(const LessonOptions& opt, const Corpus& corpus, LessonReport& report, LmResult& r) {
  fmt::print("\n== (b) A character language model of English text\n\n");
  fmt::print("corpus: {}, {} files, {} bytes\n", corpus.name, corpus.files.size(), corpus.text.size());
  const Baselines whole = baselines_of(corpus.text);
  if (corpus.known)
    fmt::print("count baselines on the whole corpus (90/10 split, add-1): unigram {:.2f} nats, bigram {:.2f} nats\n"
               "   the curriculum measured                                 unigram {:.2f} nats, bigram {:.2f} nats\n",
               whole.unigram, whole.bigram, corpus.known->unigram, corpus.known->bigram);
  else
    fmt::print("count baselines on the whole corpus (90/10 split, add-1): unigram {:.2f} nats, bigram {:.2f} nats\n",
               whole.unigram, whole.bigram);

  // The lesson's own text: the first kSampleBytes, split 90/10.
  const std::string sample = corpus.text.substr(0, kSampleBytes);
  const Vocab vocab = make_vocab(sample);
  const std::vector<int64_t> ids = encode(sample, vocab);
  const size_t cut = ids.size() * 9 / 10;
  const std::vector<int64_t> train_ids(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(cut));
  const int64_t T = 64;
  // Validation: whole windows of the held-out tenth (a quarter of it in the quick run).
  const int64_t val_chars = static_cast<int64_t>(ids.size() - cut) / (opt.quick ? 4 : 1);
  const int64_t windows = (val_chars - 1) / T;
  const std::vector<int64_t> val_ids(ids.begin() + static_cast<std::ptrdiff_t>(cut),
                                     ids.begin() + static_cast<std::ptrdiff_t>(cut + windows * T + 1));
  if (train_ids.size() < static_cast<size_t>(4 * T) || windows < 1) {
    fmt::print(stderr, "16_decoder_only_gpt: the corpus has {} bytes, too few to train and validate on (give it a few KB)\n",
               sample.size());
    return 2;
  }
  const Baselines b = count_baselines(train_ids, val_ids, vocab.size());
  r.unigram = b.unigram;
  r.bigram = b.bigram;
  fmt::print("the lesson uses the first {} bytes ({} characters in the vocabulary): {} to train on and {} to\n"
             "validate on. On those: unigram {:.3f} nats, bigram {:.3f} nats (the bigram knows the previous\n"
             "character; the model must beat it by using more of the context).\n\n",
             sample.size(), vocab.size(), train_ids.size(), val_ids.size(), b.unigram, b.bigram);

  Generator init_gen(opt.seed * 1000 + 164), data_gen(opt.seed * 1000 + 165), sample_gen(opt.seed * 1000 + 166);
  nn::DecoderOnly model({.vocab_size = vocab.size(), .max_len = T, .d_model = 64, .heads = 4, .ffn = 256,
                         .num_layers = 2, .activation = nn::Activation::relu},
                        init_gen);
  fmt::print("model: {} pre-norm blocks, d_model = 64, 4 heads, context T = {}: {} parameters\n", 2, T,
             model.num_parameters());
  const int64_t steps = opt.steps_or(500, 120);
  constexpr int64_t kBatch = 32;
  auto next = [&] {
    std::vector<int64_t> in(static_cast<size_t>(kBatch * T)), tg(static_cast<size_t>(kBatch * T));
    for (int64_t b = 0; b < kBatch; ++b) {
      const int64_t start = static_cast<int64_t>(data_gen.below(train_ids.size() - static_cast<size_t>(T) - 1));
      for (int64_t t = 0; t < T; ++t) {
        in[b * T + t] = train_ids[start + t];
        tg[b * T + t] = train_ids[start + t + 1];
      }
    }
    return Batch{Tensor::from_vector(in, {kBatch, T}), Tensor::from_vector(tg, {kBatch, T})};
  };
  // The validation curve uses the first 64 windows only (the final number uses all of them).
  const std::vector<int64_t> val_probe(val_ids.begin(),
                                       val_ids.begin() + std::min<std::ptrdiff_t>(64 * T + 1, val_ids.size()));
  std::vector<double> val_steps, val_curve;
  auto probe = [&](int64_t step) {
    val_steps.push_back(static_cast<double>(step));
    val_curve.push_back(validation_loss(model, val_probe, T));
  };
  probe(0);
  TrainLog log = train(model, {.steps = steps, .lr = 3e-3, .warmup = 50, .label = "char LM", .progress = !opt.quiet},
                       next, probe, std::max<int64_t>(steps / 10, 1));
  r.val_loss = validation_loss(model, val_ids, T);
  fmt::print("trained {} steps of {} windows of {} characters ({} characters seen)\n", steps, kBatch, T,
             steps * kBatch * T);
  fmt::print("validation loss {:.3f} nats  (bigram {:.3f}, unigram {:.3f}; uniform would be log V = {:.3f})\n\n",
             r.val_loss, r.bigram, r.unigram, std::log(static_cast<double>(vocab.size())));
  const double last = static_cast<double>(steps);
  line_chart({{"train (running mean)", log.steps, log.loss},
              {"validation", val_steps, val_curve},
              {"unigram baseline", {0, last}, {r.unigram, r.unigram}, "#7f7f7f", true},
              {"bigram baseline", {0, last}, {r.bigram, r.bigram}, "#d62728", true}},
             {.title = "(b) character language model: loss against the count baselines", .x_label = "step",
              .y_label = "cross-entropy per character (nats)", .width = 820, .points = false})
      .save(opt.out_dir + "/lm_loss.svg");
  fmt::print("figure: {}/lm_loss.svg\n\n", opt.out_dir);

  // Samples: the prompt is "The " when the corpus has those letters, else its first characters.
  std::string prompt_text = "The ";
  if (std::any_of(prompt_text.begin(), prompt_text.end(), [&](unsigned char ch) { return vocab.id_of[ch] < 0; }))
    prompt_text = sample.substr(0, 8);
  const std::vector<int64_t> prompt = encode(prompt_text, vocab);
  fmt::print("samples after the prompt \"{}\" (sampled from softmax(z / temperature)):\n", printable(prompt_text));
  const int64_t sample_len = opt.quick ? 100 : 300;
  for (double temp : {0.5, 0.8, 1.0}) {
    std::string s = sample_text(model, vocab, prompt, sample_len, temp, sample_gen);
    fmt::print("  temperature {:.1f}:\n{}\n\n", temp, indent(prompt_text + s));
  }

  // One snippet's attention, per block and head.
  const std::vector<int64_t> snippet(val_ids.begin() + 24, val_ids.begin() + 24 + 32);
  std::vector<std::string> labels;
  for (int64_t id : snippet) labels.push_back(char_label(vocab.byte_of[static_cast<size_t>(id)]));
  {
    NoGradGuard no_grad;
    attention_maps(model.attention_weights(Tensor::from_vector(snippet, {1, 32})), labels, opt.out_dir,
                   "lm_attention", "a text snippet", 20);
  }
  fmt::print("heatmaps: {}/lm_attention_block*_head*.svg (a 32-character snippet; row i may look at 0..i only)\n",
             opt.out_dir);
  std::vector<int64_t> g_in(snippet.begin(), snippet.begin() + 8), g_tg(snippet.begin() + 1, snippet.begin() + 9);
  draw_graphs(model, Tensor::from_vector(g_in, {1, 8}), Tensor::from_vector(g_tg, {1, 8}), opt.out_dir, "lm_graph",
              "character LM, 8 characters");

  report.metric("val_loss", r.val_loss);
  report.metric("unigram_loss", r.unigram);
  report.metric("bigram_loss", r.bigram);
  report.metric("vocab_size", vocab.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "16_decoder_only_gpt",
                                         "decoder-only transformer: sorting and a character language model", true);
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    // The text first: without it there is no point in training anything.
    const Corpus corpus = find_corpus(opt);
    if (corpus.text.empty()) {
      if (!opt.corpus.empty())
        fmt::print(stderr, "16_decoder_only_gpt: --corpus {}: no readable text there\n", opt.corpus);
      else
        fmt::print(stderr,
                   "16_decoder_only_gpt: no English text found (neither /usr/share/vim/vim*/doc/*.txt nor "
                   "/usr/share/common-licenses): install it with `apt-get install vim-runtime`, or pass --corpus "
                   "PATH\n");
      return 2;
    }
    SortResult s = part_a_sorting(opt, report);
    LmResult lm;
    if (int code = part_b_language_model(opt, corpus, report, lm)) return code;
    fmt::print("\n== Targets\n");
    report.at_least("sort_acc", s.sort_acc, opt.quick ? 0.8 : 1.0);
    if (opt.quick)
      report.at_most("val_loss_below_unigram", lm.val_loss, lm.unigram);
    else
      report.at_most("val_loss_below_bigram", lm.val_loss, lm.bigram);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "16_decoder_only_gpt: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
