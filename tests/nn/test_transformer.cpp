// FeedForward, the encoder and decoder blocks (post-norm and pre-norm) and their stacks:
// PyTorch's names, the residual/norm wiring against the blocks' own parts, gradchecks in f64 of
// every module (inputs and parameters) and of a 2-block stack, exact zeros in the causal
// Jacobian, permutation equivariance without positions, dropout, and the `lumen gradcheck`
// cases of these modules.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/attention_sdpa.h"
#include "nn/gradcheck_modules.h"
#include "nn/transformer.h"
#include "tensor/random.h"
#include "tests/error_matchers.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

Tensor randn_(const Shape& s, uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return randn(s, dtype, gen);
}

void require_close(const Tensor& a, const Tensor& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  INFO("max abs diff " << max_abs_diff(a, b));
  REQUIRE(max_abs_diff(a, b) <= tol);
}

TransformerBlockOptions block_options(bool pre, double dropout = 0.0, Activation act = Activation::gelu) {
  return {.d_model = 4, .heads = 2, .ffn = 6, .dropout = dropout, .activation = act, .norm_first = pre,
          .dtype = DType::f64};
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> out;
  for (auto& [n, p] : m.named_parameters()) out.push_back(n);
  return out;
}

void require_gradcheck(const VarFunction& f, const std::vector<Tensor>& xs) {
  GradcheckResult r = gradcheck(f, xs);
  INFO(r.summary());
  REQUIRE(r.passed);
}

// Gives every LayerNorm weight and bias values away from 1 and 0, so the tests see them.
void shake(const Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    Tensor t = p.value();
    if (name.find("norm") != std::string::npos || name.find("bias") != std::string::npos)
      t.copy_(t + uniform(t.shape(), -0.5, 0.5, t.dtype(), gen));
  }
}

}  // namespace

TEST_CASE("FeedForward: W2 act(W1 x + b1) + b2 with PyTorch's names", "[nn][transformer]") {
  for (Activation act : {Activation::relu, Activation::gelu}) {
    Generator gen(1);
    FeedForward ff({.dim = 3, .hidden = 5, .activation = act, .dtype = DType::f64}, gen);
    REQUIRE(names_of(ff) == std::vector<std::string>{"linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"});
    Tensor x = randn_({2, 4, 3}, 2);
    Tensor h = matmul(x, ff.linear1().weight().value().mT()) + ff.linear1().bias().value();
    h = act == Activation::relu ? relu(h) : gelu(h);
    Tensor expect = matmul(h, ff.linear2().weight().value().mT()) + ff.linear2().bias().value();
    require_close(ff.forward(Var(x)).value(), expect, 1e-12);
    REQUIRE(std::string(activation_name(act)) == (act == Activation::relu ? "relu" : "gelu"));
  }
}

TEST_CASE("block parameter names follow nn.TransformerEncoderLayer / DecoderLayer", "[nn][transformer]") {
  TransformerEncoderBlock enc(block_options(false));
  REQUIRE(names_of(enc) == std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                                    "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                                                    "linear1.weight", "linear1.bias", "linear2.weight",
                                                    "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight",
                                                    "norm2.bias"});
  TransformerDecoderBlock dec(block_options(true));
  std::vector<std::string> n = names_of(dec);
  REQUIRE(n.size() == 18);
  REQUIRE(n[4] == "multihead_attn.in_proj_weight");
  REQUIRE(n.back() == "norm3.bias");
  TransformerEncoder stack({.block = block_options(true), .num_layers = 2, .final_norm = true});
  std::vector<std::string> s = names_of(stack);
  REQUIRE(s.front() == "blocks.0.self_attn.in_proj_weight");
  REQUIRE(std::count(s.begin(), s.end(), "blocks.1.linear2.bias") == 1);
  REQUIRE(s.back() == "norm.bias");
  REQUIRE(stack.blocks().size() == 2);
  // the Vars know their paths too (graphs show them)
  REQUIRE(stack.blocks()[1].self_attn().in_proj_weight().name() == "blocks.1.self_attn.in_proj_weight");
}

