#include "nn/rnn.h"

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "tensor/kernels/vmath.h"

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

// ---- the fused GRU gates -----------------------------------------------------------------------

namespace {

// The same two-branch sigmoid as the tensor op: exp only ever sees -|x|.
template <class T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// gi, gh [B, 3H], h [B, H] (contiguous) -> out [B, H], and gates [B, 3H] = (r, z, n) for backward.
template <class T>
void gru_gates_forward(const T* gi, const T* gh, const T* h, T* out, T* gates, int64_t B, int64_t H) {
  if constexpr (std::is_same_v<T, float>) {
    // f32: the sigmoids and tanh go through the vectorised kernels (tensor/kernels/vmath.h),
    // a row at a time: pre-activations into `gates`, then the functions in place.
    for (int64_t b = 0; b < B; ++b) {
      const float* gib = gi + b * 3 * H;
      const float* ghb = gh + b * 3 * H;
      float* gb = gates + b * 3 * H;
      for (int64_t j = 0; j < 2 * H; ++j) gb[j] = gib[j] + ghb[j];
      kernels::vsigmoid(gb, gb, 2 * H);  // r, z
      for (int64_t j = 0; j < H; ++j) gb[2 * H + j] = gib[2 * H + j] + gb[j] * ghb[2 * H + j];
      kernels::vtanh(gb + 2 * H, gb + 2 * H, H);  // n
      for (int64_t j = 0; j < H; ++j) {
        const float z = gb[H + j], n = gb[2 * H + j];
        out[b * H + j] = (1.0f - z) * n + z * h[b * H + j];
      }
    }
    return;
  }
  for (int64_t b = 0; b < B; ++b) {
    const T* gib = gi + b * 3 * H;
    const T* ghb = gh + b * 3 * H;
    T* gb = gates + b * 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      const T r = stable_sigmoid(gib[j] + ghb[j]);
      const T z = stable_sigmoid(gib[H + j] + ghb[H + j]);
      const T n = std::tanh(gib[2 * H + j] + r * ghb[2 * H + j]);
      out[b * H + j] = (T(1) - z) * n + z * h[b * H + j];
      gb[j] = r;
      gb[H + j] = z;
      gb[2 * H + j] = n;
    }
  }
}

// g [B, H], gates (r, z, n) [B, 3H], gh [B, 3H], h [B, H] (contiguous) -> d_gi, d_gh [B, 3H], d_h [B, H].
// With a_n = gi_n + r * gh_n the pre-activation of n:
//   dn = g (1 - z),  dz = g (h - n),  dh = g z
//   da_n = dn (1 - n^2)           -> d_gi_n = da_n,  d_gh_n = da_n r
//   da_r = da_n gh_n r (1 - r)    -> d_gi_r = d_gh_r = da_r
//   da_z = dz z (1 - z)           -> d_gi_z = d_gh_z = da_z
template <class T>
void gru_gates_backward(const T* g, const T* gates, const T* gh, const T* h, T* d_gi, T* d_gh, T* d_h, int64_t B,
                        int64_t H) {
  for (int64_t b = 0; b < B; ++b) {
    const T* gb = gates + b * 3 * H;
    const T* ghb = gh + b * 3 * H;
    T* dib = d_gi + b * 3 * H;
    T* dhb = d_gh + b * 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      const T r = gb[j], z = gb[H + j], n = gb[2 * H + j];
      const T gj = g[b * H + j];
      const T da_n = gj * (T(1) - z) * (T(1) - n * n);
      const T da_r = da_n * ghb[2 * H + j] * r * (T(1) - r);
      const T da_z = gj * (h[b * H + j] - n) * z * (T(1) - z);
      dib[j] = dhb[j] = da_r;
      dib[H + j] = dhb[H + j] = da_z;
      dib[2 * H + j] = da_n;
      dhb[2 * H + j] = da_n * r;
      d_h[b * H + j] = gj * z;
    }
  }
}

