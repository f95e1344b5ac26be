// scaled_dot_product_attention: the blockwise fused op against a naive triple loop and against
// the unfused composition of Var ops (values and gradients), gradchecks in f64 (also through a
// second derivative), masks (padding, causal, fully masked rows), views and layouts, the packed
// multi-head core, thread-count independence, and every error.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/dropout.h"
#include "tensor/parallel.h"
#include "tensor/random.h"
#include "tests/error_matchers.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

Tensor randn_(const Shape& s, uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return randn(s, dtype, gen);
}

using Allowed = std::function<bool(int64_t n, int64_t i, int64_t j)>;

// The definition, one number at a time, in double: Z[n, i] = sum_j alpha_ij V[n, j] over the
// allowed keys, alpha = softmax of the scaled dot products; Z = 0 when no key is allowed.
// Q [N, Tq, dk], K [N, Tk, dk], V [N, Tk, dv] (3-D, any dtype).
Tensor naive_attention(const Tensor& Q, const Tensor& K, const Tensor& V, const Allowed& allowed,
                       Tensor* alpha_out = nullptr) {
  const int64_t N = Q.size(0), Tq = Q.size(1), Tk = K.size(1), dk = Q.size(2), dv = V.size(2);
  const double scale = 1.0 / std::sqrt(double(dk));
  std::vector<double> z(static_cast<size_t>(N * Tq * dv), 0.0), al(static_cast<size_t>(N * Tq * Tk), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < Tq; ++i) {
      std::vector<double> s(static_cast<size_t>(Tk));
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < Tk; ++j) {
        if (!allowed(n, i, j)) continue;
        double dot = 0;
        for (int64_t c = 0; c < dk; ++c) dot += Q.at({n, i, c}) * K.at({n, j, c});
        s[static_cast<size_t>(j)] = dot * scale;
        mx = std::max(mx, dot * scale);
      }
      if (mx == -std::numeric_limits<double>::infinity()) continue;  // nothing allowed: zeros
      double total = 0;
      for (int64_t j = 0; j < Tk; ++j)
        if (allowed(n, i, j)) total += std::exp(s[static_cast<size_t>(j)] - mx);
      for (int64_t j = 0; j < Tk; ++j) {
        if (!allowed(n, i, j)) continue;
        const double a = std::exp(s[static_cast<size_t>(j)] - mx) / total;
        al[static_cast<size_t>((n * Tq + i) * Tk + j)] = a;
        for (int64_t c = 0; c < dv; ++c) z[static_cast<size_t>((n * Tq + i) * dv + c)] += a * V.at({n, j, c});
      }
    }
  if (alpha_out) *alpha_out = Tensor::from_vector(al, {N, Tq, Tk}, DType::f64);
  return Tensor::from_vector(z, {N, Tq, dv}, DType::f64);
}

const Allowed all_keys = [](int64_t, int64_t, int64_t) { return true; };

Tensor flat3(const Tensor& t) { return t.reshape({-1, t.size(-2), t.size(-1)}); }

void require_close(const Tensor& a, const Tensor& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  INFO("max abs diff " << max_abs_diff(a.to(DType::f64), b.to(DType::f64)));
  REQUIRE(max_abs_diff(a.to(DType::f64), b.to(DType::f64)) <= tol);
}

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
  for (const InputReport& in : r.inputs) REQUIRE(in.max_rel_err < 1e-6);
}

// dL/d{Q, K, V} of L = sum(W * Z) for a fixed W.
std::vector<Tensor> grads_of(const std::function<Var(const Var&, const Var&, const Var&)>& f, const Tensor& Q,
                             const Tensor& K, const Tensor& V, const Tensor& W) {
  Var q(Q, true), k(K, true), v(V, true);
  Var Z = f(q, k, v);
  sum(Z * Var(W)).backward();
  return {q.grad(), k.grad(), v.grad()};
}

}  // namespace

