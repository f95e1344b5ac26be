// Lesson 13: three ways to process a sequence, side by side on one long-range task.
//
//   RNN              h_t = GRU(h_{t-1}, x_t)             n steps, one after the other
//   1D convolution   y_t = relu(sum_j W_j x_{t-k+1+j})   a fixed stack: it sees R = 1 + L (k - 1) tokens
//   self-attention   Z = softmax(Q K^T / sqrt(d)) V      every token sees every token, in one step
//
// The task: read n random tokens, then say the first one. For a sequence of n tokens that is a
// dependency across the whole sequence. Each model reads the sequence and answers from its last
// position (the RNN's last state, the convolution's last output, the attention's last row), for
// n = 16, 32, 64, 128 and 256. The table it ends with is Vaswani et al.'s Table 1 measured:
// sequential steps, maximum path length and memory, next to the accuracy each model reached.
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
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/conv.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/positional.h"
#include "nn/rnn.h"
#include "nn/schedule.h"
#include "nn/transformer.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// ---- the task ---------------------------------------------------------------------------------

constexpr int64_t kVocab = 8;  // tokens a..h

struct Batch {
  Tensor ids;     // i64 [B, n]
  Tensor labels;  // i64 [B]: the first token, to be said at the end
};

// Uniform random tokens; the answer is the first one. Every token after it is noise the model
// must carry the first token past, and chance is exactly 1/8.
Batch make_batch(Generator& gen, int64_t B, int64_t n) {
  Tensor ids = randint(0, kVocab, {B, n}, gen);
  return {ids, ids.select(1, 0).contiguous()};
}

std::string token_str(int64_t id) { return std::string(1, static_cast<char>('a' + id)); }

// ---- the three models -------------------------------------------------------------------------

// Each model maps ids [B, n] to logits [B, 2] read at the last position, and says what its
// structure costs: how many steps must run one after another, and the longest path (in layers
// or steps) between the first token and the place the answer is read.
class SequenceModel : public nn::Module {
 public:
  using nn::Module::Module;
  virtual Var logits(const Tensor& ids) const = 0;
  virtual std::string name() const = 0;
  virtual int64_t sequential_steps(int64_t n) const = 0;
  virtual int64_t path_length(int64_t n) const = 0;
};

constexpr int64_t kWidth = 32;  // every model: 32 numbers per position

// h_t = GRU(h_{t-1}, x_t), t = 1..n; the answer is read from h_n. Token 1 reaches h_n only through
// n - 1 applications of the cell.
class RnnModel : public SequenceModel {
 public:
  explicit RnnModel(Generator& gen)
      : SequenceModel("RnnModel"),
        emb_({.num = kVocab, .dim = 16}, gen),
        cell_({.input_size = 16, .hidden_size = kWidth}, gen),
        head_({.in = kWidth, .out = kVocab}, gen) {
    register_module("emb", emb_);
    register_module("cell", cell_);
    register_module("head", head_);
    // Remember by default: the update gate's bias (rows H..2H of bias_hh, gate z) starts at +2, so
    // z = sigmoid(2) = 0.88 and h_t = (1 - z) n_t + z h_(t-1) keeps most of h_(t-1) at every step,
    // as an LSTM's forget gate starts open (Jozefowicz et al. 2015). With 0 the state halves each
    // step and the first token's trace is gone, with its gradient, after a dozen tokens.
    NoGradGuard no_grad;
    cell_.bias_hh().value().slice(0, kWidth, 2 * kWidth).fill_(2.0);
  }
  Var logits(const Tensor& ids) const override {
    const int64_t n = ids.size(1);
    Var x = emb_(ids);  // [B, n, 16]
    Var h;              // undefined: h_0 = 0
    for (int64_t t = 0; t < n; ++t) {
      NameScope step("t" + std::to_string(t + 1));  // one graph cluster per time step
      h = cell_(select(x, 1, t), h);
    }
    return head_(h);
  }
  std::string name() const override { return "RNN (GRU)"; }
  int64_t sequential_steps(int64_t n) const override { return n; }
  int64_t path_length(int64_t n) const override { return n; }

 private:
  nn::Embedding emb_;
  nn::GRUCell cell_;
  nn::Linear head_;
};

