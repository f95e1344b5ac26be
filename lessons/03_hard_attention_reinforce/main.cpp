// Lesson 03: hard attention and REINFORCE. Soft attention reads a blend z = sum_i alpha_i a_i,
// and every alpha_i gets a gradient. Hard attention reads ONE location, s = argmax_i alpha_i or
// s ~ Categorical(alpha), and z = a_s. The choice of s is a step function of the scores: nudge
// e a little and s does not move, so the gradient through the choice is exactly zero, and
// autograd has no edge to follow at all (s is an integer).
//
// REINFORCE gets a gradient anyway, for the expected reward J = E_{s ~ alpha}[R(s)]:
//
//   grad J = sum_s R(s) grad alpha_s = E_{s ~ alpha}[(R(s) - b) grad log alpha_s]
//
// for any baseline b that does not depend on s. The lesson checks that identity on a 4-cell toy
// (10^4 samples against the exact sum), then trains a soft and a hard attention model on the
// same lookup task and draws both learning curves.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "lessons/common/progress.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/svg.h"
#include "nn/embedding.h"
#include "nn/hard_attention.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// ---- 1. the gradient through a choice ---------------------------------------------------------

void zero_gradient_demo() {
  fmt::print("== 1. The gradient through a choice is zero\n\n");
  // Four locations with 3 features each, scores e, and a loss that reads the context z.
  Var a(Tensor::from_vector(std::vector<double>{1, 0, 2, 0, 1, -1, 3, 1, 0, -2, 0, 1}, {1, 4, 3}), true);
  Var e(Tensor::from_vector(std::vector<double>{0.2, 1.0, 0.5, -0.3}, {1, 4}), true);
  const Tensor w = Tensor::from_vector(std::vector<double>{1.0, -1.0, 0.5}, {1, 3});
  auto loss_of = [&](const Var& z) { return sum(z * Var(w)); };  // L = w . z

  Var alpha = softmax(e, 1);
  fmt::print("e = {}, alpha = softmax(e) = {}\n", row_str(e.value().to_vector(), 2),
             row_str(alpha.value().to_vector(), 3));
  Var z_soft = squeeze(matmul(unsqueeze(alpha, 1), a), 1);  // z = sum_i alpha_i a_i
  std::vector<Var> g_soft = grad({loss_of(z_soft)}, {e, a});
  fmt::print("soft:  z = sum_i alpha_i a_i = {}\n       dL/de = {}  <- every score learns\n",
             row_str(z_soft.value().to_vector(), 3), row_str(g_soft[0].value().to_vector(), 4));

  const Tensor s = nn::argmax_locations(alpha.value());  // an i64 index: the graph stops here
  Var z_hard = nn::hard_attention_context(a, s);         // z = a_s
  Var L_hard = loss_of(z_hard);
  std::vector<Var> g_hard = grad({L_hard}, {e, a}, {}, {.allow_unused = true});
  fmt::print("hard:  s = argmax_i alpha_i = {}, z = a_s = {}\n", static_cast<int64_t>(s.item()),
             row_str(z_hard.value().to_vector(), 3));
  fmt::print("       dL/de: {}\n", g_hard[0].defined() ? row_str(g_hard[0].value().to_vector(), 4)
                                                       : "nothing comes back (autograd has no path from e to L)");
  fmt::print("       dL/da = {}  <- only the chosen row a_s\n", row_str(g_hard[1].value().to_vector(), 1));
  // Finite differences agree: moving any score a little leaves s, and so L, exactly where it was.
  std::vector<double> fd;
  for (int64_t i = 0; i < 4; ++i) {
    std::vector<double> ev = e.value().to_vector();
    auto L_at = [&](double delta) {
      std::vector<double> moved = ev;
      moved[static_cast<size_t>(i)] += delta;
      NoGradGuard no_grad;
      Tensor al = softmax(Tensor::from_vector(moved, {1, 4}), 1);
      return loss_of(nn::hard_attention_context(a, nn::argmax_locations(al))).value().item();
    };
    fd.push_back((L_at(1e-3) - L_at(-1e-3)) / 2e-3);
  }
  fmt::print("       finite differences (L(e + 1e-3) - L(e - 1e-3)) / 2e-3 = {}\n", row_str(fd, 4));
  fmt::print("A sampled location s ~ alpha is the same: an integer, drawn with alpha as a plain tensor.\n"
             "Gradient descent on e gets no signal; that is why hard attention needs REINFORCE.\n\n");
}