TEST_CASE("post-norm and pre-norm blocks wire residuals and norms as the paper and GPT-2", "[nn][transformer]") {
  Tensor x = randn_({2, 5, 4}, 3), mem = randn_({2, 3, 4}, 4);
  Var X(x), M(mem);
  auto ff_of = [](const Var& h, const Module& blk) {
    // linear1 / linear2 are the block's own: find them by name
    Var w1, b1, w2, b2;
    for (auto& [n, p] : blk.named_parameters()) {
      if (n == "linear1.weight") w1 = p;
      if (n == "linear1.bias") b1 = p;
      if (n == "linear2.weight") w2 = p;
      if (n == "linear2.bias") b2 = p;
    }
    return linear(gelu(linear(h, w1, b1)), w2, b2);
  };
  for (bool pre : {false, true}) {
    Generator gen(5);
    TransformerEncoderBlock enc(block_options(pre), gen);
    shake(enc, 6);
    const auto sa = [&](const Var& h) { return enc.self_attn().self_attention(h, {.causal = true}).Z; };
    Var expect;
    if (pre) {
      Var h = X + sa(enc.norm1().forward(X));
      expect = h + ff_of(enc.norm2().forward(h), enc);
    } else {
      Var h = enc.norm1().forward(X + sa(X));
      expect = enc.norm2().forward(h + ff_of(h, enc));
    }
    require_close(enc.forward(X, {.causal = true}).out.value(), expect.value(), 1e-12);

    TransformerDecoderBlock dec(block_options(pre), gen);
    shake(dec, 7);
    const LayerNorm* norms[3] = {};
    for (auto& [n, m] : dec.named_modules()) {
      if (n == "norm1") norms[0] = static_cast<const LayerNorm*>(m);
      if (n == "norm2") norms[1] = static_cast<const LayerNorm*>(m);
      if (n == "norm3") norms[2] = static_cast<const LayerNorm*>(m);
    }
    const auto dsa = [&](const Var& h) { return dec.self_attn().self_attention(h, {.causal = true}).Z; };
    const auto ca = [&](const Var& h) { return dec.multihead_attn().forward(h, M, M).Z; };
    if (pre) {
      Var h = X + dsa(norms[0]->forward(X));
      h = h + ca(norms[1]->forward(h));
      expect = h + ff_of(norms[2]->forward(h), dec);
    } else {
      Var h = norms[0]->forward(X + dsa(X));
      h = norms[1]->forward(h + ca(h));
      expect = norms[2]->forward(h + ff_of(h, dec));
    }
    require_close(dec.forward(X, M).out.value(), expect.value(), 1e-12);
  }
}

TEST_CASE("gradcheck in f64: blocks and a 2-block stack, inputs and parameters", "[nn][transformer][gradcheck]") {
  Tensor x = randn_({2, 3, 4}, 8), mem = randn_({2, 2, 4}, 9);
  Tensor real = lengths_mask(Tensor::from_vector(std::vector<int64_t>{3, 2}, {2}), 3);
  for (bool pre : {false, true}) {
    Generator gen(10);
    TransformerEncoderBlock enc(block_options(pre), gen);
    shake(enc, 11);
    require_gradcheck([&](const std::vector<Var>& v) { return enc.forward(v[0], {.key_padding_mask = real}).out; }, {x});
    testing::require_param_grads(enc, [&] { return enc.forward(Var(x), {.key_padding_mask = real}).out; });

    TransformerDecoderBlock dec(block_options(pre), gen);
    shake(dec, 12);
    require_gradcheck([&](const std::vector<Var>& v) { return dec.forward(v[0], v[1]).out; }, {x, mem});
    testing::require_param_grads(dec, [&] { return dec.forward(Var(x), Var(mem)).out; });
  }
  Generator gen(13);
  TransformerEncoder stack({.block = block_options(true), .num_layers = 2, .final_norm = true}, gen);
  shake(stack, 14);
  require_gradcheck([&](const std::vector<Var>& v) { return stack.forward(v[0], {.causal = true}).out; }, {x});
  testing::require_param_grads(stack, [&] { return stack.forward(Var(x), {.causal = true}).out; });
  TransformerDecoder dstack({.block = block_options(false), .num_layers = 2}, gen);
  require_gradcheck([&](const std::vector<Var>& v) { return dstack.forward(v[0], v[1]).out; }, {x, mem});
}

