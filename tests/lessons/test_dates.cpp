// The date generator of lessons 07 and 17: every format writes the date a person would write and
// reads it back, the calendar (leap years, weekdays) is right, and batches hold the right tokens.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "lessons/common/dates.h"
#include "tensor/error.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// std::chrono's calendar, an implementation independent of dates.cpp's day counting.
int chrono_weekday(const Date& d) {
  using namespace std::chrono;
  const year_month_day ymd{year{d.year}, month{static_cast<unsigned>(d.month)}, day{static_cast<unsigned>(d.day)}};
  return static_cast<int>(std::chrono::weekday{sys_days{ymd}}.iso_encoding()) - 1;  // Monday 1 -> 0
}

}  // namespace

TEST_CASE("dates: every format writes 5 March 1979 as a person would", "[lessons][dates]") {
  const std::vector<std::string> expected = {
      "5 mar 1979",       "mon 5 mar 1979",        "05/03/1979",         "March 5, 1979",
      "1979-03-05",       "5 March 1979",          "05.03.1979",         "Mar 5, 1979",
      "5 MAR 1979",       "Monday, March 5, 1979", "monday 5 march 1979", "5th of March 1979",
      "March 5th, 1979",  "19790305",              "05-Mar-1979",        "1979/03/05",
      "5.3.1979",         "05.03.79",              "Mon 05 Mar 1979",    "5-3-1979",
      "mar 5 1979",       "the 5th of march, 1979", "1979, march 5",     "5 mar '79"};
  REQUIRE(expected.size() == static_cast<size_t>(kDateFormats));
  // The formats really differ: a one-digit day and month tell all 24 apart.
  CHECK(std::set<std::string>(expected.begin(), expected.end()).size() == expected.size());
  for (int f = 0; f < kDateFormats; ++f) {
    INFO("format " << f << " " << date_pattern(f));
    CHECK(format_date({1979, 3, 5}, f) == expected[static_cast<size_t>(f)]);
  }
  // The brief's examples.
  CHECK(format_date({1979, 5, 3}, 0) == "3 may 1979");
  CHECK(format_date({2007, 7, 10}, 1) == "tue 10 jul 2007");
  CHECK(format_date({2001, 11, 22}, 11) == "22nd of November 2001");
  CHECK(format_date({2011, 8, 13}, 12) == "August 13th, 2011");
  CHECK(format_date({2031, 12, 31}, 21) == "the 31st of december, 2031");
  CHECK(format_date({2005, 1, 2}, 17) == "02.01.05");
}

TEST_CASE("dates: every format reads back the date it wrote", "[lessons][dates]") {
  Generator gen(7);
  for (int k = 0; k < 3000; ++k) {
    const Date d = random_date(gen);
    REQUIRE(is_valid_date(d));
    for (int f = 0; f < kDateFormats; ++f) {
      const std::string text = format_date(d, f);
      INFO(text << " in format " << date_pattern(f));
      const std::optional<Date> back = parse_date(text, f);
      REQUIRE(back.has_value());
      CHECK(*back == d);
      CHECK(static_cast<int64_t>(text.size()) <= kMaxDateText);
      CHECK(date_fields(d, f).size() == text.size());
    }
    REQUIRE(parse_iso_date(iso_date(d)) == d);
  }
}

TEST_CASE("dates: parse_date rejects what a format does not write", "[lessons][dates]") {
  CHECK_FALSE(parse_date("5 mar 1979 ", 0).has_value());      // trailing text
  CHECK_FALSE(parse_date("5 Mar 1979", 0).has_value());       // wrong case
  CHECK_FALSE(parse_date("tue 5 mar 1979", 1).has_value());   // 5 March 1979 was a Monday
  CHECK_FALSE(parse_date("5rd of March 1979", 11).has_value());  // wrong ordinal
  CHECK_FALSE(parse_date("31/04/1979", 2).has_value());       // April has 30 days
  CHECK_FALSE(parse_date("29.02.1979", 6).has_value());       // 1979 is not a leap year
  CHECK(parse_date("29.02.1980", 6) == Date{1980, 2, 29});
  CHECK(parse_date("05.03.49", 17) == Date{2049, 3, 5});      // two-digit years: 1950-2049
  CHECK(parse_date("05.03.50", 17) == Date{1950, 3, 5});
  CHECK_FALSE(parse_iso_date("1979-3-05").has_value());
  CHECK_FALSE(parse_iso_date("1979-02-30").has_value());
  CHECK(parse_iso_date("2000-02-29") == Date{2000, 2, 29});
}

