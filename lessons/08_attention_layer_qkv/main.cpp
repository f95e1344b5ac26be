// Lesson 08: the attention layer, built one step at a time. A dot product scores one query
// against every key; dividing by sqrt(d_k) keeps those scores at unit size; stacking the queries
// into Q turns the loop into two matrix products; giving each token a value V separate from its
// key finishes the layer: Z = softmax(Q K^T / sqrt(d_k)) V. The second half measures why the
// sqrt(d_k) is there: without it the scores grow like sqrt(d_k), the softmax saturates, and its
// gradient vanishes.
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
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/svg.h"
#include "tensor/print.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// ---- small helpers ----------------------------------------------------------------------------

std::string vec_str(const std::vector<double>& v, int digits = 4) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt::format("{:.{}f}", v[i], digits);
  return s + "]";
}

Tensor matrix(const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::from_vector(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())},
                             DType::f64);
}

// Entropy of one row of attention weights, in nats. An entry that underflowed to exactly 0
// contributes 0 (the limit of a log a as a -> 0), not 0 * -inf.
double entropy(const double* a, int64_t n) {
  double h = 0;
  for (int64_t j = 0; j < n; ++j)
    if (a[j] > 0) h -= a[j] * std::log(a[j]);
  return h;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

// ---- the layer --------------------------------------------------------------------------------

struct Attention {
  Var E;  // scores    [n_q, n_k]
  Var A;  // weights alpha, each row sums to 1
  Var Z;  // outputs   [n_q, d_v]
};

// Z = softmax(Q K^T * scale) V. Each line is one equation of the notes, in its own name scope,
// so the graph draws it as a box inside the "attention" box.
Attention attend(const Var& Q, const Var& K, const Var& V, double scale) {
  NameScope layer("attention");
  Attention out;
  {
    NameScope s("scores");  // e_ij = q_i . k_j / sqrt(d_k)
    out.E = matmul(Q, transpose(K, -2, -1)) * scale;
  }
  {
    NameScope s("weights");  // alpha_ij = exp(e_ij) / sum_j' exp(e_ij')
    out.A = softmax(out.E, -1);
  }
  {
    NameScope s("mix");  // z_i = sum_j alpha_ij v_j
    out.Z = matmul(out.A, V);
  }
  out.E.set_name("E");
  out.A.set_name("alpha");
  out.Z.set_name("Z");
  return out;
}

// ---- Parts 1-4: the layer, built up on "the dog runs" -----------------------------------------

const std::vector<std::string> kTokens = {"the", "dog", "runs"};

// Four features per key, chosen so the numbers can be checked by hand:
// [is a determiner, is a noun, is a verb, is alive].
const std::vector<std::vector<double>> kKeys = {{2, 0, 0, 0}, {0, 2, 0, 2}, {0, 0, 2, 1}};
// What each token is looking for. "the" wants the noun it introduces, "dog" wants its determiner
// and its verb, "runs" wants something alive to do the running.
const std::vector<std::vector<double>> kQueries = {{0, 1, 0, 0}, {1, 0, 1, 0}, {0, 1, 0, 1}};
// What each token hands over when it is attended to: two features [thing, action].
const std::vector<std::vector<double>> kValues = {{0.1, 0.0}, {1.0, 0.0}, {0.0, 1.0}};

void part1_dot_product() {
  fmt::print("== 1. One query, three keys: the dot product\n\n");
  Tensor K = matrix(kKeys);
  Tensor q = matrix({kQueries[2]}).reshape({4});
  fmt::print("tokens: the dog runs. Each token j has a key k_j (rows of K, features\n"
             "[determiner, noun, verb, alive]):\nK =\n{}\n", K);
  fmt::print("The query of \"runs\" asks for something alive: q = {}\n\n", vec_str(q.to_vector(), 0));
  Tensor e = matmul(K, q);  // e_j = k_j . q
  Tensor alpha = softmax(e, -1);
  Tensor c = matmul(alpha.reshape({1, 3}), K).reshape({4});
  fmt::print("score    e_j = q . k_j                  = {}\n", vec_str(e.to_vector(), 1));
  fmt::print("weights  alpha_j = softmax(e)_j          = {}\n", vec_str(alpha.to_vector()));
  fmt::print("context  c = sum_j alpha_j k_j            = {}\n", vec_str(c.to_vector()));
  fmt::print("Here the keys double as the values, as in Bahdanau's attention (K = V = h).\n\n");
}

void part2_scaling() {
  fmt::print("== 2. Scaling by 1/sqrt(d_k)\n\n");
  Tensor K = matrix(kKeys);
  Tensor q = matrix({kQueries[2]}).reshape({4});
  const double d_k = 4, scale = 1.0 / std::sqrt(d_k);
  Tensor e = matmul(K, q);
  fmt::print("d_k = {}, so the scores are divided by sqrt(d_k) = {}\n", d_k, std::sqrt(d_k));
  fmt::print("unscaled alpha = softmax(e)            = {}\n", vec_str(softmax(e, -1).to_vector()));
  fmt::print("scaled   alpha = softmax(e / sqrt(d_k)) = {}\n", vec_str(softmax(e * scale, -1).to_vector()));
  fmt::print("The scaled weights are softer. Part 5 shows why the divisor is sqrt(d_k), and parts 6\n"
             "and 7 what goes wrong without it when d_k is large.\n\n");
}

void part3_many_queries() {
  fmt::print("== 3. Many queries at once: E = Q K^T / sqrt(d_k)\n\n");
  Tensor Q = matrix(kQueries), K = matrix(kKeys);
  const double scale = 0.5;  // 1 / sqrt(4)
  fmt::print("Every token asks its own question; stack the queries as rows of Q:\nQ =\n{}\n", Q);
  Tensor E = matmul(Q, K.mT()) * scale;  // E [3 queries, 3 keys]
  Tensor A = softmax(E, -1);             // alpha, row i = where token i looks
  fmt::print("E = Q K^T / sqrt(d_k) =\n{}\nalpha = softmax(E) along each row =\n{}\n", E, A);
  // The loop the matrix product replaces: one query at a time.
  double err = 0;
  for (int64_t i = 0; i < 3; ++i) {
    Tensor row = softmax(matmul(K, Q.select(0, i)) * scale, -1);
    err = std::max(err, max_abs_diff(row, A.select(0, i)));
  }
  fmt::print("the same weights, one query at a time in a loop: max difference {:.1e}\n\n", err);
}

void part4_values(const LessonOptions& opt) {
  fmt::print("== 4. Separate keys and values: Z = softmax(Q K^T / sqrt(d_k)) V\n\n");
  Var Q = Var(matrix(kQueries), true).set_name("Q");
  Var K = Var(matrix(kKeys), true).set_name("K");
  Var V = Var(matrix(kValues), true).set_name("V");
  fmt::print("The key says what a token is (so it can be found); the value says what it hands over\n"
             "once found, and may have another size: d_v = 2, features [thing, action].\nV =\n{}\n",
             V.value());
  Attention att = attend(Q, K, V, 0.5);
  fmt::print("Z = alpha V: row i is a blend of the values, weighted by row i of alpha\nZ =\n{}\n", att.Z.value());
  fmt::print("\"runs\" (last row) now carries mostly the thing it attends to, \"dog\".\n");
  heatmap(rows_of(att.A.value()), kTokens, kTokens,
          {.title = "alpha for \"the dog runs\" (d_k = 4, scaled)", .x_label = "key (attended to)",
           .y_label = "query (attending)"})
      .save(opt.out_dir + "/alpha_the_dog_runs.svg");
  std::string dot = to_dot({att.Z}, {.show_saved = true, .title = "Z = softmax(Q K^T / sqrt(d_k)) V"});
  render(dot, opt.out_dir + "/attention_layer.dot");
  render(dot, opt.out_dir + "/attention_layer.svg");
  fmt::print("figure: {}/alpha_the_dog_runs.svg; graph: {}/attention_layer.svg\n\n", opt.out_dir, opt.out_dir);
}

// ---- Part 5: why we scale: the variance of q . k ----------------------------------------------

// var(q . k) / d_k for random q, k whose components have mean 0 and variance 1, from `samples`
// pairs drawn in chunks (a [samples, 1024] f64 tensor would need 400 MB).
double measured_variance(int64_t d_k, int64_t samples, Generator& gen) {
  std::vector<double> dots;
  dots.reserve(static_cast<size_t>(samples));
  for (int64_t done = 0; done < samples;) {
    const int64_t n = std::min<int64_t>(4096, samples - done);
    Tensor q = randn({n, d_k}, DType::f64, gen), k = randn({n, d_k}, DType::f64, gen);
    std::vector<double> d = sum(q * k, {-1}).to_vector();  // q . k, one per pair
    dots.insert(dots.end(), d.begin(), d.end());
    done += n;
  }
  const double m = mean(dots);
  double ss = 0;
  for (double x : dots) ss += (x - m) * (x - m);
  return ss / static_cast<double>(dots.size() - 1);
}

double part5_variance(const LessonOptions& opt) {
  fmt::print("== 5. Why we scale: the dot product's variance grows with d_k\n\n");
  fmt::print("Vaswani et al. (2017), footnote 4: \"assume that the components of q and k are independent\n"
             "random variables with mean 0 and variance 1. Then their dot product, q . k = sum_i q_i k_i,\n"
             "has mean 0 and variance d_k.\" Each term q_i k_i has variance 1, and d_k independent terms add\n"
             "their variances. Dividing by sqrt(d_k) divides the variance by d_k, back to 1.\n\n");
  const int64_t samples = opt.quick ? 10000 : 50000;
  Generator gen(opt.seed * 1000 + 5);
  fmt::print("{} random pairs per row:\n{:>6} {:>12} {:>12} {:>14}\n", samples, "d_k", "var(q.k)", "std(q.k)",
             "var(q.k)/d_k");
  double ratio_1024 = 0;
  for (int64_t d_k : {16, 64, 256, 1024}) {
    double v = measured_variance(d_k, samples, gen);
    const double r = v / static_cast<double>(d_k);
    fmt::print("{:>6} {:>12.2f} {:>12.2f} {:>14.4f}\n", d_k, v, std::sqrt(v), r);
    if (d_k == 1024) ratio_1024 = r;
  }
  fmt::print("\nSo at d_k = 1024 the unscaled scores have a standard deviation of about sqrt(1024) = 32.\n\n");
  return ratio_1024;
}

// ---- Parts 6 and 7: saturation, the softmax Jacobian, and entropy against d_k -----------------

const std::vector<std::string> kSentence = {"the", "cat", "sat", "on", "the", "warm", "mat", "today"};

// The unscaled scores q . k [B, T, T] of B "sentences" of T tokens, each token with a random
// query and key (unit-variance components), as a freshly initialised layer would produce.
Tensor draw_scores(int64_t B, int64_t T, int64_t d_k, Generator& gen) {
  Tensor Q = randn({B, T, d_k}, DType::f64, gen), K = randn({B, T, d_k}, DType::f64, gen);
  return matmul(Q, K.mT());
}

// Mean over rows of the attention entropy, and of the largest weight in the row.
struct RowStats {
  double mean_entropy = 0, mean_max_alpha = 0;
};
RowStats row_stats(const Tensor& alpha) {
  const int64_t T = alpha.size(-1), rows = alpha.numel() / T;
  std::vector<double> a = alpha.contiguous().to_vector();
  RowStats s;
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = a.data() + r * T;
    s.mean_entropy += entropy(row, T);
    s.mean_max_alpha += *std::max_element(row, row + T);
  }
  s.mean_entropy /= static_cast<double>(rows);
  s.mean_max_alpha /= static_cast<double>(rows);
  return s;
}

