// Lesson 14: the transformer block, the notes' "one chunk":
//
//   post-norm (the paper):   H = LN(X + MHSA(X)),      X' = LN(H + FFN(H))
//   pre-norm (GPT-2 on):     H = X + MHSA(LN(X)),      X' = H + FFN(LN(H))
//   FFN(h) = W_2 relu(W_1 h + b_1) + b_2, the same small network at every position
//
// and a stack of N of them, each block's output X' the next block's X. Part 1 checks the whole
// block's gradient in f64, input and every weight, against central differences. Part 2 trains an
// encoder-only stack of 2 blocks (pre-norm and post-norm) to reverse a string of digits, and
// part 3 reads the trained attention: output position i looks at input position T - 1 - i, the
// anti-diagonal.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/svg.h"
#include "nn/clip.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "nn/positional.h"
#include "nn/schedule.h"
#include "nn/transformer.h"
#include "tensor/parallel.h"
#include "tensor/print.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

std::vector<std::vector<double>> rows_of(const Tensor& m) {
  const int64_t R = m.size(0), C = m.size(1);
  std::vector<double> flat = m.contiguous().to_vector();
  std::vector<std::vector<double>> out(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) out[r].assign(flat.begin() + r * C, flat.begin() + (r + 1) * C);
  return out;
}

// ---- 1. the whole-block gradient check ---------------------------------------------------------

struct CheckLine {
  std::string what;
  double max_abs_err = 0, max_rel_err = 0;
};

// L(theta) = sum(w * f(theta)) for a fixed random w, the projection gradcheck uses.
double projected(const std::function<Var(const Var&)>& f, const Tensor& x, const Tensor& w) {
  NoGradGuard no_grad;
  return sum(f(Var(x)).value() * w).item();
}

// The parameters' half of the check. autograd's gradcheck differentiates a function of the
// tensors it is handed, and a module keeps its weights inside, so each weight is checked here
// the same way by hand: nudge one number by +-eps in place, rerun the block, and compare
// (L(+eps) - L(-eps)) / (2 eps) with what backward put in that weight's .grad.
std::vector<CheckLine> check_parameters(const nn::Module& m, const std::function<Var(const Var&)>& f, const Tensor& x,
                                        const Tensor& w, double eps) {
  for (const Var& p : m.parameters()) Var(p).zero_grad();
  backward(sum(f(Var(x)) * Var(w)));
  std::vector<CheckLine> lines;
  for (const auto& [name, p] : m.named_parameters()) {
    Tensor value = p.value();  // shares storage with the parameter: writing it changes the block
    std::vector<double> analytic = p.grad().contiguous().to_vector();
    Tensor flat = value.reshape({-1});
    double max_abs = 0, max_grad = 1e-8;
    for (int64_t i = 0; i < flat.numel(); ++i) {
      Tensor cell = flat.slice(0, i, i + 1);
      const double v = cell.item();
      cell.fill_(v + eps);
      const double up = projected(f, x, w);
      cell.fill_(v - eps);
      const double down = projected(f, x, w);
      cell.fill_(v);
      const double numeric = (up - down) / (2 * eps);
      max_abs = std::max(max_abs, std::abs(numeric - analytic[static_cast<size_t>(i)]));
      max_grad = std::max({max_grad, std::abs(numeric), std::abs(analytic[static_cast<size_t>(i)])});
    }
    lines.push_back({name, max_abs, max_abs / max_grad});  // scaled as gradcheck scales it
  }
  return lines;
}

// One configuration: the input through autograd's gradcheck, then every weight.
double gradcheck_module(const std::string& title, const nn::Module& m, const std::function<Var(const Var&)>& f,
                        const Tensor& x, uint64_t seed) {
  GradcheckOptions o{.eps = 1e-6, .seed = seed};
  GradcheckResult r = gradcheck([&](const std::vector<Var>& v) { return f(v[0]); }, {x}, o);
  std::vector<CheckLine> lines;
  lines.push_back({"X (input), by autograd's gradcheck", r.inputs[0].max_abs_err, r.inputs[0].max_rel_err});
  Generator gen(seed);
  Tensor w;
  {
    NoGradGuard no_grad;
    w = randn(f(Var(x)).value().shape(), DType::f64, gen);
  }
  for (const CheckLine& l : check_parameters(m, f, x, w, o.eps)) lines.push_back(l);
  double worst = 0;
  fmt::print("{} ({} parameters)\n", title, m.num_parameters());
  for (const CheckLine& l : lines) {
    fmt::print("  {:<42} max abs err {:.1e}   max rel err {:.1e}\n", l.what, l.max_abs_err, l.max_rel_err);
    worst = std::max(worst, l.max_rel_err);
  }
  fmt::print("  worst relative error: {:.1e}\n\n", worst);
  return worst;
}