TEST_CASE("dates: leap years and month lengths", "[lessons][dates]") {
  CHECK(is_leap_year(1980));
  CHECK(is_leap_year(2000));  // divisible by 400
  CHECK_FALSE(is_leap_year(1900));
  CHECK_FALSE(is_leap_year(2100));
  CHECK_FALSE(is_leap_year(1979));
  CHECK(days_in_month(1980, 2) == 29);
  CHECK(days_in_month(1979, 2) == 28);
  CHECK(days_in_month(2000, 2) == 29);
  CHECK(days_in_month(1979, 4) == 30);
  CHECK(days_in_month(1979, 12) == 31);
  REQUIRE_THROWS_AS(days_in_month(1979, 13), ValueError);
  REQUIRE_THROWS_WITH(days_in_month(1979, 0), Catch::Contains("days_in_month") && Catch::Contains("0"));
  // Every year in range has 365 or 366 days, counted month by month.
  for (int y = kFirstYear; y <= kLastYear; ++y) {
    int days = 0;
    for (int m = 1; m <= 12; ++m) days += days_in_month(y, m);
    CHECK(days == (is_leap_year(y) ? 366 : 365));
  }
}

TEST_CASE("dates: weekdays agree with std::chrono and known dates", "[lessons][dates]") {
  CHECK(weekday({2007, 7, 10}) == 1);  // a Tuesday
  CHECK(weekday({2000, 1, 1}) == 5);   // a Saturday
  CHECK(weekday({1969, 7, 20}) == 6);  // the Moon landing, a Sunday
  CHECK(weekday({1979, 3, 5}) == 0);   // a Monday
  for (int y = kFirstYear; y <= kLastYear; ++y)
    for (int m = 1; m <= 12; ++m)
      for (int d = 1; d <= days_in_month(y, m); ++d) {
        INFO(y << "-" << m << "-" << d);
        REQUIRE(weekday({y, m, d}) == chrono_weekday({y, m, d}));
      }
}

TEST_CASE("dates: random dates cover the range evenly, leap days included", "[lessons][dates]") {
  Generator gen(3);
  int leap_days = 0, before_2000 = 0;
  std::set<int> years;
  const int n = 20000;
  for (int k = 0; k < n; ++k) {
    const Date d = random_date(gen);
    REQUIRE(d.year >= kFirstYear);
    REQUIRE(d.year <= kLastYear);
    years.insert(d.year);
    leap_days += d.month == 2 && d.day == 29;
    before_2000 += d.year < 2000;
  }
  CHECK(years.size() == 100);
  // 25 leap days in 36525 days: about 13.7 expected in 20000 draws.
  CHECK(leap_days >= 4);
  CHECK(leap_days <= 30);
  CHECK(before_2000 > n * 45 / 100);
  CHECK(before_2000 < n * 55 / 100);
}

TEST_CASE("dates: fields mark the characters of each part", "[lessons][dates]") {
  const std::vector<DateField> f = date_fields({2007, 7, 10}, 1);  // "tue 10 jul 2007"
  const std::string want = "www_dd_mmm_yyyy";
  REQUIRE(f.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const DateField w = want[i] == 'w' ? DateField::weekday
                        : want[i] == 'd' ? DateField::day
                        : want[i] == 'm' ? DateField::month
                        : want[i] == 'y' ? DateField::year
                                         : DateField::none;
    CHECK(f[i] == w);
  }
  const std::vector<DateField> g = date_fields({1979, 3, 5}, 11);  // "5th of March 1979": "th" is the day's
  CHECK(g[0] == DateField::day);
  CHECK(g[1] == DateField::day);
  CHECK(g[2] == DateField::day);
  CHECK(g[3] == DateField::none);
  CHECK(iso_field(0) == DateField::year);
  CHECK(iso_field(4) == DateField::none);
  CHECK(iso_field(6) == DateField::month);
  CHECK(iso_field(9) == DateField::day);
  REQUIRE_THROWS_WITH(iso_field(10), Catch::Contains("iso_field") && Catch::Contains("10"));
  REQUIRE_THROWS_WITH(format_date({1979, 3, 5}, 24), Catch::Contains("format_date") && Catch::Contains("24"));
  REQUIRE_THROWS_WITH(format_date({1979, 2, 30}, 0), Catch::Contains("format_date") && Catch::Contains("1979-2-30"));
}

