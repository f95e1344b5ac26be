// Decoder and Seq2Seq: parameter paths, what each step reads (s_{t-1} or s_t, input feeding,
// the fixed context without attention), teacher forcing, the padded loss, gradients of a whole
// encoder-decoder unrolled over 5 steps, greedy decoding, beam search (width 1 is greedy; a wide
// beam finds the exhaustive optimum), the accuracy helpers, and a short training run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/graph_export.h"
#include "autograd/ops.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/seq2seq.h"
#include "tensor/random.h"
#include "tests/nn/param_gradcheck.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

Tensor ids(const std::vector<int64_t>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }
bool has(const std::vector<std::string>& xs, const std::string& x) { return std::find(xs.begin(), xs.end(), x) != xs.end(); }

// A small model with every feature on: bidirectional GRU encoder, Bahdanau attention.
Seq2SeqOptions small(AttentionType attention = AttentionType::bahdanau, DType dtype = DType::f64) {
  return {.src_vocab = 7, .tgt_vocab = 6, .embed_dim = 3, .hidden_size = 4, .decoder_hidden = 5,
          .attention = attention, .attn_dim = 3, .padding_idx = 0, .dtype = dtype};
}

}  // namespace

TEST_CASE("Seq2Seq: parameter paths and the W4 benchmark's parameter count", "[nn]") {
  Generator gen(0);
  Seq2Seq w4({.src_vocab = 40, .tgt_vocab = 40, .embed_dim = 64, .hidden_size = 128, .attn_dim = 128}, gen);
  // PyTorch's reference model (bench-ref/w4_seq2seq.py) has 424,616 parameters.
  REQUIRE(w4.num_parameters() == 424616);
  std::vector<std::string> names;
  for (auto& [name, p] : w4.named_parameters()) {
    names.push_back(name);
    REQUIRE(p.name() == name);  // the Var knows its own dotted path
  }
  for (const char* n : {"encoder.embedding.weight", "encoder.fwd.weight_ih", "encoder.fwd.bias_hh", "encoder.bwd.weight_hh",
                        "decoder.embedding.weight", "decoder.init.weight", "decoder.attn.W_s.weight",
                        "decoder.attn.W_s.bias", "decoder.attn.W_h.weight", "decoder.attn.v.weight",
                        "decoder.cell.weight_ih", "decoder.out.weight", "decoder.out.bias"})
    REQUIRE(has(names, n));
  REQUIRE(!has(names, "decoder.attn.W_h.bias"));
  // GRUCell(64 + 256 -> 128), as in the benchmark.
  REQUIRE(w4.decoder().cell().weight_ih().shape() == Shape{384, 320});
  REQUIRE(w4.decoder().query() == AttentionQuery::previous_state);
}

TEST_CASE("Decoder: teacher forcing is the step loop, and alphas have one row per target step", "[nn]") {
  Generator gen(1);
  Seq2Seq model(small(), gen);
  Tensor src = ids({1, 2, 3, 4, 5, 6, 2, 0}, {2, 4});
  Tensor lengths = ids({4, 3}, {2});
  Tensor y_in = ids({1, 2, 3, 1, 4, 4}, {2, 3});
  DecoderOutput out = model.forward(src, lengths, y_in);
  REQUIRE(out.logits.shape() == Shape{2, 3, 6});
  REQUIRE(out.alphas.shape() == Shape{2, 3, 4});
  for (int64_t t = 0; t < 3; ++t) REQUIRE(out.alphas.value().at({1, t, 3}) == 0.0);  // padding: no weight

  EncoderOutput enc = model.encode(src, lengths);
  DecoderState st = model.decoder().start(enc);
  for (int64_t t = 0; t < 3; ++t) {
    DecoderStepOutput o = model.decoder().step(st, y_in.select(1, t));
    REQUIRE(max_abs_diff(o.logits.value(), out.logits.value().select(1, t)) < 1e-14);
    REQUIRE(max_abs_diff(o.alpha_t.value(), out.alphas.value().select(1, t)) < 1e-14);
  }
  std::vector<std::string> scopes = graph_scopes({out.logits});
  for (const char* s : {"encoder.t1", "encoder.t4", "decoder.t1", "decoder.t3", "decoder.t2.attn", "decoder.t2.cell"})
    REQUIRE(has(scopes, s));
}

