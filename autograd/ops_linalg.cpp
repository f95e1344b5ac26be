// matmul on Vars, with every case of torch.matmul: dot products, matrix products, and batched
// products whose batch dims broadcast. The backward reuses the forward: dA = g B^T and
// dB = A^T g, with transposes as stride-swapping views (the gemm reads any strides, so nothing
// is copied), then sum_to undoes any broadcast of the batch dims.
#include "autograd/node.h"
#include "autograd/ops.h"

namespace lumen {

Var matmul(const Var& a, const Var& b) {
  // a [..., M, K] or [K], b [..., K, N] or [K],
  // out [broadcast(...), M, N] without M if a is 1-D and without N if b is 1-D.
  return record("matmul", lumen::matmul(a.value(), b.value()), {a, b},
                [](const Node& n, const Var& g) -> Grads {
                  const Var& a = n.input(0);
                  const Var& b = n.input(1);
                  // Back to matrices: a 1-D a is a row [1, K], a 1-D b a column [K, 1], and g gets
                  // back the dims the forward dropped, so one pair of formulas covers every case.
                  Var A = a.dim() == 1 ? unsqueeze(a, 0) : a;    // [..., M, K]
                  Var B = b.dim() == 1 ? unsqueeze(b, -1) : b;   // [..., K, N]
                  Var G = b.dim() == 1 ? unsqueeze(g, -1) : g;   // [batch, M, N]
                  if (a.dim() == 1) G = unsqueeze(G, -2);
                  Grads grads(2);
                  if (a.requires_grad()) {
                    Var dA = sum_to(matmul(G, transpose(B, -1, -2)), A.shape());  // [..., M, K]
                    grads[0] = a.dim() == 1 ? reshape(dA, a.shape()) : dA;
                  }
                  if (b.requires_grad()) {
                    Var dB;
                    // dB = A^T G for one matrix B [K, N] (A2 [rows, K], G2 [rows, N]). When B is a
                    // transposed view, as Linear's W^T is (W [N, K] contiguous), compute it as
                    // (G^T A)^T: the same sums in the same order, so the same bits, but the
                    // product lands in W's own layout. The gradient that reaches W through the
                    // transpose is then contiguous and is taken as is, instead of being copied
                    // element by element across the transpose (a fifth of an MLP's step).
                    auto matrix_grad = [&B](const Var& A2, const Var& G2) {
                      const Strides& st = B.value().strides();
                      if (st[1] != 1 && st[0] == 1 && B.size(0) > 1)
                        return transpose(matmul(transpose(G2, 0, 1), A2), 0, 1);  // [K, N] view
                      return matmul(transpose(A2, 0, 1), G2);                      // [K, N]
                    };
                    if (B.dim() == 2 && A.dim() > 2) {
                      // One weight matrix for a whole batch ([B, T, D] x [D, E]): fold the batch
                      // into the rows, so dB is one product instead of B products summed after.
                      const int64_t K = A.size(-1), N = G.size(-1);
                      int64_t rows = 1;
                      for (int64_t d = 0; d + 1 < A.dim(); ++d) rows *= A.size(d);
                      dB = matrix_grad(reshape(A, {rows, K}), reshape(G, {rows, N}));  // [K, N]
                    } else if (B.dim() == 2 && A.dim() == 2) {
                      dB = matrix_grad(A, G);  // [K, N]
                    } else {
                      dB = sum_to(matmul(transpose(A, -1, -2), G), B.shape());  // [..., K, N]
                    }
                    grads[1] = b.dim() == 1 ? reshape(dB, b.shape()) : dB;
                  }
                  return grads;
                });
}

}  // namespace lumen
