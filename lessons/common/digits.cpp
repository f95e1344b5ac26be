#include "lessons/common/digits.h"

#include <algorithm>

#include "nn/seq2seq.h"
#include "tensor/error.h"

namespace lumen::lessons {

std::string digit_token_str(int64_t token) {
  switch (token) {
    case kPad: return "<pad>";
    case kBos: return "<bos>";
    case kEos: return "<eos>";
    default: break;
  }
  if (token < kFirstDigit || token >= kDigitVocab)
    throw ValueError("digit_token_str: token " + std::to_string(token) + " is outside [0, " +
                     std::to_string(kDigitVocab) + ")");
  return std::to_string(token - kFirstDigit);
}

std::string digit_tokens_str(const std::vector<int64_t>& tokens) {
  std::string s;
  for (int64_t t : tokens) s += (s.empty() ? "" : " ") + digit_token_str(t);
  return s;
}

DigitBatch reversal_batch_from(const std::vector<std::vector<int>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size());
  if (B == 0) throw ValueError("reversal_batch_from: no rows");
  size_t longest = 0;
  for (size_t b = 0; b < rows.size(); ++b) {
    if (rows[b].empty()) throw ValueError("reversal_batch_from: row " + std::to_string(b) + " is empty");
    for (int d : rows[b])
      if (d < 0 || d > 9)
        throw ValueError("reversal_batch_from: row " + std::to_string(b) + " holds " + std::to_string(d) +
                         ", not a digit 0..9");
    longest = std::max(longest, rows[b].size());
  }
  const int64_t S = static_cast<int64_t>(longest);
  // Everything starts as pad; each row then fills its own length.
  std::vector<int64_t> src(static_cast<size_t>(B * S), kPad), lengths(static_cast<size_t>(B));
  std::vector<int64_t> y_in(static_cast<size_t>(B * (S + 1)), kPad), y_out(y_in);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int>& row = rows[static_cast<size_t>(b)];
    const int64_t n = static_cast<int64_t>(row.size());
    lengths[static_cast<size_t>(b)] = n;
    int64_t* x = &src[static_cast<size_t>(b * S)];
    int64_t* yi = &y_in[static_cast<size_t>(b * (S + 1))];
    int64_t* yo = &y_out[static_cast<size_t>(b * (S + 1))];
    yi[0] = kBos;
    for (int64_t i = 0; i < n; ++i) {
      x[i] = kFirstDigit + row[static_cast<size_t>(i)];
      // Output position t holds input position n - 1 - t.
      yo[i] = kFirstDigit + row[static_cast<size_t>(n - 1 - i)];
      yi[i + 1] = yo[i];
    }
    yo[n] = kEos;
  }
  return {.src = Tensor::from_vector(src, {B, S}),
          .src_lengths = Tensor::from_vector(lengths, {B}),
          .y_in = Tensor::from_vector(y_in, {B, S + 1}),
          .y_out = Tensor::from_vector(y_out, {B, S + 1})};
}

namespace {

std::vector<std::vector<int>> random_rows(const char* op, Generator& gen, int64_t n, int64_t min_len, int64_t max_len) {
  if (n <= 0 || min_len <= 0 || max_len < min_len)
    throw ValueError(std::string(op) + ": need batch > 0 and 0 < min_len <= max_len, got batch " + std::to_string(n) +
                     ", lengths " + std::to_string(min_len) + ".." + std::to_string(max_len));
  std::vector<std::vector<int>> rows(static_cast<size_t>(n));
  const uint64_t span = static_cast<uint64_t>(max_len - min_len + 1);
  for (auto& row : rows) {
    row.resize(static_cast<size_t>(min_len + static_cast<int64_t>(gen.below(span))));
    for (int& d : row) d = static_cast<int>(gen.below(10));
  }
  return rows;
}

}  // namespace

DigitBatch reversal_batch(Generator& gen, int64_t batch, int64_t min_len, int64_t max_len) {
  return reversal_batch_from(random_rows("reversal_batch", gen, batch, min_len, max_len));
}

std::vector<DigitBatch> reversal_buckets(Generator& gen, int64_t count, int64_t batch, int64_t min_len,
                                         int64_t max_len) {
  if (count <= 0) throw ValueError("reversal_buckets: count must be > 0, got " + std::to_string(count));
  std::vector<std::vector<int>> rows = random_rows("reversal_buckets", gen, count * batch, min_len, max_len);
  // Stable, so the draw order breaks ties and the result depends only on the seed.
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  std::vector<DigitBatch> batches;
  for (int64_t k = 0; k < count; ++k)
    batches.push_back(reversal_batch_from({rows.begin() + k * batch, rows.begin() + (k + 1) * batch}));
  // Fisher-Yates, so short and long batches alternate at random during training.
  for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[gen.below(i)]);
  return batches;
}

std::map<int64_t, double> seq_acc_by_length(const DigitDecoder& decode, Generator& gen, int64_t min_len,
                                            int64_t max_len, int64_t per_length, int64_t batch) {
  if (per_length <= 0 || batch <= 0)
    throw ValueError("seq_acc_by_length: per_length and batch must be > 0, got " + std::to_string(per_length) +
                     " and " + std::to_string(batch));
  std::map<int64_t, double> curve;
  for (int64_t len = min_len; len <= max_len; ++len) {
    int64_t right = 0;
    for (int64_t done = 0; done < per_length; done += batch) {
      const int64_t n = std::min(batch, per_length - done);
      DigitBatch b = reversal_batch(gen, n, len, len);
      Tensor pred = decode(b);
      if (pred.dim() != 2 || pred.size(0) != n || pred.dtype() != DType::i64)
        throw ShapeError("seq_acc_by_length: the decoder returned " + std::string(dtype_name(pred.dtype())) + " " +
                         shape_str(pred.shape()) + " for a batch of " + std::to_string(n) + " (need i64 [" +
                         std::to_string(n) + ", L])");
      right += static_cast<int64_t>(std::lround(nn::sequence_accuracy(pred, b.y_out, kPad) * static_cast<double>(n)));
    }
    curve[len] = static_cast<double>(right) / static_cast<double>(per_length);
  }
  return curve;
}

nlohmann::json length_curve_json(const std::map<int64_t, double>& curve) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [len, acc] : curve) j[std::to_string(len)] = acc;
  return j;
}

double min_accuracy(const std::map<int64_t, double>& curve, int64_t lo, int64_t hi) {
  double m = 1.0;
  for (const auto& [len, acc] : curve)
    if (len >= lo && len <= hi) m = std::min(m, acc);
  return m;
}

Svg accuracy_by_length_chart(const std::vector<LengthCurve>& curves, int64_t longest_trained,
                             const std::string& title) {
  std::vector<Series> series;
  for (const LengthCurve& c : curves) {
    Series s{c.name, {}, {}};
    for (const auto& [len, acc] : c.accuracy) {
      s.xs.push_back(static_cast<double>(len));
      s.ys.push_back(acc);
    }
    series.push_back(std::move(s));
  }
  const double x = static_cast<double>(longest_trained);
  series.push_back({.name = "longest trained", .xs = {x, x}, .ys = {0.0, 1.0}, .colour = "#888888", .dashed = true});
  return line_chart(series, {.title = title,
                             .x_label = "source length (digits)",
                             .y_label = "sequence accuracy",
                             .width = 720,
                             .height = 420,
                             .y_from_zero = true});
}

}  // namespace lumen::lessons