// ---- 2. REINFORCE against the exact gradient ---------------------------------------------------

struct ToyResult {
  std::vector<double> exact, with_baseline, without_baseline;
  double rel_err = 0, rel_err_no_baseline = 0, baseline = 0;
};

// The REINFORCE estimate of grad_theta J from n samples: -d/dtheta of reinforce_loss.
std::vector<double> reinforce_estimate(const Var& theta, const Tensor& R, int64_t n, double baseline, Generator& gen) {
  Var log_alpha = log_softmax(theta, 0);                     // [4]
  Var rows = expand(unsqueeze(log_alpha, 0), {n, theta.size(0)});  // [n, 4]: every sample has the same alpha
  const Tensor s = nn::sample_locations(exp(rows.value()), gen);   // s_k ~ alpha, i64 [n]
  const Tensor reward = index_select(R, 0, s);                     // R(s_k) [n]
  Var loss = nn::reinforce_loss(rows, s, reward, {.baseline = baseline});
  std::vector<double> g = grad({loss}, {theta})[0].value().to_vector();
  for (double& x : g) x = -x;  // the loss is -J's surrogate
  return g;
}

ToyResult reinforce_toy(uint64_t seed, int64_t samples) {
  fmt::print("== 2. REINFORCE on a 4-cell toy\n\n");
  Var theta(Tensor::from_vector(std::vector<double>{0.5, -0.2, 0.1, -0.4}, {4}), true);
  const Tensor R = Tensor::from_vector(std::vector<double>{3.0, 2.2, 1.4, 2.5}, {4});
  Var alpha = softmax(theta, 0);
  // J = sum_s alpha_s R(s): all four locations enumerated, so autograd gives the exact gradient.
  Var J = sum(alpha * Var(R));
  ToyResult r;
  r.exact = grad({J}, {theta})[0].value().to_vector();
  fmt::print("scores theta = {}, alpha = softmax(theta) = {}\nrewards R = {}, J = E[R] = {:.4f}\n",
             row_str(theta.value().to_vector(), 2), row_str(alpha.value().to_vector(), 4), row_str(R.to_vector(), 2),
             J.value().item());
  fmt::print("exact   grad J = sum_s R(s) grad alpha_s           = {}\n", row_str(r.exact, 5));

  Generator gen(seed);
  // The moving-average baseline, warmed on batches drawn before (so it does not depend on the
  // samples of the estimate).
  nn::MovingAverageBaseline baseline(0.9);
  for (int k = 0; k < 20; ++k) {
    const Tensor s = nn::sample_locations(alpha.value().unsqueeze(0).expand({100, 4}), gen);
    baseline.update(index_select(R, 0, s));
  }
  r.baseline = baseline.value();
  r.with_baseline = reinforce_estimate(theta, R, samples, r.baseline, gen);
  r.without_baseline = reinforce_estimate(theta, R, samples, 0.0, gen);
  auto rel = [&](const std::vector<double>& g) {
    std::vector<double> d(g.size());
    for (size_t i = 0; i < g.size(); ++i) d[i] = g[i] - r.exact[i];
    return norm(d) / norm(r.exact);
  };
  r.rel_err = rel(r.with_baseline);
  r.rel_err_no_baseline = rel(r.without_baseline);
  fmt::print("REINFORCE, b = {:.3f} (moving average), {} samples = {}  (relative error {:.4f})\n", r.baseline,
             samples, row_str(r.with_baseline, 5), r.rel_err);
  fmt::print("REINFORCE, b = 0,                {} samples = {}  (relative error {:.4f})\n", samples,
             row_str(r.without_baseline, 5), r.rel_err_no_baseline);

  // The spread of 100-sample estimates over 200 repeats: the baseline leaves the mean alone and
  // shrinks the variance.
  double var_b = 0, var_0 = 0;
  for (int k = 0; k < 200; ++k) {
    const std::vector<double> gb = reinforce_estimate(theta, R, 100, r.baseline, gen);
    const std::vector<double> g0 = reinforce_estimate(theta, R, 100, 0.0, gen);
    for (size_t i = 0; i < 4; ++i) {
      var_b += (gb[i] - r.exact[i]) * (gb[i] - r.exact[i]) / 200;
      var_0 += (g0[i] - r.exact[i]) * (g0[i] - r.exact[i]) / 200;
    }
  }
  fmt::print("mean squared error of a 100-sample estimate: {:.2e} with the baseline, {:.2e} without\n\n", var_b,
             var_0);
  return r;
}

