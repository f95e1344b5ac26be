// The RNN encoder-decoder of lessons 01 and 04: building, training and greedy decoding.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "lessons/common/reversal_seq2seq.h"
#include "tensor/error.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

bool has_parameter(const nn::Module& m, const std::string& name) {
  for (const auto& [n, p] : m.named_parameters())
    if (n == name) return true;
  return false;
}

}  // namespace

TEST_CASE("make_reversal_model builds the bottleneck and the attention model", "[lesson]") {
  Generator gen(0);
  auto plain = make_reversal_model({.attention = false, .embed_dim = 8, .hidden_size = 12}, gen);
  auto attn = make_reversal_model({.attention = true, .embed_dim = 8, .hidden_size = 12, .attn_dim = 5}, gen);
  REQUIRE(plain->decoder().attention() == nullptr);
  REQUIRE(plain->encoder().bwd() == nullptr);
  REQUIRE(plain->encoder().output_size() == 12);
  REQUIRE(attn->encoder().bwd() != nullptr);
  REQUIRE(attn->encoder().output_size() == 24);
  const auto* bahdanau = dynamic_cast<const nn::BahdanauAttention*>(attn->decoder().attention());
  REQUIRE(bahdanau != nullptr);
  REQUIRE(bahdanau->options().attn_dim == 5);
  REQUIRE(has_parameter(*attn, "decoder.attn.W_s.weight"));
  REQUIRE_FALSE(has_parameter(*plain, "decoder.attn.W_s.weight"));
  REQUIRE(attn->options().src_vocab == kDigitVocab);
  REQUIRE(attn->options().tgt_vocab == kDigitVocab);
  // The GRU encoder: 3 gates of 12 over inputs of 8 and states of 12, with both biases.
  REQUIRE(plain->encoder().fwd().weight_ih().shape() == Shape{36, 8});
}

TEST_CASE("train_reversal lowers the loss, logs it, and repeats itself from the same seeds", "[lesson]") {
  const ReversalModelOptions small{.attention = true, .embed_dim = 8, .hidden_size = 16, .attn_dim = 8};
  const ReversalTraining t{.steps = 60, .batch = 16, .min_len = 3, .max_len = 4, .lr = 1e-2, .final_lr = 1e-3,
                           .data_seed = 5, .log_every = 20};
  Generator g1(1), g2(1);
  auto m1 = make_reversal_model(small, g1);
  auto m2 = make_reversal_model(small, g2);
  TrainingLog a = train_reversal(*m1, t, "test", false);
  TrainingLog b = train_reversal(*m2, t, "test", false);
  REQUIRE(a.steps == std::vector<double>{20, 40, 60});
  REQUIRE(a.loss.size() == 3);
  REQUIRE(a.final_loss == a.loss.back());
  REQUIRE(a.loss == b.loss);  // same model seed, same data seed: the same run
  // From about log(13) = 2.56 per token; 60 steps on 3-4 digits get well below.
  REQUIRE(a.loss.front() < 2.6);
  REQUIRE(a.final_loss < 0.8 * a.loss.front());

  ReversalTraining other = t;
  other.data_seed = 6;
  Generator g3(1);
  auto m3 = make_reversal_model(small, g3);
  REQUIRE(train_reversal(*m3, other, "test", false).loss != a.loss);

  ReversalTraining bad = t;
  bad.steps = -1;
  REQUIRE_THROWS_WITH(train_reversal(*m3, bad, "test", false), Catch::Contains("train_reversal") &&
                                                                   Catch::Contains("-1"));
  REQUIRE(train_reversal(*m3, {.steps = 0}, "test", false).loss.empty());
}

TEST_CASE("greedy_reversal decodes S + 1 tokens and reversal_decoder agrees", "[lesson]") {
  Generator gen(2);
  auto m = make_reversal_model({.attention = true, .embed_dim = 8, .hidden_size = 8, .attn_dim = 4}, gen);
  DigitBatch b = reversal_batch_from({{1, 2, 3, 4}, {5, 6}});
  nn::Decoded d = greedy_reversal(*m, b);
  REQUIRE(d.tokens.shape() == Shape{2, 5});
  REQUIRE(d.alphas.shape() == Shape{2, 5, 4});
  // Every weight row of an emitted token sums to 1 over that row's own source length.
  const std::vector<double> alpha = d.alphas.to_vector(), lengths = d.lengths.to_vector();
  for (int64_t t = 0; t < static_cast<int64_t>(lengths[1]); ++t) {
    REQUIRE(alpha[static_cast<size_t>(20 + t * 4 + 0)] + alpha[static_cast<size_t>(20 + t * 4 + 1)] ==
            Approx(1.0).epsilon(1e-5));
    REQUIRE(alpha[static_cast<size_t>(20 + t * 4 + 2)] == 0.0);  // padding gets no weight
  }
  Tensor via_decoder = reversal_decoder(*m)(b);
  REQUIRE(via_decoder.to_vector() == d.tokens.to_vector());
}