TEST_CASE("with a causal mask, output t has exactly zero gradient from inputs t' > t", "[nn][transformer]") {
  const int64_t T = 6;
  for (bool pre : {false, true}) {
    Generator gen(15);
    TransformerEncoder stack({.block = block_options(pre), .num_layers = 2, .final_norm = pre}, gen);
    Tensor x = randn_({2, T, 4}, 16);
    for (int64_t t = 0; t < T; ++t) {
      Var X(x, true);
      Var out = stack.forward(X, {.causal = true}).out;
      sum(select(out, 1, t) * Var(randn_({2, 4}, 17 + uint64_t(t)))).backward();
      for (int64_t s = 0; s < T; ++s) {
        Tensor g = X.grad().select(1, s);
        if (s > t)
          REQUIRE(amax(abs(g)).item() == 0.0);
        else
          REQUIRE(amax(abs(g)).item() > 1e-6);
      }
    }
  }
  SECTION("the same for the decoder stack (memory fully visible)") {
    Generator gen(18);
    TransformerDecoder dec({.block = block_options(false), .num_layers = 2}, gen);
    Tensor x = randn_({1, T, 4}, 19);
    Var X(x, true), M(randn_({1, 3, 4}, 20), true);
    sum(select(dec.forward(X, M).out, 1, 2) * Var(randn_({1, 4}, 32))).backward();
    REQUIRE(amax(abs(X.grad().slice(1, 3, T))).item() == 0.0);
    REQUIRE(amax(abs(M.grad())).item() > 1e-6);
  }
}

TEST_CASE("self-attention without positions is permutation equivariant (1e-12, f64)", "[nn][transformer]") {
  const int64_t T = 7;
  Tensor x = randn_({2, T, 4}, 21);
  std::vector<int64_t> perm{3, 0, 6, 1, 5, 2, 4};
  Tensor p = Tensor::from_vector(perm, {T});
  Generator gen(22);
  MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dtype = DType::f64}, gen);
  Tensor a = mha.self_attention(Var(x)).Z.value();
  Tensor b = mha.self_attention(Var(index_select(x, 1, p))).Z.value();
  require_close(b, index_select(a, 1, p), 1e-12);
  for (bool pre : {false, true}) {
    TransformerEncoder stack({.block = block_options(pre), .num_layers = 2, .final_norm = pre}, gen);
    Tensor y = stack.forward(Var(x)).out.value();
    Tensor yp = stack.forward(Var(index_select(x, 1, p))).out.value();
    require_close(yp, index_select(y, 1, p), 1e-12);
  }
  // ... and a causal mask breaks it
  TransformerEncoder causal({.block = block_options(true), .num_layers = 1}, gen);
  Tensor y = causal.forward(Var(x), {.causal = true}).out.value();
  Tensor yp = causal.forward(Var(index_select(x, 1, p)), {.causal = true}).out.value();
  REQUIRE(max_abs_diff(yp, index_select(y, 1, p)) > 1e-3);
}

TEST_CASE("block dropout acts only while training", "[nn][transformer]") {
  Generator gen(23);
  TransformerEncoderBlock blk(block_options(false, 0.3), gen);
  Tensor x = randn_({2, 5, 4}, 24);
  blk.train();
  Tensor a = blk.forward(Var(x)).out.value(), b = blk.forward(Var(x)).out.value();
  REQUIRE(max_abs_diff(a, b) > 1e-6);
  blk.eval();
  Tensor c = blk.forward(Var(x)).out.value(), d = blk.forward(Var(x)).out.value();
  REQUIRE(max_abs_diff(c, d) == 0.0);
  // eval equals the same block built without dropout
  Generator gen2(23);
  TransformerEncoderBlock clean(block_options(false, 0.0), gen2);
  require_close(clean.forward(Var(x)).out.value(), c, 1e-12);
}