// The same gradients written with Var ops, recomputing the gates from the inputs, so that with
// create_graph the result is itself differentiable.
Grads gru_gates_backward_graph(const Var& g, const Var& gi, const Var& gh, const Var& h) {
  std::vector<Var> i = chunk(gi, 3, 1), hh = chunk(gh, 3, 1);
  Var r = sigmoid(i[0] + hh[0]);
  Var z = sigmoid(i[1] + hh[1]);
  Var n = tanh(i[2] + r * hh[2]);
  Var da_n = g * (1.0 - z) * (1.0 - n * n);
  Var da_r = da_n * hh[2] * r * (1.0 - r);
  Var da_z = g * (h - n) * z * (1.0 - z);
  return {concat({da_r, da_z, da_n}, 1), concat({da_r, da_z, da_n * r}, 1), g * z};
}

}  // namespace

Var gru_gates(const Var& gi, const Var& gh, const Var& h) {
  if (!gi.defined() || !gh.defined() || !h.defined() || h.dim() != 2 || gi.dim() != 2 ||
      gi.shape() != Shape{h.size(0), 3 * h.size(1)} || gh.shape() != gi.shape())
    throw ShapeError("gru_gates: gi " + (gi.defined() ? shape_str(gi.shape()) : std::string("(undefined)")) +
                     ", gh " + (gh.defined() ? shape_str(gh.shape()) : std::string("(undefined)")) + " and h " +
                     (h.defined() ? shape_str(h.shape()) : std::string("(undefined)")) +
                     " do not fit (need gi, gh [B, 3H] and h [B, H])");
  if (gi.dtype() != h.dtype() || gh.dtype() != h.dtype() || !is_floating(h.dtype()))
    throw DTypeError("gru_gates: dtypes differ or are not floating: gi " + std::string(dtype_name(gi.dtype())) +
                     ", gh " + std::string(dtype_name(gh.dtype())) + ", h " + std::string(dtype_name(h.dtype())));
  const int64_t B = h.size(0), H = h.size(1);
  const Tensor gi_c = gi.value().contiguous(), gh_c = gh.value().contiguous(), h_c = h.value().contiguous();
  Tensor out = Tensor::empty({B, H}, h.dtype());
  Tensor gates = Tensor::empty({B, 3 * H}, h.dtype());  // (r, z, n), kept for backward
  visit_floating(h.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gru_gates_forward<T>(gi_c.data<T>(), gh_c.data<T>(), h_c.data<T>(), out.data<T>(), gates.data<T>(), B, H);
  });
  return record(
      "gru_gates", out, {gi, gh, h},
      [B, H](const Node& n, const Var& g) -> Grads {
        if (grad_enabled()) return gru_gates_backward_graph(g, n.input(0), n.input(1), n.input(2));
        const Tensor g_c = g.value().contiguous(), gates_c = n.saved(0).value();
        const Tensor gh_c = n.input(1).value().contiguous(), h_c = n.input(2).value().contiguous();
        Tensor d_gi = Tensor::empty({B, 3 * H}, g_c.dtype()), d_gh = Tensor::empty({B, 3 * H}, g_c.dtype());
        Tensor d_h = Tensor::empty({B, H}, g_c.dtype());
        visit_floating(g_c.dtype(), [&](auto tag) {
          using T = decltype(tag);
          gru_gates_backward<T>(g_c.data<T>(), gates_c.data<T>(), gh_c.data<T>(), h_c.data<T>(), d_gi.data<T>(),
                                d_gh.data<T>(), d_h.data<T>(), B, H);
        });
        return {Var(d_gi), Var(d_gh), Var(d_h)};
      },
      Saved{.inputs = true, .extra = {Var(gates)}});
}

// ---- GRUCell ----------------------------------------------------------------------------------

GRUCell::GRUCell(const GRUCellOptions& options, Generator& gen) : RecurrentCell("GRUCell", options, 3, gen) {}

Var GRUCell::forward(const Var& x, const Var& h_in) const {
  auto scope = enter_scope();
  const Var h = h_in.defined() ? h_in : zero_state(x.defined() ? x.size(0) : 0).h;
  check_step(x, h);
  // All three gates of x and of h in one matmul each: gi, gh [B, 3H], in the order r, z, n.
  Var gi = linear(x, weight_ih_, bias_ih_);
  Var gh = linear(h, weight_hh_, bias_hh_);
  // r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n),
  // h' = (1 - z) * n + z * h, in one fused op.
  return gru_gates(gi, gh, h);
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
