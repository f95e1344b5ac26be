// RNNCell, GRUCell, LSTMCell, the fused gru_gates op and the Encoder: outputs against PyTorch's
// gate equations written out by hand, gradients against central differences (inputs and
// parameters), PyTorch's names and shapes, padding, bidirectional runs, and every error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "nn/encoder.h"
#include "nn/rnn.h"
#include "tensor/random.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, DType::f64, gen);
}
void set_values(const Var& p, const std::vector<double>& values) {
  Tensor dst = p.value();
  dst.copy_(Tensor::from_vector(values, p.shape(), p.dtype()));
}
void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}
double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Row-major [rows, cols] matrix times vector: sum_k W[row, k] v[k], for rows [row0, row0 + n).
std::vector<double> matvec(const std::vector<double>& W, int64_t cols, const std::vector<double>& v, int64_t row0,
                           int64_t n) {
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < cols; ++k) out[static_cast<size_t>(r)] += W[static_cast<size_t>((row0 + r) * cols + k)] * v[static_cast<size_t>(k)];
  return out;
}

// Fixed small weights for a cell with G gates, I = 2, H = 2, so the expected values below are
// PyTorch's formulas evaluated by hand (here: by these loops, one gate at a time).
struct Weights {
  std::vector<double> w_ih, w_hh, b_ih, b_hh;
};
Weights weights_for(int64_t G) {
  Weights w;
  for (int64_t i = 0; i < G * 2 * 2; ++i) {
    w.w_ih.push_back(0.1 * static_cast<double>((i * 7) % 11) - 0.5);
    w.w_hh.push_back(0.05 * static_cast<double>((i * 5) % 13) - 0.3);
  }
  for (int64_t i = 0; i < G * 2; ++i) {
    w.b_ih.push_back(0.1 * static_cast<double>(i) - 0.2);
    w.b_hh.push_back(0.3 - 0.07 * static_cast<double>(i));
  }
  return w;
}
void load(const RecurrentCell& cell, const Weights& w) {
  set_values(cell.weight_ih(), w.w_ih);
  set_values(cell.weight_hh(), w.w_hh);
  set_values(cell.bias_ih(), w.b_ih);
  set_values(cell.bias_hh(), w.b_hh);
}

// One gate block: W_i[g] x + b_i[g] (ih) and W_h[g] h + b_h[g] (hh), gate g of size 2.
std::vector<double> gate_ih(const Weights& w, const std::vector<double>& x, int64_t g) {
  auto v = matvec(w.w_ih, 2, x, g * 2, 2);
  for (int64_t j = 0; j < 2; ++j) v[static_cast<size_t>(j)] += w.b_ih[static_cast<size_t>(g * 2 + j)];
  return v;
}
std::vector<double> gate_hh(const Weights& w, const std::vector<double>& h, int64_t g) {
  auto v = matvec(w.w_hh, 2, h, g * 2, 2);
  for (int64_t j = 0; j < 2; ++j) v[static_cast<size_t>(j)] += w.b_hh[static_cast<size_t>(g * 2 + j)];
  return v;
}

const std::vector<double> kX = {0.7, -1.2};
const std::vector<double> kH = {0.4, -0.9};
const std::vector<double> kC = {-0.6, 1.1};

void require_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    REQUIRE(std::abs(got[i] - want[i]) <= tol);
  }
}

}  // namespace

// ---- values against PyTorch's equations ---------------------------------------------------------

TEST_CASE("RNNCell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    RNNCell cell({.input_size = 2, .hidden_size = 2, .dtype = dt});
    Weights w = weights_for(1);
    load(cell, w);
    Var y = cell(Var(Tensor::from_vector(kX, {1, 2}, dt)), Var(Tensor::from_vector(kH, {1, 2}, dt)));
    auto a = gate_ih(w, kX, 0), b = gate_hh(w, kH, 0);
    require_close(y.value().to_vector(), {std::tanh(a[0] + b[0]), std::tanh(a[1] + b[1])},
                  dt == DType::f32 ? 1e-6 : 1e-14);
  }
}

