// Positional encodings and the three transformer families: sinusoidal values by the formula,
// learned rows, the GPT's names, tied embeddings, causality at the model level, generation with
// and without the KV cache (same tokens), greedy and sampled decoding, the BERT heads and
// masking, the encoder-decoder with greedy and beam decoding, and short trainings that must
// learn.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <vector>

#include "autograd/engine.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/positional.h"
#include "nn/transformer_models.h"
#include "tensor/random.h"
#include "tests/error_matchers.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

void require_close(const Tensor& a, const Tensor& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  INFO("max abs diff " << max_abs_diff(a, b));
  REQUIRE(max_abs_diff(a, b) <= tol);
}

Tensor ids_of(std::vector<int64_t> v, int64_t B, int64_t T) { return Tensor::from_vector(std::move(v), {B, T}); }

DecoderOnlyOptions tiny_gpt(DType dtype = DType::f64) {
  return {.vocab_size = 11, .max_len = 16, .d_model = 8, .heads = 2, .ffn = 16, .num_layers = 2, .dtype = dtype};
}

}  // namespace

TEST_CASE("sinusoidal encoding follows Vaswani et al.", "[nn][positional]") {
  Tensor pe = sinusoidal_encoding(50, 6, DType::f64);
  REQUIRE(pe.shape() == Shape{50, 6});
  for (int64_t pos : {0, 1, 7, 49})
    for (int64_t i = 0; i < 3; ++i) {
      const double angle = double(pos) / std::pow(10000.0, 2.0 * double(i) / 6.0);
      REQUIRE(pe.at({pos, 2 * i}) == Approx(std::sin(angle)).margin(1e-15));
      REQUIRE(pe.at({pos, 2 * i + 1}) == Approx(std::cos(angle)).margin(1e-15));
    }
  REQUIRE(pe.at({1, 0}) == Approx(std::sin(1.0)));                          // i = 0: wavelength 2 pi
  REQUIRE(pe.at({3, 5}) == Approx(std::cos(3.0 / std::pow(10000.0, 4.0 / 6.0))));
  Tensor odd = sinusoidal_encoding(4, 5, DType::f64);  // the last column is a sin
  REQUIRE(odd.at({2, 4}) == Approx(std::sin(2.0 / std::pow(10000.0, 4.0 / 5.0))));

  SinusoidalPositionalEncoding mod({.max_len = 10, .dim = 6, .dtype = DType::f64});
  REQUIRE(mod.num_parameters() == 0);
  REQUIRE(mod.named_buffers().size() == 1);
  REQUIRE(mod.named_buffers()[0].first == "pe");
  Tensor x = randn({2, 3, 6}, DType::f64);
  require_close(mod.forward(Var(x), 4).value(), x + pe.slice(0, 4, 7), 1e-15);
  REQUIRE_ERROR(mod.forward(Var(x), 8), ValueError, "SinusoidalPositionalEncoding", "positions 8 to 10", "max_len = 10");
  REQUIRE_ERROR(mod.forward(Var(randn({2, 3, 5}, DType::f64))), ShapeError, "[2, 3, 5]");
  REQUIRE_ERROR(sinusoidal_encoding(4, 0), ValueError, "dim = 0");
}

TEST_CASE("learned positional encoding adds a trained row per position", "[nn][positional]") {
  Generator gen(1);
  LearnedPositionalEncoding mod({.max_len = 5, .dim = 3, .dtype = DType::f64}, gen);
  REQUIRE(mod.named_parameters()[0].first == "weight");
  Tensor x = randn({2, 2, 3}, DType::f64);
  require_close(mod.forward(Var(x), 3).value(), x + mod.weight().value().slice(0, 3, 5), 1e-15);
  mod.zero_grad();
  sum(mod.forward(Var(x), 1)).backward();
  // rows 1 and 2 got 2 (the batch) per element; the others nothing
  REQUIRE(mod.weight().grad().at({1, 0}) == 2.0);
  REQUIRE(mod.weight().grad().at({0, 0}) == 0.0);
  REQUIRE(mod.weight().grad().at({4, 2}) == 0.0);
  AnyPositionalEncoding any(PositionalKind::sinusoidal, {.max_len = 5, .dim = 3, .dtype = DType::f64});
  REQUIRE(any.kind() == PositionalKind::sinusoidal);
  REQUIRE(any.module().type_name() == "SinusoidalPositionalEncoding");
}

