#include "nn/conv.h"

#include <cmath>
#include <string>

#include "autograd/ops.h"
#include "nn/im2col.h"
#include "nn/init.h"

namespace lumen::nn {
namespace {

void check_conv_args(const char* op, const Var& x, const Var& weight, const Var& bias, int64_t rank) {
  const char* layout = rank == 3 ? "x [B, C, L] and weight [O, C, k]" : "x [B, C, H, W] and weight [O, C, kh, kw]";
  if (x.dim() != rank || weight.dim() != rank || x.size(1) != weight.size(1))
    throw ShapeError(std::string(op) + ": input of shape " + shape_str(x.shape()) + " does not fit a weight of shape " +
                     shape_str(weight.shape()) + " (need " + layout + ")");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw ShapeError(std::string(op) + ": bias of shape " + shape_str(bias.shape()) +
                     " does not fit a weight of shape " + shape_str(weight.shape()) + " (need bias [O])");
  if (x.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != weight.dtype()))
    throw DTypeError(std::string(op) + ": dtypes differ: input " + std::string(dtype_name(x.dtype())) + ", weight " +
                     std::string(dtype_name(weight.dtype())) +
                     (bias.defined() ? ", bias " + std::string(dtype_name(bias.dtype())) : std::string()));
}

void check_stride_padding(const char* op, int64_t stride, int64_t padding) {
  if (stride < 1 || padding < 0)
    throw ValueError(std::string(op) + ": need stride >= 1 and padding >= 0, got stride = " + std::to_string(stride) +
                     " and padding = " + std::to_string(padding));
}

// x4 [B, C, H, W], weight4 [O, C, kh, kw], bias [O] or undefined -> [B, O, L] with L = OH * OW.
Var conv_as_matmul(const Var& x4, const Var& weight4, const Var& bias, const Window2d& win) {
  const int64_t O = weight4.size(0);
  const int64_t K = weight4.size(1) * win.kh * win.kw;
  Var cols = im2col(x4, win);                                       // [B, L, K]
  Var w_rows = reshape(weight4, {O, K});                            // [O, K], same order as a column
  Var y = matmul(cols, transpose(w_rows, 0, 1));                    // [B, L, O]
  if (bias.defined()) y = y + bias;                                 // bias [O] over every position
  return transpose(y, 1, 2);                                        // [B, O, L] (a strided view)
}

void init_like_pytorch(const Tensor& w, const Tensor& b, Generator& gen) {
  // kaiming_uniform(a = sqrt(5)) gives U(+-1/sqrt(fan_in)); the bias uses the same bound.
  init::kaiming_uniform_(w, {.a = std::sqrt(5.0)}, gen);
  if (b.defined()) {
    const int64_t fan_in = init::calculate_fans(w.shape()).fan_in;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(b, -bound, bound, gen);
  }
}

void check_options(const char* op, int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                   DType dtype) {
  if (in < 1 || out < 1 || kernel < 1)
    throw ValueError(std::string(op) + ": in, out and kernel must be >= 1, got in = " + std::to_string(in) +
                     ", out = " + std::to_string(out) + ", kernel = " + std::to_string(kernel));
  check_stride_padding(op, stride, padding);
  if (!is_floating(dtype))
    throw DTypeError(std::string(op) + ": dtype must be f32 or f64, got " + std::string(dtype_name(dtype)));
}

}  // namespace

Var conv1d(const Var& x, const Var& weight, const Var& bias, int64_t stride, int64_t padding) {
  check_conv_args("conv1d", x, weight, bias, 3);
  check_stride_padding("conv1d", stride, padding);
  // A 1-D signal is an image of height 1: x [B, C, 1, L], weight [O, C, 1, k].
  const Window2d win{.kh = 1, .kw = weight.size(2), .sh = 1, .sw = stride, .ph = 0, .pw = padding};
  window_out_size("conv1d", x.size(2), win.kw, stride, padding, x.shape());  // the error names conv1d
  Var y = conv_as_matmul(unsqueeze(x, 2), unsqueeze(weight, 2), bias, win);  // [B, O, L_out]
  return contiguous(y);                                                      // [B, O, L_out] in order
}

Var conv2d(const Var& x, const Var& weight, const Var& bias, int64_t stride, int64_t padding) {
  check_conv_args("conv2d", x, weight, bias, 4);
  check_stride_padding("conv2d", stride, padding);
  const Window2d win{.kh = weight.size(2), .kw = weight.size(3), .sh = stride, .sw = stride, .ph = padding,
                     .pw = padding};
  const int64_t OH = window_out_size("conv2d", x.size(2), win.kh, stride, padding, x.shape());
  const int64_t OW = window_out_size("conv2d", x.size(3), win.kw, stride, padding, x.shape());
  Var y = conv_as_matmul(x, weight, bias, win);        // [B, O, OH * OW]
  // One copy into [B, O, OH * OW] order, after which splitting the last dim is a free view.
  return reshape(contiguous(y), {x.size(0), weight.size(0), OH, OW});
}

Conv1d::Conv1d(const Conv1dOptions& options, Generator& gen) : Module("Conv1d"), options_(options) {
  check_options("Conv1d", options.in, options.out, options.kernel, options.stride, options.padding, options.dtype);
  Tensor w = Tensor::empty({options.out, options.in, options.kernel}, options.dtype);
  Tensor b = options.bias ? Tensor::empty({options.out}, options.dtype) : Tensor();
  init_like_pytorch(w, b, gen);
  weight_ = register_parameter("weight", w);
  if (options.bias) bias_ = register_parameter("bias", b);
}

Var Conv1d::forward(const Var& x) const {
  auto scope = enter_scope();
  return conv1d(x, weight_, bias_, options_.stride, options_.padding);
}

Conv2d::Conv2d(const Conv2dOptions& options, Generator& gen) : Module("Conv2d"), options_(options) {
  check_options("Conv2d", options.in, options.out, options.kernel, options.stride, options.padding, options.dtype);
  Tensor w = Tensor::empty({options.out, options.in, options.kernel, options.kernel}, options.dtype);
  Tensor b = options.bias ? Tensor::empty({options.out}, options.dtype) : Tensor();
  init_like_pytorch(w, b, gen);
  weight_ = register_parameter("weight", w);
  if (options.bias) bias_ = register_parameter("bias", b);
}

Var Conv2d::forward(const Var& x) const {
  auto scope = enter_scope();
  return conv2d(x, weight_, bias_, options_.stride, options_.padding);
}

}  // namespace lumen::nn