TEST_CASE("stacks return every block's weights when asked", "[nn][transformer]") {
  Generator gen(25);
  TransformerDecoder dec({.block = block_options(true), .num_layers = 3, .final_norm = true}, gen);
  StackOutput o = dec.forward(Var(randn_({2, 4, 4}, 26)), Var(randn_({2, 5, 4}, 27)), {.causal = true, .need_weights = true},
                              {.need_weights = true});
  REQUIRE(o.self_alphas.size() == 3);
  REQUIRE(o.cross_alphas.size() == 3);
  REQUIRE(o.self_alphas[2].shape() == Shape{2, 2, 4, 4});
  REQUIRE(o.cross_alphas[0].shape() == Shape{2, 2, 4, 5});
  REQUIRE(o.self_alphas[0].value().at({0, 1, 1, 2}) == 0.0);  // causal
  TransformerEncoder enc({.block = block_options(false), .num_layers = 2}, gen);
  REQUIRE(enc.forward(Var(randn_({1, 3, 4}, 28))).self_alphas.empty());
}

TEST_CASE("lumen gradcheck's transformer cases all pass below 1e-6", "[nn][transformer][gradcheck]") {
  std::vector<GradcheckCase> cases = transformer_gradcheck_cases();
  std::set<std::string> ops;
  for (const GradcheckCase& c : cases) {
    ops.insert(c.op);
    GradcheckRecord r = run_gradcheck_case(c);
    INFO(c.op << " " << c.shapes << ": rel " << r.max_rel_err << " abs " << r.max_abs_err);
    REQUIRE(r.passed);
    REQUIRE(r.dtype == "f64");
    REQUIRE(r.max_rel_err < 1e-6);
  }
  for (const char* op : {"ScaledDotProductAttention", "MultiHeadAttention", "FeedForward", "TransformerEncoderBlock",
                         "TransformerDecoderBlock"})
    REQUIRE(ops.count(op) == 1);
}

TEST_CASE("transformer option and input errors", "[nn][transformer]") {
  REQUIRE_ERROR(TransformerEncoderBlock({.d_model = 6, .heads = 4, .ffn = 8}), ValueError, "TransformerEncoderBlock",
                "d_model = 6", "heads = 4");
  REQUIRE_ERROR(TransformerDecoderBlock({.d_model = 4, .heads = 2, .ffn = 0}), ValueError, "TransformerDecoderBlock",
                "ffn = 0");
  REQUIRE_ERROR(TransformerEncoderBlock({.d_model = 4, .heads = 2, .ffn = 4, .dropout = -0.1}), ValueError, "dropout");
  REQUIRE_ERROR(TransformerEncoder({.block = block_options(true), .num_layers = -1}), ValueError, "num_layers");
  Generator gen(29);
  TransformerEncoder enc({.block = block_options(true), .num_layers = 2}, gen);
  REQUIRE_ERROR(enc.forward(Var(randn_({2, 3, 5}, 30))), ShapeError, "[2, 3, 5]");
  KVCache one;
  REQUIRE_ERROR(enc.forward(Var(randn_({1, 3, 4}, 31)), {.cache = &one}), ValueError, "one KV cache per block");
  std::vector<KVCache> three(3);
  REQUIRE_ERROR(enc.forward(Var(randn_({1, 3, 4}, 31)), {}, &three), ValueError, "3 KV caches for 2 blocks");
}