TEST_CASE("dates: a batch holds the characters and the ISO digits", "[lessons][dates]") {
  DateBatch b = date_batch_from({{{1979, 3, 5}, 4, ""}, {{2007, 7, 10}, 1, ""}});
  REQUIRE(b.src.shape() == Shape{2, 15});
  CHECK(b.examples[1].text == "tue 10 jul 2007");
  CHECK(b.src_lengths.to_vector() == std::vector<double>{10, 15});
  CHECK(b.src.at({0, 0}) == date_src_token('1'));
  CHECK(b.src.at({0, 10}) == kDateSrcPad);
  CHECK(b.src.at({1, 14}) == date_src_token('7'));
  CHECK(date_src_str(date_src_token('J')) == "J");
  CHECK(b.src_real.at({0, 9}) == 1);
  CHECK(b.src_real.at({0, 10}) == 0);
  REQUIRE(b.y_in.shape() == Shape{2, 11});
  CHECK(b.y_in.at({0, 0}) == kDateBos);
  CHECK(b.y_out.at({0, 10}) == kDateEos);
  std::vector<int64_t> row;
  for (int64_t t = 0; t < 11; ++t) row.push_back(static_cast<int64_t>(b.y_out.at({1, t})));
  CHECK(date_tgt_text(row) == "2007-07-10");
  for (int64_t t = 1; t < 11; ++t) CHECK(b.y_in.at({1, t}) == b.y_out.at({1, t - 1}));  // shifted right

  // exact match: the gold rows score 1, a wrong digit or a missing <eos> scores 0.
  Tensor pred = b.y_out.clone();
  CHECK(date_exact_match(pred, b) == 1.0);
  pred.data<int64_t>()[3] = 3 + 0;  // "1970-..." instead of "1979-..."
  CHECK(date_exact_match(pred, b) == 0.5);
  CHECK(date_exact_match(b.y_out.slice(1, 0, 10), b) == 0.0);
  REQUIRE_THROWS_WITH(date_exact_match(Tensor::zeros({3, 11}, DType::i64), b),
                      Catch::Contains("date_exact_match") && Catch::Contains("[3, 11]"));
  REQUIRE_THROWS_WITH(date_src_token('\n'), Catch::Contains("date_src_token") && Catch::Contains("10"));
  REQUIRE_THROWS_AS(date_batch_from({}), ValueError);
}

TEST_CASE("dates: buckets hold every drawn example, sorted into similar lengths", "[lessons][dates]") {
  Generator g1(5), g2(5);
  std::vector<DateBatch> buckets = date_buckets(g1, 4, 16);
  REQUIRE(buckets.size() == 4);
  int64_t spread = 0;
  for (const DateBatch& b : buckets) {
    REQUIRE(b.src.size(0) == 16);
    const std::vector<double> len = b.src_lengths.to_vector();
    spread += static_cast<int64_t>(*std::max_element(len.begin(), len.end()) - *std::min_element(len.begin(), len.end()));
    for (const DateExample& e : b.examples) CHECK(parse_date(e.text, e.format) == e.date);
  }
  // 64 random examples in one batch would span most of the range of lengths (8 to 29).
  CHECK(spread < 4 * 12);
  // Same seed, same buckets.
  std::vector<DateBatch> again = date_buckets(g2, 4, 16);
  for (size_t k = 0; k < 4; ++k) CHECK(again[k].src.to_vector() == buckets[k].src.to_vector());
}