// A fixed stack of L causal convolutions of width k: y_t = relu(b + sum_j W_j x_{t-k+1+j}).
// Output t of layer l sees inputs t - l (k - 1) .. t, so the last position sees the last
// R = 1 + L (k - 1) tokens and nothing before them, however long the sequence.
class ConvModel : public SequenceModel {
 public:
  static constexpr int64_t kLayers = 3, kKernel = 9, kChannels = 16;
  static constexpr int64_t receptive_field() { return 1 + kLayers * (kKernel - 1); }

  explicit ConvModel(Generator& gen)
      : SequenceModel("ConvModel"), emb_({.num = kVocab, .dim = kChannels}, gen), head_({.in = kChannels, .out = kVocab}, gen) {
    register_module("emb", emb_);
    for (int64_t l = 0; l < kLayers; ++l)
      // Padding k - 1 on both sides; keeping the first n outputs makes each one causal.
      convs_.push_back(std::make_unique<nn::Conv1d>(
          nn::Conv1dOptions{.in = kChannels, .out = kChannels, .kernel = kKernel, .padding = kKernel - 1}, gen));
    for (int64_t l = 0; l < kLayers; ++l) register_module("conv" + std::to_string(l + 1), *convs_[l]);
    register_module("head", head_);
  }
  Var logits(const Tensor& ids) const override {
    const int64_t n = ids.size(1);
    Var x = transpose(emb_(ids), 1, 2);  // [B, C, n]: conv1d wants channels before positions
    for (const auto& conv : convs_) x = relu(slice((*conv)(x), 2, 0, n));
    return head_(select(x, 2, n - 1));  // the last position: [B, C]
  }
  std::string name() const override { return "1D conv"; }
  int64_t sequential_steps(int64_t) const override { return kLayers; }
  // How many stacks of receptive field R a path from the first token to the last needs.
  int64_t path_length(int64_t n) const override { return (n + receptive_field() - 1) / receptive_field(); }

 private:
  nn::Embedding emb_;
  std::vector<std::unique_ptr<nn::Conv1d>> convs_;
  nn::Linear head_;
};

// Token embedding + a learned position vector, one pre-norm transformer block (self-attention
// with 2 heads, then a feed-forward), and the answer read at the last position. (The post-norm
// block learned the task too, but with some seeds not within the step budget at n = 64 and 256.) The last query looks
// at every key at once, the first token's among them.
class AttentionModel : public SequenceModel {
 public:
  static constexpr int64_t kHeads = 2;

  AttentionModel(int64_t n, Generator& gen)
      : SequenceModel("AttentionModel"),
        emb_({.num = kVocab, .dim = kWidth}, gen),
        pos_({.max_len = n, .dim = kWidth}, gen),
        block_({.d_model = kWidth, .heads = kHeads, .ffn = 2 * kWidth, .dropout = 0.0, .norm_first = true}, gen),
        head_({.in = kWidth, .out = kVocab}, gen) {
    register_module("emb", emb_);
    register_module("pos", pos_);
    register_module("block", block_);
    register_module("head", head_);
  }
  // need_weights: also the attention weights alpha [B, H, n, n].
  nn::BlockOutput run(const Tensor& ids, bool need_weights) const {
    return block_.forward(pos_.forward(emb_(ids)), {.need_weights = need_weights});
  }
  Var logits(const Tensor& ids) const override {
    Var z = run(ids, false).out;
    return head_(select(z, 1, ids.size(1) - 1));
  }
  std::string name() const override { return "self-attention"; }
  int64_t sequential_steps(int64_t) const override { return 1; }
  int64_t path_length(int64_t) const override { return 1; }

 private:
  nn::Embedding emb_;
  nn::LearnedPositionalEncoding pos_;
  nn::TransformerEncoderBlock block_;
  nn::Linear head_;
};

enum class Kind { rnn, conv, attention };
constexpr Kind kKinds[] = {Kind::rnn, Kind::conv, Kind::attention};

std::unique_ptr<SequenceModel> make_model(Kind kind, int64_t n, Generator& gen) {
  switch (kind) {
    case Kind::rnn: return std::make_unique<RnnModel>(gen);
    case Kind::conv: return std::make_unique<ConvModel>(gen);
    case Kind::attention: return std::make_unique<AttentionModel>(n, gen);
  }
  return nullptr;
}