// The Frobenius norm of the softmax Jacobian d alpha_r / d e_c of every row, computed by autograd:
// one backward pass per output position r, with the gradient 1 at position r of every row, gives
// row r of every row's Jacobian at once. Also returns the largest difference from the formula
// J_rc = alpha_r (delta_rc - alpha_c).
struct JacobianStats {
  std::vector<double> norms;
  double formula_err = 0;
};
JacobianStats softmax_jacobian_norms(const Tensor& logits) {
  const int64_t T = logits.size(-1), rows = logits.numel() / T;
  Var e(logits, true);
  Var alpha = softmax(e, -1);
  std::vector<double> a = alpha.value().to_vector();
  JacobianStats js;
  std::vector<double> sq(static_cast<size_t>(rows), 0.0);
  for (int64_t r = 0; r < T; ++r) {
    Tensor pick = Tensor::zeros(logits.shape(), DType::f64);
    pick.select(-1, r).fill_(1.0);
    Var d = grad({alpha}, {e}, {Var(pick)}, {.retain_graph = true})[0];  // d alpha_r / d e_c
    std::vector<double> g = d.value().to_vector();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = 0; c < T; ++c) {
        const double j = g[i * T + c];
        sq[i] += j * j;
        const double want = a[i * T + r] * ((r == c ? 1.0 : 0.0) - a[i * T + c]);
        js.formula_err = std::max(js.formula_err, std::abs(j - want));
      }
  }
  for (double s : sq) js.norms.push_back(std::sqrt(s));
  return js;
}