TEST_CASE("fused attention equals the naive definition, with and without masks", "[nn][sdpa]") {
  const int64_t N = 3, Tq = 5, Tk = 7, dk = 4, dv = 3;
  Tensor Q = randn_({N, Tq, dk}, 1), K = randn_({N, Tk, dk}, 2), V = randn_({N, Tk, dv}, 3);

  SECTION("no mask") {
    require_close(sdpa_fused(Var(Q), Var(K), Var(V)).value(), naive_attention(Q, K, V, all_keys), 1e-12);
  }
  SECTION("padding mask [N, 1, Tk]") {
    Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{7, 4, 1}, {3}), Tk);  // [N, Tk]
    Tensor mask = real.unsqueeze(1);
    Tensor expect = naive_attention(Q, K, V, [&](int64_t n, int64_t, int64_t j) { return real.at({n, j}) != 0; });
    require_close(sdpa_fused(Var(Q), Var(K), Var(V), mask).value(), expect, 1e-12);
  }
  SECTION("causal with Tq < Tk: the queries are the last Tq positions") {
    Tensor expect = naive_attention(Q, K, V, [&](int64_t, int64_t i, int64_t j) { return j <= i + (Tk - Tq); });
    require_close(sdpa_fused(Var(Q), Var(K), Var(V), Tensor(), true).value(), expect, 1e-12);
  }
  SECTION("an arbitrary [Tq, Tk] mask and causal together") {
    Tensor mask = gt(randn_({Tq, Tk}, 9), -0.5);
    Tensor expect = naive_attention(Q, K, V, [&](int64_t, int64_t i, int64_t j) {
      return mask.at({i, j}) != 0 && j <= i + (Tk - Tq);
    });
    require_close(sdpa_fused(Var(Q), Var(K), Var(V), mask, true).value(), expect, 1e-12);
  }
}

TEST_CASE("fused attention over many blocks, f32 and f64", "[nn][sdpa]") {
  // 150 queries and 200 keys cross the 64-row and 64-key block edges, with a causal cut that
  // falls inside blocks.
  const int64_t Tq = 150, Tk = 200, dk = 16, dv = 8;
  for (DType dtype : {DType::f64, DType::f32}) {
    Tensor Q = randn_({2, Tq, dk}, 4, dtype), K = randn_({2, Tk, dk}, 5, dtype), V = randn_({2, Tk, dv}, 6, dtype);
    const double tol = dtype == DType::f64 ? 1e-12 : 2e-6;
    for (bool causal : {false, true}) {
      Tensor expect = naive_attention(Q, K, V, [&](int64_t, int64_t i, int64_t j) {
        return !causal || j <= i + (Tk - Tq);
      });
      Tensor Z = sdpa_fused(Var(Q), Var(K), Var(V), Tensor(), causal).value();
      REQUIRE(Z.dtype() == dtype);
      require_close(Z, expect, tol);
    }
  }
}

TEST_CASE("fused and unfused attention agree in value and gradient", "[nn][sdpa]") {
  // [B, H, T, d] with a padding mask [B, 1, 1, Tk] and causal
  const int64_t B = 2, H = 3, T = 70, d = 8;
  Tensor Q = randn_({B, H, T, d}, 11), K = randn_({B, H, T, d}, 12), V = randn_({B, H, T, d}, 13);
  Tensor W = randn_({B, H, T, d}, 14);
  Tensor mask = padding_mask(lengths_mask(Tensor::from_vector(std::vector<int64_t>{70, 33}, {2}), T));
  for (bool causal : {false, true}) {
    auto fused = [&](const Var& q, const Var& k, const Var& v) { return sdpa_fused(q, k, v, mask, causal); };
    auto unfused = [&](const Var& q, const Var& k, const Var& v) {
      return sdpa_unfused(q, k, v, mask, {.causal = causal}).Z;
    };
    std::vector<Tensor> gf = grads_of(fused, Q, K, V, W), gu = grads_of(unfused, Q, K, V, W);
    require_close(fused(Var(Q), Var(K), Var(V)).value(), unfused(Var(Q), Var(K), Var(V)).value(), 1e-12);
    for (size_t i = 0; i < 3; ++i) require_close(gf[i], gu[i], 1e-12);
  }
}