// ---- 3. soft vs hard on one task ---------------------------------------------------------------

// The lookup task: L = 8 items, each a kind (all 8 kinds, shuffled) and a colour (4 colours, at
// random), with a little noise. The question names a kind; the answer is that item's colour.
constexpr int64_t kItems = 8, kKinds = 8, kColours = 4, kFeat = kKinds + kColours;

struct LookupBatch {
  Tensor a;       // f32 [B, L, 12]: one-hot kind, one-hot colour, plus noise
  Tensor query;   // i64 [B]: the kind asked about
  Tensor answer;  // i64 [B]: its colour
  Tensor where;   // i64 [B]: the item holding it (for the pointing check only; models never see it)
};

LookupBatch lookup_batch(Generator& gen, int64_t B) {
  std::vector<float> a(static_cast<size_t>(B * kItems * kFeat));
  std::vector<int64_t> q(static_cast<size_t>(B)), ans(q), where(q);
  for (int64_t b = 0; b < B; ++b) {
    int64_t kinds[kItems];
    for (int64_t i = 0; i < kItems; ++i) kinds[i] = i;
    for (int64_t i = kItems - 1; i > 0; --i) std::swap(kinds[i], kinds[gen.below(static_cast<uint64_t>(i + 1))]);
    std::vector<int64_t> colour(kItems);
    for (int64_t i = 0; i < kItems; ++i) colour[static_cast<size_t>(i)] = static_cast<int64_t>(gen.below(kColours));
    for (int64_t i = 0; i < kItems; ++i) {
      float* row = &a[static_cast<size_t>((b * kItems + i) * kFeat)];
      for (int64_t f = 0; f < kFeat; ++f) row[f] = static_cast<float>(0.2 * gen.normal());
      row[kinds[i]] += 1.0f;
      row[kKinds + colour[static_cast<size_t>(i)]] += 1.0f;
    }
    const int64_t pick = static_cast<int64_t>(gen.below(kItems));
    where[static_cast<size_t>(b)] = pick;
    q[static_cast<size_t>(b)] = kinds[pick];
    ans[static_cast<size_t>(b)] = colour[static_cast<size_t>(pick)];
  }
  return {Tensor::from_vector(a, {B, kItems, kFeat}), Tensor::from_vector(q, {B}), Tensor::from_vector(ans, {B}),
          Tensor::from_vector(where, {B})};
}

// The same network for both: f_att scores every item against the question, and a small MLP
// answers from the context z and the question. Only how z is formed differs.
class LookupModel : public nn::Module {
 public:
  explicit LookupModel(Generator& gen)
      : Module("LookupModel"),
        q_embed_({.num = kKinds, .dim = 16}, gen),
        W_a_({.in = kFeat, .out = 16}, gen),
        W_q_({.in = 16, .out = 16, .bias = false}, gen),
        v_({.in = 16, .out = 1, .bias = false}, gen),
        hidden_({.in = kFeat + 16, .out = 32}, gen),
        out_({.in = 32, .out = kColours}, gen) {
    register_module("q_embed", q_embed_);
    register_module("W_a", W_a_);
    register_module("W_q", W_q_);
    register_module("v", v_);
    register_module("hidden", hidden_);
    register_module("out", out_);
  }
  // e_i = v^T tanh(W_a a_i + W_q q) [B, L]
  Var scores(const Var& a, const Var& q) const {
    NameScope scope("f_att");
    return squeeze(v_(tanh(W_a_(a) + unsqueeze(W_q_(q), 1))), 2);
  }
  Var question(const Tensor& query) const { return q_embed_(query); }
  Var answer(const Var& z, const Var& q) const {
    NameScope scope("classifier");
    return out_(relu(hidden_(concat({z, q}, 1))));  // logits [B, 4]
  }

 private:
  nn::Embedding q_embed_;
  nn::Linear W_a_, W_q_, v_, hidden_, out_;
};

// Soft: z = sum_i alpha_i a_i, and one cross-entropy trains everything.
Var soft_loss(const LookupModel& m, const LookupBatch& b, Var* logits_out = nullptr) {
  Var a(b.a), q = m.question(b.query);
  Var alpha = softmax(m.scores(a, q), 1);
  Var z = squeeze(matmul(unsqueeze(alpha, 1), a), 1);
  Var logits = m.answer(z, q);
  if (logits_out) *logits_out = logits;
  return nn::cross_entropy(logits, b.answer);
}