double part1_gradcheck(uint64_t seed) {
  fmt::print("== 1. The whole block's gradient, checked in f64\n\n");
  fmt::print("For L = sum(w * block(X)) with a fixed random w, backward gives dL/dX and dL/dW for every\n"
             "weight; central differences (L(theta + eps) - L(theta - eps)) / (2 eps), eps = 1e-6, give the\n"
             "same numbers a second way. d_model = 8, 2 heads, FFN 16, X [2, 5, 8].\n\n");
  Generator gen(seed * 1000 + 140);
  Tensor x = randn({2, 5, 8}, DType::f64, gen);
  double worst = 0;
  for (bool pre : {false, true}) {
    nn::TransformerBlockOptions b{.d_model = 8, .heads = 2, .ffn = 16, .dropout = 0.0, .norm_first = pre,
                                  .dtype = DType::f64};
    nn::TransformerEncoderBlock block(b, gen);
    worst = std::max(worst, gradcheck_module(pre ? "pre-norm block: H = X + MHSA(LN(X)), X' = H + FFN(LN(H))"
                                                 : "post-norm block: H = LN(X + MHSA(X)), X' = LN(H + FFN(H))",
                                             block, [&](const Var& v) { return block.forward(v).out; }, x, seed + 1));
    nn::TransformerEncoder stack({.block = b, .num_layers = 2, .final_norm = pre}, gen);
    worst = std::max(worst, gradcheck_module(fmt::format("a stack of 2 {} blocks{}", pre ? "pre-norm" : "post-norm",
                                                         pre ? " and the final LayerNorm" : ""),
                                             stack, [&](const Var& v) { return stack.forward(v).out; }, x, seed + 2));
  }
  fmt::print("The worst relative error over the input and every weight of the four models is {:.1e}: the\n"
             "backward through the softmax, both LayerNorms, the FFN and the two residual additions is right.\n\n",
             worst);
  return worst;
}

// ---- 2. the reversal task ----------------------------------------------------------------------

constexpr int64_t kT = 10;       // digits per string
constexpr int64_t kDigits = 10;  // tokens 0..9
constexpr int64_t kD = 32, kHeads = 2, kFFN = 64, kLayers = 2;

// "3 1 4 1 5 9 2 6 5 3" -> "3 5 6 2 9 5 1 4 1 3": position i must output input position T - 1 - i.
struct Batch {
  Tensor ids, target;  // i64 [B, T]
};
// The mirrored positions T - 1, ..., 1, 0.
Tensor mirror() {
  std::vector<int64_t> m;
  for (int64_t i = kT - 1; i >= 0; --i) m.push_back(i);
  return Tensor::from_vector(m, {kT});
}
Tensor reversed(const Tensor& ids) { return index_select(ids, 1, mirror()); }
Batch make_batch(Generator& gen, int64_t B) {
  Tensor ids = randint(0, kDigits, {B, kT}, gen);
  return {ids, reversed(ids)};
}

// Encoder-only: x_i = emb(digit_i) + PE(i), N blocks, then a linear read-out of each
// position's final vector into 10 digit scores. No decoder: every output digit is written at
// once, each by its own position.
class Reverser : public nn::Module {
 public:
  Reverser(bool pre_norm, Generator& gen)
      : nn::Module("Reverser"),
        tok_({.num = kDigits, .dim = kD}, gen),
        pos_({.max_len = kT, .dim = kD}),
        encoder_({.block = {.d_model = kD, .heads = kHeads, .ffn = kFFN, .dropout = 0.0, .norm_first = pre_norm},
                  .num_layers = kLayers,
                  .final_norm = pre_norm},
                 gen),
        out_({.in = kD, .out = kDigits}, gen) {
    register_module("tok", tok_);
    register_module("pos", pos_);
    register_module("encoder", encoder_);
    register_module("out", out_);
  }
  // logits [B, T, 10] and, if asked, every block's alpha [B, H, T, T]
  nn::StackOutput run(const Tensor& ids, bool need_weights = false) const {
    Var x = pos_.forward(tok_(ids));
    nn::StackOutput s = encoder_.forward(x, {.need_weights = need_weights});
    s.out = out_(s.out);
    return s;
  }

