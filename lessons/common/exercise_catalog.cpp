// The eight gradient exercises: shapes, reference forwards and the mistakes the checker knows.
//
// Shapes are chosen so the hints can tell mistakes apart: a non-square weight turns a missing
// transpose into a shape error, a square one shows it as a transposed value; broadcast counts
// are never 2, so an averaged gradient (1/count) is not mistaken for a factor of 2; attention's
// head sizes are never 4, so a missing 1/sqrt(d) is not one either.
#include "lessons/common/exercise_catalog.h"

#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

#include "autograd/ops.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace lumen::lessons {
namespace {

constexpr DType f64 = DType::f64;
constexpr double kInf = std::numeric_limits<double>::infinity();

using Cases = std::vector<std::vector<Tensor>>;

// ---- 00: tanh and mul --------------------------------------------------------------------------

ExerciseInfo tanh_exercise() {
  ExerciseInfo e;
  e.name = "tanh";
  e.lesson = "00_engine_tour";
  e.file = "lessons/00_engine_tour/exercise_tanh.h";
  e.forward = "y = tanh(x), elementwise;  x [*] -> y [*]";
  e.derive = "dL/dx from dL/dy";
  e.inputs = {"x"};
  e.summed = {false};
  e.cases = [] {
    Generator gen(100);
    Cases cases;
    for (Shape s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}}) cases.push_back({randn(s, f64, gen)});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) { return tanh(xs[0]); };
  e.mistakes = {
      {HintKind::other,
       "it is dL/dy * (1 - x^2): tanh'(x) is 1 - tanh(x)^2 = 1 - y^2, with the output y, not the input x",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         return std::vector<Tensor>{g * sub(1.0, square(in[0]))};
       }},
  };
  return e;
}

ExerciseInfo mul_exercise() {
  ExerciseInfo e;
  e.name = "mul";
  e.lesson = "00_engine_tour";
  e.file = "lessons/00_engine_tour/exercise_mul.h";
  e.forward = "y = a * b, elementwise with broadcasting;  a [*a], b [*b] -> y [broadcast(*a, *b)]";
  e.derive = "dL/da and dL/db from dL/dy, summed back to each operand's shape";
  e.inputs = {"a", "b"};
  e.summed = {true, true};
  e.cases = [] {
    Generator gen(101);
    Cases cases;
    for (auto [sa, sb] : {std::pair{Shape{3, 4}, Shape{4}}, std::pair{Shape{2, 3, 4}, Shape{3, 1}},
                          std::pair{Shape{3}, Shape{4, 3}}, std::pair{Shape{4, 5}, Shape{4, 5}}})
      cases.push_back({randn(sa, f64, gen), randn(sb, f64, gen)});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) { return mul(xs[0], xs[1]); };
  e.mistakes = {
      {HintKind::other,
       "the operands are swapped: y = a * b gives dL/da = dL/dy * b (the other operand) and dL/db = dL/dy * a",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         return std::vector<Tensor>{sum_to(g * in[0], in[0].shape()), sum_to(g * in[1], in[1].shape())};
       }},
  };
  return e;
}

// ---- 01: RNN and GRU cells -------------------------------------------------------------------

// x [B, D], h [B, H], W_xh [D, H], W_hh [H, H], b [H]
ExerciseInfo rnn_cell_exercise() {
  ExerciseInfo e;
  e.name = "rnn_cell";
  e.lesson = "01_seq2seq_bottleneck";
  e.file = "lessons/01_seq2seq_bottleneck/exercise_rnn_cell.h";
  e.forward = "h' = tanh(x W_xh + h W_hh + b);  x [B, D], h [B, H], W_xh [D, H], W_hh [H, H], b [H] -> h' [B, H]";
  e.derive = "the gradients of x, h, W_xh, W_hh and b from dL/dh'";
  e.inputs = {"x", "h", "W_xh", "W_hh", "b"};
  e.summed = {false, false, true, true, true};
  e.cases = [] {
    Generator gen(102);
    Cases cases;
    // (B, D, H): W_xh non-square, square, and a single batch row.
    for (auto [B, D, H] : {std::tuple{3, 2, 4}, std::tuple{4, 3, 3}, std::tuple{1, 5, 2}})
      cases.push_back({randn({B, D}, f64, gen), randn({B, H}, f64, gen), randn({D, H}, f64, gen) * 0.5,
                       randn({H, H}, f64, gen) * 0.5, randn({H}, f64, gen)});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) {
    return tanh(matmul(xs[0], xs[2]) + matmul(xs[1], xs[3]) + xs[4]);
  };
  e.mistakes = {
      {HintKind::missing_term,
       "tanh's derivative is missing: go through z = x W_xh + h W_hh + b first, dL/dz = dL/dh' * (1 - h'^2)",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         const Tensor& dz = g;
         return std::vector<Tensor>{matmul(dz, in[2].mT()), matmul(dz, in[3].mT()), matmul(in[0].mT(), dz),
                                    matmul(in[1].mT(), dz), sum(dz, {0})};
       }},
  };
  return e;
}