TEST_CASE("f32 fused attention is close to the f64 result, gradients too", "[nn][sdpa]") {
  const int64_t T = 90, d = 32;
  Tensor Q = randn_({4, T, d}, 21), K = randn_({4, T, d}, 22), V = randn_({4, T, d}, 23), W = randn_({4, T, d}, 24);
  auto fused = [](const Var& q, const Var& k, const Var& v) { return sdpa_fused(q, k, v, Tensor(), true); };
  std::vector<Tensor> g64 = grads_of(fused, Q, K, V, W);
  std::vector<Tensor> g32 = grads_of(fused, Q.to(DType::f32), K.to(DType::f32), V.to(DType::f32), W.to(DType::f32));
  require_close(fused(Var(Q.to(DType::f32)), Var(K.to(DType::f32)), Var(V.to(DType::f32))).value(),
                fused(Var(Q), Var(K), Var(V)).value(), 1e-5);
  for (size_t i = 0; i < 3; ++i) require_close(g32[i], g64[i], 1e-4);
}

TEST_CASE("a query whose keys are all masked gets zeros, not NaN", "[nn][sdpa]") {
  const int64_t Tq = 3, Tk = 4, d = 2;
  Tensor Q = randn_({1, Tq, d}, 31), K = randn_({1, Tk, d}, 32), V = randn_({1, Tk, d}, 33);
  // row 1 sees nothing
  Tensor mask = Tensor::from_vector(std::vector<double>{1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1}, {Tq, Tk}, DType::f64);
  mask = gt(mask, 0.5);
  SECTION("fused") {
    Var q(Q, true), k(K, true), v(V, true);
    Var Z = sdpa_fused(q, k, v, mask);
    for (int64_t c = 0; c < d; ++c) REQUIRE(Z.value().at({0, 1, c}) == 0.0);
    sum(Z * Z).backward();
    for (const Var* x : {&q, &k, &v})
      for (double g : x->grad().to_vector()) REQUIRE(std::isfinite(g));
    for (int64_t c = 0; c < d; ++c) REQUIRE(q.grad().at({0, 1, c}) == 0.0);
    // key 2 is seen by nobody: no gradient reaches it
    for (int64_t c = 0; c < d; ++c) REQUIRE(k.grad().at({0, 2, c}) == 0.0);
    for (int64_t c = 0; c < d; ++c) REQUIRE(v.grad().at({0, 2, c}) == 0.0);
  }
  SECTION("unfused, with the weights") {
    Var q(Q, true), k(K, true), v(V, true);
    SdpaOutput out = sdpa_unfused(q, k, v, mask, {.need_weights = true});
    for (int64_t j = 0; j < Tk; ++j) REQUIRE(out.alpha.value().at({0, 1, j}) == 0.0);
    for (int64_t c = 0; c < d; ++c) REQUIRE(out.Z.value().at({0, 1, c}) == 0.0);
    sum(out.Z * out.Z).backward();
    for (double g : q.grad().to_vector()) REQUIRE(std::isfinite(g));
    for (int64_t c = 0; c < d; ++c) REQUIRE(q.grad().at({0, 1, c}) == 0.0);
  }
  SECTION("causal with more queries than keys: the first queries see no key") {
    Tensor Q5 = randn_({1, 5, d}, 34);
    Var Z = sdpa_fused(Var(Q5), Var(K), Var(V), Tensor(), true);  // shift = 4 - 5: query 0 sees nothing
    for (int64_t c = 0; c < d; ++c) REQUIRE(Z.value().at({0, 0, c}) == 0.0);
    require_close(Z.value(), sdpa_unfused(Var(Q5), Var(K), Var(V), Tensor(), {.causal = true}).Z.value(), 1e-12);
  }
}