// ---- against PyTorch 1.13 --------------------------------------------------------------------
// Expected outputs from nn.MultiheadAttention, nn.TransformerEncoderLayer and
// nn.TransformerDecoderLayer (batch_first=True, dropout=0, f64) with every parameter set, in
// state_dict order, to 0.5 sin(0.1 g + 0.3) for a running element count g, and inputs
// x[k] = cos(0.7 k + 0.2) [2, 3, 4], memory[k] = cos(0.45 k + 1) [2, 4, 4]. The script that
// printed them, run with Debian's python3-torch:
//   def fill(mod): g = 0; for p in mod.state_dict().values(): for each element e of p:
//                  e = 0.5 * sin(0.1 * g + 0.3); g += 1
//   mha(x, mem, mem, key_padding_mask=[[F, F, F, F], [F, F, T, T]], average_attn_weights=False)
//   TransformerEncoderLayer(4, 2, 6, activation="gelu", norm_first=nf)(x, src_key_padding_mask=[[F, F, F], [F, F, T]])
//   TransformerDecoderLayer(4, 2, 6, activation="relu", norm_first=nf)(x, mem, tgt_mask=causal,
//                                                                     memory_key_padding_mask=as for mha)
namespace {

void fill_like_pytorch(const Module& m) {
  int64_t g = 0;
  for (auto& [name, p] : m.named_parameters()) {
    Tensor t = p.value();
    double* d = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i, ++g) d[i] = 0.5 * std::sin(0.1 * double(g) + 0.3);
  }
}

Tensor cos_input(const Shape& s, double a, double b) {
  std::vector<double> v(static_cast<size_t>(shape_numel(s)));
  for (size_t k = 0; k < v.size(); ++k) v[k] = std::cos(a * double(k) + b);
  return Tensor::from_vector(v, s, DType::f64);
}

Tensor real_of(std::vector<double> v, const Shape& s) { return gt(Tensor::from_vector(v, s, DType::f64), 0.5); }

}  // namespace