// x [B, D], h [B, H], W_x [D, 3H], W_h [H, 3H], b [3H]
ExerciseInfo gru_cell_exercise() {
  ExerciseInfo e;
  e.name = "gru_cell";
  e.lesson = "01_seq2seq_bottleneck";
  e.file = "lessons/01_seq2seq_bottleneck/exercise_gru_cell.h";
  e.forward = "r, z = sigmoid(..), n = tanh(a_n + r * c_n), h' = (1 - z) * n + z * h;  x [B, D], h [B, H], "
              "W_x [D, 3H], W_h [H, 3H], b [3H] -> h' [B, H]";
  e.derive = "the gradients of x, h, W_x, W_h and b from dL/dh', through both paths from h to h'";
  e.inputs = {"x", "h", "W_x", "W_h", "b"};
  e.summed = {false, false, true, true, true};
  e.cases = [] {
    Generator gen(103);
    Cases cases;
    // (B, D, H): W_x [D, 3H] non-square, square (D = 3H), and a single batch row.
    for (auto [B, D, H] : {std::tuple{3, 4, 2}, std::tuple{4, 6, 2}, std::tuple{1, 3, 3}})
      cases.push_back({randn({B, D}, f64, gen), randn({B, H}, f64, gen), randn({D, 3 * H}, f64, gen) * 0.5,
                       randn({H, 3 * H}, f64, gen) * 0.5, randn({3 * H}, f64, gen) * 0.5});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) {
    std::vector<Var> a = chunk(matmul(xs[0], xs[2]) + xs[4], 3, -1);
    std::vector<Var> c = chunk(matmul(xs[1], xs[3]), 3, -1);
    Var r = sigmoid(a[0] + c[0]);
    Var z = sigmoid(a[1] + c[1]);
    Var n = tanh(a[2] + r * c[2]);
    return (1.0 - z) * n + z * xs[1];
  };
  e.mistakes = {
      {HintKind::missing_term,
       "dL/dh misses the direct path: h' = (1 - z) * n + z * h uses h itself too, so dL/dh gets dL/dh' * z "
       "on top of the path through c = h W_h",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>& truth) {
         const int64_t H = in[1].size(-1);
         Tensor z = sigmoid(matmul(in[0], in[2].slice(1, H, 2 * H)) + in[4].slice(0, H, 2 * H) +
                            matmul(in[1], in[3].slice(1, H, 2 * H)));
         return std::vector<Tensor>{Tensor(), truth[1] - g * z, Tensor(), Tensor(), Tensor()};
       }},
  };
  return e;
}

// ---- 04: Bahdanau's additive score -----------------------------------------------------------

// s [B, Ds], h [B, T, Dh], W_s [Ds, A], W_h [Dh, A], v [A]
ExerciseInfo additive_score_exercise() {
  ExerciseInfo e;
  e.name = "additive_score";
  e.lesson = "04_bahdanau_attention";
  e.file = "lessons/04_bahdanau_attention/exercise_additive_score.h";
  e.forward = "e_i = v . tanh(s W_s + h_i W_h);  s [B, Ds], h [B, T, Dh], W_s [Ds, A], W_h [Dh, A], v [A] -> e [B, T]";
  e.derive = "the gradients of s, h, W_s, W_h and v from dL/de, with s W_s broadcast over the T positions";
  e.inputs = {"s", "h", "W_s", "W_h", "v"};
  e.summed = {true, false, true, true, true};
  e.cases = [] {
    Generator gen(104);
    Cases cases;
    // (B, T, Ds, Dh, A): non-square weights, square ones, and a single batch row.
    for (auto [B, T, Ds, Dh, A] : {std::tuple{3, 3, 4, 5, 6}, std::tuple{1, 4, 3, 3, 3}, std::tuple{3, 5, 2, 4, 3}})
      cases.push_back({randn({B, Ds}, f64, gen), randn({B, T, Dh}, f64, gen), randn({Ds, A}, f64, gen) * 0.5,
                       randn({Dh, A}, f64, gen) * 0.5, randn({A}, f64, gen)});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) {
    Var q = unsqueeze(matmul(xs[0], xs[2]), 1);  // [B, 1, A]
    return matmul(tanh(matmul(xs[1], xs[3]) + q), xs[4]);
  };
  e.mistakes = {
      {HintKind::missing_term,
       "tanh's derivative is missing: with a = tanh(u), dL/du = dL/da * (1 - a^2)",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>& truth) {
         Tensor du = g.unsqueeze(-1) * in[4];  // [B, T, A]
         Tensor dq = sum(du, {1});
         return std::vector<Tensor>{matmul(dq, in[2].mT()), matmul(du, in[3].mT()), matmul(in[0].mT(), dq),
                                    sum(matmul(in[1].mT(), du), {0}), truth[4]};
       }},
  };
  return e;
}