TEST_CASE("GRUCell: PyTorch's r, z, n gates, with r applied to W_hn h + b_hn", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    GRUCell cell({.input_size = 2, .hidden_size = 2, .dtype = dt});
    Weights w = weights_for(3);
    load(cell, w);
    Var y = cell(Var(Tensor::from_vector(kX, {1, 2}, dt)), Var(Tensor::from_vector(kH, {1, 2}, dt)));
    std::vector<double> want;
    auto ir = gate_ih(w, kX, 0), hr = gate_hh(w, kH, 0);
    auto iz = gate_ih(w, kX, 1), hz = gate_hh(w, kH, 1);
    auto in = gate_ih(w, kX, 2), hn = gate_hh(w, kH, 2);
    for (size_t j = 0; j < 2; ++j) {
      const double r = sig(ir[j] + hr[j]);
      const double z = sig(iz[j] + hz[j]);
      const double n = std::tanh(in[j] + r * hn[j]);  // r multiplies (W_hn h + b_hn), bias included
      want.push_back((1 - z) * n + z * kH[j]);
    }
    require_close(y.value().to_vector(), want, dt == DType::f32 ? 1e-6 : 1e-14);
    // The other common variant, n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), differs here:
    // the check above can tell them apart.
    const double r0 = sig(ir[0] + hr[0]), r1 = sig(ir[1] + hr[1]);
    auto hn_variant = matvec(w.w_hh, 2, {r0 * kH[0], r1 * kH[1]}, 4, 2);
    const double n0 = std::tanh(in[0] + hn_variant[0] + w.b_hh[4]);
    const double z0 = sig(iz[0] + hz[0]);
    REQUIRE(std::abs(((1 - z0) * n0 + z0 * kH[0]) - want[0]) > 1e-3);
  }
}

TEST_CASE("LSTMCell: PyTorch's i, f, g, o gates", "[nn]") {
  for (DType dt : {DType::f32, DType::f64}) {
    LSTMCell cell({.input_size = 2, .hidden_size = 2, .dtype = dt});
    Weights w = weights_for(4);
    load(cell, w);
    CellState s = cell(Var(Tensor::from_vector(kX, {1, 2}, dt)),
                       {Var(Tensor::from_vector(kH, {1, 2}, dt)), Var(Tensor::from_vector(kC, {1, 2}, dt))});
    std::vector<double> want_h, want_c;
    for (size_t j = 0; j < 2; ++j) {
      auto pre = [&](int64_t g) { return gate_ih(w, kX, g)[j] + gate_hh(w, kH, g)[j]; };
      const double i = sig(pre(0)), f = sig(pre(1)), g = std::tanh(pre(2)), o = sig(pre(3));
      const double c = f * kC[j] + i * g;
      want_c.push_back(c);
      want_h.push_back(o * std::tanh(c));
    }
    const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
    require_close(s.h.value().to_vector(), want_h, tol);
    require_close(s.c.value().to_vector(), want_c, tol);
  }
}

TEST_CASE("cells: a missing state means zeros", "[nn]") {
  Generator gen(3);
  GRUCell gru({.input_size = 3, .hidden_size = 4, .dtype = DType::f64}, gen);
  LSTMCell lstm({.input_size = 3, .hidden_size = 4, .dtype = DType::f64}, gen);
  Var x(randn64({2, 3}, 1));
  Var zeros(Tensor::zeros({2, 4}, DType::f64));
  REQUIRE(gru(x).value().to_vector() == gru(x, zeros).value().to_vector());
  CellState a = lstm(x), b = lstm(x, {zeros, zeros});
  REQUIRE(a.h.value().to_vector() == b.h.value().to_vector());
  REQUIRE(a.c.value().to_vector() == b.c.value().to_vector());
}

// ---- parameters -------------------------------------------------------------------------------

