#include "nn/rnn.h"

#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/init.h"
#include "nn/linear.h"

namespace lumen::nn {

const char* cell_type_name(CellType type) {
  switch (type) {
    case CellType::rnn: return "RNNCell";
    case CellType::gru: return "GRUCell";
    case CellType::lstm: return "LSTMCell";
  }
  return "?";
}

RecurrentCell::RecurrentCell(const char* type_name, const RNNCellOptions& options, int64_t gates, Generator& gen)
    : Module(type_name), options_(options) {
  if (options.input_size < 0 || options.hidden_size <= 0)
    throw ValueError(std::string(type_name) + ": need input_size >= 0 and hidden_size > 0, got input_size = " +
                     std::to_string(options.input_size) + " and hidden_size = " + std::to_string(options.hidden_size));
  if (!is_floating(options.dtype))
    throw DTypeError(std::string(type_name) + ": dtype must be f32 or f64, got " +
                     std::string(dtype_name(options.dtype)));
  const int64_t H = options.hidden_size, I = options.input_size;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  auto uniform_param = [&](const std::string& name, const Shape& shape) {
    Tensor t = Tensor::empty(shape, options.dtype);
    init::uniform_(t, -bound, bound, gen);
    return register_parameter(name, t);
  };
  weight_ih_ = uniform_param("weight_ih", {gates * H, I});
  weight_hh_ = uniform_param("weight_hh", {gates * H, H});
  if (options.bias) {
    bias_ih_ = uniform_param("bias_ih", {gates * H});
    bias_hh_ = uniform_param("bias_hh", {gates * H});
  }
}

CellState RecurrentCell::zero_state(int64_t batch) const {
  return {Var(Tensor::zeros({batch, options_.hidden_size}, options_.dtype)), Var()};
}

void RecurrentCell::check_step(const Var& x, const Var& h) const {
  const std::string& op = type_name();
  if (!x.defined()) throw ValueError(op + ": the input x is undefined");
  if (x.dim() != 2 || x.size(1) != options_.input_size)
    throw ShapeError(op + ": input x of shape " + shape_str(x.shape()) + " does not fit input_size " +
                     std::to_string(options_.input_size) + " (need x [B, " + std::to_string(options_.input_size) +
                     "])");
  if (h.dim() != 2 || h.size(0) != x.size(0) || h.size(1) != options_.hidden_size)
    throw ShapeError(op + ": state h of shape " + shape_str(h.shape()) + " does not fit input x " +
                     shape_str(x.shape()) + " and hidden_size " + std::to_string(options_.hidden_size) +
                     " (need h [" + std::to_string(x.size(0)) + ", " + std::to_string(options_.hidden_size) + "])");
  if (x.dtype() != options_.dtype || h.dtype() != options_.dtype)
    throw DTypeError(op + ": the cell is " + std::string(dtype_name(options_.dtype)) + " but x is " +
                     std::string(dtype_name(x.dtype())) + " and h is " + std::string(dtype_name(h.dtype())));
}

// ---- RNNCell ----------------------------------------------------------------------------------

RNNCell::RNNCell(const RNNCellOptions& options, Generator& gen) : RecurrentCell("RNNCell", options, 1, gen) {}

Var RNNCell::forward(const Var& x, const Var& h_in) const {
  auto scope = enter_scope();
  const Var h = h_in.defined() ? h_in : zero_state(x.defined() ? x.size(0) : 0).h;
  check_step(x, h);
  // x [B, I], h [B, H] -> h' [B, H]
  return tanh(linear(x, weight_ih_, bias_ih_) + linear(h, weight_hh_, bias_hh_));
}

// ---- GRUCell ----------------------------------------------------------------------------------

GRUCell::GRUCell(const GRUCellOptions& options, Generator& gen) : RecurrentCell("GRUCell", options, 3, gen) {}

Var GRUCell::forward(const Var& x, const Var& h_in) const {
  auto scope = enter_scope();
  const Var h = h_in.defined() ? h_in : zero_state(x.defined() ? x.size(0) : 0).h;
  check_step(x, h);
  // All three gates of x and of h in one matmul each: gi, gh [B, 3H], in the order r, z, n.
  std::vector<Var> gi = chunk(linear(x, weight_ih_, bias_ih_), 3, 1);
  std::vector<Var> gh = chunk(linear(h, weight_hh_, bias_hh_), 3, 1);
  Var r = sigmoid(gi[0] + gh[0]);      // [B, H] reset gate
  Var z = sigmoid(gi[1] + gh[1]);      // [B, H] update gate
  Var n = tanh(gi[2] + r * gh[2]);     // [B, H] candidate: r scales only the h part
  return (1.0 - z) * n + z * h;        // [B, H]
}

// ---- LSTMCell ---------------------------------------------------------------------------------

LSTMCell::LSTMCell(const LSTMCellOptions& options, Generator& gen) : RecurrentCell("LSTMCell", options, 4, gen) {}

CellState LSTMCell::zero_state(int64_t batch) const {
  CellState s = RecurrentCell::zero_state(batch);
  s.c = Var(Tensor::zeros({batch, options_.hidden_size}, options_.dtype));
  return s;
}

CellState LSTMCell::forward(const Var& x, const CellState& state) const {
  auto scope = enter_scope();
  const int64_t B = x.defined() ? x.size(0) : 0;
  const Var h = state.h.defined() ? state.h : RecurrentCell::zero_state(B).h;
  const Var c = state.c.defined() ? state.c : RecurrentCell::zero_state(B).h;
  check_step(x, h);
  if (c.shape() != h.shape() || c.dtype() != h.dtype())
    throw ShapeError("LSTMCell: memory c of shape " + shape_str(c.shape()) + " " + std::string(dtype_name(c.dtype())) +
                     " does not match h of shape " + shape_str(h.shape()) + " " + std::string(dtype_name(h.dtype())));
  // gates [B, 4H] in the order i, f, g, o: one matmul for x, one for h.
  std::vector<Var> gates = chunk(linear(x, weight_ih_, bias_ih_) + linear(h, weight_hh_, bias_hh_), 4, 1);
  Var i = sigmoid(gates[0]);
  Var f = sigmoid(gates[1]);
  Var g = tanh(gates[2]);
  Var o = sigmoid(gates[3]);
  Var c_next = f * c + i * g;  // [B, H]
  return {o * tanh(c_next), c_next};
}

std::unique_ptr<RecurrentCell> make_cell(CellType type, const RNNCellOptions& options, Generator& gen) {
  switch (type) {
    case CellType::rnn: return std::make_unique<RNNCell>(options, gen);
    case CellType::gru: return std::make_unique<GRUCell>(options, gen);
    case CellType::lstm: return std::make_unique<LSTMCell>(options, gen);
  }
  throw ValueError("make_cell: unknown cell type");
}

}  // namespace lumen::nn