struct HardStep {
  Var total, ce, reinforce;
  double mean_reward = 0;
};

// Hard: s ~ alpha, z = a_s. The classifier learns from the cross-entropy at the chosen item;
// the scores learn only from REINFORCE, with reward R = log p(answer | a_s) (Xu et al.'s).
HardStep hard_loss(const LookupModel& m, const LookupBatch& b, nn::MovingAverageBaseline& baseline, double beta,
                   Generator& gen) {
  Var a(b.a), q = m.question(b.query);
  Var log_alpha = log_softmax(m.scores(a, q), 1);
  const Tensor s = nn::sample_locations(exp(log_alpha.value()), gen);  // s ~ alpha, a plain index
  Var logits = m.answer(nn::hard_attention_context(a, s), q);
  Var ce_each = nn::cross_entropy(logits, b.answer, {.reduction = nn::Reduction::none});  // [B]
  const Tensor reward = neg(ce_each.value());                                              // log p(y | a_s)
  const double b_now = baseline.started() ? baseline.value() : mean(reward).item();
  HardStep h;
  h.ce = mean(ce_each);
  h.reinforce = nn::reinforce_loss(log_alpha, s, reward, {.baseline = b_now, .entropy_weight = beta});
  h.total = h.ce + h.reinforce;
  h.mean_reward = mean(reward).item();
  baseline.update(reward);  // after use: b never depends on this batch's own samples
  return h;
}

struct Accuracy {
  double acc = 0, pointing = 0;
};

// Hard attention at test time takes the argmax location; soft reads the blend.
Accuracy accuracy(const LookupModel& m, const LookupBatch& b, bool hard) {
  NoGradGuard no_grad;
  Var a(b.a), q = m.question(b.query);
  Tensor alpha = softmax(m.scores(a, q), 1).value();
  Var z = hard ? nn::hard_attention_context(a, nn::argmax_locations(alpha))
               : squeeze(matmul(unsqueeze(Var(alpha), 1), a), 1);
  const Tensor pred = argmax(m.answer(z, q).value(), 1);
  Accuracy r;
  r.acc = mean(eq(pred, b.answer).to(DType::f64)).item();
  r.pointing = mean(eq(argmax(alpha, 1), b.where).to(DType::f64)).item();
  return r;
}

struct Curves {
  std::vector<double> steps, soft, hard, hard_reward;
  Accuracy soft_final, hard_final;
};

