// matmul with torch.matmul's semantics, on top of the gemm kernel. This file only works out
// shapes and strides; every multiply-add happens in kernels/gemm.cpp, which reads any strides,
// so transposed and broadcast operands go in without a copy.
#include <optional>
#include <string>

#include "tensor/kernels/gemm.h"
#include "tensor/ops.h"
#include "tensor/ops_util.h"

namespace lumen {
namespace {

// The one stride that walks dims [first, last) as if they were a single flattened dim, if the
// layout has one. Size-1 dims take any stride; broadcast dims (stride 0) flatten to stride 0.
// Example: shape [2, 3] with strides [3, 1] flattens to stride 1; strides [1, 2] do not.
std::optional<int64_t> flat_stride(const Shape& shape, const Strides& strides, size_t first, size_t last) {
  int64_t stride = 0;
  int64_t expected = 0;
  bool seen = false;
  for (size_t d = last; d-- > first;) {
    if (shape[d] == 1) continue;
    if (!seen) {
      stride = strides[d];
      seen = true;
    } else if (strides[d] != expected) {
      return std::nullopt;
    }
    expected = strides[d] * shape[d];
  }
  return stride;
}

int64_t extent_product(const Shape& shape, size_t first, size_t last) {
  int64_t n = 1;
  for (size_t d = first; d < last; ++d) n *= shape[d];
  return n;
}

// A: batch + [M, K] and B: batch + [K, N], both expanded to the same batch (any strides);
// C: batch + [M, N], contiguous and non-empty. nb is the number of batch dims.
template <class T>
void matmul_kernel(const Tensor& A, const Tensor& B, const Tensor& C, size_t nb) {
  const Shape& batch_and_mk = A.shape();
  const Strides& sa = A.strides();
  const Strides& sb = B.strides();
  const int64_t M = batch_and_mk[nb], K = batch_and_mk[nb + 1], N = C.shape()[nb + 1];
  const T* pa = A.data<T>();
  const T* pb = B.data<T>();
  T* pc = C.data<T>();

  // One matrix B for every batch entry ([B, T, D] x [D, E], a layer's weight): if A's batch and
  // row dims flatten into one row stride, this is a single gemm with batch*M rows, which blocks
  // and threads better than many small products. C's rows always flatten (it is contiguous).
  if (flat_stride(B.shape(), sb, 0, nb) == int64_t{0}) {
    if (std::optional<int64_t> rs_a = flat_stride(batch_and_mk, sa, 0, nb + 1)) {
      kernels::gemm(extent_product(batch_and_mk, 0, nb) * M, N, K, T(1), pa, *rs_a, sa[nb + 1], pb, sb[nb],
                    sb[nb + 1], T(0), pc, N, 1);
      return;
    }
  }

  // In general, the innermost batch dims that flatten to one stride in both A and B become the
  // batch of one gemm_batched call, and the remaining outer batch dims are looped over here.
  // Usually everything flattens and the loop runs once; a mixed broadcast such as
  // [2, 1, 3, 4] x [5, 4, 2] loops twice over a batch of 5, instead of copying the operands.
  size_t split = nb;
  while (split > 0 && flat_stride(batch_and_mk, sa, split - 1, nb) && flat_stride(B.shape(), sb, split - 1, nb))
    --split;
  const int64_t bs_a = flat_stride(batch_and_mk, sa, split, nb).value();
  const int64_t bs_b = flat_stride(B.shape(), sb, split, nb).value();
  const int64_t inner = extent_product(batch_and_mk, split, nb);
  const int64_t outer = extent_product(batch_and_mk, 0, split);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rest = o, off_a = 0, off_b = 0;
    for (size_t d = split; d-- > 0;) {
      int64_t i = rest % batch_and_mk[d];
      rest /= batch_and_mk[d];
      off_a += i * sa[d];
      off_b += i * sb[d];
    }
    kernels::gemm_batched(inner, M, N, K, T(1), pa + off_a, bs_a, sa[nb], sa[nb + 1], pb + off_b, bs_b, sb[nb],
                          sb[nb + 1], T(0), pc + o * inner * M * N, M * N, N, 1);
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_floating("matmul", a);
  detail::check_floating("matmul", b);
  detail::check_same_dtype("matmul", a, b);
  auto shapes = [&] { return "matmul: shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()); };
  if (a.dim() == 0 || b.dim() == 0) throw ShapeError(shapes() + ": both operands need at least 1 dim");

  // As in torch.matmul, a 1-D left operand is a row [1, K] and a 1-D right operand a column
  // [K, 1]; the added dims are left out of the result's shape.
  Tensor A = a.dim() == 1 ? a.unsqueeze(0) : a;
  Tensor B = b.dim() == 1 ? b.unsqueeze(1) : b;
  const int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  if (B.size(-2) != K)
    throw ShapeError(shapes() + " do not match (inner dims " + std::to_string(K) + " vs " +
                     std::to_string(B.size(-2)) + ")");

  const Shape batch_a(A.shape().begin(), A.shape().end() - 2);
  const Shape batch_b(B.shape().begin(), B.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(batch_a, batch_b, "matmul");
  } catch (const ShapeError&) {
    throw ShapeError(shapes() + " do not match (batch dims " + shape_str(batch_a) + " and " + shape_str(batch_b) +
                     " cannot broadcast)");
  }
  const size_t nb = batch.size();

  Shape shape_a = batch, shape_b = batch, shape_c = batch;
  shape_a.push_back(M);
  shape_a.push_back(K);
  shape_b.push_back(K);
  shape_b.push_back(N);
  shape_c.push_back(M);
  shape_c.push_back(N);
  Tensor C = Tensor::empty(shape_c, a.dtype());
  if (C.numel() > 0) {
    visit_floating(a.dtype(), [&](auto tag) {
      matmul_kernel<decltype(tag)>(A.expand(shape_a), B.expand(shape_b), C, nb);
    });
  }

  Shape result = batch;
  if (a.dim() > 1) result.push_back(M);
  if (b.dim() > 1) result.push_back(N);
  return C.view(result);
}

}  // namespace lumen
