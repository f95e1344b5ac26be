// The digit-reversal task of lessons 01, 04 and 17: batches, evaluation by length, the chart.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <vector>

#include "lessons/common/digits.h"
#include "tensor/error.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

std::vector<int64_t> ints(const Tensor& t) {
  std::vector<int64_t> out;
  for (double v : t.to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}

}  // namespace

TEST_CASE("digit tokens print as digits and specials", "[lesson]") {
  REQUIRE(digit_token_str(kPad) == "<pad>");
  REQUIRE(digit_token_str(kBos) == "<bos>");
  REQUIRE(digit_token_str(kEos) == "<eos>");
  REQUIRE(digit_token_str(kFirstDigit) == "0");
  REQUIRE(digit_token_str(kFirstDigit + 9) == "9");
  REQUIRE(digit_tokens_str({kFirstDigit + 4, kFirstDigit + 1, kEos}) == "4 1 <eos>");
  REQUIRE(digit_tokens_str({}).empty());
  REQUIRE_THROWS_AS(digit_token_str(kDigitVocab), ValueError);
  REQUIRE_THROWS_WITH(digit_token_str(-1), Catch::Contains("digit_token_str") && Catch::Contains("-1"));
}

TEST_CASE("reversal_batch_from pads rows and reverses them", "[lesson]") {
  DigitBatch b = reversal_batch_from({{3, 1, 4}, {2, 7}});
  const int64_t d = kFirstDigit, P = kPad;
  REQUIRE(b.src.shape() == Shape{2, 3});
  REQUIRE(b.y_in.shape() == Shape{2, 4});
  REQUIRE(b.y_out.shape() == Shape{2, 4});
  REQUIRE(b.src.dtype() == DType::i64);
  REQUIRE(ints(b.src) == std::vector<int64_t>{d + 3, d + 1, d + 4, d + 2, d + 7, P});
  REQUIRE(ints(b.src_lengths) == std::vector<int64_t>{3, 2});
  REQUIRE(ints(b.y_out) == std::vector<int64_t>{d + 4, d + 1, d + 3, kEos, d + 7, d + 2, kEos, P});
  REQUIRE(ints(b.y_in) == std::vector<int64_t>{kBos, d + 4, d + 1, d + 3, kBos, d + 7, d + 2, P});
}

TEST_CASE("reversal_batch_from rejects empty rows and non-digits", "[lesson]") {
  REQUIRE_THROWS_WITH(reversal_batch_from({}), Catch::Contains("reversal_batch_from") && Catch::Contains("no rows"));
  REQUIRE_THROWS_WITH(reversal_batch_from({{1}, {}}), Catch::Contains("row 1 is empty"));
  REQUIRE_THROWS_AS(reversal_batch_from({{1, 10}}), ValueError);
  REQUIRE_THROWS_WITH(reversal_batch_from({{1, -2}}), Catch::Contains("row 0 holds -2"));
}

