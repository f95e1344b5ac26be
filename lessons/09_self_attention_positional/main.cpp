// Lesson 09: self-attention, where queries, keys and values all come from the same sentence:
// Q = X W_Q, K = X W_K, V = X W_V. Part 2 plays the notes' classroom: every new row is written
// from the old X alone, so computing the rows one at a time gives exactly what the batched
// matrix products give. Part 3 shows the price: the layer cannot tell word order apart
// (shuffle the tokens and the outputs shuffle the same way). Part 4 adds sinusoidal positional
// encodings, and the symmetry breaks.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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
  Var W_Q, W_K, W_V;  // [d_model, d_k], [d_model, d_k], [d_model, d_v]
};

// Weights drawn with standard deviation 1/sqrt(d_model), so Q, K, V have entries of about the
// size of X's.
Weights init_weights(int64_t d_model, int64_t d_k, Generator& gen) {
  const double s = 1.0 / std::sqrt(static_cast<double>(d_model));
  auto w = [&](const char* name) {
    return Var(randn({d_model, d_k}, DType::f64, gen) * s, true).set_name(name);
  };
  return {w("W_Q"), w("W_K"), w("W_V")};
}

struct SelfAttention {
  Var Q, K, V, E, A, Z;
};

// The whole layer in matrix form: every row of every product at once.
SelfAttention self_attention(const Var& X, const Weights& w) {
  NameScope layer("self_attention");
  SelfAttention s;
  {
    NameScope p("project");  // Q = X W_Q, K = X W_K, V = X W_V
    s.Q = matmul(X, w.W_Q).set_name("Q");
    s.K = matmul(X, w.W_K).set_name("K");
    s.V = matmul(X, w.W_V).set_name("V");
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(w.W_K.size(1)));
  {
    NameScope p("scores");  // E = Q K^T / sqrt(d_k)
    s.E = (matmul(s.Q, transpose(s.K, -2, -1)) * scale).set_name("E");
  }
  {
    NameScope p("weights");  // alpha = softmax(E) along each row
    s.A = softmax(s.E, -1).set_name("alpha");
  }
  {
    NameScope p("mix");  // Z = alpha V
    s.Z = matmul(s.A, s.V).set_name("Z");
  }
  return s;
}

// The classroom: student i reads the OLD notes of everyone (K and V, made from the old X) and
// writes a new notebook z_i. Nobody's new notebook is read by anyone else in this step.
Tensor rows_one_at_a_time(const Tensor& X, const Weights& w) {
  const Tensor &W_Q = w.W_Q.value(), &W_K = w.W_K.value(), &W_V = w.W_V.value();
  const double scale = 1.0 / std::sqrt(static_cast<double>(W_K.size(1)));
  Tensor K = matmul(X, W_K), V = matmul(X, W_V);  // everyone's old notes
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < X.size(0); ++i) {
    Tensor x_i = X.slice(0, i, i + 1);               // [1, d_model]: student i's own notes
    Tensor q_i = matmul(x_i, W_Q);                   // [1, d_k]: the question
    Tensor alpha_i = softmax(matmul(q_i, K.mT()) * scale, -1);  // [1, T]: whose notes matter
    rows.push_back(matmul(alpha_i, V));              // [1, d_v]: the new notebook z_i
  }
  return concat(rows, 0);
}

// What the notes warn against: overwriting row i in place, so that later rows read notes that
// were already rewritten. The result depends on the order the students go in.
Tensor rows_in_place(Tensor X, const Weights& w) {
  X = X.clone();
  const double scale = 1.0 / std::sqrt(static_cast<double>(w.W_K.size(1)));
  for (int64_t i = 0; i < X.size(0); ++i) {
    Tensor K = matmul(X, w.W_K.value()), V = matmul(X, w.W_V.value());  // from the partly new X
    Tensor q_i = matmul(X.slice(0, i, i + 1), w.W_Q.value());
    X.slice(0, i, i + 1).copy_(matmul(softmax(matmul(q_i, K.mT()) * scale, -1), V));
  }
  return X;
}

// ---- positions --------------------------------------------------------------------------------

// PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)): every pair of
// dims is a clock ticking at its own speed, from one turn per 2 pi positions down to one turn
// per 10000 * 2 pi.
// nn::sinusoidal_encoding builds this table (the one the transformer lessons use); part 4
// checks one entry of it against the formula.
Tensor sinusoidal_pe(int64_t T, int64_t d) { return nn::sinusoidal_encoding(T, d, DType::f64); }