TEST_CASE("GPT: names, shapes, tied embeddings and the W5 parameter count", "[nn][gpt]") {
  Generator gen(2);
  DecoderOnly gpt(tiny_gpt(), gen);
  std::vector<std::string> names;
  for (auto& [n, p] : gpt.named_parameters()) names.push_back(n);
  REQUIRE(names.front() == "tok.weight");
  REQUIRE(names[1] == "pos.weight");
  REQUIRE(names[2] == "blocks.0.self_attn.in_proj_weight");
  REQUIRE(std::count(names.begin(), names.end(), "blocks.1.norm2.bias") == 1);
  REQUIRE(names[names.size() - 3] == "ln_f.bias");
  REQUIRE(names.back() == "head.bias");
  Tensor ids = ids_of({1, 2, 3, 4, 5, 6, 7, 8}, 2, 4);
  REQUIRE(gpt.forward(ids).shape() == Shape{2, 4, 11});

  DecoderOnlyOptions tied = tiny_gpt();
  tied.tie_embeddings = true;
  DecoderOnly gpt_tied(tied, gen);
  for (auto& [n, p] : gpt_tied.named_parameters()) REQUIRE(n.rfind("head", 0) == std::string::npos);
  // tied: the logits' gradient reaches tok.weight through the output layer too
  gpt_tied.zero_grad();
  sum(gpt_tied.forward(ids)).backward();
  REQUIRE(gpt_tied.tok().weight().grad().defined());
  REQUIRE(amax(abs(gpt_tied.tok().weight().grad().select(0, 10))).item() > 0);  // token 10 is only an output

  // the benchmark's GPT (W5 small): 421,697 parameters, as PyTorch's
  DecoderOnly w5({.vocab_size = 65, .max_len = 64, .d_model = 128, .heads = 4, .ffn = 512, .num_layers = 2}, gen);
  REQUIRE(w5.num_parameters() == 421697);
}

TEST_CASE("GPT is causal: logits at t ignore tokens after t", "[nn][gpt]") {
  Generator gen(3);
  DecoderOnly gpt(tiny_gpt(), gen);
  Tensor a = ids_of({1, 2, 3, 4, 5, 6}, 1, 6), b = ids_of({1, 2, 3, 9, 9, 0}, 1, 6);
  Tensor la = gpt.forward(a).value(), lb = gpt.forward(b).value();
  require_close(la.slice(1, 0, 3), lb.slice(1, 0, 3), 1e-12);
  REQUIRE(max_abs_diff(la.slice(1, 3, 6), lb.slice(1, 3, 6)) > 1e-6);
  std::vector<Var> alphas = gpt.attention_weights(a);
  REQUIRE(alphas.size() == 2);
  REQUIRE(alphas[1].shape() == Shape{1, 2, 6, 6});
  REQUIRE(alphas[0].value().at({0, 0, 2, 3}) == 0.0);
}

