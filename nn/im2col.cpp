#include "nn/im2col.h"

#include "autograd/node.h"
#include "tensor/kernels/strided.h"

namespace lumen::nn {
namespace {

void check_window(const char* op, const Window2d& w) {
  if (w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1 || w.ph < 0 || w.pw < 0)
    throw ValueError(std::string(op) + ": need kernel >= 1, stride >= 1 and padding >= 0, got kernel " +
                     std::to_string(w.kh) + "x" + std::to_string(w.kw) + ", stride " + std::to_string(w.sh) + "x" +
                     std::to_string(w.sw) + ", padding " + std::to_string(w.ph) + "x" + std::to_string(w.pw));
}

void check_floating(const char* op, const Tensor& t) {
  if (!t.defined()) throw ValueError(std::string(op) + ": got an undefined tensor");
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string(op) + ": expected a floating tensor (f32 or f64), got " +
                     std::string(dtype_name(t.dtype())) + " of shape " + shape_str(t.shape()));
}

void check_image(const char* op, const Shape& x_shape) {
  if (x_shape.size() != 4)
    throw ShapeError(std::string(op) + ": expected an input of shape [B, C, H, W], got " + shape_str(x_shape));
}

std::string window_attrs(const Window2d& w) {
  return "k=" + std::to_string(w.kh) + "x" + std::to_string(w.kw) + " stride=" + std::to_string(w.sh) + "x" +
         std::to_string(w.sw) + " pad=" + std::to_string(w.ph) + "x" + std::to_string(w.pw);
}

// x [B, C, H, W] (any strides) -> out [B, OH * OW, C * kh * kw] (contiguous).
// One thread per (b, oh) row block: every output element is written exactly once.
template <class T>
void im2col_kernel(const T* x, const Strides& xs, const Shape& x_shape, const Window2d& w, int64_t OH,
                   int64_t OW, T* out) {
  const int64_t B = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3];
  const int64_t K = C * w.kh * w.kw;
  const bool parallel = B * OH * OW * K >= kernels::kParallelGrain;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        T* row = out + ((b * OH + oh) * OW + ow) * K;
        for (int64_t c = 0; c < C; ++c) {
          const T* plane = x + b * xs[0] + c * xs[1];
          for (int64_t i = 0; i < w.kh; ++i) {
            const int64_t ih = oh * w.sh - w.ph + i;
            for (int64_t j = 0; j < w.kw; ++j) {
              const int64_t iw = ow * w.sw - w.pw + j;
              const bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
              *row++ = inside ? plane[ih * xs[2] + iw * xs[3]] : T(0);
            }
          }
        }
      }
    }
  }
}

// cols [B, OH * OW, C * kh * kw] (any strides) -> out [B, C, H, W] (contiguous, zeroed).
// One thread per (b, c) plane: a plane only receives values from its own columns, and adds them
// in a fixed order, so the sums do not depend on the thread count.
template <class T>
void col2im_kernel(const T* cols, const Strides& cs, const Shape& x_shape, const Window2d& w, int64_t OH,
                   int64_t OW, T* out) {
  const int64_t B = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3];
  const bool parallel = B * OH * OW * C * w.kh * w.kw >= kernels::kParallelGrain;
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t c = 0; c < C; ++c) {
      T* plane = out + (b * C + c) * H * W;
      for (int64_t oh = 0; oh < OH; ++oh) {
        for (int64_t ow = 0; ow < OW; ++ow) {
          const T* row = cols + b * cs[0] + (oh * OW + ow) * cs[1];
          for (int64_t i = 0; i < w.kh; ++i) {
            const int64_t ih = oh * w.sh - w.ph + i;
            if (ih < 0 || ih >= H) continue;
            for (int64_t j = 0; j < w.kw; ++j) {
              const int64_t iw = ow * w.sw - w.pw + j;
              if (iw < 0 || iw >= W) continue;
              plane[ih * W + iw] += row[((c * w.kh + i) * w.kw + j) * cs[2]];
            }
          }
        }
      }
    }
  }
}

}  // namespace

int64_t window_out_size(const char* op, int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                        const Shape& x_shape) {
  const int64_t padded = in + 2 * pad;
  if (padded < kernel)
    throw ShapeError(std::string(op) + ": input of shape " + shape_str(x_shape) + " is smaller than the kernel (" +
                     std::to_string(in) + " + 2 * padding " + std::to_string(pad) + " < kernel " +
                     std::to_string(kernel) + ")");
  return (padded - kernel) / stride + 1;
}

Tensor im2col(const Tensor& x, const Window2d& w) {
  check_floating("im2col", x);
  check_image("im2col", x.shape());
  check_window("im2col", w);
  const Shape& s = x.shape();
  const int64_t OH = window_out_size("im2col", s[2], w.kh, w.sh, w.ph, s);
  const int64_t OW = window_out_size("im2col", s[3], w.kw, w.sw, w.pw, s);
  Tensor out = Tensor::empty({s[0], OH * OW, s[1] * w.kh * w.kw}, x.dtype());
  visit_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<T>(x.data<T>(), x.strides(), s, w, OH, OW, out.data<T>());
  });
  return out;
}

Tensor col2im(const Tensor& cols, const Shape& x_shape, const Window2d& w) {
  check_floating("col2im", cols);
  check_image("col2im", x_shape);
  check_window("col2im", w);
  const int64_t OH = window_out_size("col2im", x_shape[2], w.kh, w.sh, w.ph, x_shape);
  const int64_t OW = window_out_size("col2im", x_shape[3], w.kw, w.sw, w.pw, x_shape);
  const Shape want{x_shape[0], OH * OW, x_shape[1] * w.kh * w.kw};
  if (cols.shape() != want)
    throw ShapeError("col2im: columns of shape " + shape_str(cols.shape()) + " do not fit an input of shape " +
                     shape_str(x_shape) + " with " + window_attrs(w) + " (expected " + shape_str(want) + ")");
  Tensor out = Tensor::zeros(x_shape, cols.dtype());
  visit_floating(cols.dtype(), [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<T>(cols.data<T>(), cols.strides(), x_shape, w, OH, OW, out.data<T>());
  });
  return out;
}

Var im2col(const Var& x, const Window2d& w) {
  // x [B, C, H, W] -> cols [B, OH * OW, C * kh * kw]
  Var cols = record(
      "im2col", im2col(x.value(), w), {x},
      [w](const Node& n, const Var& g) -> Grads {
        // g [B, OH * OW, C * kh * kw] -> dx [B, C, H, W]: each input element collects the
        // gradient of every column entry that copied it.
        return {col2im(g, n.input(0).shape(), w)};
      },
      Saved{.inputs = false});
  if (cols.node()) cols.node()->set_attrs(window_attrs(w));
  return cols;
}

Var col2im(const Var& cols, const Shape& x_shape, const Window2d& w) {
  // cols [B, OH * OW, C * kh * kw] -> [B, C, H, W]
  Var x = record(
      "col2im", col2im(cols.value(), x_shape, w), {cols},
      [w](const Node&, const Var& g) -> Grads {
        // g [B, C, H, W] -> dcols [B, OH * OW, C * kh * kw]: each column entry was added to one
        // input position, so it receives that position's gradient.
        return {im2col(g, w)};
      },
      Saved{.inputs = false});
  if (x.node()) x.node()->set_attrs(window_attrs(w));
  return x;
}

}  // namespace lumen::nn
