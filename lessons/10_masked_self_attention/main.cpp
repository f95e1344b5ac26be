// Lesson 10: masked (causal) self-attention, the decoder's kind. Before the softmax, every score
// of a future token is set to -inf, so its weight is exactly 0: token t mixes only the values of
// tokens 1..t. The lesson checks the two promises this makes, exactly and in f64: the weight
// matrix A is lower triangular with rows summing to 1, and (with autograd) no output y_t depends
// on any later input x_t': dy_t/dx_t' = 0 for t' > t, not small but zero.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "lessons/common/cli.h"
#include "nn/positional.h"
#include "lessons/common/report.h"
#include "lessons/common/rows.h"
#include "lessons/common/svg.h"
#include "tensor/print.h"
#include "tensor/random.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// ---- the layer --------------------------------------------------------------------------------

struct Weights {
  Var W_Q, W_K, W_V;
};

Weights init_weights(int64_t d_model, int64_t d_k, Generator& gen) {
  const double s = 1.0 / std::sqrt(static_cast<double>(d_model));
  auto w = [&](const char* name) { return Var(randn({d_model, d_k}, DType::f64, gen) * s, true).set_name(name); };
  return {w("W_Q"), w("W_K"), w("W_V")};
}

struct MaskedAttention {
  Var S;         // scores Q K^T / sqrt(d_k)           [T, T]
  Var S_masked;  // the same, -inf above the diagonal  [T, T]
  Var A;         // weights, lower triangular          [T, T]
  Var Y;         // outputs                             [T, d_v]
};

// Y = softmax(mask(Q K^T / sqrt(d_k))) V with Q, K, V = X W_Q, X W_K, X W_V. With causal = false
// the mask is skipped (plain self-attention, for comparison).
MaskedAttention masked_self_attention(const Var& X, const Weights& w, bool causal = true) {
  NameScope layer("masked_self_attention");
  const int64_t T = X.size(0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(w.W_K.size(1)));
  MaskedAttention m;
  Var Q, K, V;
  {
    NameScope p("project");
    Q = matmul(X, w.W_Q).set_name("Q");
    K = matmul(X, w.W_K).set_name("K");
    V = matmul(X, w.W_V).set_name("V");
  }
  {
    NameScope p("scores");  // S = Q K^T / sqrt(d_k)
    m.S = (matmul(Q, transpose(K, -2, -1)) * scale).set_name("S");
  }
  {
    NameScope p("causal_mask");  // S_tj = -inf for j > t: token t may not look ahead
    const Tensor future = logical_not(tril_mask(T, T));  // true strictly above the diagonal
    m.S_masked = causal ? masked_fill(m.S, future, -std::numeric_limits<double>::infinity()).set_name("S_masked")
                        : m.S;
  }
  {
    NameScope p("weights");  // A = softmax(S_masked): exp(-inf) = 0 exactly
    m.A = softmax(m.S_masked, -1).set_name("A");
  }
  {
    NameScope p("mix");  // y_t = sum_{j <= t} A_tj v_j
    m.Y = matmul(m.A, V).set_name("Y");
  }
  return m;
}

// ---- the checks -------------------------------------------------------------------------------

// Largest |row sum - 1| of A, and largest weight strictly above the diagonal.
struct Structure {
  double row_sum_err = 0, above_diagonal = 0;
};
Structure check_structure(const Tensor& A) {
  const int64_t T = A.size(0);
  std::vector<double> a = A.contiguous().to_vector();
  Structure s;
  for (int64_t t = 0; t < T; ++t) {
    double row = 0;
    for (int64_t j = 0; j < T; ++j) {
      row += a[t * T + j];
      if (j > t) s.above_diagonal = std::max(s.above_diagonal, std::abs(a[t * T + j]));
    }
    s.row_sum_err = std::max(s.row_sum_err, std::abs(row - 1.0));
  }
  return s;
}