// ---- 08: softmax and causal attention ---------------------------------------------------------

ExerciseInfo softmax_exercise() {
  ExerciseInfo e;
  e.name = "softmax";
  e.lesson = "08_attention_layer_qkv";
  e.file = "lessons/08_attention_layer_qkv/exercise_softmax.h";
  e.forward = "y = softmax(x) along the last dim;  x [*, N] -> y [*, N]";
  e.derive = "dL/dx from dL/dy, with every y_j depending on every x_i of its row";
  e.inputs = {"x"};
  e.summed = {false};
  e.cases = [] {
    Generator gen(105);
    Cases cases;
    for (Shape s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 6}, Shape{4, 4}}) cases.push_back({randn(s, f64, gen)});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) { return softmax(xs[0], -1); };
  e.mistakes = {
      {HintKind::diagonal_only,
       "correct only on the diagonal: dL/dx = dL/dy * y * (1 - y) keeps the j = i terms of the softmax "
       "Jacobian and drops the others. Every y_j depends on x_i (they share the denominator): "
       "dL/dx_i = y_i * (dL/dy_i - sum_j dL/dy_j y_j)",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         Tensor y = softmax(in[0], -1);
         return std::vector<Tensor>{g * y * sub(1.0, y)};
       }},
  };
  return e;
}

// Attention's backward with the softmax step done right or by its diagonal only, for the known
// mistakes. Q [B, T, d], K [B, T, d], V [B, T, dv], g [B, T, dv].
struct AttentionGrads {
  Tensor P, dS, dQ, dK, dV;
};
AttentionGrads attention_grads(const std::vector<Tensor>& in, const Tensor& g, bool diagonal_only) {
  const Tensor &Q = in[0], &K = in[1], &V = in[2];
  const double scale = 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
  const int64_t T = Q.size(-2);
  Tensor S = masked_fill(matmul(Q, K.mT()) * scale, logical_not(tril_mask(T, T)), -kInf);
  AttentionGrads r;
  r.P = softmax(S, -1);
  Tensor dP = matmul(g, V.mT());
  r.dS = diagonal_only ? r.P * sub(1.0, r.P) * dP : r.P * (dP - sum(dP * r.P, {-1}, true));
  r.dQ = matmul(r.dS, K) * scale;
  r.dK = matmul(r.dS.mT(), Q) * scale;
  r.dV = matmul(r.P.mT(), g);
  return r;
}

// Q [B, T, d], K [B, T, d], V [B, T, dv]
ExerciseInfo causal_attention_exercise() {
  ExerciseInfo e;
  e.name = "causal_attention";
  e.lesson = "08_attention_layer_qkv";
  e.file = "lessons/08_attention_layer_qkv/exercise_causal_attention.h";
  e.forward = "O = softmax(mask(Q K^T / sqrt(d))) V, causal;  Q [B, T, d], K [B, T, d], V [B, T, dv] -> O [B, T, dv]";
  e.derive = "dL/dQ, dL/dK and dL/dV from dL/dO, through the matrix products and the softmax";
  e.inputs = {"Q", "K", "V"};
  e.summed = {false, false, false};
  e.cases = [] {
    Generator gen(106);
    Cases cases;
    // (B, T, d, dv): d = 4 would make a missing 1/sqrt(d) look like a factor of 2.
    for (auto [B, T, d, dv] : {std::tuple{1, 3, 2, 3}, std::tuple{2, 4, 3, 2}, std::tuple{2, 3, 3, 5}})
      cases.push_back({randn({B, T, d}, f64, gen), randn({B, T, d}, f64, gen), randn({B, T, dv}, f64, gen)});
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) {
    const int64_t T = xs[0].size(-2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(xs[0].size(-1)));
    Var S = masked_fill(matmul(xs[0], transpose(xs[1], -2, -1)) * scale, logical_not(tril_mask(T, T)), -kInf);
    return matmul(softmax(S, -1), xs[2]);
  };
  e.mistakes = {
      {HintKind::diagonal_only,
       "correct only on the diagonal: the softmax step used dL/dS = P * (1 - P) * dL/dP, the j = i terms "
       "of its Jacobian only. Each P_ij depends on the whole row of S: dL/dS = P * (dL/dP - rowsum(dL/dP * P))",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         AttentionGrads r = attention_grads(in, g, true);
         return std::vector<Tensor>{r.dQ, r.dK, r.dV};
       }},
      {HintKind::transposed,
       "P needs its transpose: O = P V gives dL/dV = P^T dL/dO, not P dL/dO",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         AttentionGrads r = attention_grads(in, g, false);
         return std::vector<Tensor>{Tensor(), Tensor(), matmul(r.P, g)};
       }},
      {HintKind::transposed,
       "dL/dS needs its transpose: S = Q K^T / sqrt(d) gives dL/dK = dL/dS^T Q / sqrt(d), not dL/dS Q / sqrt(d)",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         AttentionGrads r = attention_grads(in, g, false);
         const double scale = 1.0 / std::sqrt(static_cast<double>(in[0].size(-1)));
         return std::vector<Tensor>{Tensor(), matmul(r.dS, in[0]) * scale, Tensor()};
       }},
  };
  return e;
}