TEST_CASE("cells: PyTorch's parameter names, shapes and initial range", "[nn]") {
  struct Case {
    CellType type;
    int64_t gates;
  };
  for (Case c : {Case{CellType::rnn, 1}, Case{CellType::gru, 3}, Case{CellType::lstm, 4}}) {
    Generator gen(11);
    auto cell = make_cell(c.type, {.input_size = 5, .hidden_size = 16}, gen);
    auto params = cell->named_parameters();
    REQUIRE(params.size() == 4);
    REQUIRE(params[0].first == "weight_ih");
    REQUIRE(params[0].second.shape() == Shape{c.gates * 16, 5});
    REQUIRE(params[1].first == "weight_hh");
    REQUIRE(params[1].second.shape() == Shape{c.gates * 16, 16});
    REQUIRE(params[2].first == "bias_ih");
    REQUIRE(params[2].second.shape() == Shape{c.gates * 16});
    REQUIRE(params[3].first == "bias_hh");
    REQUIRE(params[3].second.shape() == Shape{c.gates * 16});
    REQUIRE(cell->type_name() == cell_type_name(c.type));
    // U(-1/sqrt(H), 1/sqrt(H)) = U(-0.25, 0.25), and it fills that range.
    double lo = 1, hi = -1;
    for (auto& [name, p] : params)
      for (double v : p.value().to_vector()) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    REQUIRE(lo >= -0.25);
    REQUIRE(hi <= 0.25);
    REQUIRE(lo < -0.23);
    REQUIRE(hi > 0.23);
    // The same seed gives the same weights.
    Generator again(11);
    auto twin = make_cell(c.type, {.input_size = 5, .hidden_size = 16}, again);
    REQUIRE(twin->weight_hh().value().to_vector() == cell->weight_hh().value().to_vector());
  }
  GRUCell no_bias({.input_size = 2, .hidden_size = 3, .bias = false});
  REQUIRE(no_bias.named_parameters().size() == 2);
  REQUIRE(!no_bias.bias_ih().defined());
  // Without biases it still runs: h' with x = 0 and h = 0 is (1 - 1/2) * tanh(0) = 0.
  Var y = no_bias(Var(Tensor::zeros({1, 2})));
  REQUIRE(y.value().to_vector() == std::vector<double>{0, 0, 0});
}

// ---- gradients --------------------------------------------------------------------------------

TEST_CASE("cells: gradcheck with respect to inputs and parameters", "[nn][gradcheck]") {
  Generator gen(5);
  RNNCell rnn({.input_size = 3, .hidden_size = 4, .dtype = DType::f64}, gen);
  GRUCell gru({.input_size = 3, .hidden_size = 4, .dtype = DType::f64}, gen);
  LSTMCell lstm({.input_size = 3, .hidden_size = 4, .dtype = DType::f64}, gen);
  // x as a transposed view, h as a strided slice: the cells must read any strides.
  Tensor x = randn64({3, 2}, 1).mT();
  Tensor h = randn64({2, 8}, 2).slice(1, 0, 8, 2);
  Tensor c = randn64({2, 4}, 3);

  require_gradcheck([&](const std::vector<Var>& v) { return rnn(v[0], v[1]); }, {x, h});
  require_gradcheck([&](const std::vector<Var>& v) { return gru(v[0], v[1]); }, {x, h});
  require_gradcheck(
      [&](const std::vector<Var>& v) {
        CellState s = lstm(v[0], {v[1], v[2]});
        return concat({s.h, s.c}, 1);
      },
      {x, h, c});

  Var xv(x), hv(h), cv(c);
  testing::require_param_grads(rnn, [&] { return rnn(xv, hv); });
  testing::require_param_grads(gru, [&] { return gru(xv, hv); });
  testing::require_param_grads(lstm, [&] {
    CellState s = lstm(xv, {hv, cv});
    return concat({s.h, s.c}, 1);
  });
}

