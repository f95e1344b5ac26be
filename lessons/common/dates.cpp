#include "lessons/common/dates.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "nn/encoder.h"
#include "tensor/error.h"

namespace lumen::lessons {

namespace {

const std::array<const char*, 12> kMonths = {"january", "february", "march",     "april",   "may",      "june",
                                             "july",    "august",   "september", "october", "november", "december"};
const std::array<const char*, 7> kWeekdays = {"monday", "tuesday", "wednesday", "thursday",
                                              "friday", "saturday", "sunday"};

// Every pattern is literal text and fields in braces. Names come in four spellings: "mmm"
// (may), "Mmm" (May), "MMM" (MAY), "mmmm" (may), "Mmmm" (May); weekdays alike with w.
const std::array<std::string, kDateFormats> kPatterns = {
    "{d} {mmm} {yyyy}",               // 3 may 1979
    "{www} {d} {mmm} {yyyy}",         // tue 10 jul 2007
    "{dd}/{mm}/{yyyy}",               // 05/03/1979
    "{Mmmm} {d}, {yyyy}",             // March 5, 1979
    "{yyyy}-{mm}-{dd}",               // 1979-03-05
    "{d} {Mmmm} {yyyy}",              // 5 March 1979
    "{dd}.{mm}.{yyyy}",               // 05.03.1979
    "{Mmm} {d}, {yyyy}",              // Mar 5, 1979
    "{d} {MMM} {yyyy}",               // 5 MAR 1979
    "{Wwww}, {Mmmm} {d}, {yyyy}",     // Monday, March 5, 1979
    "{wwww} {d} {mmmm} {yyyy}",       // monday 5 march 1979
    "{d}{th} of {Mmmm} {yyyy}",       // 5th of March 1979
    "{Mmmm} {d}{th}, {yyyy}",         // March 5th, 1979
    "{yyyy}{mm}{dd}",                 // 19790305
    "{dd}-{Mmm}-{yyyy}",              // 05-Mar-1979
    "{yyyy}/{mm}/{dd}",               // 1979/03/05
    "{d}.{m}.{yyyy}",                 // 5.3.1979
    "{dd}.{mm}.{yy}",                 // 05.03.79
    "{Www} {dd} {Mmm} {yyyy}",        // Mon 05 Mar 1979
    "{d}-{m}-{yyyy}",                 // 5-3-1979
    "{mmm} {d} {yyyy}",               // mar 5 1979
    "the {d}{th} of {mmmm}, {yyyy}",  // the 5th of march, 1979
    "{yyyy}, {mmmm} {d}",             // 1979, march 5
    "{d} {mmm} '{yy}",                // 5 mar '79
};

void check_format(const char* who, int format) {
  if (format < 0 || format >= kDateFormats)
    throw ValueError(std::string(who) + ": format must be in [0, " + std::to_string(kDateFormats) + "), got " +
                     std::to_string(format));
}

std::string two_digits(int v) { return std::string(1, static_cast<char>('0' + v / 10)) + static_cast<char>('0' + v % 10); }

// "march" spelled as the field asks: 3 or all letters, lower, capitalised or upper case.
std::string spell(const char* name, const std::string& field) {
  std::string s = name;
  if (field.size() == 3) s = s.substr(0, 3);
  if (std::isupper(static_cast<unsigned char>(field[0]))) s[0] = static_cast<char>(std::toupper(s[0]));
  if (std::isupper(static_cast<unsigned char>(field[1])))
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

const char* ordinal_suffix(int day) {
  if (day >= 11 && day <= 13) return "th";
  switch (day % 10) {
    case 1: return "st";
    case 2: return "nd";
    case 3: return "rd";
    default: return "th";
  }
}

// A pattern cut into pieces: literal text, or a field name.
struct Piece {
  bool field;
  std::string text;
};

std::vector<Piece> pieces_of(const std::string& pattern) {
  std::vector<Piece> out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      const size_t end = pattern.find('}', i);
      out.push_back({true, pattern.substr(i + 1, end - i - 1)});
      i = end + 1;
    } else {
      const size_t end = std::min(pattern.find('{', i), pattern.size());
      out.push_back({false, pattern.substr(i, end - i)});
      i = end;
    }
  }
  return out;
}

DateField field_kind(const std::string& f) {
  switch (std::tolower(static_cast<unsigned char>(f[0]))) {
    case 'y': return DateField::year;
    case 'm': return DateField::month;
    case 'd': return DateField::day;
    case 'w': return DateField::weekday;
    default: return DateField::day;  // "th", the day's ordinal suffix
  }
}

std::string write_field(const Date& d, const std::string& f) {
  if (f == "d") return std::to_string(d.day);
  if (f == "dd") return two_digits(d.day);
  if (f == "m") return std::to_string(d.month);
  if (f == "mm") return two_digits(d.month);
  if (f == "yyyy") return std::to_string(d.year);
  if (f == "yy") return two_digits(d.year % 100);
  if (f == "th") return ordinal_suffix(d.day);
  if (f[0] == 'm' || f[0] == 'M') return spell(kMonths[static_cast<size_t>(d.month - 1)], f);
  return spell(kWeekdays[static_cast<size_t>(weekday(d))], f);
}

}  // namespace