TEST_CASE("the weights path returns alpha: rows sum to 1 over the allowed keys", "[nn][sdpa]") {
  const int64_t Tq = 4, Tk = 6;
  Tensor Q = randn_({2, 2, Tq, 3}, 41), K = randn_({2, 2, Tk, 3}, 42), V = randn_({2, 2, Tk, 5}, 43);
  Tensor mask = padding_mask(lengths_mask(Tensor::from_vector(std::vector<int64_t>{6, 2}, {2}), Tk));
  SdpaOutput out = scaled_dot_product_attention(Var(Q), Var(K), Var(V), mask, {.need_weights = true});
  REQUIRE(out.alpha.shape() == Shape{2, 2, Tq, Tk});
  Tensor alpha_ref;
  naive_attention(flat3(Q), flat3(K), flat3(V), [&](int64_t n, int64_t, int64_t j) { return j < (n < 2 ? 6 : 2); },
                  &alpha_ref);
  require_close(flat3(out.alpha.value()), alpha_ref, 1e-12);
  Tensor rows = sum(out.alpha.value(), {-1});
  for (double s : rows.to_vector()) REQUIRE(s == Approx(1.0).epsilon(1e-12));
  REQUIRE(out.alpha.value().at({1, 0, 0, 2}) == 0.0);
  // without weights the fused path runs and alpha stays undefined
  SdpaOutput fast = scaled_dot_product_attention(Var(Q), Var(K), Var(V), mask);
  REQUIRE_FALSE(fast.alpha.defined());
  require_close(fast.Z.value(), out.Z.value(), 1e-12);
}

TEST_CASE("attention dropout on the unfused path: identity in eval, scaled masks in training", "[nn][sdpa]") {
  Tensor Q = randn_({1, 5, 4}, 51), K = randn_({1, 6, 4}, 52), V = randn_({1, 6, 4}, 53);
  SdpaOutput ev = scaled_dot_product_attention(Var(Q), Var(K), Var(V), Tensor(), {.dropout_p = 0.5});
  require_close(ev.Z.value(), naive_attention(Q, K, V, all_keys), 1e-12);
  Generator gen(3);
  SdpaOutput tr = scaled_dot_product_attention(Var(Q), Var(K), Var(V), Tensor(),
                                               {.need_weights = true, .dropout_p = 0.5, .training = true, .gen = &gen});
  // Z = dropout(alpha) V: recover the kept weights from Z by solving with the naive alpha
  REQUIRE(max_abs_diff(tr.Z.value(), ev.Z.value()) > 1e-3);
  Generator gen2(3);
  Tensor kept = dropout(Var(tr.alpha.value()), 0.5, gen2, true).value();  // the same mask, redrawn
  require_close(tr.Z.value(), matmul(kept, V), 1e-12);
}

TEST_CASE("fused attention reads any strides and keeps Q's layout for Z", "[nn][sdpa]") {
  // Heads split from [B, T, H, d] by a transpose: no copy in, and Z comes out stored as
  // [B, T, H, d] so that merging heads back is a view.
  const int64_t B = 2, T = 9, H = 3, d = 4;
  Tensor X = randn_({B, T, H, d}, 61), Y = randn_({B, T, H, d}, 62);
  Tensor Kt = randn_({B, H, d, T}, 63);  // K given as a transposed view
  Tensor Q = X.transpose(1, 2), K = Kt.mT(), V = Y.transpose(1, 2).slice(3, 0, d, 2);  // V: every other column
  REQUIRE_FALSE(Q.is_contiguous());
  Var Z = sdpa_fused(Var(Q), Var(K), Var(V), Tensor(), true);
  REQUIRE(Z.shape() == Shape{B, H, T, 2});
  REQUIRE(Z.value().transpose(1, 2).is_contiguous());
  Tensor expect = naive_attention(flat3(Q.contiguous()), flat3(K.contiguous()), flat3(V.contiguous()),
                                  [](int64_t, int64_t i, int64_t j) { return j <= i; });
  require_close(flat3(Z.value().contiguous()), expect, 1e-12);
}

TEST_CASE("gradcheck of the fused op in f64", "[nn][sdpa][gradcheck]") {
  auto fused = [](const Tensor& mask, bool causal) {
    return [mask, causal](const std::vector<Var>& v) { return sdpa_fused(v[0], v[1], v[2], mask, causal); };
  };
  SECTION("plain, [2, 3, 4] x [2, 5, 4] x [2, 5, 3]") {
    require_gradcheck(fused(Tensor(), false), {randn_({2, 3, 4}, 71), randn_({2, 5, 4}, 72), randn_({2, 5, 3}, 73)});
  }
  SECTION("causal, batch [2, 2], K transposed") {
    require_gradcheck(fused(Tensor(), true),
                      {randn_({2, 2, 4, 3}, 74), randn_({2, 2, 3, 4}, 75).mT(), randn_({2, 2, 4, 2}, 76)});
  }
  SECTION("padding mask with a fully masked batch entry") {
    Tensor mask = Tensor::from_vector(std::vector<double>{1, 1, 0, 0, 0, 0}, {2, 1, 3}, DType::f64);
    require_gradcheck(fused(gt(mask, 0.5), false), {randn_({2, 3, 2}, 77), randn_({2, 3, 2}, 78), randn_({2, 3, 2}, 79)});
  }
  SECTION("across block edges: 70 queries") {
    require_gradcheck(fused(Tensor(), true), {randn_({1, 70, 2}, 80), randn_({1, 70, 2}, 81), randn_({1, 70, 1}, 82)});
  }
}

