#pragma once
// The digit-reversal task shared by lessons 01, 04 and 17: read a string of digits, write it
// backwards. "3 1 4" -> "4 1 3 <eos>". Output position t needs input position S + 1 - t, so a
// model that attends should learn an anti-diagonal alignment, and a model that must squeeze
// the whole string into one vector should fail as strings grow.
//
// A batch holds rows of different lengths, padded to the longest, with their lengths:
//
//   src    [B, S]      3 1 4 _ _          (the digits, then pad)
//   y_in   [B, S + 1]  <bos> 4 1 3 _ _    (what the decoder reads under teacher forcing)
//   y_out  [B, S + 1]  4 1 3 <eos> _ _    (what it must predict; pad counts for nothing)
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lessons/common/svg.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace lumen::lessons {

// Token ids: the three specials, then the digits 0..9 as 3..12.
inline constexpr int64_t kPad = 0;
inline constexpr int64_t kBos = 1;
inline constexpr int64_t kEos = 2;
inline constexpr int64_t kFirstDigit = 3;
inline constexpr int64_t kDigitVocab = 13;

// "0".."9", "<pad>", "<bos>", "<eos>"; throws lumen::ValueError outside [0, kDigitVocab).
std::string digit_token_str(int64_t token);
// The first `length` tokens of a row, separated by spaces ("4 1 3 <eos>").
std::string digit_tokens_str(const std::vector<int64_t>& tokens);

struct DigitBatch {
  Tensor src;          // i64 [B, S]
  Tensor src_lengths;  // i64 [B]
  Tensor y_in;         // i64 [B, S + 1]
  Tensor y_out;        // i64 [B, S + 1]
};

// A batch from explicit rows of digits (each in 0..9, each row non-empty).
DigitBatch reversal_batch_from(const std::vector<std::vector<int>>& rows);
// `batch` rows, each of a length uniform in [min_len, max_len] and digits uniform in 0..9.
// Draws from `gen` in a fixed order: per row its length, then its digits.
DigitBatch reversal_batch(Generator& gen, int64_t batch, int64_t min_len, int64_t max_len);

// `count` batches of `batch` rows, lengths uniform in [min_len, max_len], bucketed: all
// count * batch strings are drawn (as reversal_batch draws them), sorted by length, cut into
// batches of neighbours, and the batches shuffled. Each batch then pads only a little, so a
// step costs about its own length instead of the longest.
std::vector<DigitBatch> reversal_buckets(Generator& gen, int64_t count, int64_t batch, int64_t min_len,
                                         int64_t max_len);

// A model's greedy decoder for evaluation: the batch in, predicted tokens i64 [B, L] out
// (L >= S + 1, with <eos> after the last digit when right).
using DigitDecoder = std::function<Tensor(const DigitBatch&)>;

// Sequence accuracy (every digit and the <eos> right) at each length in [min_len, max_len],
// on `per_length` fresh strings of that length, decoded in batches of at most `batch` rows.
std::map<int64_t, double> seq_acc_by_length(const DigitDecoder& decode, Generator& gen, int64_t min_len,
                                            int64_t max_len, int64_t per_length, int64_t batch = 256);
// {"3": 1.0, "4": 0.99, ...} for metrics.json.
nlohmann::json length_curve_json(const std::map<int64_t, double>& curve);
// The smallest accuracy over lengths in [lo, hi] (1 when none are present).
double min_accuracy(const std::map<int64_t, double>& curve, int64_t lo, int64_t hi);

// Sequence accuracy against string length, one line per model, with a dashed vertical line at
// the longest length seen in training.
struct LengthCurve {
  std::string name;
  std::map<int64_t, double> accuracy;
};
Svg accuracy_by_length_chart(const std::vector<LengthCurve>& curves, int64_t longest_trained,
                             const std::string& title);

}  // namespace lumen::lessons