TEST_CASE("attention and blocks reproduce PyTorch's outputs with the same weights", "[nn][transformer][pytorch-values]") {
  const Tensor x = cos_input({2, 3, 4}, 0.7, 0.2), mem = cos_input({2, 4, 4}, 0.45, 1.0);
  const Tensor mem_real = real_of({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
  const std::vector<double> mha_out = {
      0.47560453060809127, 0.45543950793005161, 0.43652688743893059, 0.42041299817825439,
      0.56405492515765765, 0.78559018664464397, 0.95625431750454348, 1.0476636461572588,
      0.41029983139799009, 0.18589028759419457, 0.0052890410185372772, -0.10443050043715041,
      0.78915803227689518, 1.3442405888874653, 1.7602533999650756, 1.9700776320514475,
      0.7887285505943995, 1.2795719213510395, 1.6415553072436859, 1.8160899330514542,
      0.79020769394292945, 1.3472727938640252, 1.7647894297585027, 1.9754013472956093
  };
  const std::vector<double> mha_alpha = {
      0.24771464967949663, 0.41770215794892374, 0.17870772884357874, 0.15587546352800086,
      0.16519848940570078, 0.72035876932281073, 0.068634062838894005, 0.045808678432594528,
      0.23831206787344505, 0.17734533354756357, 0.27912175797442157, 0.30522084060456978,
      0.25146816053997045, 0.25493762693659433, 0.24663039405898501, 0.24696381846445023,
      0.21694924680291211, 0.34252333734116336, 0.2556013363543026, 0.18492607950162193,
      0.26695559953480125, 0.2051252619506965, 0.23824677500188279, 0.28967236351261938,
      0.74229967649250206, 0.25770032350749805, 0, 0, 0.42365345580587677, 0.57634654419412323, 0, 0,
      0.74512243078713092, 0.25487756921286908, 0, 0, 0.45750447979718301, 0.54249552020281699, 0, 0,
      0.52594999905336925, 0.47405000094663063, 0, 0, 0.46119778843249071, 0.53880221156750929, 0, 0
  };
  const std::vector<double> enc_post = {
      0.66082146105856077, 0.33006437830036389, -0.031785878937924159, -0.27583086512291294,
      -0.11459486352159111, -0.12963805783166465, 0.14800616222486188, 0.43666158557590062,
      0.60457258467507269, 0.37008069954188949, 0.012390497661920682, -0.30553245780023147,
      -0.045476377554876629, -0.1464822741429348, 0.088289720266935268, 0.45360461076984177,
      0.43867843653701327, 0.44530380532724084, 0.12759662331958543, -0.34827668005466939,
      0.6637440728207975, -0.087964778730675819, -0.23465354281048423, 0.20762828822979512
  };
  const std::vector<double> enc_pre = {
      1.9607345644849785, 0.85193913786262132, -0.4693481565104623, -1.546814309554533,
      0.034282231372973926, -0.5913520795992584, -0.74740115947922448, -0.52871229068086811,
      1.8667419255108908, 1.2072445674318089, 0.16819461351933451, -0.9268721886586202,
      0.31036129272349944, -0.7766676895310678, -1.3159258045046056, -1.224670433866325,
      1.3757799348217072, 1.1045561907107231, 0.4958249267964665, -0.33450657488212848,
      0.91901487389792236, -0.47978253289798378, -1.470967608078839, -1.7587134841234968
  };
  const std::vector<double> dec_post = {
      0.37731989797756699, -0.63555879590355824, -0.86589884186646537, -0.3778641797977394,
      0.39559651507045984, -0.56186334749330136, -0.84280114891987978, -0.4854194371872898,
      0.35686664607089369, -0.64725915077530627, -0.8916308052382953, -0.3235608552568921,
      0.39564579992164278, -0.56440567847585166, -0.8426570622843973, -0.48323371507438784,
      0.35994531991883877, -0.61251124362913834, -0.90153961448958031, -0.34924419682666769,
      0.40969082971034793, -0.56555346061002143, -0.79274183967321765, -0.54291920319944709
  };
  const std::vector<double> dec_pre = {
      3.534136107967325, 3.7718880397832604, 2.9137414702187172, 1.2934895073815529, 1.4269472020322811,
      2.1921152332521761, 2.6154204123286711, 2.4486517661975085, 3.4557948578829372, 4.1936773431516396,
      3.6597326063616178, 2.0477787734244122, 2.8164200457925359, 3.0670700981189656, 2.8426971479750494,
      2.1254300648790196, 3.8710061234114646, 4.9282528057477553, 4.6294677260179018, 2.9902267649509797,
      3.4342977519566595, 3.33539688672876, 2.6205344013683987, 1.4923317116248087
  };

  auto expect = [](const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, DType::f64); };
  MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2, .dtype = DType::f64});
  fill_like_pytorch(mha);
  Var M(mem);
  MultiHeadAttentionOutput o = mha.forward(Var(x), M, M, {.key_padding_mask = mem_real, .need_weights = true});
  require_close(o.Z.value(), expect(mha_out, {2, 3, 4}), 1e-13);
  require_close(o.alpha.value(), expect(mha_alpha, {2, 2, 3, 4}), 1e-13);
  require_close(mha.forward(Var(x), M, M, {.key_padding_mask = mem_real}).Z.value(), expect(mha_out, {2, 3, 4}), 1e-13);
  for (bool pre : {false, true}) {
    TransformerEncoderBlock enc({.d_model = 4, .heads = 2, .ffn = 6, .dropout = 0.0, .activation = Activation::gelu,
                                 .norm_first = pre, .dtype = DType::f64});
    fill_like_pytorch(enc);
    Tensor out = enc.forward(Var(x), {.key_padding_mask = real_of({1, 1, 1, 1, 1, 0}, {2, 3})}).out.value();
    require_close(out, expect(pre ? enc_pre : enc_post, {2, 3, 4}), 1e-12);
    TransformerDecoderBlock dec({.d_model = 4, .heads = 2, .ffn = 6, .dropout = 0.0, .activation = Activation::relu,
                                 .norm_first = pre, .dtype = DType::f64});
    fill_like_pytorch(dec);
    Tensor dout = dec.forward(Var(x), M, {.causal = true}, {.key_padding_mask = mem_real}).out.value();
    require_close(dout, expect(pre ? dec_pre : dec_post, {2, 3, 4}), 1e-12);
  }
}
