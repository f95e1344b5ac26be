#pragma once
// Human-readable dates to ISO dates, the task of lessons 07 and 17:
//
//   "3 may 1979"  "tue 10 jul 2007"  "05/03/1979"  "March 5, 1979"  ->  "1979-03-05"
//
// Each of the 24 formats is a pattern such as "{Www} {d} {Mmm} {yyyy}": literal characters,
// and fields in braces. One pattern both writes a date and reads it back, and it says which
// field every character of the written text belongs to (the year, the month, the day, the
// weekday, or none). Lesson 07 uses that to sort the rows and columns of an attention map by
// field: the year digits of the output should read the year characters of the input.
//
// Day-month order is the European one ("05/03/1979" is 5 March); two-digit years are 1950-2049
// ("79" is 1979, "05" is 2005). Dates are drawn between 1950-01-01 and 2049-12-31.
//
// A batch holds the characters of the input (one token per printable ASCII character) and the
// ten characters of the ISO date (digits and '-') with <bos> and <eos> around them:
//
//   src    [B, S]   "5 mar 1979" as character ids, then pad
//   y_in   [B, 11]  <bos> 1 9 7 9 - 0 3 - 0 5
//   y_out  [B, 11]  1 9 7 9 - 0 3 - 0 5 <eos>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/seq2seq.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace lumen::lessons {

struct Date {
  int year = 1970, month = 1, day = 1;
  bool operator==(const Date&) const = default;
};

bool is_leap_year(int year);
int days_in_month(int year, int month);  // month 1..12
bool is_valid_date(const Date& d);
// 0 = Monday, ..., 6 = Sunday (proleptic Gregorian calendar).
int weekday(const Date& d);
// "1979-03-05"
std::string iso_date(const Date& d);
// The date of an ISO string, or nothing if it is not exactly YYYY-MM-DD of a valid date.
std::optional<Date> parse_iso_date(const std::string& s);

// The earliest and latest dates drawn.
inline constexpr int kFirstYear = 1950;
inline constexpr int kLastYear = 2049;
// A day uniform over kFirstYear-01-01 .. kLastYear-12-31.
Date random_date(Generator& gen);

// ---- formats ----------------------------------------------------------------------------------

inline constexpr int kDateFormats = 24;
// The pattern of format f (0 .. kDateFormats-1), e.g. "{d} {mmm} {yyyy}".
const std::string& date_pattern(int format);
// The date written in format f: format_date({1979, 3, 5}, 0) == "5 mar 1979".
std::string format_date(const Date& d, int format);
// Reads text written in format f back; nothing if it does not match the pattern, names an
// invalid date, or names the wrong weekday.
std::optional<Date> parse_date(const std::string& text, int format);

// Which part of the date a character belongs to.
enum class DateField { none, year, month, day, weekday };
const char* date_field_name(DateField f);
// One field per character of format_date(d, format).
std::vector<DateField> date_fields(const Date& d, int format);
// The field each of the ten characters of the ISO date comes from: year x4, none, month x2,
// none, day x2.
DateField iso_field(int position);

// ---- tokens -----------------------------------------------------------------------------------

// Source: 0 is padding, printable ASCII ' '..'~' is 1..95.
inline constexpr int64_t kDateSrcPad = 0;
inline constexpr int64_t kDateSrcVocab = 96;
// Target: <pad> <bos> <eos>, the digits 0..9 as 3..12, and '-' as 13.
inline constexpr int64_t kDatePad = 0;
inline constexpr int64_t kDateBos = 1;
inline constexpr int64_t kDateEos = 2;
inline constexpr int64_t kDateDash = 13;
inline constexpr int64_t kDateTgtVocab = 14;
inline constexpr int64_t kIsoLength = 10;
// The longest text any format writes ("Wednesday, September 15th, 1999" style): sources are
// at most this long.
inline constexpr int64_t kMaxDateText = 32;

int64_t date_src_token(char c);         // throws ValueError for a character outside ' '..'~'
std::string date_src_str(int64_t token);  // "a", "<pad>"
std::string date_tgt_str(int64_t token);  // "7", "-", "<eos>"
// The first `max` tokens of a target row up to and including <eos>, without spaces ("1979-03-05").
std::string date_tgt_text(const std::vector<int64_t>& tokens);

struct DateExample {
  Date date;
  int format = 0;
  std::string text;  // format_date(date, format)
};

struct DateBatch {
  std::vector<DateExample> examples;
  Tensor src;          // i64 [B, S]
  Tensor src_lengths;  // i64 [B]
  Tensor src_real;     // bool [B, S]: true at real characters
  Tensor y_in;         // i64 [B, 11]
  Tensor y_out;        // i64 [B, 11]
};

// A batch of the given examples (text is recomputed from date and format).
DateBatch date_batch_from(const std::vector<DateExample>& examples);
// One example: a random date in a random format (drawn in that order).
DateExample random_date_example(Generator& gen);
// `batch` random examples.
DateBatch date_batch(Generator& gen, int64_t batch);
// `count` batches of `batch` examples, bucketed by text length: all are drawn, sorted by length
// (stably), cut into batches of neighbours, and the batches shuffled, so a recurrent encoder
// pays for little padding.
std::vector<DateBatch> date_buckets(Generator& gen, int64_t count, int64_t batch);

// The fraction of rows whose prediction pred [B, L] matches y_out up to and including <eos>.
double date_exact_match(const Tensor& pred, const DateBatch& batch);

// ---- the RNN of lesson 07 -----------------------------------------------------------------------

// A bidirectional GRU encoder over the characters and a GRU decoder with Bahdanau attention
// writing the ISO date: lesson 07's model, which lesson 17 trains again next to its transformer.
struct DateRnnOptions {
  int64_t embed_dim = 16;
  int64_t hidden_size = 64;  // per encoder direction, and the decoder's s_t
  int64_t attn_dim = 32;
};
std::unique_ptr<nn::Seq2Seq> make_date_rnn(const DateRnnOptions& options, Generator& gen);
// Greedy ISO dates of a batch: tokens i64 [B, 11] and alphas [B, 11, S].
nn::Decoded greedy_dates(const nn::Seq2Seq& model, const DateBatch& batch);

}  // namespace lumen::lessons