TEST_CASE("gru_gates: the fused backward matches the Var-op backward, and differentiates twice", "[nn][gradcheck]") {
  Tensor gi = randn64({3, 6}, 4), gh = randn64({3, 6}, 5), h = randn64({3, 2}, 6);
  auto f = [](const std::vector<Var>& v) { return gru_gates(v[0], v[1], v[2]); };
  require_gradcheck(f, {gi, gh, h});
  GradcheckResult gg = gradgradcheck(f, {gi, gh, h});
  INFO(gg.summary());
  REQUIRE(gg.passed);

  // The op against the plain composition of Var ops, in value and in both backward paths.
  Var a(gi, true), b(gh, true), c(h, true);
  auto i = chunk(a, 3, 1), hh = chunk(b, 3, 1);
  Var r = sigmoid(i[0] + hh[0]), z = sigmoid(i[1] + hh[1]), n = tanh(i[2] + r * hh[2]);
  Var reference = (1.0 - z) * n + z * c;
  Var fused = gru_gates(a, b, c);
  REQUIRE(max_abs_diff(fused.value(), reference.value()) < 1e-15);
  Var w(randn64({3, 2}, 7));
  std::vector<Var> want = grad({sum(reference * w)}, {a, b, c});
  std::vector<Var> kernel = grad({sum(fused * w)}, {a, b, c}, {}, {.retain_graph = true});
  std::vector<Var> graph = grad({sum(fused * w)}, {a, b, c}, {}, {.create_graph = true});
  for (size_t k = 0; k < 3; ++k) {
    REQUIRE(max_abs_diff(kernel[k].value(), want[k].value()) < 1e-14);
    REQUIRE(max_abs_diff(graph[k].value(), want[k].value()) < 1e-14);
  }
}

// ---- errors -----------------------------------------------------------------------------------

