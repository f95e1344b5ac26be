// W6: the causal attention core on its own, the reference's w6_attention.py in Lumen.
//   q, k, v ~ N(0, 1), each [8, 4, 256, 64] (batch, heads, sequence, head dim), requiring grad;
//   out = softmax(masked_fill(q k^T / 8, causal, -inf)) @ v, here the engine's fused op
//   (nn/attention_sdpa.h), which never holds the whole [256, 256] score matrix.
//   Forward          the forward with the graph recorded
//   ForwardBackward  the forward, then out.backward(g) for a fixed random g (grads for q, k, v)
#include <benchmark/benchmark.h>

#include <cmath>

#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"
#include "tensor/random.h"

namespace {

constexpr int64_t kBatch = 8, kHeads = 4, kSeq = 256, kHeadDim = 64;

struct Inputs {
  lumen::Var q, k, v;
  lumen::Tensor g;  // the upstream gradient
};

Inputs make_inputs(benchmark::State& state) {
  lumen::set_num_threads(static_cast<int>(state.range(0)));
  lumen::Generator gen(0);
  const lumen::Shape shape{kBatch, kHeads, kSeq, kHeadDim};
  Inputs in;
  in.q = lumen::Var(lumen::randn(shape, lumen::DType::f32, gen), true);
  in.k = lumen::Var(lumen::randn(shape, lumen::DType::f32, gen), true);
  in.v = lumen::Var(lumen::randn(shape, lumen::DType::f32, gen), true);
  in.g = lumen::randn(shape, lumen::DType::f32, gen);
  return in;
}

lumen::Var attention(const Inputs& in) {
  return lumen::nn::sdpa_fused(in.q, in.k, in.v, lumen::Tensor(), /*causal=*/true, 1.0 / std::sqrt(double(kHeadDim)));
}

// Position 0 sees only key 0, so its output is v's row 0: the mask is applied. Returns false
// (after SkipWithError) when it is not.
bool check_first_row(benchmark::State& state, const Inputs& in) {
  lumen::Tensor out = attention(in).value().select(2, 0);
  lumen::Tensor expect = in.v.value().select(2, 0);
  if (lumen::amax(lumen::abs(lumen::sub(out, expect))).item() > 1e-5) {
    state.SkipWithError("row 0 of the output is not v's row 0");
    return false;
  }
  return true;
}

void W6_CausalAttention_Forward(benchmark::State& state) {
  Inputs in = make_inputs(state);
  if (!check_first_row(state, in)) return;
  for (int i = 0; i < 5; ++i) attention(in);
  for (auto _ : state) benchmark::DoNotOptimize(attention(in));
}

void W6_CausalAttention_ForwardBackward(benchmark::State& state) {
  Inputs in = make_inputs(state);
  if (!check_first_row(state, in)) return;
  auto step = [&] {
    in.q.zero_grad();
    in.k.zero_grad();
    in.v.zero_grad();
    attention(in).backward(in.g);
  };
  for (int i = 0; i < 5; ++i) step();
  for (auto _ : state) step();
}

BENCHMARK(W6_CausalAttention_Forward)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(W6_CausalAttention_ForwardBackward)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