// The full Jacobian dY/dX by autograd, one backward pass per output entry y[t, c]: the gradient
// 1 at (t, c) and 0 elsewhere gives d y[t, c] / d X, a [T, d_model] matrix. influence[t][t'] is
// the largest |d y[t, c] / d x[t', k]| over c and k: how much input t' can move output t.
std::vector<std::vector<double>> influence(const Tensor& X_value, const Weights& w, bool causal) {
  Var X(X_value, true);
  MaskedAttention m = masked_self_attention(X, w, causal);
  const int64_t T = X_value.size(0), D = X_value.size(1), C = m.Y.size(1);
  std::vector<std::vector<double>> inf(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(T), 0.0));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      Tensor pick = Tensor::zeros({T, C}, DType::f64);
      pick.select(0, t).select(0, c).fill_(1.0);
      Var g = grad({m.Y}, {X}, {Var(pick)}, {.retain_graph = true})[0];  // d y[t, c] / d X
      std::vector<double> gv = g.value().to_vector();
      for (int64_t tp = 0; tp < T; ++tp)
        for (int64_t k = 0; k < D; ++k) inf[t][tp] = std::max(inf[t][tp], std::abs(gv[tp * D + k]));
    }
  return inf;
}

// max over t' > t of influence[t][t']: what the mask promises is exactly 0.
double future_max(const std::vector<std::vector<double>>& inf) {
  double m = 0;
  for (size_t t = 0; t < inf.size(); ++t)
    for (size_t tp = t + 1; tp < inf.size(); ++tp) m = std::max(m, inf[t][tp]);
  return m;
}

std::vector<std::vector<double>> normalised(std::vector<std::vector<double>> v) {
  double m = 0;
  for (const auto& r : v)
    for (double x : r) m = std::max(m, x);
  for (auto& r : v)
    for (double& x : r) x = m > 0 ? x / m : 0;
  return v;
}

// ---- the story --------------------------------------------------------------------------------

const std::vector<std::string> kTokens = {"<s>", "the", "cat", "sat", "on", "the", "mat", "."};
const std::vector<std::string> kVocab = {"<s>", "the", "cat", "sat", "on", "mat", "."};
constexpr int64_t kDModel = 8, kDK = 8;

struct Results {
  double future_grad_max_abs = 0, row_sum_err = 0, above_diagonal = 0;
  double unmasked_future = 0;  // the same measurement without the mask, for contrast
};

Tensor sentence_input(Generator& gen) {
  Tensor table = randn({static_cast<int64_t>(kVocab.size()), kDModel}, DType::f64, gen);
  std::vector<int64_t> ids;
  for (const std::string& t : kTokens) ids.push_back(std::find(kVocab.begin(), kVocab.end(), t) - kVocab.begin());
  const int64_t T = static_cast<int64_t>(ids.size());
  return embedding(table, Tensor::from_vector(ids, {T})) + nn::sinusoidal_encoding(T, kDModel, DType::f64);
}