// P with P[i, perm[i]] = 1, so (P X)[i] = X[perm[i]]: row i of the shuffled sentence is token
// perm[i]. Multiplying by ones and adding zeros is exact, so P X is a pure reordering.
Tensor permutation_matrix(const Tensor& perm) { return one_hot(perm, perm.size(0), DType::f64); }

bool equal_to_identity(const Tensor& perm) {
  std::vector<double> p = perm.to_vector();
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<double>(i)) return false;
  return true;
}

// A random permutation that moves at least one token.
Tensor random_shuffle(int64_t T, Generator& gen) {
  for (;;) {
    Tensor p = randperm(T, gen);
    if (!equal_to_identity(p)) return p;
  }
}


// ---- Part 1: Q, K, V from the same X ----------------------------------------------------------

const std::vector<std::string> kTokens = {"the", "cat", "sat", "on", "the", "mat"};
const std::vector<std::string> kVocab = {"the", "cat", "sat", "on", "mat"};
constexpr int64_t kDModel = 4, kDK = 4;

struct Sentence {
  Var table;      // word embeddings [vocab, d_model]
  Tensor ids;     // i64 [T]
  Tensor X;       // [T, d_model]: row t is the embedding of token t
  Weights w;
};

Sentence make_sentence(Generator& gen) {
  Sentence s;
  s.table = Var(randn({static_cast<int64_t>(kVocab.size()), kDModel}, DType::f64, gen), true).set_name("embedding");
  std::vector<int64_t> ids;
  for (const std::string& t : kTokens)
    ids.push_back(std::find(kVocab.begin(), kVocab.end(), t) - kVocab.begin());
  s.ids = Tensor::from_vector(ids, {static_cast<int64_t>(ids.size())});
  s.X = embedding(s.table.value(), s.ids);
  s.w = init_weights(kDModel, kDK, gen);
  return s;
}

Tensor part1_projections(const Sentence& s) {
  fmt::print("== 1. Self-attention: Q, K and V all come from the same X\n\n");
  fmt::print("tokens: the cat sat on the mat. Each row of X is a token's embedding (d_model = {});\n"
             "the two \"the\" rows are the same word, so they are identical.\nX =\n{}\n",
             kDModel, s.X);
  fmt::print("Three learned matrices give every token three roles (d_k = d_v = {}):\n"
             "W_Q =\n{}\nW_K =\n{}\nW_V =\n{}\n",
             kDK, s.w.W_Q.value(), s.w.W_K.value(), s.w.W_V.value());
  NoGradGuard no_grad;
  SelfAttention sa = self_attention(Var(s.X), s.w);
  fmt::print("Q = X W_Q (the questions) =\n{}\nK = X W_K (the addresses) =\n{}\nV = X W_V (the contents) =\n{}\n",
             sa.Q.value(), sa.K.value(), sa.V.value());
  fmt::print("E = Q K^T / sqrt(d_k) =\n{}\nalpha = softmax(E), row i = where token i looks =\n{}\n", sa.E.value(),
             sa.A.value());
  fmt::print("Z = alpha V, row i = token i's new, contextual representation z_i =\n{}\n", sa.Z.value());
  return sa.Z.value();
}

// ---- Part 2: the classroom --------------------------------------------------------------------

double part2_classroom(const Sentence& s, const Tensor& Z) {
  fmt::print("== 2. The classroom: every row from the old X, in parallel\n\n");
  fmt::print("Each student i (token) asks a question q_i, compares it with everyone's old notes k_j,\n"
             "and writes a new notebook z_i = sum_j alpha_ij v_j. Nobody reads a new notebook during\n"
             "the step, so the rows can be computed one at a time in any order, or all at once.\n\n");
  Tensor rows = rows_one_at_a_time(s.X, s.w);
  const double err = max_abs_diff(rows, Z);
  fmt::print("one row at a time, z_i = softmax(x_i W_Q K^T / sqrt(d_k)) V:\n{}\n", rows);
  fmt::print("max |rows one at a time - batched Z| = {:.1e}{}\n\n", err, err == 0 ? " (exactly equal)" : "");
  Tensor in_place = rows_in_place(s.X, s.w);
  fmt::print("The mistake the notes warn about: overwrite row i in place, so that later students read\n"
             "notes already rewritten. Then the result differs from Z by up to {:.3f}, and depends on\n"
             "the order the students go in.\n\n",
             max_abs_diff(in_place, Z));
  return err;
}

// ---- Part 3: permutation equivariance ----------------------------------------------------------