// ---- training and evaluation ------------------------------------------------------------------

struct RunResult {
  double accuracy = 0;
  double ms_per_batch = 0;  // wall time of one training step (forward, backward, update)
  double final_loss = 0;
  int64_t steps = 0;        // steps run: a model that has solved the task stops early
};

// The running loss below which the task counts as solved. ln 8 = 2.08 is the loss of a model
// that guesses; a run still above 0.9 ln 8 after half its steps has found no signal and stops
// (the RNN and the conv past their reach would stay there for as long as we let them).
constexpr double kSolvedLoss = 0.01;
const double kNoSignalLoss = 0.9 * std::log(static_cast<double>(kVocab));

double accuracy(const SequenceModel& model, const Batch& test) {
  NoGradGuard no_grad;
  int64_t right = 0;
  const int64_t B = test.ids.size(0), chunk = 256;
  for (int64_t s = 0; s < B; s += chunk) {
    const int64_t e = std::min(B, s + chunk);
    Tensor pred = argmax(model.logits(test.ids.slice(0, s, e)).value(), 1);
    right += static_cast<int64_t>(sum(eq(pred, test.labels.slice(0, s, e)).to(DType::i64)).item());
  }
  return static_cast<double>(right) / static_cast<double>(B);
}

struct Training {
  int64_t steps, batch;
  double lr;
  uint64_t data_seed;
  bool progress;
};

RunResult train(SequenceModel& model, int64_t n, const Training& t, const Batch& test) {
  nn::Adam opt(model.parameters(), {.lr = t.lr});
  nn::CosineLR schedule({.base_lr = t.lr, .total_steps = std::max<int64_t>(t.steps, 1), .min_lr = t.lr / 20});
  Generator data(t.data_seed);  // every model of one n sees the same batches
  ProgressBar bar(fmt::format("{} n={}", model.name(), n), t.steps, t.progress);
  RunResult r;
  double running = 0, seconds = 0;
  for (int64_t step = 1; step <= t.steps; ++step) {
    Batch b = make_batch(data, t.batch, n);
    const auto start = std::chrono::steady_clock::now();
    schedule.apply(opt);
    opt.zero_grad();
    Var loss = nn::cross_entropy(model.logits(b.ids), b.labels);
    backward(loss);
    nn::clip_grad_norm(opt.params(), 1.0);
    opt.step();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    running = step == 1 ? loss.item() : 0.95 * running + 0.05 * loss.item();
    bar.update(step, running);
    r.steps = step;
    if (running < kSolvedLoss) break;
    if (step == t.steps / 2 && running > kNoSignalLoss) break;
  }
  bar.finish();
  r.final_loss = running;
  r.ms_per_batch = r.steps > 0 ? 1000.0 * seconds / static_cast<double>(r.steps) : 0.0;
  r.accuracy = accuracy(model, test);
  return r;
}

// ---- the story --------------------------------------------------------------------------------

struct Row {
  int64_t n = 0;
  RunResult run[3];
  int64_t steps[3] = {}, path[3] = {};
  int64_t attention_floats = 0;  // alpha per head and sequence, measured from the model's output
};

// alpha [B, H, n, n] from a real forward pass, so the memory column is counted, not assumed.
int64_t attention_floats_per_head(const AttentionModel& model, const Tensor& ids) {
  NoGradGuard no_grad;
  Var alpha = model.run(ids, true).self_alpha;
  return alpha.value().numel() / (alpha.size(0) * alpha.size(1));
}