 private:
  nn::Embedding tok_;
  nn::SinusoidalPositionalEncoding pos_;
  nn::TransformerEncoder encoder_;
  nn::Linear out_;
};

struct Curve {
  std::vector<double> steps, loss;
};

Curve train(Reverser& model, int64_t steps, uint64_t data_seed, const std::string& label, bool progress) {
  const double lr = 2e-3;
  nn::Adam opt(model.parameters(), {.lr = lr});
  nn::WarmupCosineLR schedule({.base_lr = lr, .warmup_steps = std::min<int64_t>(100, steps / 5 + 1),
                               .total_steps = std::max<int64_t>(steps, 2), .min_lr = lr / 20});
  Generator data(data_seed);
  ProgressBar bar(label, steps, progress);
  Curve c;
  double running = 0;
  for (int64_t step = 1; step <= steps; ++step) {
    Batch b = make_batch(data, 64);
    schedule.apply(opt);
    opt.zero_grad();
    Var loss = nn::cross_entropy(model.run(b.ids).out, b.target);
    backward(loss);
    nn::clip_grad_norm(opt.params(), 1.0);
    opt.step();
    running = step == 1 ? loss.item() : 0.95 * running + 0.05 * loss.item();
    if (step % 10 == 0 || step == steps) {
      c.steps.push_back(static_cast<double>(step));
      c.loss.push_back(running);
    }
    bar.update(step, running);
  }
  bar.finish();
  return c;
}

struct Evaluation {
  double token_acc = 0, seq_acc = 0;
  // align[l][h]: the share of output positions i whose largest weight in layer l, head h sits on
  // the mirrored input position T - 1 - i.
  std::vector<std::vector<double>> align;
};

Evaluation evaluate(const Reverser& model, const Batch& test) {
  NoGradGuard no_grad;
  nn::StackOutput s = model.run(test.ids, true);
  Evaluation e;
  Tensor hit = eq(argmax(s.out.value(), -1), test.target);  // [B, T]
  e.token_acc = mean(hit.to(DType::f64)).item();
  e.seq_acc = mean(amin(hit.to(DType::f64), {1})).item();
  const Tensor mirrored = mirror();  // [T]: T - 1 - i
  for (const Var& alpha : s.self_alphas) {
    std::vector<double> per_head;
    for (int64_t h = 0; h < alpha.size(1); ++h) {
      Tensor looks_at = argmax(alpha.value().select(1, h), -1);  // [B, T]: argmax_j alpha_ij
      per_head.push_back(mean(eq(looks_at, mirrored).to(DType::f64)).item());
    }
    e.align.push_back(per_head);
  }
  return e;
}

// The head chosen for alignment_acc: the (layer, head) that aligns best on a separate batch.
struct Choice {
  size_t layer = 0, head = 0;
};
Choice choose_head(const Evaluation& selection) {
  Choice c;
  for (size_t l = 0; l < selection.align.size(); ++l)
    for (size_t h = 0; h < selection.align[l].size(); ++h)
      if (selection.align[l][h] > selection.align[c.layer][c.head]) c = {l, h};
  return c;
}

std::string digits_str(const Tensor& row) {
  std::string s;
  for (double d : row.to_vector()) s += (s.empty() ? "" : " ") + std::to_string(static_cast<int>(d));
  return s;
}

void print_alignment(const Evaluation& e) {
  fmt::print("  alignment by layer and head (share of positions i with argmax_j alpha_ij = T - 1 - i):\n");
  for (size_t l = 0; l < e.align.size(); ++l) {
    fmt::print("    block {}:", l + 1);
    for (size_t h = 0; h < e.align[l].size(); ++h) fmt::print("  head {} {:.3f}", h + 1, e.align[l][h]);
    fmt::print("\n");
  }
}