TEST_CASE("GPT generation with the KV cache gives the same tokens as full recomputation", "[nn][gpt]") {
  for (DType dtype : {DType::f64, DType::f32}) {
    for (PositionalKind pk : {PositionalKind::learned, PositionalKind::sinusoidal}) {
      Generator gen(4);
      DecoderOnlyOptions o = tiny_gpt(dtype);
      o.positional = pk;
      DecoderOnly gpt(o, gen);
      Tensor prompt = ids_of({1, 5, 2, 7, 3, 3}, 2, 3);
      Tensor cached = gpt.generate(prompt, {.max_new_tokens = 10});
      Tensor full = gpt.generate(prompt, {.max_new_tokens = 10, .use_cache = false});
      REQUIRE(cached.shape() == Shape{2, 13});
      REQUIRE(cached.to_vector() == full.to_vector());
      REQUIRE(cached.slice(1, 0, 3).to_vector() == prompt.to_vector());
      // greedy really is the argmax of the full model at every step
      Tensor logits = gpt.forward(cached.slice(1, 0, 12)).value();
      REQUIRE(argmax(logits, 2).slice(1, 2, 12).to_vector() == cached.slice(1, 3, 13).to_vector());
      // and sampling with the cache draws the same tokens as without, from equal seeds
      Generator g1(9), g2(9);
      Tensor s1 = gpt.generate(prompt, {.max_new_tokens = 8, .greedy = false, .temperature = 1.5, .gen = &g1});
      Tensor s2 = gpt.generate(prompt, {.max_new_tokens = 8, .greedy = false, .temperature = 1.5, .use_cache = false, .gen = &g2});
      REQUIRE(s1.to_vector() == s2.to_vector());
    }
  }
  SECTION("cached logits equal the full forward's") {
    Generator gen(5);
    DecoderOnly gpt(tiny_gpt(), gen);
    Tensor ids = ids_of({4, 1, 8, 2, 9, 3, 3, 0, 1, 2}, 2, 5);
    GenerationCache cache;
    Tensor first = gpt.forward_cached(ids.slice(1, 0, 2).contiguous(), cache).value();
    Tensor rest = gpt.forward_cached(ids.slice(1, 2, 5).contiguous(), cache).value();
    REQUIRE(cache.length() == 5);
    require_close(concat({first, rest}, 1), gpt.forward(ids).value(), 1e-12);
    REQUIRE_ERROR(gpt.forward_cached(ids_of(std::vector<int64_t>(24, 1), 2, 12), cache), ValueError, "max_len = 16");
  }
}

TEST_CASE("sampling: temperature and top-k", "[nn][gpt]") {
  Tensor logits = Tensor::from_vector(std::vector<double>{0.0, 2.0, 1.0, -1.0, 0.5, 1.9, 0.1, 0.2}, {2, 4}, DType::f64);
  REQUIRE(next_token(logits, {.max_new_tokens = 1}).to_vector() == std::vector<double>{1, 1});  // greedy
  Generator gen(6);
  // top_k = 1 is greedy whatever the temperature
  for (int i = 0; i < 5; ++i)
    REQUIRE(next_token(logits, {.max_new_tokens = 1, .greedy = false, .temperature = 3.0, .top_k = 1, .gen = &gen})
                .to_vector() == std::vector<double>{1, 1});
  // top_k = 2 only ever picks the two best; the frequencies follow softmax(z / T) over them
  std::vector<int64_t> counts(4, 0);
  const int n = 4000;
  for (int i = 0; i < n; ++i)
    ++counts[static_cast<size_t>(
        next_token(logits, {.max_new_tokens = 1, .greedy = false, .temperature = 0.5, .top_k = 2, .gen = &gen}).at({0}))];
  REQUIRE(counts[0] == 0);
  REQUIRE(counts[3] == 0);
  const double p1 = 1.0 / (1.0 + std::exp((1.0 - 2.0) / 0.5));  // token 1 against token 2
  REQUIRE(double(counts[1]) / n == Approx(p1).margin(0.03));
  // a tiny temperature is (almost surely) greedy; a huge one spreads over everything
  REQUIRE(next_token(logits, {.max_new_tokens = 1, .greedy = false, .temperature = 1e-3, .gen = &gen}).to_vector() ==
          std::vector<double>{1, 1});
  std::set<double> seen;
  for (int i = 0; i < 200; ++i)
    seen.insert(next_token(logits, {.max_new_tokens = 1, .greedy = false, .temperature = 100.0, .gen = &gen}).at({0}));
  REQUIRE(seen.size() == 4);
  REQUIRE_ERROR(next_token(logits, {.max_new_tokens = 1, .greedy = false, .temperature = 0.0}), ValueError,
                "temperature");
}