TEST_CASE("Decoder: Bahdanau scores with s_{t-1}, Luong with s_t, input feeding widens the cell", "[nn]") {
  Generator gen(2);
  Tensor h = randn({2, 4, 6}, DType::f64, gen);
  EncoderOutput enc{.h = Var(h), .final = {Var(randn({2, 6}, DType::f64, gen)), Var()}, .mask = Tensor()};
  Tensor y = ids({1, 3}, {2});
  for (AttentionType type : {AttentionType::bahdanau, AttentionType::luong}) {
    for (bool feeding : {true, false}) {
      Decoder dec({.vocab_size = 5, .embed_dim = 3, .hidden_size = 4, .context_dim = 6, .attention = type,
                   .input_feeding = feeding, .dtype = DType::f64},
                  gen);
      REQUIRE(dec.cell().input_size() == (feeding ? 3 + 6 : 3));
      DecoderState st = dec.start(enc);
      const Var s_prev = st.s.h;
      DecoderStepOutput o = dec.step(st, y);
      const Var query = type == AttentionType::bahdanau ? s_prev : st.s.h;
      AttentionOutput want = dec.attention()->forward(query, Var(h));
      REQUIRE(max_abs_diff(o.alpha_t.value(), want.alpha_t.value()) < 1e-14);
      REQUIRE(max_abs_diff(st.c.value(), want.c_t.value()) < 1e-14);
      // The other state would give different weights: the test can tell them apart.
      const Var other = type == AttentionType::bahdanau ? st.s.h : s_prev;
      REQUIRE(max_abs_diff(dec.attention()->forward(other, Var(h)).alpha_t.value(), o.alpha_t.value()) > 1e-6);
    }
  }
}

TEST_CASE("Decoder: without attention the context is the encoder's final state, always", "[nn]") {
  Generator gen(3);
  Decoder dec({.vocab_size = 5, .embed_dim = 2, .hidden_size = 3, .context_dim = 4, .attention = AttentionType::none,
               .dtype = DType::f64},
              gen);
  REQUIRE(dec.attention() == nullptr);
  Tensor final_h = randn({2, 4}, DType::f64, gen);
  EncoderOutput a{.h = Var(randn({2, 5, 4}, DType::f64, gen)), .final = {Var(final_h), Var()}, .mask = Tensor()};
  EncoderOutput b{.h = Var(randn({2, 5, 4}, DType::f64, gen)), .final = {Var(final_h), Var()}, .mask = Tensor()};
  Tensor y_in = ids({1, 2, 3, 4, 0, 1}, {2, 3});
  DecoderOutput oa = dec.forward(a, y_in), ob = dec.forward(b, y_in);
  REQUIRE(!oa.alphas.defined());
  // Only h_T matters: other encoder states change nothing (the bottleneck of lesson 01).
  REQUIRE(oa.logits.value().to_vector() == ob.logits.value().to_vector());
  DecoderState st = dec.start(a);
  dec.step(st, y_in.select(1, 0));
  REQUIRE(st.c.value().to_vector() == final_h.to_vector());
}

TEST_CASE("Seq2Seq: the loss ignores padded targets", "[nn]") {
  Generator gen(4);
  Seq2Seq model(small(), gen);
  Tensor src = ids({1, 2, 3, 4, 5, 6, 2, 0}, {2, 4});
  Tensor lengths = ids({4, 3}, {2});
  Tensor y_out = ids({2, 3, 5, 4, 0, 0}, {2, 3});  // row 1 has one real target
  Tensor y_in = shift_right(y_out, 1);
  REQUIRE(y_in.to_vector() == std::vector<double>{1, 2, 3, 1, 4, 0});
  Var loss = model.loss(src, lengths, y_in, y_out, /*ignore_index=*/0);
  Tensor logits = model.forward(src, lengths, y_in).logits.value();
  Tensor log_p = log_softmax(logits, -1);
  const double want = -(log_p.at({0, 0, 2}) + log_p.at({0, 1, 3}) + log_p.at({0, 2, 5}) + log_p.at({1, 0, 4})) / 4;
  REQUIRE(loss.item() == Approx(want).epsilon(1e-12));
  REQUIRE_THROWS_WITH(model.loss(src, lengths, y_in, ids({1, 2}, {1, 2}), 0), Catch::Contains("[1, 2]"));
}