// Before training: alpha of one string in block 1, head 1, near uniform.
void show_untrained(const Reverser& model, const Tensor& ids) {
  NoGradGuard no_grad;
  nn::StackOutput s = model.run(ids, true);
  Tensor a = s.self_alphas[0].value().select(0, 0).select(0, 0);  // [T, T]
  fmt::print("Before training, block 1, head 1 on \"{}\": the first output position's weights\n"
             "alpha_1j = {}\n(uniform would be 0.1 each: nothing tells position 1 where to look yet)\n\n",
             digits_str(ids.select(0, 0)), a.select(0, 0));
}

void attention_maps(const LessonOptions& opt, const Reverser& model, const Tensor& ids, const std::string& prefix) {
  NoGradGuard no_grad;
  nn::StackOutput s = model.run(ids, true);
  std::vector<std::string> in, out;
  Tensor pred = argmax(s.out.value(), -1).select(0, 0);
  for (double d : ids.select(0, 0).to_vector()) in.push_back(std::to_string(static_cast<int>(d)));
  for (int64_t i = 0; i < kT; ++i) out.push_back(fmt::format("{}: {}", i + 1, static_cast<int>(pred.at({i}))));
  for (size_t l = 0; l < s.self_alphas.size(); ++l)
    for (int64_t h = 0; h < kHeads; ++h) {
      Tensor a = s.self_alphas[l].value().select(0, 0).select(0, h);
      heatmap(rows_of(a), out, in,
              {.title = fmt::format("{}: block {}, head {}", prefix, l + 1, h + 1), .x_label = "input digit (key j)",
               .y_label = "output position i: digit written (query)", .show_values = false, .cell = 30})
          .save(fmt::format("{}/attention_{}_block{}_head{}.svg", opt.out_dir, prefix, l + 1, h + 1));
    }
}

void print_trained_string(const Reverser& model, const Tensor& ids, const Choice& c) {
  NoGradGuard no_grad;
  nn::StackOutput s = model.run(ids, true);
  fmt::print("  input  \"{}\"\n  output \"{}\"\n", digits_str(ids.select(0, 0)),
             digits_str(argmax(s.out.value(), -1).select(0, 0)));
  Tensor a = s.self_alphas[c.layer].value().select(0, 0).select(0, static_cast<int64_t>(c.head));
  for (int64_t i : {int64_t{0}, int64_t{4}, kT - 1}) {
    Tensor row = a.select(0, i);
    fmt::print("  block {} head {}, output position i = {}: alpha_i = {}  argmax j = {} (mirror T - i = {})\n",
               c.layer + 1, c.head + 1, i + 1, row, static_cast<int64_t>(argmax(row, 0).item()) + 1, kT - i);
  }
}

// ---- 3. the graphs -----------------------------------------------------------------------------