struct SaturationResult {
  double unscaled_max_alpha_1024 = 0, jacobian_ratio_1024 = 0, scaled_entropy_spread = 0;
};

SaturationResult part6_saturation(const LessonOptions& opt) {
  fmt::print("== 6. What the unscaled scores do to the softmax\n\n");
  const int64_t T = static_cast<int64_t>(kSentence.size()), B = opt.quick ? 64 : 256;
  const std::vector<int64_t> dims = {16, 32, 64, 128, 256, 512, 1024};
  Generator gen(opt.seed * 1000 + 6);
  SaturationResult res;
  Series scaled{"scaled", {}, {}}, unscaled{"unscaled", {}, {}};
  Series uniform{"uniform (log T)", {}, {}, "#888888", true};
  std::vector<double> scaled_entropies;
  fmt::print("{} sentences of T = {} tokens, random queries and keys with unit-variance components\n\n", B, T);
  fmt::print("{:>6} {:>16} {:>18} {:>16} {:>18}\n", "d_k", "H scaled (nats)", "max alpha scaled", "H unscaled",
             "max alpha unscaled");
  Tensor at_1024;  // the scores at d_k = 1024, for the heatmaps and the Jacobian
  for (int64_t d_k : dims) {
    Tensor scores = draw_scores(B, T, d_k, gen);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));
    RowStats s = row_stats(softmax(scores * scale, -1));
    RowStats u = row_stats(softmax(scores, -1));
    fmt::print("{:>6} {:>16.4f} {:>18.4f} {:>16.4f} {:>18.4f}\n", d_k, s.mean_entropy, s.mean_max_alpha,
               u.mean_entropy, u.mean_max_alpha);
    const double x = std::log2(static_cast<double>(d_k));
    scaled.xs.push_back(x), scaled.ys.push_back(s.mean_entropy);
    unscaled.xs.push_back(x), unscaled.ys.push_back(u.mean_entropy);
    uniform.xs.push_back(x), uniform.ys.push_back(std::log(static_cast<double>(T)));
    scaled_entropies.push_back(s.mean_entropy);
    if (d_k == 1024) res.unscaled_max_alpha_1024 = u.mean_max_alpha, at_1024 = scores;
  }
  line_chart({scaled, unscaled, uniform}, {.title = "mean attention entropy against d_k",
                                           .x_label = "log2(d_k)",
                                           .y_label = "entropy of alpha (nats)",
                                           .y_from_zero = true})
      .save(opt.out_dir + "/entropy_vs_dk.svg");
  const auto [lo, hi] = std::minmax_element(scaled_entropies.begin(), scaled_entropies.end());
  res.scaled_entropy_spread = (*hi - *lo) / mean(scaled_entropies);
  fmt::print("\nScaled, the entropy stays put: (max - min) / mean = {:.4f} over d_k = 16 .. 1024.\n"
             "Unscaled, it collapses toward 0: each row puts almost all its weight on one key.\n"
             "figure: {}/entropy_vs_dk.svg\n\n",
             res.scaled_entropy_spread, opt.out_dir);

  // The first sentence at d_k = 1024, both ways.
  const double scale = 1.0 / 32.0;
  Tensor first = at_1024.select(0, 0);
  heatmap(rows_of(softmax(first * scale, -1)), kSentence, kSentence,
          {.title = "alpha at d_k = 1024, scaled by 1/sqrt(d_k)", .x_label = "key", .y_label = "query"})
      .save(opt.out_dir + "/alpha_scaled_1024.svg");
  heatmap(rows_of(softmax(first, -1)), kSentence, kSentence,
          {.title = "alpha at d_k = 1024, unscaled", .x_label = "key", .y_label = "query"})
      .save(opt.out_dir + "/alpha_unscaled_1024.svg");
  Tensor row = first.select(0, 0);
  fmt::print("first sentence, query \"the\": scores e = q . k (unscaled) = {}\n", vec_str(row.to_vector(), 1));
  fmt::print("  unscaled alpha = softmax(e)      = {}\n", vec_str(softmax(row, -1).to_vector(), 3));
  fmt::print("  scaled alpha   = softmax(e / 32) = {}\n", vec_str(softmax(row * scale, -1).to_vector(), 3));
  fmt::print("figures: {0}/alpha_scaled_1024.svg, {0}/alpha_unscaled_1024.svg\n\n", opt.out_dir);

  fmt::print("== 7. A saturated softmax passes almost no gradient\n\n");
  fmt::print("The softmax Jacobian is J_rc = d alpha_r / d e_c = alpha_r (delta_rc - alpha_c). When one\n"
             "alpha is 1 and the rest 0, every entry is 0: the scores get no gradient, and neither do\n"
             "W_Q and W_K behind them. Measured with autograd, one backward pass per r:\n\n");
  JacobianStats js_s = softmax_jacobian_norms(at_1024 * scale);
  JacobianStats js_u = softmax_jacobian_norms(at_1024);
  const double med_s = median(js_s.norms), med_u = median(js_u.norms);
  auto small = [](const std::vector<double>& v) {
    return static_cast<double>(std::count_if(v.begin(), v.end(), [](double x) { return x < 1e-3; })) /
           static_cast<double>(v.size());
  };
  fmt::print("{:>10} {:>16} {:>14} {:>22}\n", "d_k = 1024", "median ||J||_F", "mean ||J||_F", "rows with ||J|| < 1e-3");
  fmt::print("{:>10} {:>16.3e} {:>14.3e} {:>21.1f}%\n", "scaled", med_s, mean(js_s.norms), 100 * small(js_s.norms));
  fmt::print("{:>10} {:>16.3e} {:>14.3e} {:>21.1f}%\n", "unscaled", med_u, mean(js_u.norms), 100 * small(js_u.norms));
  res.jacobian_ratio_1024 = med_s / std::max(med_u, 1e-300);
  fmt::print("\nautograd's Jacobian matches the formula to {:.1e}.\n", std::max(js_s.formula_err, js_u.formula_err));
  fmt::print("The typical (median) row's Jacobian is {:.3g}x smaller unscaled: it learns nothing. The mean\n"
             "is pulled up by the few rows whose top two scores happen to be close; even so it is {:.3g}x\n"
             "smaller.\n\n",
             res.jacobian_ratio_1024, mean(js_s.norms) / mean(js_u.norms));
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "08_attention_layer_qkv",
                                         "the attention layer step by step, and why we scale by 1/sqrt(d_k)");
  LessonReport report(opt);
  try {
    part1_dot_product();
    part2_scaling();
    part3_many_queries();
    part4_values(opt);
    const double var_ratio = part5_variance(opt);
    SaturationResult sat = part6_saturation(opt);

    report.metric("var_ratio", var_ratio);
    report.metric("unscaled_max_alpha_1024", sat.unscaled_max_alpha_1024);
    report.metric("jacobian_ratio_1024", sat.jacobian_ratio_1024);
    report.metric("scaled_entropy_spread", sat.scaled_entropy_spread);
    fmt::print("== Targets\n");
    report.at_most("var_ratio_off_by", std::abs(var_ratio - 1.0), 0.05);
    report.at_least("unscaled_max_alpha_1024", sat.unscaled_max_alpha_1024, 0.9);
    report.at_least("jacobian_ratio_1024", sat.jacobian_ratio_1024, 5.0);
    report.at_most("scaled_entropy_spread", sat.scaled_entropy_spread, 0.05);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "08_attention_layer_qkv: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