// ---- the calendar -----------------------------------------------------------------------------

bool is_leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) throw ValueError("days_in_month: month must be in [1, 12], got " + std::to_string(m));
  return m == 2 && is_leap_year(y) ? 29 : kDays[m - 1];
}

bool is_valid_date(const Date& d) {
  return d.month >= 1 && d.month <= 12 && d.day >= 1 && d.day <= days_in_month(d.year, d.month);
}

// Counts days from 0000-03-01: starting the year in March puts the leap day last, so a
// month's offset does not depend on the year.
static int64_t day_number(const Date& d) {
  const int64_t y = d.month <= 2 ? d.year - 1 : d.year;
  const int64_t m = d.month <= 2 ? d.month + 9 : d.month - 3;  // March = 0
  return 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d.day - 1;
}

int weekday(const Date& d) {
  // 0000-03-01 (day 0) was a Wednesday in the proleptic Gregorian calendar.
  return static_cast<int>((day_number(d) + 2) % 7);
}

std::string iso_date(const Date& d) {
  return std::to_string(d.year) + "-" + two_digits(d.month) + "-" + two_digits(d.day);
}

std::optional<Date> parse_iso_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  Date d{std::stoi(s.substr(0, 4)), std::stoi(s.substr(5, 2)), std::stoi(s.substr(8, 2))};
  if (!is_valid_date(d)) return std::nullopt;
  return d;
}

Date random_date(Generator& gen) {
  const int64_t first = day_number({kFirstYear, 1, 1}), last = day_number({kLastYear, 12, 31});
  const int64_t n = first + static_cast<int64_t>(gen.below(static_cast<uint64_t>(last - first + 1)));
  // Walk back from the day number: find the year, then the month.
  Date d{kFirstYear, 1, 1};
  while (d.year < kLastYear && day_number({d.year + 1, 1, 1}) <= n) ++d.year;
  while (d.month < 12 && day_number({d.year, d.month + 1, 1}) <= n) ++d.month;
  d.day = static_cast<int>(n - day_number({d.year, d.month, 1})) + 1;
  return d;
}

// ---- formats ----------------------------------------------------------------------------------

const std::string& date_pattern(int format) {
  check_format("date_pattern", format);
  return kPatterns[static_cast<size_t>(format)];
}

std::string format_date(const Date& d, int format) {
  check_format("format_date", format);
  if (!is_valid_date(d))
    throw ValueError("format_date: not a valid date: " + std::to_string(d.year) + "-" + std::to_string(d.month) + "-" +
                     std::to_string(d.day));
  std::string s;
  for (const Piece& p : pieces_of(kPatterns[static_cast<size_t>(format)])) s += p.field ? write_field(d, p.text) : p.text;
  return s;
}

std::vector<DateField> date_fields(const Date& d, int format) {
  check_format("date_fields", format);
  std::vector<DateField> out;
  for (const Piece& p : pieces_of(kPatterns[static_cast<size_t>(format)])) {
    const size_t n = p.field ? write_field(d, p.text).size() : p.text.size();
    out.insert(out.end(), n, p.field ? field_kind(p.text) : DateField::none);
  }
  return out;
}

