// Beam: the bookkeeping of beam search on hand-made log-probabilities, so each rule can be
// checked without a model: the best `width` candidates stay, a candidate ending in eos retires,
// the parents say which row each new hypothesis extends, and the length penalty can change the
// winner. (tests/nn/test_seq2seq.cpp and test_transformer_models.cpp check it inside decoders.)
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "nn/decoding.h"

using namespace lumen;
using namespace lumen::nn;

namespace {

// log_p [n, V] from probabilities, so the test reads as the probabilities it means.
Tensor log_probs(const std::vector<double>& p, int64_t n, int64_t V) {
  std::vector<double> lp(p.size());
  for (size_t i = 0; i < p.size(); ++i) lp[i] = std::log(p[i]);
  return Tensor::from_vector(lp, {n, V}, DType::f64);
}

}  // namespace

TEST_CASE("Beam keeps the width best candidates and reports their parents", "[nn]") {
  Beam beam(2, {.bos = 0, .eos = 3, .max_len = 5});
  REQUIRE(beam.active().size() == 1);
  // One start hypothesis, 4 tokens: tokens 1 and 2 are the two best.
  std::vector<int64_t> parents = beam.advance(log_probs({0.1, 0.5, 0.3, 0.1}, 1, 4), Tensor());
  REQUIRE(parents == std::vector<int64_t>{0, 0});
  REQUIRE(beam.active()[0].tokens == std::vector<int64_t>{1});
  REQUIRE(beam.active()[1].tokens == std::vector<int64_t>{2});
  // Now the second hypothesis' continuation beats every continuation of the first.
  parents = beam.advance(log_probs({0.25, 0.25, 0.25, 0.25,  //
                                    0.05, 0.9, 0.04, 0.01},
                                   2, 4),
                         Tensor());
  REQUIRE(parents == std::vector<int64_t>{1, 0});
  REQUIRE(beam.active()[0].tokens == std::vector<int64_t>{2, 1});
  REQUIRE(beam.active()[0].score == Approx(std::log(0.3 * 0.9)));
}

TEST_CASE("Beam retires a candidate ending in eos, and best() compares finished with active", "[nn]") {
  Beam beam(2, {.bos = 0, .eos = 3, .max_len = 5});
  // eos (token 3) ranks first: it finishes at once; token 1 stays active.
  std::vector<int64_t> parents = beam.advance(log_probs({0.05, 0.35, 0.0 + 1e-9, 0.6}, 1, 4), Tensor());
  REQUIRE(parents == std::vector<int64_t>{0, 0});
  REQUIRE(beam.active().size() == 2);  // tokens 1 and 0 fill the width
  REQUIRE(beam.best().tokens == std::vector<int64_t>{3});
  REQUIRE_FALSE(beam.done());
}

TEST_CASE("Beam stops once a finished output beats everything still growing", "[nn]") {
  Beam beam(1, {.bos = 0, .eos = 2, .max_len = 5});
  beam.advance(log_probs({0.1, 0.2, 0.7}, 1, 3), Tensor());  // eos wins outright
  REQUIRE(beam.done());
  REQUIRE(beam.best().tokens == std::vector<int64_t>{2});
  REQUIRE(beam.best().score == Approx(std::log(0.7)));
}

TEST_CASE("Beam's length penalty can prefer the longer output", "[nn]") {
  // Short: eos at once, p = 0.4. Long: token 1 (p = 0.6) then eos (p = 0.6), 0.36 in all.
  // Raw scores pick the short one; dividing by length^1 picks the long one.
  for (double penalty : {0.0, 1.0}) {
    Beam beam(2, {.bos = 0, .eos = 2, .max_len = 3, .length_penalty = penalty});
    beam.advance(log_probs({1e-9, 0.6, 0.4}, 1, 3), Tensor());
    // Two active rows now ([1] and [0]); the second is too unlikely to matter.
    beam.advance(log_probs({0.3, 0.1, 0.6, 0.3, 0.1, 0.6}, 2, 3), Tensor());
    const std::vector<int64_t> want = penalty == 0.0 ? std::vector<int64_t>{2} : std::vector<int64_t>{1, 2};
    REQUIRE(beam.best().tokens == want);
  }
}

TEST_CASE("Beam carries each hypothesis's attention rows, and write_row lays them out", "[nn]") {
  Beam beam(1, {.bos = 0, .eos = 2, .max_len = 3});
  const Tensor alpha = Tensor::from_vector(std::vector<double>{0.25, 0.75}, {1, 2}, DType::f64);
  beam.advance(log_probs({0.1, 0.8, 0.1}, 1, 3), alpha);
  beam.advance(log_probs({0.1, 0.1, 0.8}, 1, 3), Tensor::from_vector(std::vector<double>{0.75, 0.25}, {1, 2}, DType::f64));
  const Hypothesis h = beam.best();
  REQUIRE(h.tokens == std::vector<int64_t>{1, 2});
  Decoded out = empty_decoded(2, 2, {.bos = 0, .eos = 2, .max_len = 3, .pad = 9}, DType::f64);
  write_row(out, 1, h);
  REQUIRE(out.tokens.to_vector() == std::vector<double>{9, 9, 9, 1, 2, 9});
  REQUIRE(out.lengths.to_vector() == std::vector<double>{0, 2});
  REQUIRE(out.alphas.select(0, 1).to_vector() == std::vector<double>{0.25, 0.75, 0.75, 0.25, 0, 0});
  REQUIRE(out.scores.to_vector()[1] == Approx(std::log(0.8 * 0.8)));
}