void part1_mask(const LessonOptions& opt, const Tensor& X, const Weights& w, Results& r) {
  fmt::print("== 1. The causal mask\n\n");
  fmt::print("A decoder writes \"<s> the cat sat on the mat .\" one token at a time. While it predicts\n"
             "token t+1, tokens after t do not exist yet, so in training (where the whole sentence is\n"
             "fed at once) token t must not look at them. X = embedding + PE (lesson 09), d_model = {}.\n\n",
             kDModel);
  const int64_t T = X.size(0);
  NoGradGuard no_grad;
  MaskedAttention m = masked_self_attention(Var(X), w);
  fmt::print("S = Q K^T / sqrt(d_k) =\n{}\n", m.S.value());
  fmt::print("tril_mask(T, T): 1 where token t (row) may look at token j (column), j <= t =\n{}\n",
             tril_mask(T, T).to(DType::f64));
  fmt::print("S_masked = masked_fill(S, not tril_mask, -inf) =\n{}\n", m.S_masked.value());
  fmt::print("A = softmax(S_masked) along each row; exp(-inf) = 0, so the future gets weight 0 exactly =\n{}\n",
             m.A.value());
  fmt::print("Y = A V: y_t = sum_(j <= t) A_tj v_j =\n{}\n", m.Y.value());
  Structure s = check_structure(m.A.value());
  r.row_sum_err = std::max(r.row_sum_err, s.row_sum_err);
  r.above_diagonal = std::max(r.above_diagonal, s.above_diagonal);
  fmt::print("largest weight above the diagonal: {:.1e}; largest |row sum - 1|: {:.1e}\n", s.above_diagonal,
             s.row_sum_err);
  fmt::print("Row 1 (\"<s>\") can only look at itself, so its weight is 1 and y_1 = v_1; the last row\n"
             "spreads over the whole sentence.\n\n");
  heatmap(rows_of(m.A.value()), kTokens, kTokens,
          {.title = "A = softmax(masked Q K^T / sqrt(d_k))", .x_label = "key (looked at)",
           .y_label = "query (looking)"})
      .save(opt.out_dir + "/attention_causal.svg");
  MaskedAttention full = masked_self_attention(Var(X), w, false);
  heatmap(rows_of(full.A.value()), kTokens, kTokens,
          {.title = "A without the mask", .x_label = "key (looked at)", .y_label = "query (looking)"})
      .save(opt.out_dir + "/attention_unmasked.svg");
  fmt::print("figures: {0}/attention_causal.svg, {0}/attention_unmasked.svg\n\n", opt.out_dir);
}

void part2_gradients(const LessonOptions& opt, const Tensor& X, const Weights& w, Results& r) {
  fmt::print("== 2. No gradient from the future, checked with autograd\n\n");
  fmt::print("For every output entry y[t, c], one backward pass gives d y[t, c] / d X. The table shows\n"
             "max |dy_t / dx_t'| over the entries (row t = output, column t' = input):\n\n");
  auto causal = influence(X, w, true);
  auto plain = influence(X, w, false);
  const size_t T = causal.size();
  fmt::print("{:>6}", "");
  for (size_t tp = 0; tp < T; ++tp) fmt::print("{:>9}", kTokens[tp]);
  fmt::print("\n");
  for (size_t t = 0; t < T; ++t) {
    fmt::print("{:>6}", kTokens[t]);
    for (size_t tp = 0; tp < T; ++tp) fmt::print("{:>9.3g}", causal[t][tp]);
    fmt::print("\n");
  }
  r.future_grad_max_abs = std::max(r.future_grad_max_abs, future_max(causal));
  r.unmasked_future = future_max(plain);
  fmt::print("\nAbove the diagonal, every entry is {} exactly: the gradient reaching a masked score is\n"
             "A_tj (g_tj - sum_j' g_tj' A_tj') with A_tj = 0, and masked_fill's backward zeroes it again.\n"
             "Without the mask the largest future entry is {:.3f}: y_t would peek at later tokens.\n",
             future_max(causal), r.unmasked_future);
  heatmap(normalised(causal), kTokens, kTokens,
          {.title = "max |dy_t / dx_t'|, causal (scaled to max 1)", .x_label = "input t'", .y_label = "output t"})
      .save(opt.out_dir + "/influence_causal.svg");
  heatmap(normalised(plain), kTokens, kTokens,
          {.title = "max |dy_t / dx_t'|, no mask (scaled to max 1)", .x_label = "input t'", .y_label = "output t"})
      .save(opt.out_dir + "/influence_unmasked.svg");
  fmt::print("figures: {0}/influence_causal.svg, {0}/influence_unmasked.svg\n\n", opt.out_dir);

  // The same promise without derivatives: change the future, and the past outputs do not move.
  NoGradGuard no_grad;
  Generator gen(opt.seed * 1000 + 11);
  Tensor X2 = X.clone();
  const int64_t keep = 4;  // "<s> the cat sat" stays, the rest is replaced
  X2.slice(0, keep, X.size(0)).copy_(randn({X.size(0) - keep, X.size(1)}, DType::f64, gen));
  Tensor Y1 = masked_self_attention(Var(X), w).Y.value(), Y2 = masked_self_attention(Var(X2), w).Y.value();
  fmt::print("Replace \"on the mat .\" by random vectors: the first {} outputs change by {:.1e}, the rest by {:.3f}.\n"
             "That is what lets a trained decoder generate left to right: y_t is final once x_1..x_t are.\n\n",
             keep, max_abs_diff(Y1.slice(0, 0, keep), Y2.slice(0, 0, keep)),
             max_abs_diff(Y1.slice(0, keep, X.size(0)), Y2.slice(0, keep, X.size(0))));
}