std::optional<Date> parse_date(const std::string& text, int format) {
  check_format("parse_date", format);
  int year = -1, month = -1, day = -1, wday = -1;
  std::string suffix;
  size_t i = 0;
  // Reads between lo and hi digits (as many as there are, up to hi).
  auto digits = [&](size_t lo, size_t hi) -> int {
    size_t n = 0;
    int v = 0;
    while (n < hi && i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) v = v * 10 + (text[i++] - '0'), ++n;
    return n >= lo ? v : -1;
  };
  // Matches one of `names` spelled as field f; returns its index.
  auto name = [&](const auto& names, const std::string& f) -> int {
    for (size_t k = 0; k < names.size(); ++k) {
      const std::string s = spell(names[k], f);
      if (text.compare(i, s.size(), s) == 0) {
        i += s.size();
        return static_cast<int>(k);
      }
    }
    return -1;
  };
  for (const Piece& p : pieces_of(kPatterns[static_cast<size_t>(format)])) {
    if (!p.field) {
      if (text.compare(i, p.text.size(), p.text) != 0) return std::nullopt;
      i += p.text.size();
      continue;
    }
    const std::string& f = p.text;
    int v = -1;
    if (f == "d" || f == "m") v = digits(1, 2);
    else if (f == "dd" || f == "mm" || f == "yy") v = digits(2, 2);
    else if (f == "yyyy") v = digits(4, 4);
    else if (f == "th") {
      if (i + 2 > text.size()) return std::nullopt;
      suffix = text.substr(i, 2);
      i += 2;
      continue;
    } else if (f[0] == 'm' || f[0] == 'M') v = name(kMonths, f) + 1;
    else v = name(kWeekdays, f);
    if (v < 0 || ((f[0] == 'm' || f[0] == 'M') && v == 0)) return std::nullopt;
    switch (field_kind(f)) {
      case DateField::year: year = f == "yy" ? (v < 50 ? 2000 + v : 1900 + v) : v; break;
      case DateField::month: month = v; break;
      case DateField::day: day = v; break;
      default: wday = v; break;
    }
  }
  if (i != text.size() || year < 0 || month < 0 || day < 0) return std::nullopt;
  const Date d{year, month, day};
  if (!is_valid_date(d)) return std::nullopt;
  if (wday >= 0 && wday != weekday(d)) return std::nullopt;
  if (!suffix.empty() && suffix != ordinal_suffix(day)) return std::nullopt;
  return d;
}

const char* date_field_name(DateField f) {
  switch (f) {
    case DateField::year: return "year";
    case DateField::month: return "month";
    case DateField::day: return "day";
    case DateField::weekday: return "weekday";
    default: return "other";
  }
}

DateField iso_field(int position) {
  if (position < 0 || position >= kIsoLength)
    throw ValueError("iso_field: position must be in [0, 10), got " + std::to_string(position));
  if (position < 4) return DateField::year;
  if (position == 5 || position == 6) return DateField::month;
  if (position >= 8) return DateField::day;
  return DateField::none;
}

// ---- tokens -----------------------------------------------------------------------------------

int64_t date_src_token(char c) {
  if (c < ' ' || c > '~')
    throw ValueError("date_src_token: only printable ASCII is a token, got character code " +
                     std::to_string(static_cast<int>(static_cast<unsigned char>(c))));
  return c - ' ' + 1;
}

std::string date_src_str(int64_t token) {
  if (token == kDateSrcPad) return "<pad>";
  if (token < 1 || token >= kDateSrcVocab)
    throw ValueError("date_src_str: token must be in [0, " + std::to_string(kDateSrcVocab) + "), got " +
                     std::to_string(token));
  return std::string(1, static_cast<char>(' ' + token - 1));
}

std::string date_tgt_str(int64_t token) {
  switch (token) {
    case kDatePad: return "<pad>";
    case kDateBos: return "<bos>";
    case kDateEos: return "<eos>";
    case kDateDash: return "-";
    default:
      if (token < 3 || token >= kDateTgtVocab)
        throw ValueError("date_tgt_str: token must be in [0, " + std::to_string(kDateTgtVocab) + "), got " +
                         std::to_string(token));
      return std::string(1, static_cast<char>('0' + token - 3));
  }
}

std::string date_tgt_text(const std::vector<int64_t>& tokens) {
  std::string s;
  for (int64_t t : tokens) {
    if (t == kDateEos || t == kDatePad) break;
    s += date_tgt_str(t);
  }
  return s;
}