TEST_CASE("gradgradcheck: the fused backward is differentiable again (create_graph)", "[nn][sdpa][gradcheck]") {
  Tensor mask = gt(randn_({3, 4}, 90), -0.7);
  GradcheckResult r = gradgradcheck([mask](const std::vector<Var>& v) { return sdpa_fused(v[0], v[1], v[2], mask, true); },
                                    {randn_({2, 3, 2}, 91), randn_({2, 4, 2}, 92), randn_({2, 4, 2}, 93)});
  INFO(r.summary());
  REQUIRE(r.passed);
}

TEST_CASE("the packed multi-head core equals per-head attention", "[nn][sdpa]") {
  const int64_t B = 2, T = 6, S = 5, H = 3, d = 2, D = H * d;
  auto split = [&](const Tensor& x, int64_t col) {  // columns [col, col + D) of x [B, t, C] -> [B, H, t, d]
    return x.slice(2, col, col + D).reshape({B, x.size(1), H, d}).transpose(1, 2);
  };
  auto merge = [&](const Tensor& z) { return z.transpose(1, 2).reshape({B, z.size(2), D}); };
  SECTION("self-attention on qkv [B, T, 3D], causal") {
    Tensor qkv = randn_({B, T, 3 * D}, 101);
    Tensor expect = merge(sdpa_fused(Var(split(qkv, 0)), Var(split(qkv, D)), Var(split(qkv, 2 * D)), Tensor(), true).value());
    require_close(multi_head_sdpa(Var(qkv), H, Tensor(), true).value(), expect, 1e-12);
    require_gradcheck([&](const std::vector<Var>& v) { return multi_head_sdpa(v[0], H, Tensor(), true); }, {qkv});
  }
  SECTION("cross-attention on q [B, T, D] and kv [B, S, 2D] with a padding mask") {
    Tensor q = randn_({B, T, D}, 102), kv = randn_({2, 2 * D, S}, 103).mT();  // kv as a transposed view
    Tensor mask = padding_mask(lengths_mask(Tensor::from_vector(std::vector<int64_t>{5, 3}, {2}), S));
    Tensor expect = merge(sdpa_fused(Var(split(q, 0)), Var(split(kv, 0)), Var(split(kv, D)), mask).value());
    require_close(multi_head_sdpa(Var(q), Var(kv), H, mask).value(), expect, 1e-12);
    require_gradcheck([&](const std::vector<Var>& v) { return multi_head_sdpa(v[0], v[1], H, mask); }, {q, kv});
  }
  SECTION("its create_graph backward agrees with the fused one") {
    Tensor qkv = randn_({B, T, 3 * D}, 104);
    GradcheckResult r =
        gradgradcheck([&](const std::vector<Var>& v) { return multi_head_sdpa(v[0], H, Tensor(), true); }, {qkv});
    INFO(r.summary());
    REQUIRE(r.passed);
  }
}