void draw_graphs(const LessonOptions& opt, const Reverser& model) {
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}, {1, kT});
  Var loss = nn::cross_entropy(model.run(ids).out, reversed(ids)).set_name("loss");
  std::string dot = to_dot({loss}, {.title = "the reversal model: embedding + PE, 2 pre-norm blocks (one cluster each, "
                                             "the sub-layers inside), final LayerNorm, read-out"});
  render(dot, opt.out_dir + "/graph_model.dot");
  render(dot, opt.out_dir + "/graph_model.svg");
  // Each block folded into one box: the stack as the notes draw it, X -> block -> block -> out.
  std::string folded = to_dot({loss}, {.collapse = {"encoder.blocks.0", "encoder.blocks.1"},
                                       .title = "the same model with each block folded: Z of one block is X of the next"});
  render(folded, opt.out_dir + "/graph_model_collapsed.dot");
  render(folded, opt.out_dir + "/graph_model_collapsed.svg");
  fmt::print("graphs: {0}/graph_model.svg (every op, blocks as clusters), {0}/graph_model_collapsed.svg\n\n",
             opt.out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "14_transformer_block",
                                         "the transformer block: MHSA, residuals, LayerNorm, FFN; pre- and post-norm");
  LessonReport report(opt);
  try {
    // The model is small: a thread team per op costs more than it saves. --threads N overrides.
    if (opt.threads == 0) set_num_threads(1);
    const double grad_err = part1_gradcheck(opt.seed);

    const int64_t steps = opt.steps_or(800, 300);
    fmt::print("== 2. Reversing {} digits with a stack of {} blocks\n\n", kT, kLayers);
    fmt::print("x_i = emb(digit_i) + PE(i), d_model = {}, {} heads, FFN {}; then {} blocks; then a\n"
               "linear read-out of each position into 10 digit scores. Position i must write input digit\n"
               "T - 1 - i: it has to find it with attention, since its own vector only holds digit i.\n"
               "{} steps of 64 random strings, Adam 2e-3 with warm-up and cosine decay.\n\n",
               kD, kHeads, kFFN, kLayers, steps);
    Generator eval_gen(opt.seed * 1000 + 141);
    Batch test = make_batch(eval_gen, 1000), selection = make_batch(eval_gen, 200);
    Tensor example = test.ids.slice(0, 0, 1);

    Generator init_pre(opt.seed * 1000 + 142), init_post(opt.seed * 1000 + 142);
    Reverser pre(true, init_pre), post(false, init_post);
    show_untrained(pre, example);
    attention_maps(opt, pre, example, "untrained");
    Curve c_pre = train(pre, steps, opt.seed * 1000 + 143, "pre-norm", !opt.quiet);
    Curve c_post = train(post, steps, opt.seed * 1000 + 143, "post-norm", !opt.quiet);
    line_chart({{.name = "pre-norm", .xs = c_pre.steps, .ys = c_pre.loss},
                {.name = "post-norm", .xs = c_post.steps, .ys = c_post.loss}},
               {.title = "training loss (running mean), reversing 10 digits", .x_label = "step",
                .y_label = "cross-entropy", .log_y = true, .points = false})
        .save(opt.out_dir + "/loss.svg");

    Evaluation e_pre = evaluate(pre, test), e_post = evaluate(post, test);
    fmt::print("== 3. What the trained blocks do (1000 new strings)\n\n");
    fmt::print("pre-norm:  token accuracy {:.4f}, whole strings right {:.3f}\n", e_pre.token_acc, e_pre.seq_acc);
    print_alignment(e_pre);
    fmt::print("post-norm: token accuracy {:.4f}, whole strings right {:.3f}\n", e_post.token_acc, e_post.seq_acc);
    print_alignment(e_post);

    const Choice c = choose_head(evaluate(pre, selection));
    const double alignment = e_pre.align[c.layer][c.head];
    fmt::print("\nThe head that reverses: chosen on 200 other strings as the (block, head) that aligns best,\n"
               "block {} head {}; on the 1000 test strings its argmax sits on the mirrored position {:.3f}\n"
               "of the time. The pre-norm model, one string:\n",
               c.layer + 1, c.head + 1, alignment);
    print_trained_string(pre, example, c);
    attention_maps(opt, pre, example, "pre_norm");
    attention_maps(opt, post, example, "post_norm");
    fmt::print("\nfigures: {0}/loss.svg, {0}/attention_pre_norm_block*_head*.svg (and post_norm, untrained)\n\n",
               opt.out_dir);
    draw_graphs(opt, pre);

    report.metric("token_acc", e_pre.token_acc);
    report.metric("alignment_acc", alignment);
    report.metric("post_norm_token_acc", e_post.token_acc);
    report.metric("seq_acc", e_pre.seq_acc);
    report.metric("alignment_by_block_and_head", e_pre.align);
    report.metric("aligned_block", c.layer + 1);
    report.metric("aligned_head", c.head + 1);
    report.metric("gradcheck_max_rel_err", grad_err);
    fmt::print("== Targets\n");
    report.at_most("gradcheck_max_rel_err", grad_err, 1e-6);
    report.at_least("token_acc", e_pre.token_acc, opt.quick ? 0.9 : 0.99);
    report.at_least("post_norm_token_acc", e_post.token_acc, opt.quick ? 0.9 : 0.99);
    report.at_least("alignment_acc", alignment, opt.quick ? 0.8 : 0.95);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "14_transformer_block: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