// max |SA(P X) - P SA(X)| for a shuffle P, with optional position encodings PE added to the
// input AFTER shuffling (positions belong to places, not to tokens).
double equivariance_gap(const Tensor& X, const Weights& w, const Tensor& perm, const Tensor& pe) {
  NoGradGuard no_grad;
  Tensor P = permutation_matrix(perm);
  Tensor in = pe.defined() ? X + pe : X;
  Tensor shuffled_in = pe.defined() ? matmul(P, X) + pe : matmul(P, X);
  Tensor sa_of_shuffled = self_attention(Var(shuffled_in), w).Z.value();
  Tensor shuffled_sa = matmul(P, self_attention(Var(in), w).Z.value());
  return max_abs_diff(sa_of_shuffled, shuffled_sa);
}

std::vector<std::string> shuffled_tokens(const Tensor& perm) {
  std::vector<std::string> out;
  for (double p : perm.to_vector()) out.push_back(kTokens[static_cast<size_t>(p)]);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const std::string& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

struct SymmetryResult {
  double equivariance_err = 0;
  double pe_break = 1e300;  // the smallest break over every trial
};

// Random inputs of a larger layer (T = 16, d_model = d_k = 16), each with its own shuffle.
void random_trials(int64_t trials, Generator& gen, SymmetryResult& r) {
  const int64_t T = 16, d = 16;
  Tensor pe = sinusoidal_pe(T, d);
  for (int64_t k = 0; k < trials; ++k) {
    Tensor X = randn({T, d}, DType::f64, gen);
    Weights w = init_weights(d, d, gen);
    Tensor perm = random_shuffle(T, gen);
    r.equivariance_err = std::max(r.equivariance_err, equivariance_gap(X, w, perm, Tensor()));
    r.pe_break = std::min(r.pe_break, equivariance_gap(X, w, perm, pe));
  }
}

void part3_equivariance(const Sentence& s, const Tensor& perm, SymmetryResult& r) {
  fmt::print("== 3. Shuffle the words, and the outputs shuffle the same way\n\n");
  Tensor P = permutation_matrix(perm);
  fmt::print("shuffle: \"{}\" -> \"{}\", as a permutation matrix P (row i picks token perm[i]):\n{}\n",
             join(kTokens), join(shuffled_tokens(perm)), P);
  NoGradGuard no_grad;
  Tensor Z_shuffled = self_attention(Var(matmul(P, s.X)), s.w).Z.value();
  fmt::print("SA(P X) =\n{}\nP SA(X) =\n{}\n", Z_shuffled, matmul(P, self_attention(Var(s.X), s.w).Z.value()));
  const double gap = equivariance_gap(s.X, s.w, perm, Tensor());
  r.equivariance_err = std::max(r.equivariance_err, gap);
  fmt::print("max |SA(P X) - P SA(X)| = {:.1e}: SA(P X) = P SA(X). Every token's new row depends on which\n"
             "tokens are present, never on where they stand: \"the cat sat on the mat\" and any shuffle of it\n"
             "look the same to the layer, token by token. The last digits can differ because the softmax\n"
             "sums a shuffled row in another order.\n",
             gap);
  Tensor Z = self_attention(Var(s.X), s.w).Z.value();
  fmt::print("The two \"the\" rows of Z differ by {:.1e}: same word, same output, whatever its place.\n\n",
             max_abs_diff(Z.select(0, 0), Z.select(0, 4)));
}

// ---- Part 4: positions -------------------------------------------------------------------------

void part4_positions(const LessonOptions& opt, const Sentence& s, const Tensor& perm, SymmetryResult& r) {
  fmt::print("== 4. Sinusoidal positions break the symmetry\n\n");
  const int64_t T = static_cast<int64_t>(kTokens.size());
  Tensor pe = sinusoidal_pe(T, kDModel);
  fmt::print("PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))\n"
             "is added to X: the input becomes X + PE, a token's embedding plus its place.\nPE =\n{}\n",
             pe);
  {
    // One entry by hand: pos = 3, dimension 2 (i = 1).
    const double by_hand = std::sin(3.0 / std::pow(10000.0, 2.0 / static_cast<double>(kDModel)));
    fmt::print("check: PE[3, 2] = sin(3 / 10000^(2/{})) = {:.6f}; the table holds {:.6f}\n\n", kDModel, by_hand,
               pe.at({3, 2}));
  }
  const double gap = equivariance_gap(s.X, s.w, perm, pe);
  r.pe_break = std::min(r.pe_break, gap);
  NoGradGuard no_grad;
  SelfAttention plain = self_attention(Var(s.X), s.w);
  SelfAttention placed = self_attention(Var(s.X + pe), s.w);
  fmt::print("with positions: max |SA(P X + PE) - P SA(X + PE)| = {:.3f}. Shuffling now changes what\n"
             "each token computes, since it moves the tokens but not the places.\n",
             gap);
  fmt::print("The two \"the\" rows of Z now differ by {:.3f} (without positions: {:.1e}).\n\n",
             max_abs_diff(placed.Z.value().select(0, 0), placed.Z.value().select(0, 4)),
             max_abs_diff(plain.Z.value().select(0, 0), plain.Z.value().select(0, 4)));

  heatmap(rows_of(plain.A.value()), kTokens, kTokens,
          {.title = "alpha without positions", .x_label = "key", .y_label = "query"})
      .save(opt.out_dir + "/alpha_no_positions.svg");
  heatmap(rows_of(placed.A.value()), kTokens, kTokens,
          {.title = "alpha with sinusoidal positions", .x_label = "key", .y_label = "query"})
      .save(opt.out_dir + "/alpha_with_positions.svg");

  // The encoding itself, at a size where its clocks are visible. The heatmap shows values in
  // [0, 1], so it draws (PE + 1) / 2: white is -1, dark blue +1.
  const int64_t P = 32, D = 32;
  Tensor big = (sinusoidal_pe(P, D) + 1.0) * 0.5;
  std::vector<std::string> pos_labels, dim_labels;
  for (int64_t p = 0; p < P; ++p) pos_labels.push_back(std::to_string(p));
  for (int64_t d = 0; d < D; ++d) dim_labels.push_back(std::to_string(d));
  heatmap(rows_of(big), pos_labels, dim_labels,
          {.title = "sinusoidal PE, drawn as (PE + 1) / 2: white -1, blue +1", .x_label = "dimension", .y_label = "position",
           .show_values = false, .cell = 16})
      .save(opt.out_dir + "/positional_encoding.svg");
  fmt::print("Reading the PE heatmap: the left columns flip fast (dims 0, 1 turn once every 2 pi positions),\n"
             "the right ones barely move. Each row is a different pattern, a fingerprint of its place.\n");
  fmt::print("figures: {0}/positional_encoding.svg, {0}/alpha_no_positions.svg, {0}/alpha_with_positions.svg\n\n",
             opt.out_dir);
}

void write_graph(const LessonOptions& opt, const Sentence& s) {
  // Recorded with grad on: the embedding table and the weights are parameters.
  Tensor pe = sinusoidal_pe(static_cast<int64_t>(kTokens.size()), kDModel);
  Var X;
  {
    NameScope scope("embed");  // x_t = embedding[token_t] + PE[t]
    X = add(embedding(s.table, s.ids), Var(pe).set_name("PE")).set_name("X");
  }
  SelfAttention sa = self_attention(X, s.w);
  std::string dot = to_dot({sa.Z}, {.title = "Z = softmax((X W_Q)(X W_K)^T / sqrt(d_k)) X W_V,  X = emb + PE"});
  render(dot, opt.out_dir + "/self_attention.dot");
  render(dot, opt.out_dir + "/self_attention.svg");
  fmt::print("graph: {}/self_attention.svg\n\n", opt.out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  LessonOptions opt = parse_lesson_flags(argc, argv, "09_self_attention_positional",
                                         "self-attention, permutation equivariance and positional encoding");
  LessonReport report(opt);
  try {
    Generator gen(opt.seed * 1000 + 9);
    Sentence s = make_sentence(gen);
    Tensor Z = part1_projections(s);
    const double rows_err = part2_classroom(s, Z);
    SymmetryResult sym;
    Tensor perm = random_shuffle(static_cast<int64_t>(kTokens.size()), gen);
    part3_equivariance(s, perm, sym);
    part4_positions(opt, s, perm, sym);
    const int64_t trials = opt.quick ? 5 : 50;
    random_trials(trials, gen, sym);
    fmt::print("Over the sentence and {} random layers (T = 16, d_model = 16), each with its own shuffle:\n"
               "without positions the largest gap is {:.1e}; with positions the smallest is {:.3f}.\n\n",
               trials, sym.equivariance_err, sym.pe_break);
    write_graph(opt, s);

    report.metric("rows_vs_batched_err", rows_err);
    report.metric("equivariance_err", sym.equivariance_err);
    report.metric("pe_break", sym.pe_break);
    fmt::print("== Targets\n");
    report.at_most("rows_vs_batched_err", rows_err, 1e-12);
    report.at_most("equivariance_err", sym.equivariance_err, 1e-12);
    report.at_least("pe_break", sym.pe_break, 0.1);
  } catch (const lumen::Error& e) {
    fmt::print(stderr, "09_self_attention_positional: {}\n", e.what());
    return 2;
  }
  return report.finish();
}