TEST_CASE("a GPT learns a deterministic sequence", "[nn][gpt]") {
  // x_t = (x_{t-1} + x_{t-2}) mod V, the benchmark's task, at a small size
  const int64_t V = 13, T = 12, B = 8;
  Generator gen(7);
  DecoderOnly gpt({.vocab_size = V, .max_len = T, .d_model = 32, .heads = 4, .ffn = 64, .num_layers = 2}, gen);
  std::vector<int64_t> data;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> s{b % V, (3 * b + 1) % V};
    while (static_cast<int64_t>(s.size()) < T + 1) s.push_back((s[s.size() - 1] + s[s.size() - 2]) % V);
    data.insert(data.end(), s.begin(), s.end());
  }
  Tensor all = Tensor::from_vector(data, {B, T + 1});
  Tensor x = all.slice(1, 0, T).contiguous(), y = all.slice(1, 1, T + 1).contiguous();
  AdamW opt(gpt.parameters(), {.lr = 3e-3});
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    Var loss = cross_entropy(gpt.forward(x), y);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  INFO("loss " << first << " -> " << last);
  REQUIRE(last < 0.3 * first);
  // and it continues the sequence from two tokens
  Tensor out = gpt.generate(x.slice(1, 0, 2).contiguous(), {.max_new_tokens = T - 2});
  REQUIRE(out.slice(1, 2, T).to_vector() == x.slice(1, 2, T).to_vector());
}

TEST_CASE("BERT-style encoder: heads, padding and token masking", "[nn][bert]") {
  Generator gen(8);
  EncoderOnly bert({.vocab_size = 12, .max_len = 8, .d_model = 8, .heads = 2, .ffn = 16, .num_layers = 2,
                    .num_classes = 3, .dropout = 0.0, .dtype = DType::f64},
                   gen);
  bert.eval();
  std::vector<std::string> names;
  for (auto& [n, p] : bert.named_parameters()) names.push_back(n);
  REQUIRE(std::count(names.begin(), names.end(), "encoder.blocks.1.self_attn.in_proj_weight") == 1);
  REQUIRE(std::count(names.begin(), names.end(), "classifier.weight") == 1);
  REQUIRE(std::count(names.begin(), names.end(), "mlm_out.bias") == 1);
  Tensor ids = ids_of({1, 5, 6, 7, 2, 0, 1, 8, 9, 2, 0, 0}, 2, 6);
  Tensor real = gt(Tensor::from_vector(std::vector<double>{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0}, {2, 6}, DType::f64), 0.5);
  StackOutput H = bert.encode(ids, real, true);
  REQUIRE(H.out.shape() == Shape{2, 6, 8});
  REQUIRE(H.self_alphas.size() == 2);
  REQUIRE(H.self_alphas[0].value().at({1, 1, 0, 4}) == 0.0);  // a padded key gets no weight
  REQUIRE(bert.mlm_logits(H.out).shape() == Shape{2, 6, 12});
  REQUIRE(bert.cls_logits(H.out).shape() == Shape{2, 3});
  // whatever sits at the padding, the real positions and the [CLS] logits stay the same
  Tensor ids2 = ids.clone();
  ids2.data<int64_t>()[5] = 11;
  ids2.data<int64_t>()[10] = 3;
  require_close(bert.forward_cls(ids2, real).value(), bert.forward_cls(ids, real).value(), 1e-12);
  require_close(bert.forward_mlm(ids2, real).value().select(0, 1).slice(0, 0, 4),
                bert.forward_mlm(ids, real).value().select(0, 1).slice(0, 0, 4), 1e-12);
  // bidirectional: position 0 does depend on later tokens
  Tensor ids3 = ids.clone();
  ids3.data<int64_t>()[3] = 4;
  REQUIRE(max_abs_diff(bert.forward_mlm(ids3, real).value().select(1, 0), bert.forward_mlm(ids, real).value().select(1, 0)) > 1e-6);
}

TEST_CASE("mask_tokens: BERT's 15% with 80/10/10", "[nn][bert]") {
  Generator gen(9);
  Tensor ids = randint(4, 100, {64, 64}, gen);
  Tensor real = lt(Tensor::arange(64).unsqueeze(0).expand({64, 64}), Tensor::full({64, 1}, 48.0, DType::i64));
  MaskedTokens m = mask_tokens(ids, {.mask_id = 3, .vocab_size = 100, .first_random = 4}, gen, real);
  const std::vector<double> in = m.inputs.to_vector(), tg = m.targets.to_vector(), orig = ids.to_vector();
  int64_t chosen = 0, masked = 0, kept = 0, padded_chosen = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (tg[i] == -100) {
      REQUIRE(in[i] == orig[i]);
      continue;
    }
    ++chosen;
    if (i % 64 >= 48) ++padded_chosen;
    REQUIRE(tg[i] == orig[i]);
    if (in[i] == 3) ++masked;
    else if (in[i] == orig[i]) ++kept;
  }
  REQUIRE(padded_chosen == 0);
  const double real_count = 64.0 * 48.0;
  REQUIRE(double(chosen) / real_count == Approx(0.15).margin(0.02));
  REQUIRE(double(masked) / double(chosen) == Approx(0.8).margin(0.05));
  REQUIRE(double(kept) / double(chosen) == Approx(0.1 + 0.1 / 96.0).margin(0.04));
  REQUIRE_ERROR(mask_tokens(ids, {.mask_id = 3, .vocab_size = 100, .prob = 1.5}, gen), ValueError, "prob");
}