TEST_CASE("fused attention gives the same bits on 1 and 2 threads", "[nn][sdpa]") {
  Tensor Q = randn_({8, 130, 16}, 111, DType::f32), K = randn_({8, 130, 16}, 112, DType::f32),
         V = randn_({8, 130, 16}, 113, DType::f32), W = randn_({8, 130, 16}, 114, DType::f32);
  auto fused = [](const Var& q, const Var& k, const Var& v) { return sdpa_fused(q, k, v, Tensor(), true); };
  const int before = get_num_threads();
  set_num_threads(1);
  Tensor z1 = fused(Var(Q), Var(K), Var(V)).value();
  std::vector<Tensor> g1 = grads_of(fused, Q, K, V, W);
  set_num_threads(2);
  Tensor z2 = fused(Var(Q), Var(K), Var(V)).value();
  std::vector<Tensor> g2 = grads_of(fused, Q, K, V, W);
  set_num_threads(before);
  REQUIRE(max_abs_diff(z1, z2) == 0.0);
  for (size_t i = 0; i < 3; ++i) REQUIRE(max_abs_diff(g1[i], g2[i]) == 0.0);
}

TEST_CASE("attention masks", "[nn][sdpa]") {
  Tensor c = causal_mask(2, 4);  // queries at positions 2 and 3
  REQUIRE(c.to(DType::f64).to_vector() == std::vector<double>{1, 1, 1, 0, 1, 1, 1, 1});
  REQUIRE(causal_mask(3, 3).to(DType::f64).to_vector() == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 1, 1});
  Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{2, 0, 3}, {3}), 3);
  REQUIRE(real.to(DType::f64).to_vector() == std::vector<double>{1, 1, 0, 0, 0, 0, 1, 1, 1});
  REQUIRE(padding_mask(real).shape() == Shape{3, 1, 1, 3});
  REQUIRE_ERROR(padding_mask(Tensor::ones({3})), ValueError, "padding_mask", "bool [B, Tk]");
  REQUIRE_ERROR(lengths_mask(Tensor::ones({3}), 4), ValueError, "lengths_mask", "i64 [B]");
  REQUIRE_ERROR(causal_mask(-1, 2), ValueError, "causal_mask", "-1");
}

TEST_CASE("attention errors name the op and the shapes", "[nn][sdpa]") {
  Var Q(randn_({2, 3, 4}, 1)), K(randn_({2, 5, 4}, 2)), V(randn_({2, 5, 3}, 3));
  REQUIRE_ERROR(sdpa_fused(Q, Var(randn_({2, 5, 3}, 4)), V), ShapeError, "scaled_dot_product_attention", "[2, 3, 4]",
                "[2, 5, 3]", "d_k");
  REQUIRE_ERROR(sdpa_fused(Q, K, Var(randn_({2, 4, 3}, 5))), ShapeError, "scaled_dot_product_attention", "Tk");
  REQUIRE_ERROR(sdpa_fused(Q, Var(randn_({3, 5, 4}, 6)), Var(randn_({3, 5, 3}, 7))), ShapeError, "batch dims");
  REQUIRE_ERROR(sdpa_fused(Var(randn_({4}, 8)), K, V), ShapeError, "rank >= 2");
  REQUIRE_ERROR(sdpa_fused(Q, Var(randn_({2, 5, 4}, 9, DType::f32)), V), DTypeError, "scaled_dot_product_attention",
                "f64", "f32");
  REQUIRE_ERROR(sdpa_fused(Q, K, V, Tensor::ones({3, 5})), DTypeError, "mask must be bool");
  REQUIRE_ERROR(sdpa_fused(Q, K, V, gt(Tensor::ones({3, 4}), 0.0)), ShapeError, "mask of shape [3, 4]",
                "[2, 3, 5]");
  REQUIRE_ERROR(sdpa_unfused(Q, K, V, gt(Tensor::ones({2, 2, 3, 5}), 0.0)), ShapeError, "does not broadcast");
  REQUIRE_ERROR(multi_head_sdpa(Var(randn_({2, 3, 7}, 10)), 1), ShapeError, "multi_head_sdpa", "[2, 3, 7]", "3*D");
  REQUIRE_ERROR(multi_head_sdpa(Var(randn_({2, 3, 6}, 11)), 4), ShapeError, "divisible by 4 heads");
  REQUIRE_ERROR(multi_head_sdpa(Var(randn_({2, 3, 4}, 12)), Var(randn_({2, 5, 6}, 13)), 2), ShapeError, "[2, 5, 6]",
                "[B, Tk, 2*D]");
  REQUIRE_ERROR(multi_head_sdpa(Var(randn_({2, 3, 6}, 14)), 0), ValueError, "heads must be > 0");
}