void print_attention_look(const AttentionModel& model, const Batch& test, int64_t n, const std::string& out_dir) {
  NoGradGuard no_grad;
  Tensor ids = test.ids.slice(0, 0, 1);
  Var alpha = model.run(ids, true).self_alpha;  // [1, H, n, n]
  if (n == 16) {  // small enough to read: every query's weights, tokens on both axes
    std::vector<std::string> tokens;
    for (int64_t t = 0; t < n; ++t) tokens.push_back(token_str(static_cast<int64_t>(ids.at({0, t}))));
    Tensor a = alpha.value().select(0, 0).select(0, 0);
    std::vector<std::vector<double>> rows(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = a.select(0, i).contiguous().to_vector();
    heatmap(rows, tokens, tokens,
            {.title = "n = 16, head 1: the last row is the query that answers", .x_label = "key (token)",
             .y_label = "query (token)", .show_values = false, .cell = 26})
        .save(out_dir + "/attention_n16.svg");
  }
  fmt::print("  one test sequence starts with {}; the model says {}\n", token_str(static_cast<int64_t>(ids.at({0, 0}))),
             token_str(static_cast<int64_t>(argmax(model.logits(ids).value(), 1).item())));
  for (int64_t h = 0; h < alpha.size(1); ++h) {
    std::vector<double> a = alpha.value().select(0, 0).select(0, h).select(0, n - 1).contiguous().to_vector();
    const auto best = std::max_element(a.begin(), a.end()) - a.begin();
    fmt::print("  head {}: the last query's alpha_(n,1) = {:.3f} on the first token (uniform would be {:.4f}); "
               "its largest weight is on position {}\n",
               h + 1, a[0], 1.0 / static_cast<double>(n), best + 1);
  }
}

std::vector<Row> run_all(const LessonOptions& opt, const std::vector<int64_t>& ns) {
  const int64_t steps = opt.steps_or(800, 400);
  std::vector<Row> rows;
  const std::vector<double> lrs = {1e-2, 5e-3, 5e-3};  // RNN, conv, attention
  for (int64_t n : ns) {
    fmt::print("== n = {}: {} training steps of 32 sequences per model, tested on 512 new ones\n", n, steps);
    Generator test_gen(opt.seed * 1000 + 500 + static_cast<uint64_t>(n));
    Batch test = make_batch(test_gen, 512, n);
    Row row;
    row.n = n;
    for (int k = 0; k < 3; ++k) {
      Generator init(opt.seed * 1000 + 13 + static_cast<uint64_t>(k) * 7 + static_cast<uint64_t>(n) * 131);
      auto model = make_model(kKinds[k], n, init);
      Training t{.steps = steps, .batch = 32, .lr = lrs[static_cast<size_t>(k)],
                 .data_seed = opt.seed * 1000 + 77 + static_cast<uint64_t>(n), .progress = !opt.quiet};
      row.run[k] = train(*model, n, t, test);
      row.steps[k] = model->sequential_steps(n);
      row.path[k] = model->path_length(n);
      fmt::print("  {:<15} accuracy {:.3f}  loss {:.3f} after {} steps{}  {:.1f} ms per batch\n", model->name(),
                 row.run[k].accuracy, row.run[k].final_loss, row.run[k].steps,
                 row.run[k].final_loss < kSolvedLoss ? " (solved)" : row.run[k].steps < steps ? " (no signal: stopped)" : "",
                 row.run[k].ms_per_batch);
      if (kKinds[k] == Kind::attention) {
        const auto& am = static_cast<const AttentionModel&>(*model);
        row.attention_floats = attention_floats_per_head(am, test.ids.slice(0, 0, 2));
        print_attention_look(am, test, n, opt.out_dir);
      }
    }
    fmt::print("\n");
    rows.push_back(row);
  }
  return rows;
}

void print_table(const std::vector<Row>& rows) {
  fmt::print("== The table (Vaswani et al. 2017, Table 1, measured)\n\n");
  fmt::print("{:>5} | {:^20} | {:^26} | {:^16} | {:^16} | {:>16}\n", "", "accuracy", "ms per batch (measured)",
             "sequential steps", "max path length", "alpha floats");
  fmt::print("{:>5} | {:>6} {:>6} {:>6} | {:>8} {:>8} {:>8} | {:>5} {:>4} {:>5} | {:>5} {:>4} {:>5} | {:>16}\n", "n",
             "RNN", "conv", "attn", "RNN", "conv", "attn", "RNN", "conv", "attn", "RNN", "conv", "attn", "per head");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::string mem = std::to_string(r.attention_floats);
    if (i > 0) mem += fmt::format(" (x{:g})", static_cast<double>(r.attention_floats) /
                                                   static_cast<double>(rows[i - 1].attention_floats));
    fmt::print("{:>5} | {:>6.3f} {:>6.3f} {:>6.3f} | {:>8.1f} {:>8.1f} {:>8.1f} | {:>5} {:>4} {:>5} | {:>5} {:>4} {:>5} | {:>16}\n",
               r.n, r.run[0].accuracy, r.run[1].accuracy, r.run[2].accuracy, r.run[0].ms_per_batch,
               r.run[1].ms_per_batch, r.run[2].ms_per_batch, r.steps[0], r.steps[1], r.steps[2], r.path[0], r.path[1],
               r.path[2], mem);
  }
  fmt::print("\nchance is 1/8 = 0.125. The conv's receptive field is R = {} tokens ({} layers of width {}).\n"
             "Sequential steps: the RNN's n cell steps must run one after another; the conv's {} layers and\n"
             "the attention's one layer each treat all n positions at once. Path length: the first token\n"
             "reaches the last position after n cell steps, after ceil(n / R) conv stacks (this model has\n"
             "one: past R there is no path at all), or in 1 attention step. The price is alpha: n x n\n"
             "weights per head, x4 each time n doubles.\n\n",
             ConvModel::receptive_field(), ConvModel::kLayers, ConvModel::kKernel, ConvModel::kLayers);
}