TEST_CASE("encoder-decoder: shapes, greedy = beam of width 1, and it learns to copy", "[nn][seq2seq-transformer]") {
  const int64_t V = 8, S = 5;
  Generator gen(10);
  EncoderDecoder model({.src_vocab = V, .tgt_vocab = V, .max_len = 8, .d_model = 16, .heads = 2, .ffn = 32,
                        .num_encoder_layers = 1, .num_decoder_layers = 1, .dropout = 0.0, .norm_first = true},
                       gen);
  std::vector<std::string> names;
  for (auto& [n, p] : model.named_parameters()) names.push_back(n);
  REQUIRE(std::count(names.begin(), names.end(), "decoder.blocks.0.multihead_attn.in_proj_weight") == 1);
  REQUIRE(model.named_buffers().size() == 2);  // src_pos.pe and tgt_pos.pe

  // task: copy a sequence of tokens 2..7; BOS = 0, EOS = 1
  auto batch = [&](int64_t B) {
    // tgt_in = BOS y_1 .. y_S, tgt_out = y_1 .. y_S EOS
    Tensor src = randint(2, V, {B, S}, gen);
    std::vector<int64_t> tin, tout;
    for (int64_t b = 0; b < B; ++b) {
      tin.push_back(0);
      for (int64_t t = 0; t < S; ++t) {
        const int64_t y = src.data<int64_t>()[b * S + t];
        tin.push_back(y);
        tout.push_back(y);
      }
      tout.push_back(1);
    }
    return std::tuple{src, Tensor::from_vector(tin, {B, S + 1}), Tensor::from_vector(tout, {B, S + 1})};
  };
  auto [src0, tin0, tout0] = batch(2);
  REQUIRE(model.forward(src0, tin0).shape() == Shape{2, S + 1, V});

  AdamW opt(model.parameters(), {.lr = 1e-2});
  for (int step = 0; step < 400; ++step) {
    auto [src, tin, tout] = batch(16);
    opt.zero_grad();
    Var loss = cross_entropy(model.forward(src, tin), tout);
    loss.backward();
    opt.step();
  }
  model.eval();
  auto [src, tin, tout] = batch(4);
  Decoded g = model.greedy_decode(src, Tensor(), {.bos = 0, .eos = 1, .max_len = 7});
  REQUIRE(g.tokens.shape() == Shape{4, 7});
  REQUIRE(g.alphas.shape() == Shape{4, 7, S});
  int64_t right = 0;
  for (int64_t b = 0; b < 4; ++b)
    right += g.tokens.select(0, b).slice(0, 0, S + 1).to_vector() == tout.select(0, b).to_vector();
  REQUIRE(right >= 3);
  // attention rows sum to 1 for emitted tokens
  REQUIRE(sum(g.alphas.select(0, 0).select(0, 0)).item() == Approx(1.0).epsilon(1e-5));
  Decoded b1 = model.beam_search(src, Tensor(), 1, {.bos = 0, .eos = 1, .max_len = 7});
  REQUIRE(b1.tokens.to_vector() == g.tokens.to_vector());
  REQUIRE(b1.lengths.to_vector() == g.lengths.to_vector());
  for (int64_t b = 0; b < 4; ++b) REQUIRE(b1.scores.at({b}) == Approx(g.scores.at({b})).epsilon(1e-5));
  Decoded b4 = model.beam_search(src, Tensor(), 4, {.bos = 0, .eos = 1, .max_len = 7});
  for (int64_t b = 0; b < 4; ++b) REQUIRE(b4.scores.at({b}) >= g.scores.at({b}) - 1e-5);
  REQUIRE_ERROR(model.beam_search(src, Tensor(), 0, {.bos = 0, .max_len = 3}), ValueError, "width");
  REQUIRE_ERROR(model.greedy_decode(src, Tensor(), {.bos = 0, .max_len = 9}), ValueError, "max_len");
}