TEST_CASE("Seq2Seq: gradcheck of an encoder-decoder unrolled over 5 steps (inputs are ids: parameters)",
          "[nn][gradcheck]") {
  Tensor src = ids({1, 2, 3, 4, 5, 6, 0, 0}, {2, 4});
  Tensor lengths = ids({4, 2}, {2});
  Tensor y_in = ids({1, 2, 3, 4, 5, 1, 5, 4, 3, 2}, {2, 5});
  Tensor y_out = ids({2, 3, 4, 5, 1, 5, 4, 3, 0, 0}, {2, 5});
  SECTION("bidirectional GRU, Bahdanau") {
    Generator gen(5);
    Seq2Seq model({.src_vocab = 7, .tgt_vocab = 6, .embed_dim = 2, .hidden_size = 2, .decoder_hidden = 3,
                   .attn_dim = 2, .padding_idx = 0, .dtype = DType::f64},
                  gen);
    testing::require_param_grads(model, [&] { return model.forward(src, lengths, y_in).logits; });
    testing::require_param_grads(model, [&] { return model.loss(src, lengths, y_in, y_out, 0); });
  }
  SECTION("LSTM, Luong concat scored with s_t, input feeding") {
    Generator gen(6);
    Seq2Seq model({.src_vocab = 7, .tgt_vocab = 6, .embed_dim = 2, .hidden_size = 2, .cell = CellType::lstm,
                   .bidirectional = false, .attention = AttentionType::luong, .luong_score = LuongScore::concat,
                   .attn_dim = 2, .padding_idx = 0, .dtype = DType::f64},
                  gen);
    REQUIRE(model.decoder().query() == AttentionQuery::current_state);
    testing::require_param_grads(model, [&] {
      DecoderOutput o = model.forward(src, lengths, y_in);
      return concat({flatten(o.logits), flatten(o.alphas)}, 0);
    });
  }
  SECTION("no attention") {
    Generator gen(7);
    Seq2Seq model({.src_vocab = 7, .tgt_vocab = 6, .embed_dim = 2, .hidden_size = 2, .attention = AttentionType::none,
                   .padding_idx = 0, .dtype = DType::f64},
                  gen);
    testing::require_param_grads(model, [&] { return model.forward(src, lengths, y_in).logits; });
  }
}

TEST_CASE("greedy_decode: argmax tokens, pad after eos, scores are the tokens' log-probabilities", "[nn]") {
  Generator gen(8);
  Seq2Seq model(small(), gen);
  Tensor src = ids({1, 2, 3, 4, 5, 6, 2, 0, 3, 3, 3, 3}, {3, 4});
  Tensor lengths = ids({4, 3, 4}, {3});
  // With eos = 2 some rows end early; others run to max_len.
  Decoded d = model.greedy_decode(src, lengths, {.bos = 1, .eos = 2, .max_len = 6, .pad = 0});
  REQUIRE(d.tokens.shape() == Shape{3, 6});
  REQUIRE(d.alphas.shape() == Shape{3, 6, 4});
  Tensor logits = model.forward(src, lengths, shift_right(d.tokens, 1)).logits.value();
  Tensor log_p = log_softmax(logits, -1);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t n = static_cast<int64_t>(d.lengths.at({b}));
    double score = 0;
    for (int64_t t = 0; t < 6; ++t) {
      const int64_t tok = static_cast<int64_t>(d.tokens.at({b, t}));
      if (t >= n) {
        REQUIRE(tok == 0);
        REQUIRE(d.alphas.at({b, t, 0}) == 0.0);
        continue;
      }
      // The token is the argmax of the teacher-forced prediction given the tokens before it.
      REQUIRE(tok == static_cast<int64_t>(argmax(log_p.select(0, b).select(0, t), 0).item()));
      REQUIRE((tok != 2 || t == n - 1));
      score += log_p.at({b, t, tok});
    }
    REQUIRE(d.scores.at({b}) == Approx(score).epsilon(1e-10));
  }
}