void draw_figures(const LessonOptions& opt, const std::vector<Row>& rows) {
  const char* names[] = {"RNN (GRU)", "1D conv", "self-attention"};
  const char* colours[] = {"#d62728", "#2ca02c", "#1f77b4"};
  std::vector<double> xs;
  for (const Row& r : rows) xs.push_back(static_cast<double>(r.n));
  std::vector<Series> acc, time;
  for (int k = 0; k < 3; ++k) {
    Series a{.name = names[k], .xs = xs, .ys = {}, .colour = colours[k]}, t{.name = names[k], .xs = xs, .ys = {}, .colour = colours[k]};
    for (const Row& r : rows) {
      a.ys.push_back(r.run[k].accuracy);
      t.ys.push_back(r.run[k].ms_per_batch);
    }
    acc.push_back(a);
    time.push_back(t);
  }
  acc.push_back({.name = "chance (1/8)", .xs = {xs.front(), xs.back()}, .ys = {0.125, 0.125}, .colour = "#888",
                 .dashed = true});
  const double R = static_cast<double>(ConvModel::receptive_field());
  acc.push_back({.name = fmt::format("conv's reach R = {}", ConvModel::receptive_field()),
                 .xs = {R, R}, .ys = {0.0, 1.0}, .colour = "#2ca02c", .dashed = true});
  line_chart(acc, {.title = "say the first token at the end: test accuracy by sequence length",
                   .x_label = "sequence length n", .y_label = "test accuracy", .width = 720, .points = true})
      .save(opt.out_dir + "/accuracy_vs_n.svg");
  line_chart(time, {.title = "time per training batch (32 sequences), measured on this machine",
                    .x_label = "sequence length n", .y_label = "ms per batch", .log_y = true})
      .save(opt.out_dir + "/time_vs_n.svg");
  Series mem{.name = "attention weights per head: n^2", .xs = xs, .ys = {}, .colour = colours[2]};
  Series act{.name = "one layer's activations: n x 32", .xs = xs, .ys = {}, .colour = "#888", .dashed = true};
  for (const Row& r : rows) {
    mem.ys.push_back(static_cast<double>(r.attention_floats));
    act.ys.push_back(static_cast<double>(r.n * kWidth));
  }
  line_chart({mem, act}, {.title = "floats per sequence: alpha grows as n^2 (x4 per doubling)",
                          .x_label = "sequence length n", .y_label = "floats", .log_y = true})
      .save(opt.out_dir + "/memory_vs_n.svg");
  fmt::print("figures: {0}/accuracy_vs_n.svg, {0}/time_vs_n.svg, {0}/memory_vs_n.svg, {0}/attention_n16.svg\n",
             opt.out_dir);
}

