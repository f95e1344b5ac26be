#pragma once
// im2col: the trick that turns a convolution into one matrix product. Every position of the
// sliding window becomes a row holding the input values under the window, so convolving with
// O filters is (rows x patch) @ (patch x O). col2im is its transpose: it adds each row's values
// back to the input positions they came from (overlapping windows add up), which is exactly
// im2col's backward; and im2col is col2im's backward. Both are Var ops, so a convolution can be
// differentiated twice.
//
// Written by hand rather than composed from Var slices: composing needs kh * kw strided slices
// and a stack, and the backward of every slice materialises a zero tensor as large as the
// input. The pair below costs one pass each way.
#include <cstdint>
#include <string>

#include "autograd/var.h"
#include "tensor/tensor.h"

namespace lumen::nn {

// A 2-D sliding window: kernel kh x kw, stride sh x sw, zero padding ph x pw on each side.
// A 1-D window is the case kh = 1, sh = 1, ph = 0 over an input of height 1.
struct Window2d {
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;
  int64_t ph = 0, pw = 0;
};

// Output extent along one axis: (in + 2 * pad - kernel) / stride + 1.
// Throws ShapeError naming `op` if the padded input is smaller than the kernel.
int64_t window_out_size(const char* op, int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                        const Shape& x_shape);

// x [B, C, H, W] -> cols [B, OH * OW, C * kh * kw], where
//   cols[b, oh * OW + ow, (c * kh + i) * kw + j] = x[b, c, oh * sh - ph + i, ow * sw - pw + j]
// (zero where that falls in the padding). The column order (c, i, j) is the row-major order of a
// PyTorch conv weight [O, C, kh, kw], so weight.reshape({O, C * kh * kw}) lines up with it.
Tensor im2col(const Tensor& x, const Window2d& w);
// cols [B, OH * OW, C * kh * kw] -> [B, C, H, W] (x_shape): the sum, over every window position
// and kernel element, of the column value at the input position it was read from.
Tensor col2im(const Tensor& cols, const Shape& x_shape, const Window2d& w);

Var im2col(const Var& x, const Window2d& w);
Var col2im(const Var& cols, const Shape& x_shape, const Window2d& w);

}  // namespace lumen::nn