TEST_CASE("reversal_batch draws lengths in range, reversed targets, and is seeded", "[lesson]") {
  Generator g1(7), g2(7), g3(8);
  DigitBatch a = reversal_batch(g1, 200, 3, 6);
  DigitBatch b = reversal_batch(g2, 200, 3, 6);
  DigitBatch c = reversal_batch(g3, 200, 3, 6);
  REQUIRE(ints(a.src) == ints(b.src));
  REQUIRE(ints(a.src_lengths) == ints(b.src_lengths));
  REQUIRE(ints(a.src) != ints(c.src));

  const std::vector<int64_t> src = ints(a.src), len = ints(a.src_lengths), yi = ints(a.y_in), yo = ints(a.y_out);
  const int64_t S = a.src.size(1);
  REQUIRE(S == 6);  // 200 rows: the longest length turns up
  std::set<int64_t> seen(len.begin(), len.end());
  REQUIRE(seen == std::set<int64_t>{3, 4, 5, 6});
  std::set<int64_t> digits;
  for (int64_t r = 0; r < 200; ++r) {
    const int64_t n = len[static_cast<size_t>(r)];
    for (int64_t i = 0; i < S; ++i) {
      const int64_t x = src[static_cast<size_t>(r * S + i)];
      if (i < n) {
        REQUIRE(x >= kFirstDigit);
        REQUIRE(x < kDigitVocab);
        digits.insert(x);
        REQUIRE(yo[static_cast<size_t>(r * (S + 1) + (n - 1 - i))] == x);
      } else {
        REQUIRE(x == kPad);
      }
    }
    REQUIRE(yo[static_cast<size_t>(r * (S + 1) + n)] == kEos);
    REQUIRE(yi[static_cast<size_t>(r * (S + 1))] == kBos);
    for (int64_t t = 1; t <= n; ++t)
      REQUIRE(yi[static_cast<size_t>(r * (S + 1) + t)] == yo[static_cast<size_t>(r * (S + 1) + t - 1)]);
    for (int64_t t = n + 1; t <= S; ++t) {
      REQUIRE(yo[static_cast<size_t>(r * (S + 1) + t)] == kPad);
      REQUIRE(yi[static_cast<size_t>(r * (S + 1) + t)] == kPad);
    }
  }
  REQUIRE(digits.size() == 10);

  DigitBatch fixed = reversal_batch(g1, 5, 4, 4);
  REQUIRE(ints(fixed.src_lengths) == std::vector<int64_t>(5, 4));
  REQUIRE_THROWS_WITH(reversal_batch(g1, 4, 5, 3), Catch::Contains("reversal_batch") && Catch::Contains("5..3"));
  REQUIRE_THROWS_AS(reversal_batch(g1, 0, 1, 3), ValueError);
  REQUIRE_THROWS_AS(reversal_batch(g1, 2, 0, 3), ValueError);
}

TEST_CASE("reversal_buckets draws the same strings, grouped by length", "[lesson]") {
  Generator g1(3), g2(3);
  std::vector<DigitBatch> buckets = reversal_buckets(g1, 6, 10, 3, 20);
  DigitBatch flat = reversal_batch(g2, 60, 3, 20);
  REQUIRE(buckets.size() == 6);
  // The same 60 strings as one unbucketed draw from the same seed, as a multiset.
  auto rows_of = [](const DigitBatch& b) {
    std::multiset<std::vector<int64_t>> rows;
    const std::vector<int64_t> src = ints(b.src), len = ints(b.src_lengths);
    const int64_t S = b.src.size(1);
    for (int64_t r = 0; r < b.src.size(0); ++r)
      rows.insert({src.begin() + r * S, src.begin() + r * S + len[static_cast<size_t>(r)]});
    return rows;
  };
  std::multiset<std::vector<int64_t>> all;
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const DigitBatch& b : buckets) {
    REQUIRE(b.src.size(0) == 10);
    for (const auto& r : rows_of(b)) all.insert(r);
    const std::vector<int64_t> len = ints(b.src_lengths);
    const auto [lo, hi] = std::minmax_element(len.begin(), len.end());
    REQUIRE(b.src.size(1) == *hi);  // padded to its own longest row only
    ranges.push_back({*lo, *hi});
  }
  REQUIRE(all == rows_of(flat));
  // Neighbours in length: two batches' length ranges overlap at most at one end.
  for (size_t i = 0; i < ranges.size(); ++i)
    for (size_t j = i + 1; j < ranges.size(); ++j)
      REQUIRE((ranges[i].second <= ranges[j].first || ranges[j].second <= ranges[i].first));
  // Shuffled: the batches do not come out sorted (for this seed).
  bool sorted = true;
  for (size_t i = 1; i < ranges.size(); ++i) sorted = sorted && ranges[i - 1].first <= ranges[i].first;
  REQUIRE_FALSE(sorted);

  Generator g3(3);
  std::vector<DigitBatch> again = reversal_buckets(g3, 6, 10, 3, 20);
  for (size_t k = 0; k < again.size(); ++k) REQUIRE(ints(again[k].src) == ints(buckets[k].src));
  REQUIRE_THROWS_WITH(reversal_buckets(g3, 0, 10, 3, 20), Catch::Contains("reversal_buckets") &&
                                                             Catch::Contains("count"));
  REQUIRE_THROWS_WITH(reversal_buckets(g3, 2, 10, 9, 4), Catch::Contains("reversal_buckets") &&
                                                            Catch::Contains("9..4"));
}