Curves train_both(const LessonOptions& opt, int64_t steps) {
  Generator init_soft(opt.seed + 10), init_hard(opt.seed + 10);  // the same initial weights
  LookupModel soft(init_soft), hard(init_hard);
  Generator data(opt.seed + 11), sampler(opt.seed + 12), test_gen(opt.seed + 13);
  const LookupBatch test = lookup_batch(test_gen, 2000);
  nn::Adam opt_soft(soft.parameters(), {.lr = 3e-3}), opt_hard(hard.parameters(), {.lr = 3e-3});
  nn::MovingAverageBaseline baseline(0.9);
  const double beta = 0.01;  // entropy bonus
  const int64_t batch = 64, every = std::max<int64_t>(1, steps / 40);
  Curves c;
  ProgressBar bar("soft + hard", steps, !opt.quiet);
  for (int64_t step = 0; step <= steps; ++step) {
    if (step % every == 0 || step == steps) {
      c.steps.push_back(static_cast<double>(step));
      c.soft.push_back(accuracy(soft, test, false).acc);
      c.hard.push_back(accuracy(hard, test, true).acc);
    }
    if (step == steps) break;
    const LookupBatch b = lookup_batch(data, batch);  // both models see the same batches
    Var ls = soft_loss(soft, b);
    opt_soft.zero_grad();
    ls.backward();
    opt_soft.step();
    HardStep h = hard_loss(hard, b, baseline, beta, sampler);
    opt_hard.zero_grad();
    h.total.backward();
    opt_hard.step();
    if (step % every == 0) c.hard_reward.push_back(h.mean_reward);
    if ((step + 1) % std::max<int64_t>(1, steps / 4) == 0)
      fmt::print("step {:>5}: soft loss {:.4f}; hard: cross-entropy at a_s {:.4f}, mean reward log p {:.3f}, "
                 "baseline b {:.3f}\n",
                 step + 1, ls.value().item(), h.ce.value().item(), h.mean_reward, baseline.value());
    bar.update(step + 1, h.ce.value().item());
  }
  bar.finish();
  c.soft_final = accuracy(soft, test, false);
  c.hard_final = accuracy(hard, test, true);

  // The two graphs: the soft loss reaches f_att through the blend; the hard loss reaches it
  // only through the REINFORCE term's log alpha_s.
  Generator g(99);
  const LookupBatch one = lookup_batch(g, 2);
  Var l_soft = soft_loss(soft, one);
  l_soft.set_name("loss");
  std::string dot = to_dot({l_soft}, {.collapse = {"classifier"},
                                      .title = "soft attention: the cross-entropy reaches f_att through "
                                               "z = sum_i alpha_i a_i"});
  render(dot, opt.out_dir + "/graph_soft.dot");
  render(dot, opt.out_dir + "/graph_soft.svg");
  nn::MovingAverageBaseline b0;
  HardStep h = hard_loss(hard, one, b0, beta, g);
  h.total.set_name("loss");
  dot = to_dot({h.total}, {.collapse = {"classifier"},
                           .title = "hard attention: z = a_s is a gather at a sampled index; f_att is reached only "
                                    "by the REINFORCE term -(R - b) log alpha_s - beta H(alpha)"});
  render(dot, opt.out_dir + "/graph_hard.dot");
  render(dot, opt.out_dir + "/graph_hard.svg");
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "03_hard_attention_reinforce", "Hard attention and REINFORCE");
  if (opt.threads == 0) set_num_threads(1);
  LessonReport report(opt);
  try {
    const int64_t steps = opt.steps_or(1500, 600);
    const int64_t samples = 10000;

    zero_gradient_demo();
    const ToyResult toy = reinforce_toy(opt.seed + 1, samples);

    fmt::print("== 3. Soft and hard attention on the same task ({} steps of 64 questions each)\n\n", steps);
    fmt::print("8 items, each a kind (all 8 kinds, shuffled) and one of 4 colours, as noisy one-hot vectors a_i.\n"
               "Question: \"what colour is kind k?\" Chance is 0.25. Both models start from the same weights and\n"
               "see the same batches. Soft: z = sum_i alpha_i a_i. Hard: s ~ alpha while training, s = argmax at\n"
               "test time, z = a_s; f_att learns from REINFORCE with R = log p(answer | a_s), a moving-average\n"
               "baseline and an entropy bonus beta = 0.01.\n\n");
    const Curves c = train_both(opt, steps);
    line_chart({{"soft", c.steps, c.soft}, {"hard (REINFORCE)", c.steps, c.hard}},
               {.title = "test accuracy while training (2000 held-out questions)", .x_label = "step",
                .y_label = "accuracy", .y_from_zero = true, .points = false})
        .save(opt.out_dir + "/learning_curves.svg");
    fmt::print("\nfinal test accuracy: soft {:.4f}, hard {:.4f} (hard / soft = {:.3f})\n", c.soft_final.acc,
               c.hard_final.acc, c.hard_final.acc / c.soft_final.acc);
    fmt::print("argmax_i alpha_i on the item asked about: soft {:.4f}, hard {:.4f}\n", c.soft_final.pointing,
               c.hard_final.pointing);
    fmt::print("figures: {0}/learning_curves.svg; graphs: {0}/graph_soft.svg, {0}/graph_hard.svg\n", opt.out_dir);
    fmt::print("Xu et al. 2015 found hard attention slightly ahead on COCO BLEU-4 (25.0 vs 24.3 for soft).\n\n");

    report.metric("reinforce_rel_err", toy.rel_err);
    report.metric("reinforce_rel_err_no_baseline", toy.rel_err_no_baseline);
    report.metric("soft_acc", c.soft_final.acc);
    report.metric("hard_acc", c.hard_final.acc);
    report.metric("soft_pointing", c.soft_final.pointing);
    report.metric("hard_pointing", c.hard_final.pointing);
    report.metric("learning_curves", {{"steps", c.steps}, {"soft", c.soft}, {"hard", c.hard}});
    fmt::print("== Targets\n");
    report.at_most("reinforce_rel_err", toy.rel_err, 0.05);
    if (opt.quick) {
      report.at_least("soft_acc", c.soft_final.acc, 0.8);
      report.at_least("hard_acc_over_soft", c.hard_final.acc / c.soft_final.acc, 0.5);
    } else {
      report.at_least("soft_acc", c.soft_final.acc, 0.95);
      report.at_least("hard_acc_over_soft", c.hard_final.acc / c.soft_final.acc, 0.8);
    }
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "03_hard_attention_reinforce: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
