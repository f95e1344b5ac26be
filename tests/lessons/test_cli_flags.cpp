// The lesson flags (lessons/common/cli.h): parse_lesson_args checks every value and reports a
// bad one as a single line, without exiting, so it can be tested (and fuzzed) in-process. The
// exit code 2 of the real lessons is checked end to end by tests/lessons/check_flags.sh.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "lessons/common/cli.h"

using namespace lumen::lessons;

namespace {

ParsedFlags parse(std::vector<std::string> args) {
  args.insert(args.begin(), "lesson");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_lesson_args(static_cast<int>(argv.size()), argv.data(), "99_test", "a test lesson");
}

}  // namespace

TEST_CASE("lesson flags: defaults and every flag", "[lesson][cli]") {
  ParsedFlags d = parse({});
  REQUIRE(d.error.empty());
  REQUIRE_FALSE(d.help);
  REQUIRE(d.options.out_dir == "out/99_test");
  REQUIRE_FALSE(d.options.quick);
  REQUIRE_FALSE(d.options.steps.has_value());
  REQUIRE(d.options.steps_or(500, 50) == 500);

  ParsedFlags f = parse({"--quick", "--steps", "7", "--seed", "42", "--threads", "2", "--out", "somewhere", "--quiet"});
  REQUIRE(f.error.empty());
  REQUIRE(f.options.quick);
  REQUIRE(f.options.steps == 7);
  REQUIRE(f.options.seed == 42);
  REQUIRE(f.options.threads == 2);
  REQUIRE(f.options.out_dir == "somewhere");
  REQUIRE(f.options.quiet);
  // --steps overrides both the full and the quick default.
  REQUIRE(f.options.steps_or(500, 50) == 7);
  REQUIRE(parse({"--steps", "0"}).options.steps == 0);
  REQUIRE(parse({"--quick"}).options.steps_or(500, 50) == 50);
}

TEST_CASE("lesson flags: every bad value is a one-line error naming the flag", "[lesson][cli]") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--threads", "0"}, "--threads"},
      {{"--threads", "-1"}, "--threads"},
      {{"--threads", "1025"}, "--threads"},
      {{"--threads", "2147483648"}, "--threads"},
      {{"--threads", "x"}, "--threads"},
      {{"--threads"}, "--threads"},
      {{"--steps", "-1"}, "--steps"},
      {{"--steps", "1e3"}, "--steps"},
      {{"--steps", "99999999999999999999"}, "--steps"},
      {{"--seed", "-5"}, "--seed"},
      {{"--out", ""}, "--out"},
      {{"--bogus"}, "--bogus"},
      {{"stray"}, "stray"},
  };
  for (const auto& [args, flag] : cases) {
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    INFO(joined);
    ParsedFlags r = parse(args);
    REQUIRE_THAT(r.error, Catch::Contains(flag));
    REQUIRE(r.error.find('\n') == std::string::npos);
    REQUIRE_FALSE(r.help);
  }
  REQUIRE_THAT(parse({"--threads", "0"}).error, Catch::Contains("got '0'"));
  REQUIRE_THAT(parse({"--steps", "-1"}).error, Catch::Contains("got '-1'"));
  // Seeds use the whole u64 range; one past it is an error, not a silent saturation.
  REQUIRE(parse({"--seed", "18446744073709551615"}).options.seed == 18446744073709551615ull);
  REQUIRE_THAT(parse({"--seed", "18446744073709551616"}).error, Catch::Contains("--seed"));
  REQUIRE(parse({"--steps", "9223372036854775807"}).options.steps == 9223372036854775807);
  // The limits themselves are fine.
  REQUIRE(parse({"--threads", "1"}).error.empty());
  REQUIRE(parse({"--threads", std::to_string(kMaxThreads)}).error.empty());
}

TEST_CASE("lesson flags: --help asks for the usage instead of running", "[lesson][cli]") {
  ParsedFlags h = parse({"--help"});
  REQUIRE(h.help);
  REQUIRE(h.error.empty());
  REQUIRE_THAT(h.usage, Catch::Contains("--steps") && Catch::Contains("--threads") && Catch::Contains("99_test"));
}

// Found by tests/fuzz/fuzz_cli (crash-b04c1e74): a bad number was quoted back in the error with
// the newline it contained, so the "one line" was two.
TEST_CASE("lesson flags: fuzz regression, a value with control characters still gives one line", "[lesson][cli]") {
  const std::string crash = "--steps=9\xff\n22337:0345214748364876\x99" "875807-1";
  ParsedFlags r = parse({crash});
  REQUIRE_THAT(r.error, Catch::Contains("--steps"));
  REQUIRE(r.error.find('\n') == std::string::npos);
  for (char c : r.error) REQUIRE(static_cast<unsigned char>(c) >= 0x20);
  ParsedFlags out = parse({"--threads", "1\r\n2"});
  REQUIRE_THAT(out.error, Catch::Contains("--threads"));
  REQUIRE(out.error.find('\r') == std::string::npos);
}