TEST_CASE("model input errors", "[nn][gpt]") {
  Generator gen(11);
  DecoderOnly gpt(tiny_gpt(), gen);
  REQUIRE_ERROR(gpt.forward(Tensor::ones({2, 3})), ValueError, "DecoderOnly", "i64 [B, T]", "f32");
  REQUIRE_ERROR(gpt.forward(ids_of(std::vector<int64_t>(34, 1), 2, 17)), ValueError, "longer than max_len 16");
  REQUIRE_ERROR(gpt.generate(ids_of({1, 2}, 1, 2), {.max_new_tokens = 15}), ValueError, "generate", "max_len = 16");
  REQUIRE_ERROR(gpt.generate(Tensor::zeros({1, 0}, DType::i64), {.max_new_tokens = 1}), ValueError, "at least 1");
}

TEST_CASE("gradcheck in f64: positional encodings and whole models (parameters)", "[nn][gpt][gradcheck]") {
  Generator gen(12);
  Tensor x = randn({2, 3, 4}, DType::f64, gen);
  SECTION("positional encodings") {
    LearnedPositionalEncoding learned({.max_len = 5, .dim = 4, .dtype = DType::f64}, gen);
    SinusoidalPositionalEncoding sinus({.max_len = 5, .dim = 4, .dtype = DType::f64});
    for (const Module* m : {static_cast<const Module*>(&learned), static_cast<const Module*>(&sinus)}) {
      auto f = [&](const Var& v) { return m == &learned ? learned.forward(v, 2) : sinus.forward(v, 2); };
      GradcheckResult r = gradcheck([&](const std::vector<Var>& v) { return square(f(v[0])); }, {x});
      INFO(r.summary());
      REQUIRE(r.passed);
    }
    testing::require_param_grads(learned, [&] { return square(learned.forward(Var(x), 1)); });
  }
  SECTION("a tied GPT") {
    DecoderOnly gpt({.vocab_size = 5, .max_len = 4, .d_model = 4, .heads = 2, .ffn = 6, .num_layers = 2,
                     .tie_embeddings = true, .dtype = DType::f64},
                    gen);
    Tensor ids = ids_of({1, 4, 0, 2, 3, 3}, 2, 3);
    testing::require_param_grads(gpt, [&] { return gpt.forward(ids); });
  }
  SECTION("a BERT-style encoder, both heads") {
    EncoderOnly bert({.vocab_size = 5, .max_len = 3, .d_model = 4, .heads = 2, .ffn = 6, .num_layers = 1,
                      .num_classes = 2, .dropout = 0.0, .dtype = DType::f64},
                     gen);
    Tensor ids = ids_of({1, 4, 0, 2, 3, 3}, 2, 3);
    Tensor real = gt(Tensor::from_vector(std::vector<double>{1, 1, 1, 1, 1, 0}, {2, 3}, DType::f64), 0.5);
    testing::require_param_grads(bert, [&] {
      StackOutput H = bert.encode(ids, real);
      return concat({flatten(bert.mlm_logits(H.out)), flatten(bert.cls_logits(H.out))}, 0);
    });
  }
  SECTION("an encoder-decoder") {
    EncoderDecoder model({.src_vocab = 5, .tgt_vocab = 4, .max_len = 3, .d_model = 4, .heads = 2, .ffn = 6,
                          .num_encoder_layers = 1, .num_decoder_layers = 1, .dropout = 0.0, .norm_first = true,
                          .positional = PositionalKind::learned, .dtype = DType::f64},
                         gen);
    Tensor src = ids_of({1, 4, 0, 2, 3, 3}, 2, 3), tgt = ids_of({0, 1, 2, 0, 3, 3}, 2, 3);
    testing::require_param_grads(model, [&] { return model.forward(src, tgt); });
  }
}