TEST_CASE("seq_acc_by_length scores whole sequences per length", "[lesson]") {
  Generator gen(1);
  // An oracle copies the answer; a decoder that is right only up to length 5; one that gets
  // every other row wrong; and one that forgets <eos>.
  DigitDecoder oracle = [](const DigitBatch& b) { return b.y_out.clone(); };
  DigitDecoder short_only = [](const DigitBatch& b) {
    Tensor p = b.y_out.clone();
    for (int64_t r = 0; r < p.size(0) && b.src.size(1) > 5; ++r) p.data<int64_t>()[r * p.size(1)] = kEos;
    return p;
  };
  DigitDecoder every_other = [](const DigitBatch& b) {
    Tensor p = b.y_out.clone();
    for (int64_t r = 0; r < p.size(0); r += 2) p.data<int64_t>()[r * p.size(1) + 1] = kBos;
    return p;
  };
  DigitDecoder no_eos = [](const DigitBatch& b) {
    Tensor p = b.y_out.clone();
    const int64_t L = p.size(1);
    for (int64_t r = 0; r < p.size(0); ++r) p.data<int64_t>()[r * L + L - 1] = kFirstDigit;
    return p;
  };
  std::map<int64_t, double> all = seq_acc_by_length(oracle, gen, 3, 8, 10, 4);
  REQUIRE(all.size() == 6);
  for (const auto& [len, acc] : all) REQUIRE(acc == 1.0);

  std::map<int64_t, double> s = seq_acc_by_length(short_only, gen, 3, 8, 7, 3);
  REQUIRE(s.at(5) == 1.0);
  REQUIRE(s.at(6) == 0.0);
  REQUIRE(s.at(8) == 0.0);
  REQUIRE(min_accuracy(s, 3, 5) == 1.0);
  REQUIRE(min_accuracy(s, 3, 8) == 0.0);
  REQUIRE(min_accuracy(s, 20, 30) == 1.0);

  // Batches of 4 rows: rows 0 and 2 wrong in each, so half of 8.
  std::map<int64_t, double> h = seq_acc_by_length(every_other, gen, 4, 4, 8, 4);
  REQUIRE(h.at(4) == Approx(0.5));
  // A batch of 3 then 2: rows 0, 2 and 0 wrong -> 2 of 5 right.
  h = seq_acc_by_length(every_other, gen, 4, 4, 5, 3);
  REQUIRE(h.at(4) == Approx(0.4));
  REQUIRE(seq_acc_by_length(no_eos, gen, 3, 3, 4).at(3) == 0.0);

  nlohmann::json j = length_curve_json(s);
  REQUIRE(j.size() == 6);
  REQUIRE(j["5"].get<double>() == 1.0);
  REQUIRE(j["7"].get<double>() == 0.0);

  DigitDecoder bad = [](const DigitBatch& b) { return b.y_out.select(1, 0); };
  REQUIRE_THROWS_AS(seq_acc_by_length(bad, gen, 3, 3, 2), ShapeError);
  REQUIRE_THROWS_WITH(seq_acc_by_length(bad, gen, 3, 3, 2), Catch::Contains("seq_acc_by_length") &&
                                                                Catch::Contains("[2]"));
  REQUIRE_THROWS_AS(seq_acc_by_length(oracle, gen, 3, 3, 0), ValueError);
}

TEST_CASE("accuracy_by_length_chart draws every model and the trained range", "[lesson]") {
  std::map<int64_t, double> a{{3, 1.0}, {10, 0.9}, {40, 0.2}}, b{{3, 0.5}, {40, 0.0}};
  std::string svg = accuracy_by_length_chart({{"attention", a}, {"no attention", b}}, 20, "reversal").str();
  REQUIRE(svg.find("<svg") != std::string::npos);
  REQUIRE(svg.find("reversal") != std::string::npos);
  REQUIRE(svg.find("attention") != std::string::npos);
  REQUIRE(svg.find("no attention") != std::string::npos);
  REQUIRE(svg.find("longest trained") != std::string::npos);
  REQUIRE(svg.find("sequence accuracy") != std::string::npos);
  // Three lines: two models and the marker.
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  REQUIRE(polylines == 3);
}