DateBatch date_batch_from(const std::vector<DateExample>& examples) {
  if (examples.empty()) throw ValueError("date_batch_from: need at least one example");
  DateBatch b;
  int64_t S = 0;
  for (const DateExample& e : examples) {
    DateExample x{e.date, e.format, format_date(e.date, e.format)};
    S = std::max<int64_t>(S, static_cast<int64_t>(x.text.size()));
    b.examples.push_back(std::move(x));
  }
  const int64_t B = static_cast<int64_t>(examples.size()), T = kIsoLength + 1;
  std::vector<int64_t> src(static_cast<size_t>(B * S), kDateSrcPad), len, y_in, y_out;
  for (int64_t r = 0; r < B; ++r) {
    const std::string& text = b.examples[static_cast<size_t>(r)].text;
    for (size_t i = 0; i < text.size(); ++i) {
      src[static_cast<size_t>(r * S) + i] = date_src_token(text[i]);
    }
    len.push_back(static_cast<int64_t>(text.size()));
    const std::string iso = iso_date(b.examples[static_cast<size_t>(r)].date);
    std::vector<int64_t> tgt;
    for (char c : iso) tgt.push_back(c == '-' ? kDateDash : 3 + (c - '0'));
    y_in.push_back(kDateBos);
    y_in.insert(y_in.end(), tgt.begin(), tgt.end());
    y_out.insert(y_out.end(), tgt.begin(), tgt.end());
    y_out.push_back(kDateEos);
  }
  b.src = Tensor::from_vector(src, {B, S});
  b.src_lengths = Tensor::from_vector(len, {B});
  b.src_real = nn::length_mask(b.src_lengths, S);
  b.y_in = Tensor::from_vector(y_in, {B, T});
  b.y_out = Tensor::from_vector(y_out, {B, T});
  return b;
}

DateExample random_date_example(Generator& gen) {
  DateExample e;
  e.date = random_date(gen);
  e.format = static_cast<int>(gen.below(kDateFormats));
  e.text = format_date(e.date, e.format);
  return e;
}

DateBatch date_batch(Generator& gen, int64_t batch) {
  if (batch <= 0) throw ValueError("date_batch: batch must be > 0, got " + std::to_string(batch));
  std::vector<DateExample> ex;
  for (int64_t i = 0; i < batch; ++i) ex.push_back(random_date_example(gen));
  return date_batch_from(ex);
}

std::vector<DateBatch> date_buckets(Generator& gen, int64_t count, int64_t batch) {
  if (count <= 0 || batch <= 0)
    throw ValueError("date_buckets: count and batch must be > 0, got " + std::to_string(count) + " and " +
                     std::to_string(batch));
  std::vector<DateExample> ex;
  for (int64_t i = 0; i < count * batch; ++i) ex.push_back(random_date_example(gen));
  std::stable_sort(ex.begin(), ex.end(), [](const DateExample& a, const DateExample& b) { return a.text.size() < b.text.size(); });
  std::vector<DateBatch> out;
  for (int64_t k = 0; k < count; ++k) out.push_back(date_batch_from({ex.begin() + k * batch, ex.begin() + (k + 1) * batch}));
  for (size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[gen.below(i)]);
  return out;
}

double date_exact_match(const Tensor& pred, const DateBatch& batch) {
  const int64_t B = batch.y_out.size(0), T = batch.y_out.size(1);
  if (pred.dim() != 2 || pred.size(0) != B || pred.dtype() != DType::i64)
    throw ShapeError("date_exact_match: need i64 [" + std::to_string(B) + ", L] predictions, got " +
                     std::string(dtype_name(pred.dtype())) + " " + shape_str(pred.shape()));
  const Tensor p = pred.contiguous();
  const Tensor gold_t = batch.y_out.contiguous();
  const int64_t* gold = gold_t.data<int64_t>();
  const int64_t L = p.size(1);
  const int64_t* pp = p.data<int64_t>();
  int64_t right = 0;
  for (int64_t r = 0; r < B; ++r) {
    bool ok = true;
    for (int64_t t = 0; t < T && ok; ++t) ok = t < L && pp[r * L + t] == gold[r * T + t];
    right += ok;
  }
  return static_cast<double>(right) / static_cast<double>(B);
}

// ---- the RNN of lesson 07 -----------------------------------------------------------------------

std::unique_ptr<nn::Seq2Seq> make_date_rnn(const DateRnnOptions& o, Generator& gen) {
  return std::make_unique<nn::Seq2Seq>(nn::Seq2SeqOptions{.src_vocab = kDateSrcVocab,
                                                          .tgt_vocab = kDateTgtVocab,
                                                          .embed_dim = o.embed_dim,
                                                          .hidden_size = o.hidden_size,
                                                          .cell = nn::CellType::gru,
                                                          .bidirectional = true,
                                                          .attention = nn::AttentionType::bahdanau,
                                                          .attn_dim = o.attn_dim,
                                                          .padding_idx = kDatePad},
                                       gen);
}

nn::Decoded greedy_dates(const nn::Seq2Seq& model, const DateBatch& b) {
  return model.greedy_decode(b.src, b.src_lengths,
                             {.bos = kDateBos, .eos = kDateEos, .max_len = kIsoLength + 1, .pad = kDatePad});
}

}  // namespace lumen::lessons