TEST_CASE("beam_search: width 1 is exactly greedy", "[nn]") {
  for (AttentionType type : {AttentionType::bahdanau, AttentionType::luong, AttentionType::none}) {
    Generator gen(9);
    Seq2Seq model(small(type), gen);
    Generator data(10);
    Tensor src = randint(1, 7, {6, 5}, data);
    Tensor lengths = ids({5, 4, 5, 2, 3, 5}, {6});
    for (int64_t eos : {int64_t{-1}, int64_t{2}, int64_t{4}}) {
      DecodeOptions o{.bos = 1, .eos = eos, .max_len = 7, .pad = 0};
      Decoded g = model.greedy_decode(src, lengths, o);
      Decoded b = model.beam_search(src, lengths, 1, o);
      REQUIRE(b.tokens.to_vector() == g.tokens.to_vector());
      REQUIRE(b.lengths.to_vector() == g.lengths.to_vector());
      REQUIRE(max_abs_diff(b.scores, g.scores) < 1e-10);
      REQUIRE(max_abs_diff(b.alphas, g.alphas) < 1e-12);
    }
  }
}

TEST_CASE("beam_search: a beam as wide as every hypothesis finds the exhaustive optimum", "[nn]") {
  Generator gen(11);
  Seq2Seq model({.src_vocab = 5, .tgt_vocab = 4, .embed_dim = 3, .hidden_size = 3, .attn_dim = 3, .dtype = DType::f64},
                gen);
  // Make the predictions sharper so greedy and the optimum differ more often.
  for (auto& [name, p] : model.named_parameters())
    if (name == "decoder.out.weight") {
      Tensor m = p.value();
      m.copy_(mul(m, 6.0));
    }
  const int64_t eos = 3, L = 3;
  Tensor src = ids({1, 2, 4, 3, 1, 1, 4, 2, 2, 3, 4, 1}, {4, 3});
  EncoderOutput enc;
  {
    NoGradGuard no_grad;
    enc = model.encode(src, Tensor());
  }
  // Every output: up to L tokens, ending at the first eos or cut off at L.
  std::vector<std::vector<int64_t>> outputs;
  std::function<void(std::vector<int64_t>)> grow = [&](std::vector<int64_t> prefix) {
    if (!prefix.empty() && (prefix.back() == eos || static_cast<int64_t>(prefix.size()) == L)) {
      outputs.push_back(prefix);
      return;
    }
    for (int64_t v = 0; v < 4; ++v) {
      prefix.push_back(v);
      grow(prefix);
      prefix.pop_back();
    }
  };
  grow({});
  REQUIRE(outputs.size() == 1 + 3 + 3 * 3 * 4);  // [eos], [x, eos], [x, x, any]
  int differs = 0;
  for (int64_t b = 0; b < 4; ++b) {
    double best = -1e300;
    for (const auto& seq : outputs) {
      NoGradGuard no_grad;
      Tensor index = ids({b}, {1});
      EncoderOutput row{.h = index_select(enc.h, 0, index), .final = {index_select(enc.final.h, 0, index), Var()},
                        .mask = Tensor()};
      DecoderState st = model.decoder().start(row);
      double score = 0;
      int64_t prev = 0;
      for (int64_t tok : seq) {
        Tensor lp = log_softmax(model.decoder().step(st, ids({prev}, {1})).logits.value(), -1);
        score += lp.at({0, tok});
        prev = tok;
      }
      best = std::max(best, score);
    }
    Tensor row_src = src.slice(0, b, b + 1);
    DecodeOptions o{.bos = 0, .eos = eos, .max_len = L, .pad = 0};
    Decoded wide = model.beam_search(row_src, Tensor(), 64, o);
    REQUIRE(wide.scores.at({0}) == Approx(best).epsilon(1e-12));
    if (std::abs(model.greedy_decode(row_src, Tensor(), o).scores.at({0}) - best) > 1e-9) ++differs;
  }
  // Greedy misses the optimum on some rows here; the wide beam never does.
  REQUIRE(differs > 0);
  REQUIRE(model.beam_search(src, Tensor(), 2, {.bos = 0, .eos = eos, .max_len = L}).tokens.shape() == Shape{4, L});
}

