// LessonReport: targets are checked as stated, a single miss fails the lesson, and metrics.json
// holds what tests/lessons/check_lesson.py and out/index.html read (seed-determined metrics
// apart from the timing).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "lessons/common/report.h"
#include "tensor/error.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

// A fresh output folder per test.
LessonOptions options_in(const std::string& name) {
  LessonOptions o;
  o.slug = "99_test_lesson";
  o.out_dir = (std::filesystem::temp_directory_path() / ("lumen-report-" + name)).string();
  std::filesystem::remove_all(o.out_dir);
  std::filesystem::create_directories(o.out_dir);
  o.seed = 7;
  o.quick = true;
  return o;
}

nlohmann::json read_metrics(const LessonOptions& o) {
  std::ifstream f(o.out_dir + "/metrics.json");
  REQUIRE(f.good());
  return nlohmann::json::parse(f);
}

}  // namespace

TEST_CASE("LessonReport passes when every target holds and writes metrics.json", "[lessons]") {
  const LessonOptions o = options_in("pass");
  LessonReport r(o);
  r.metric("alignment_acc", 0.97);
  r.metric("seq_acc_by_length", nlohmann::json{{"5", 1.0}, {"20", 0.98}});
  REQUIRE(r.at_least("alignment_acc", 0.97, 0.95));
  REQUIRE(r.at_least("equal_is_enough", 0.95, 0.95));
  REQUIRE(r.at_most("equivariance_err", 1e-13, 1e-12));
  REQUIRE(r.check("anti_diagonal", true, "argmax alpha_t on the mirrored position"));
  REQUIRE(r.passed());
  REQUIRE(r.finish() == 0);

  const nlohmann::json m = read_metrics(o);
  REQUIRE(m["lesson"] == "99_test_lesson");
  REQUIRE(m["passed"] == true);
  REQUIRE(m["seed"] == 7);
  REQUIRE(m["quick"] == true);
  REQUIRE(m["metrics"]["alignment_acc"] == 0.97);
  REQUIRE(m["metrics"]["seq_acc_by_length"]["20"] == 0.98);
  REQUIRE(m["targets"].size() == 4);
  REQUIRE(m["targets"]["alignment_acc"]["want"] == ">= 0.95");
  REQUIRE(m["targets"]["equivariance_err"]["passed"] == true);
  // Timing and threads sit outside metrics: metrics stay comparable across runs.
  REQUIRE(m.contains("seconds"));
  REQUIRE_FALSE(m["metrics"].contains("seconds"));
  REQUIRE_FALSE(m["metrics"].contains("threads"));
}

TEST_CASE("LessonReport fails the lesson on any missed target, whatever comes after", "[lessons]") {
  const LessonOptions o = options_in("fail");
  LessonReport r(o);
  REQUIRE_FALSE(r.at_least("seq_acc", 0.94, 0.95));
  REQUIRE(r.at_most("loss", 0.1, 0.2));
  REQUIRE(r.check("cat_attends_chat", true, "cat looks at chat"));
  REQUIRE_FALSE(r.passed());
  REQUIRE(r.finish() == 1);
  const nlohmann::json m = read_metrics(o);
  REQUIRE(m["passed"] == false);
  REQUIRE(m["targets"]["seq_acc"]["passed"] == false);
  REQUIRE(m["targets"]["seq_acc"]["got"] == 0.94);
  REQUIRE(m["targets"]["loss"]["passed"] == true);
}

TEST_CASE("LessonReport: at_most and check fail too, and a NaN never passes", "[lessons]") {
  const LessonOptions o = options_in("nan");
  LessonReport a(o), b(o), c(o);
  REQUIRE_FALSE(a.at_most("err", 2e-6, 1e-6));
  REQUIRE_FALSE(a.passed());
  REQUIRE_FALSE(b.check("lower_triangular", false, "A is lower triangular"));
  REQUIRE_FALSE(b.passed());
  REQUIRE_FALSE(c.at_least("acc", std::nan(""), 0.5));
  REQUIRE_FALSE(c.at_most("err", std::nan(""), 0.5));
  REQUIRE_FALSE(c.passed());
}

TEST_CASE("write_json names the path it cannot write", "[lessons]") {
  REQUIRE_THROWS_AS(write_json("/nonexistent-dir/metrics.json", nlohmann::json::object()), ValueError);
  REQUIRE_THROWS_WITH(write_json("/nonexistent-dir/metrics.json", nlohmann::json::object()),
                      Catch::Contains("/nonexistent-dir/metrics.json"));
}