TEST_CASE("cells: errors name the cell and the shapes", "[nn]") {
  GRUCell gru({.input_size = 3, .hidden_size = 4});
  LSTMCell lstm({.input_size = 3, .hidden_size = 4});
  Var x(Tensor::zeros({2, 3})), h(Tensor::zeros({2, 4}));
  REQUIRE_THROWS_AS(gru(Var(Tensor::zeros({2, 5})), h), ShapeError);
  REQUIRE_THROWS_WITH(gru(Var(Tensor::zeros({2, 5})), h), Catch::Contains("GRUCell") && Catch::Contains("[2, 5]"));
  REQUIRE_THROWS_WITH(gru(x, Var(Tensor::zeros({3, 4}))), Catch::Contains("GRUCell") && Catch::Contains("[3, 4]"));
  REQUIRE_THROWS_WITH(gru(Var(Tensor::zeros({2, 3, 1})), h), Catch::Contains("[2, 3, 1]"));
  REQUIRE_THROWS_AS(gru(Var(Tensor::zeros({2, 3}, DType::f64)), Var(Tensor::zeros({2, 4}, DType::f64))), DTypeError);
  REQUIRE_THROWS_WITH(gru(Var(Tensor::zeros({2, 3}, DType::f64)), Var(Tensor::zeros({2, 4}, DType::f64))),
                      Catch::Contains("GRUCell") && Catch::Contains("f64"));
  REQUIRE_THROWS_AS(gru(Var(), h), ValueError);
  REQUIRE_THROWS_WITH(lstm(x, {h, Var(Tensor::zeros({2, 3}))}), Catch::Contains("LSTMCell") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_AS(RNNCell({.input_size = 3, .hidden_size = 0}), ValueError);
  REQUIRE_THROWS_WITH(RNNCell({.input_size = 3, .hidden_size = 0}), Catch::Contains("hidden_size"));
  REQUIRE_THROWS_AS(RNNCell({.input_size = 3, .hidden_size = 2, .dtype = DType::i64}), DTypeError);
  REQUIRE_THROWS_AS(gru_gates(Var(Tensor::zeros({2, 6})), Var(Tensor::zeros({2, 5})), Var(Tensor::zeros({2, 2}))),
                    ShapeError);
  REQUIRE_THROWS_WITH(gru_gates(Var(Tensor::zeros({2, 6})), Var(Tensor::zeros({2, 5})), Var(Tensor::zeros({2, 2}))),
                      Catch::Contains("gru_gates") && Catch::Contains("[2, 5]"));
}

// ---- Encoder ----------------------------------------------------------------------------------

namespace {
// Runs `cell` by hand over x[b, steps...] for one row b: the reference for the encoder.
CellState run_by_hand(const RecurrentCell& cell, const Tensor& x, int64_t b, const std::vector<int64_t>& steps) {
  CellState s = cell.zero_state(1);
  for (int64_t t : steps) s = cell.step(Var(x.select(0, b).select(0, t).unsqueeze(0)), s);
  return s;
}
}  // namespace

TEST_CASE("Encoder: padded rows stop at their own length, in both directions", "[nn]") {
  for (CellType type : {CellType::gru, CellType::lstm}) {
    Generator gen(9);
    Encoder enc({.input_size = 3, .hidden_size = 2, .cell = type, .bidirectional = true, .dtype = DType::f64}, gen);
    REQUIRE(enc.output_size() == 4);
    Tensor x = randn64({3, 4, 3}, 8);
    Tensor lengths = Tensor::from_vector(std::vector<int64_t>{4, 2, 1}, {3});
    EncoderOutput out = enc.forward(Var(x), lengths);
    REQUIRE(out.h.shape() == Shape{3, 4, 4});
    REQUIRE(out.final.h.shape() == Shape{3, 4});
    REQUIRE(out.mask.to_vector() == std::vector<double>{1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0});
    const std::vector<int64_t> lens = {4, 2, 1};
    for (int64_t b = 0; b < 3; ++b) {
      const int64_t L = lens[static_cast<size_t>(b)];
      for (int64_t t = 0; t < 4; ++t) {
        Tensor h_bt = out.h.value().select(0, b).select(0, t);  // [4]
        if (t >= L) {
          REQUIRE(h_bt.to_vector() == std::vector<double>(4, 0.0));  // exactly zero at padding
          continue;
        }
        std::vector<int64_t> fwd_steps, bwd_steps;
        for (int64_t k = 0; k <= t; ++k) fwd_steps.push_back(k);
        for (int64_t k = L - 1; k >= t; --k) bwd_steps.push_back(k);  // from the row's own last token
        CellState f = run_by_hand(enc.fwd(), x, b, fwd_steps), r = run_by_hand(*enc.bwd(), x, b, bwd_steps);
        REQUIRE(max_abs_diff(h_bt.slice(0, 0, 2), f.h.value().squeeze(0)) < 1e-14);
        REQUIRE(max_abs_diff(h_bt.slice(0, 2, 4), r.h.value().squeeze(0)) < 1e-14);
        if (t == L - 1) REQUIRE(max_abs_diff(out.final.h.value().select(0, b).slice(0, 0, 2), f.h.value().squeeze(0)) < 1e-14);
        if (t == 0) {
          REQUIRE(max_abs_diff(out.final.h.value().select(0, b).slice(0, 2, 4), r.h.value().squeeze(0)) < 1e-14);
          if (type == CellType::lstm)
            REQUIRE(max_abs_diff(out.final.c.value().select(0, b).slice(0, 2, 4), r.c.value().squeeze(0)) < 1e-14);
        }
      }
    }
  }
}

TEST_CASE("Encoder: padded inputs get exactly zero gradient", "[nn]") {
  Generator gen(2);
  Encoder enc({.input_size = 2, .hidden_size = 3, .bidirectional = true, .dtype = DType::f64}, gen);
  Var x(randn64({2, 5, 2}, 3), true);
  Tensor lengths = Tensor::from_vector(std::vector<int64_t>{5, 3}, {2});
  EncoderOutput out = enc.forward(x, lengths);
  sum(out.h * Var(randn64({2, 5, 6}, 4))).backward();
  Tensor g = x.grad();
  REQUIRE(g.select(0, 1).slice(0, 3, 5).to_vector() == std::vector<double>(4, 0.0));
  REQUIRE(std::abs(sum(abs(g.select(0, 1).slice(0, 0, 3))).item()) > 1e-3);  // real steps do get one
}

TEST_CASE("Encoder: token ids through its embedding equal the embedded input", "[nn]") {
  Generator gen(4);
  Encoder enc({.input_size = 3, .hidden_size = 2, .cell = CellType::rnn, .vocab_size = 6, .dtype = DType::f64}, gen);
  REQUIRE(enc.embedding() != nullptr);
  REQUIRE(enc.named_parameters()[0].first == "embedding.weight");
  REQUIRE(enc.named_parameters()[1].first == "fwd.weight_ih");
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 5, 2, 0, 3, 3}, {2, 3});
  EncoderOutput a = enc.forward(ids);
  EncoderOutput b = enc.forward(Var(embedding(enc.embedding()->weight().value(), ids)));
  REQUIRE(max_abs_diff(a.h.value(), b.h.value()) < 1e-15);
  REQUIRE(!a.mask.defined());  // no lengths, no mask
}