// The RNN's chain of time steps next to the attention's single layer, on a 6-token sequence.
void draw_graphs(const LessonOptions& opt) {
  Generator gen(opt.seed * 1000 + 99);
  Batch b = make_batch(gen, 1, 6);
  RnnModel rnn(gen);
  Var rnn_loss = nn::cross_entropy(rnn.logits(b.ids), b.labels).set_name("loss");
  std::vector<std::string> steps;
  for (const std::string& s : graph_scopes({rnn_loss}))
    if (s.starts_with("t") && s.ends_with(".cell")) steps.push_back(s);  // the GRU inside each step
  std::string dot = to_dot({rnn_loss}, {.collapse = steps, .title = "RNN on 6 tokens: one cluster per time step, the GRU "
                                                                    "folded into a box; h_t = GRU(h_(t-1), x_t) waits for h_(t-1)"});
  render(dot, opt.out_dir + "/graph_rnn.dot");
  render(dot, opt.out_dir + "/graph_rnn.svg");
  AttentionModel attn(6, gen);
  Var attn_loss = nn::cross_entropy(attn.logits(b.ids), b.labels).set_name("loss");
  dot = to_dot({attn_loss}, {.collapse = {"block.self_attn", "block.linear1", "block.linear2", "block.norm1",
                                          "block.norm2"},
                             .title = "self-attention on 6 tokens: one block sees all positions at once"});
  render(dot, opt.out_dir + "/graph_attention.dot");
  render(dot, opt.out_dir + "/graph_attention.svg");
  fmt::print("graphs: {0}/graph_rnn.svg, {0}/graph_attention.svg\n\n", opt.out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "13_three_ways_sequences",
                                         "RNN vs 1D convolution vs self-attention on one long-range task");
  LessonReport report(opt);
  try {
    // The models are small: a thread team per op costs more than it saves. --threads N overrides.
    if (opt.threads == 0) set_num_threads(1);
    fmt::print("The task: read n random tokens from {{a..h}}, then say the first one. Chance is 1/8. Every\n"
               "model answers from its last position, so the first token has to travel the whole sequence.\n\n");
    const std::vector<int64_t> ns = opt.quick ? std::vector<int64_t>{16, 32} : std::vector<int64_t>{16, 32, 64, 128, 256};
    std::vector<Row> rows = run_all(opt, ns);
    print_table(rows);
    draw_figures(opt, rows);
    draw_graphs(opt);

    nlohmann::json table = nlohmann::json::array();
    for (const Row& r : rows)
      table.push_back({{"n", r.n},
                       {"accuracy", {{"rnn", r.run[0].accuracy}, {"conv", r.run[1].accuracy}, {"attention", r.run[2].accuracy}}},
                       {"sequential_steps", {{"rnn", r.steps[0]}, {"conv", r.steps[1]}, {"attention", r.steps[2]}}},
                       {"path_length", {{"rnn", r.path[0]}, {"conv", r.path[1]}, {"attention", r.path[2]}}},
                       {"attention_floats_per_head", r.attention_floats}});
    report.metric("table", table);
    report.metric("conv_receptive_field", ConvModel::receptive_field());

    fmt::print("== Targets\n");
    const int64_t R = ConvModel::receptive_field();
    double attn_min = 1, conv_inside = 1, conv_outside = 0;
    bool x4 = true;
    for (size_t i = 0; i < rows.size(); ++i) {
      attn_min = std::min(attn_min, rows[i].run[2].accuracy);
      if (rows[i].n <= R) conv_inside = std::min(conv_inside, rows[i].run[1].accuracy);
      else conv_outside = std::max(conv_outside, rows[i].run[1].accuracy);
      if (i > 0 && rows[i].n == 2 * rows[i - 1].n) x4 = x4 && rows[i].attention_floats == 4 * rows[i - 1].attention_floats;
      x4 = x4 && rows[i].attention_floats == rows[i].n * rows[i].n;
    }
    report.check("attention_memory_x4", x4, "alpha holds exactly n^2 floats per head, x4 when n doubles");
    report.at_least("attention_min_acc", attn_min, opt.quick ? 0.85 : 0.95);
    report.at_least("conv_acc_within_receptive_field", conv_inside, opt.quick ? 0.8 : 0.95);
    report.at_most("conv_acc_beyond_receptive_field", conv_outside, 0.25);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "13_three_ways_sequences: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