// ---- 14: layer norm ----------------------------------------------------------------------------

// x [*, D], gamma [D], beta [D]
ExerciseInfo layer_norm_exercise() {
  ExerciseInfo e;
  e.name = "layer_norm";
  e.lesson = "14_transformer_block";
  e.file = "lessons/14_transformer_block/exercise_layer_norm.h";
  e.forward = "y = (x - mean(x)) / sqrt(var(x) + 1e-5) * gamma + beta over the last dim;  x [*, D], gamma [D], "
              "beta [D] -> y [*, D]";
  e.derive = "dL/dx (through the mean and the variance too), dL/dgamma and dL/dbeta from dL/dy";
  e.inputs = {"x", "gamma", "beta"};
  e.summed = {false, true, true};
  e.cases = [] {
    Generator gen(107);
    Cases cases;
    // Row counts 4, 6, 3: never 2, so an average over rows is not taken for a factor of 2.
    for (Shape s : {Shape{4, 5}, Shape{2, 3, 6}, Shape{3, 4}}) {
      const int64_t D = s[s.size() - 1];
      cases.push_back({randn(s, f64, gen), add(randn({D}, f64, gen) * 0.5, 1.0), randn({D}, f64, gen) * 0.5});
    }
    return cases;
  };
  e.reference = [](const std::vector<Var>& xs) { return layer_norm(xs[0], xs[1], xs[2], 1e-5); };
  e.mistakes = {
      {HintKind::missing_term,
       "dL/dx treats the mean and the variance as constants: dL/dy * gamma / sqrt(var + eps) is only the "
       "direct term. mu and var depend on x too; with g = dL/dy * gamma, "
       "dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)",
       [](const std::vector<Tensor>& in, const Tensor& g, const std::vector<Tensor>&) {
         Tensor xc = in[0] - mean(in[0], {-1}, true);
         Tensor rstd = rsqrt(mean(square(xc), {-1}, true) + 1e-5);
         return std::vector<Tensor>{g * in[1] * rstd, Tensor(), Tensor()};
       }},
  };
  return e;
}

}  // namespace

const char* hint_kind_name(HintKind kind) {
  switch (kind) {
    case HintKind::sign: return "sign";
    case HintKind::factor_two: return "factor of 2";
    case HintKind::scale: return "constant factor";
    case HintKind::transposed: return "transposed";
    case HintKind::broadcast_not_summed: return "broadcast not summed";
    case HintKind::diagonal_only: return "diagonal only";
    case HintKind::missing_term: return "missing term";
    case HintKind::dropped_axis: return "dropped axis";
    case HintKind::other: return "known mistake";
  }
  return "?";
}

const std::vector<ExerciseInfo>& exercise_catalog() {
  static const std::vector<ExerciseInfo> catalog = {
      tanh_exercise(),    mul_exercise(),     rnn_cell_exercise(),          gru_cell_exercise(),
      additive_score_exercise(), softmax_exercise(), causal_attention_exercise(), layer_norm_exercise(),
  };
  return catalog;
}

const ExerciseInfo* find_exercise(std::string_view name) {
  for (const ExerciseInfo& e : exercise_catalog())
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace lumen::lessons
