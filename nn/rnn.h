#pragma once
// Recurrent cells: one time step of an RNN, GRU or LSTM, with PyTorch's equations, gate order,
// parameter names and initialisation, so weights move across unchanged.
//
// Each cell keeps four parameters (the biases only when options.bias):
//   weight_ih [G*H, I]   the input-to-hidden weights of all G gates, stacked
//   weight_hh [G*H, H]   the hidden-to-hidden weights of all G gates, stacked
//   bias_ih   [G*H]
//   bias_hh   [G*H]
// with G = 1 (RNN), 3 (GRU: r, z, n) or 4 (LSTM: i, f, g, o). A step does one matmul for
// all gates of x and one for all gates of h, then cuts the [B, G*H] results into gates.
//
// In the notes' words, an encoder runs a cell as h_i = f_enc(h_{i-1}, x_i), and a decoder as
// s_t = f_dec(s_{t-1}, [emb(y_{t-1}); c]).
#include <cstdint>
#include <memory>

#include "autograd/var.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace lumen::nn {

struct RNNCellOptions {
  int64_t input_size;   // I
  int64_t hidden_size;  // H
  bool bias = true;
  DType dtype = DType::f32;
};
using GRUCellOptions = RNNCellOptions;
using LSTMCellOptions = RNNCellOptions;

// What a cell carries from one step to the next: h, and for an LSTM also the memory c
// (undefined for RNN and GRU cells). Both [B, H].
struct CellState {
  Var h;
  Var c;
};

enum class CellType { rnn, gru, lstm };
const char* cell_type_name(CellType type);

// The common face of the three cells, so an encoder or decoder can run any of them.
class RecurrentCell : public Module {
 public:
  // x [B, I], state.h [B, H] (and state.c [B, H] for an LSTM) -> the next state.
  virtual CellState step(const Var& x, const CellState& state) const = 0;
  // Zeros of [batch, H] (and c for an LSTM), in the cell's dtype.
  virtual CellState zero_state(int64_t batch) const;

  int64_t input_size() const { return options_.input_size; }
  int64_t hidden_size() const { return options_.hidden_size; }
  DType dtype() const { return options_.dtype; }
  const RNNCellOptions& options() const { return options_; }

  // Undefined when options.bias is false.
  const Var& weight_ih() const { return weight_ih_; }
  const Var& weight_hh() const { return weight_hh_; }
  const Var& bias_ih() const { return bias_ih_; }
  const Var& bias_hh() const { return bias_hh_; }

 protected:
  // Registers the four parameters for `gates` gates, each uniform in +-1/sqrt(H) (PyTorch's
  // reset_parameters), drawn in the order weight_ih, weight_hh, bias_ih, bias_hh.
  RecurrentCell(const char* type_name, const RNNCellOptions& options, int64_t gates, Generator& gen);
  // Checks x [B, I] and h [B, H] (same B, the cell's dtype) and names the cell in the error.
  void check_step(const Var& x, const Var& h) const;

  RNNCellOptions options_;
  Var weight_ih_, weight_hh_, bias_ih_, bias_hh_;
};

// h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
class RNNCell : public RecurrentCell {
 public:
  explicit RNNCell(const RNNCellOptions& options, Generator& gen = default_generator());
  // x [B, I], h [B, H] (undefined: zeros) -> h' [B, H]
  Var forward(const Var& x, const Var& h = Var()) const;
  Var operator()(const Var& x, const Var& h = Var()) const { return forward(x, h); }
  CellState step(const Var& x, const CellState& state) const override { return {forward(x, state.h), Var()}; }
};

// The GRU's gate arithmetic as one differentiable op (one pass forward, one pass backward,
// instead of a dozen small ops and their gradients):
//   gi = W_ih x + b_ih [B, 3H], gh = W_hh h + b_hh [B, 3H] (gates r, z, n), h [B, H] -> h' [B, H]
// Its backward is a fused loop; with create_graph it is written with Var ops instead, so the
// gradient can be differentiated again.
Var gru_gates(const Var& gi, const Var& gh, const Var& h);

// PyTorch's GRU, gates in the order r, z, n:
//   r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
class GRUCell : public RecurrentCell {
 public:
  explicit GRUCell(const GRUCellOptions& options, Generator& gen = default_generator());
  // x [B, I], h [B, H] (undefined: zeros) -> h' [B, H]
  Var forward(const Var& x, const Var& h = Var()) const;
  Var operator()(const Var& x, const Var& h = Var()) const { return forward(x, h); }
  CellState step(const Var& x, const CellState& state) const override { return {forward(x, state.h), Var()}; }
};

// PyTorch's LSTM, gates in the order i, f, g, o:
//   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     input gate
//   f = sigmoid(W_if x + b_if + W_hf h + b_hf)     forget gate
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)        candidate memory
//   o = sigmoid(W_io x + b_io + W_ho h + b_ho)     output gate
//   c' = f * c + i * g,   h' = o * tanh(c')
class LSTMCell : public RecurrentCell {
 public:
  explicit LSTMCell(const LSTMCellOptions& options, Generator& gen = default_generator());
  // x [B, I], state {h [B, H], c [B, H]} (undefined: zeros) -> {h', c'}
  CellState forward(const Var& x, const CellState& state = {}) const;
  CellState operator()(const Var& x, const CellState& state = {}) const { return forward(x, state); }
  CellState step(const Var& x, const CellState& state) const override { return forward(x, state); }
  CellState zero_state(int64_t batch) const override;
};

std::unique_ptr<RecurrentCell> make_cell(CellType type, const RNNCellOptions& options,
                                         Generator& gen = default_generator());

}  // namespace lumen::nn