TEST_CASE("Encoder: gradcheck with respect to inputs and parameters", "[nn][gradcheck]") {
  Generator gen(6);
  Encoder enc({.input_size = 2, .hidden_size = 2, .bidirectional = true, .dtype = DType::f64}, gen);
  Tensor lengths = Tensor::from_vector(std::vector<int64_t>{3, 2}, {2});
  // x [2, 3, 2] given as a permuted view
  Tensor x = randn64({3, 2, 2}, 7).permute({1, 0, 2});
  auto f = [&](const std::vector<Var>& v) {
    EncoderOutput o = enc.forward(v[0], lengths);
    return concat({flatten(o.h), flatten(o.final.h)}, 0);
  };
  require_gradcheck(f, {x});
  Var xv(x);
  testing::require_param_grads(enc, [&] { return f({xv}); });
}

TEST_CASE("Encoder: one graph cluster per time step", "[nn]") {
  struct Root : Module {
    Root() : Module("Root") { register_module("encoder", enc); }
    Encoder enc{{.input_size = 2, .hidden_size = 2, .bidirectional = true}};
  } model;
  EncoderOutput out = model.enc.forward(Var(Tensor::ones({1, 3, 2})));
  std::vector<std::string> scopes = graph_scopes({sum(out.h)});
  for (const char* s : {"encoder", "encoder.t1", "encoder.t2", "encoder.t3", "encoder.t1.fwd", "encoder.t3.bwd"})
    REQUIRE(std::find(scopes.begin(), scopes.end(), s) != scopes.end());
  REQUIRE(std::find(scopes.begin(), scopes.end(), "encoder.t4") == scopes.end());
}

TEST_CASE("Encoder: errors name the shapes", "[nn]") {
  Encoder enc({.input_size = 2, .hidden_size = 2});
  REQUIRE_THROWS_AS(enc.forward(Var(Tensor::zeros({2, 3, 4}))), ShapeError);
  REQUIRE_THROWS_WITH(enc.forward(Var(Tensor::zeros({2, 3, 4}))), Catch::Contains("Encoder") && Catch::Contains("[2, 3, 4]"));
  REQUIRE_THROWS_WITH(enc.forward(Var(Tensor::zeros({2, 3, 2})), Tensor::from_vector(std::vector<int64_t>{3}, {1})),
                      Catch::Contains("lengths") && Catch::Contains("[1]"));
  REQUIRE_THROWS_WITH(enc.forward(Var(Tensor::zeros({2, 3, 2})), Tensor::from_vector(std::vector<int64_t>{3, 4}, {2})),
                      Catch::Contains("lengths[1] = 4"));
  REQUIRE_THROWS_AS(enc.forward(Tensor::zeros({2, 3}, DType::i64)), ValueError);  // no embedding
  REQUIRE_THROWS_WITH(enc.forward(Tensor::zeros({2, 3}, DType::i64)), Catch::Contains("vocab_size"));
  REQUIRE_THROWS_AS(length_mask(Tensor::zeros({2}), 3), ValueError);  // f32 lengths
}