TEST_CASE("accuracy helpers and shift_right", "[nn]") {
  Tensor target = ids({1, 2, 3, 0, 4, 5, 0, 0, 6, 6, 6, 6}, {3, 4});
  Tensor pred = ids({1, 2, 3, 9, 4, 9, 0, 0, 6, 6, 6, 6}, {3, 4});
  REQUIRE(sequence_correct(pred, target, 0).to_vector() == std::vector<double>{1, 0, 1});
  REQUIRE(sequence_accuracy(pred, target, 0) == Approx(2.0 / 3.0));
  REQUIRE(token_accuracy(pred, target, 0) == Approx(8.0 / 9.0));
  // A shorter prediction misses what it does not cover.
  Tensor short_pred = ids({1, 2, 4, 5, 6, 6}, {3, 2});
  REQUIRE(sequence_correct(short_pred, target, 0).to_vector() == std::vector<double>{0, 1, 0});
  REQUIRE(token_accuracy(short_pred, target, 0) == Approx(6.0 / 9.0));
  REQUIRE(shift_right(target, 7).to_vector() == std::vector<double>{7, 1, 2, 3, 7, 4, 5, 0, 7, 6, 6, 6});
  REQUIRE_THROWS_WITH(sequence_accuracy(ids({1}, {1, 1}), target, 0), Catch::Contains("[1, 1]") && Catch::Contains("[3, 4]"));
  REQUIRE_THROWS_AS(shift_right(Tensor::zeros({2, 2}), 1), ShapeError);
}

TEST_CASE("Decoder and decoding: errors", "[nn]") {
  Generator gen(12);
  Seq2Seq model(small(), gen);
  Tensor src = ids({1, 2, 3, 4}, {1, 4});
  REQUIRE_THROWS_AS(model.greedy_decode(src, Tensor(), {.bos = 1, .max_len = 0}), ValueError);
  REQUIRE_THROWS_WITH(model.greedy_decode(src, Tensor(), {.bos = 1, .max_len = 0}), Catch::Contains("max_len"));
  REQUIRE_THROWS_WITH(model.beam_search(src, Tensor(), 0, {.bos = 1, .max_len = 3}), Catch::Contains("width"));
  REQUIRE_THROWS_WITH(model.forward(src, Tensor(), Tensor::zeros({1, 2})), Catch::Contains("i64"));
  REQUIRE_THROWS_WITH(model.forward(src, Tensor(), ids({1, 1, 1, 1}, {2, 2})), Catch::Contains("batch"));
  EncoderOutput wrong{.h = Var(Tensor::zeros({1, 4, 3}, DType::f64)), .final = {Var(Tensor::zeros({1, 3}, DType::f64)), Var()},
                      .mask = Tensor()};
  REQUIRE_THROWS_AS(model.decoder().start(wrong), ShapeError);
  REQUIRE_THROWS_WITH(model.decoder().start(wrong), Catch::Contains("[1, 4, 3]") && Catch::Contains("context_dim 8"));
  REQUIRE_THROWS_AS(Decoder({.vocab_size = 0, .embed_dim = 2, .hidden_size = 2, .context_dim = 2}), ValueError);
}

TEST_CASE("Seq2Seq: learns to reverse short strings in a few hundred steps", "[nn]") {
  Generator gen(13);
  Seq2Seq model({.src_vocab = 8, .tgt_vocab = 8, .embed_dim = 16, .hidden_size = 24, .attn_dim = 16}, gen);
  Adam opt(model.parameters(), {.lr = 1e-2});
  Generator data(14);
  auto batch = [&](int64_t B) {
    Tensor src = randint(2, 8, {B, 5}, data);  // 0: BOS, 1: unused
    std::vector<double> rev = src.to_vector();
    std::vector<int64_t> y(rev.size());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < 5; ++t) y[static_cast<size_t>(b * 5 + t)] = static_cast<int64_t>(rev[static_cast<size_t>(b * 5 + 4 - t)]);
    return std::pair<Tensor, Tensor>{src, Tensor::from_vector(y, {B, 5})};
  };
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    auto [src, y] = batch(32);
    opt.zero_grad();
    Var loss = model.loss(src, Tensor(), shift_right(y, 0), y);
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item();
    last = loss.item();
  }
  auto [src, y] = batch(200);
  const double acc = sequence_accuracy(model.greedy_decode(src, Tensor(), {.bos = 0, .max_len = 5}).tokens, y, -1);
  INFO("loss " << first << " -> " << last << ", greedy sequence accuracy " << acc);
  REQUIRE(last < 0.2 * first);
  REQUIRE(acc > 0.8);
}