// Larger random layers (T = 24, d_model = 16), checked the same way.
void part3_random_layers(int64_t trials, Generator& gen, Results& r) {
  fmt::print("== 3. The same checks on {} random layers (T = 24, d_model = d_k = 16)\n\n", trials);
  const int64_t T = 24, D = 16;
  for (int64_t k = 0; k < trials; ++k) {
    Tensor X = randn({T, D}, DType::f64, gen) * 2.0;  // larger scores: a peakier softmax
    Weights w = init_weights(D, D, gen);
    const double fut = future_max(influence(X, w, true));
    Structure s;
    {
      NoGradGuard no_grad;
      s = check_structure(masked_self_attention(Var(X), w).A.value());
    }
    r.future_grad_max_abs = std::max(r.future_grad_max_abs, fut);
    r.row_sum_err = std::max(r.row_sum_err, s.row_sum_err);
    r.above_diagonal = std::max(r.above_diagonal, s.above_diagonal);
    fmt::print("layer {:>2}: max future |dy_t/dx_t'| = {}, above diagonal = {}, max |row sum - 1| = {:.1e}\n", k + 1,
               fut, s.above_diagonal, s.row_sum_err);
  }
  fmt::print("\n");
}

void write_graphs(const LessonOptions& opt, const Tensor& X, const Weights& w) {
  Var x = Var(X).set_name("X");
  MaskedAttention m = masked_self_attention(x, w);
  std::string dot = to_dot({m.Y}, {.title = "Y = softmax(masked_fill(Q K^T / sqrt(d_k), future, -inf)) V"});
  render(dot, opt.out_dir + "/masked_self_attention.dot");
  render(dot, opt.out_dir + "/masked_self_attention.svg");
  // The backward graph: what autograd runs to get dL/dW for L = sum(Y). Follow the gradient
  // into the masked_fill: its backward is another masked_fill that writes 0 into the future.
  Var L = sum(m.Y).set_name("L");
  std::string back = to_dot({L}, {.backward = true, .title = "backward of L = sum(Y)"});
  render(back, opt.out_dir + "/masked_self_attention_backward.dot");
  render(back, opt.out_dir + "/masked_self_attention_backward.svg");
  fmt::print("graphs: {0}/masked_self_attention.svg, {0}/masked_self_attention_backward.svg\n\n", opt.out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "10_masked_self_attention", "masked (causal) self-attention");
  LessonReport report(opt);
  try {
    Generator gen(opt.seed * 1000 + 10);
    Tensor X = sentence_input(gen);
    Weights w = init_weights(kDModel, kDK, gen);
    Results r;
    part1_mask(opt, X, w, r);
    part2_gradients(opt, X, w, r);
    part3_random_layers(opt.quick ? 2 : 10, gen, r);
    write_graphs(opt, X, w);

    report.metric("future_grad_max_abs", r.future_grad_max_abs);
    report.metric("row_sum_err", r.row_sum_err);
    fmt::print("== Targets\n");
    // Both are maxima of absolute values, so "<= 0" means exactly 0.
    report.at_most("future_grad_max_abs", r.future_grad_max_abs, 0.0);
    report.at_most("weight_above_diagonal", r.above_diagonal, 0.0);
    report.at_most("row_sum_err", r.row_sum_err, 1e-12);
    report.at_least("unmasked_future_grad", r.unmasked_future, 1e-3);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "10_masked_self_attention: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
