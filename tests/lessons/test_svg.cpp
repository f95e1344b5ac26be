// The lessons' SVG writer: escaping, the colour scale, tick placement and labels, and that each
// figure holds what a reader needs (every token label, a legend entry per series, the caption)
// and refuses inconsistent input with a message naming the figure.
#include <catch2/catch.hpp>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "lessons/common/svg.h"
#include "tensor/error.h"

using namespace lumen;
using namespace lumen::lessons;

namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The canvas width written in the <svg> element.
double canvas_width(const std::string& svg) {
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, std::regex("<svg[^>]* width=\"([0-9.]+)\"")));
  return std::stod(m[1]);
}

// The texts of every <text> element, in order.
std::vector<std::string> texts(const std::string& svg) {
  std::vector<std::string> out;
  std::regex re("<text[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

}  // namespace

TEST_CASE("svg_escape escapes the characters SVG text cannot hold", "[lessons]") {
  REQUIRE(svg_escape("a<b & \"c\">d") == "a&lt;b &amp; &quot;c&quot;&gt;d");
  REQUIRE(svg_escape("le chat noir") == "le chat noir");
  Svg svg(10, 10);
  svg.text(0, 0, "<eos>");
  REQUIRE(svg.str().find("&lt;eos&gt;") != std::string::npos);
  REQUIRE(svg.str().find("<eos>") == std::string::npos);
}

TEST_CASE("heat_colour runs from white to dark blue and clamps", "[lessons]") {
  REQUIRE(heat_colour(0) == "#ffffff");
  REQUIRE(heat_colour(1) == "#08306b");
  REQUIRE(heat_colour(-3) == "#ffffff");
  REQUIRE(heat_colour(7) == "#08306b");
  REQUIRE(heat_colour(std::nan("")) == "#ffffff");
  REQUIRE(heat_colour(0.5) == "#8498b5");  // halfway on each channel, rounded
}

TEST_CASE("nice_ticks are round steps inside the range", "[lessons]") {
  const std::vector<double> t = nice_ticks(0, 1);
  REQUIRE(t.size() == 6);
  for (size_t i = 0; i < t.size(); ++i) REQUIRE(t[i] == Approx(0.2 * static_cast<double>(i)).margin(1e-12));
  const std::vector<double> big = nice_ticks(3, 1970);
  REQUIRE(big == std::vector<double>{500, 1000, 1500});
  REQUIRE(nice_ticks(std::nan(""), 1).empty());
}

TEST_CASE("format_tick drops trailing zeros and switches to exponents at the extremes", "[lessons]") {
  REQUIRE(format_tick(0) == "0");
  REQUIRE(format_tick(0.5) == "0.5");
  REQUIRE(format_tick(100) == "100");
  REQUIRE(format_tick(0.25) == "0.25");
  REQUIRE(format_tick(1e-6) == "1e-06");
  REQUIRE(format_tick(-2.5) == "-2.5");
}

TEST_CASE("log_ticks fall on powers of ten, with 2 and 5 inside a short range", "[lessons]") {
  REQUIRE(log_ticks(0, 4) == std::vector<double>{0, 1, 2, 3, 4});
  const std::vector<double> short_range = log_ticks(-1, 0.5);
  REQUIRE(short_range.size() == 7);  // 0.1, 0.2, 0.5, 1, 2, 5, 10: up to the next power of ten
  REQUIRE(std::pow(10.0, short_range[1]) == Approx(0.2));
  REQUIRE(std::pow(10.0, short_range[5]) == Approx(5));
  REQUIRE(std::pow(10.0, short_range[6]) == Approx(10));
  // On a chart: labels are round numbers, never 10^0.5.
  Series s{.name = "loss", .xs = {0, 1, 2}, .ys = {1, 30, 1000}};
  const std::vector<std::string> labels = texts(line_chart({s}, {.title = "t", .log_y = true}).str());
  REQUIRE(contains(labels, "10"));
  REQUIRE(contains(labels, "1000"));
  for (const std::string& l : labels) REQUIRE(l.find("31.6") == std::string::npos);
}

TEST_CASE("heatmap draws one cell per weight, every token label, and room for its title", "[lessons]") {
  const std::vector<std::vector<double>> alpha = {{0.76, 0.13, 0.11}, {0.2, 0.1, 0.7}};
  const std::vector<std::string> rows = {"the", "black"}, cols = {"le", "chat", "noir"};
  const std::string title = "alpha_t of the worked example, with a title far longer than the grid";
  const std::string svg = heatmap(alpha, rows, cols, {.title = title}).str();
  const std::vector<std::string> labels = texts(svg);
  for (const auto& t : rows) REQUIRE(contains(labels, t));
  for (const auto& t : cols) REQUIRE(contains(labels, t));
  REQUIRE(contains(labels, "0.76"));  // the weight printed in its cell
  REQUIRE(count(svg, "fill=\"" + heat_colour(0.76) + "\"") >= 1);
  REQUIRE(canvas_width(svg) >= 9.0 * static_cast<double>(title.size()));

  REQUIRE_THROWS_AS(heatmap(alpha, {"the"}, cols, {}), ValueError);
  REQUIRE_THROWS_WITH(heatmap(alpha, {"the"}, cols, {}), Catch::Contains("heatmap") && Catch::Contains("2 x 3"));
}

TEST_CASE("line_chart has a legend entry per series, axis labels and the title", "[lessons]") {
  Series a{.name = "with attention", .xs = {3, 10, 20}, .ys = {1, 0.98, 0.97}};
  Series b{.name = "without attention", .xs = {3, 10, 20}, .ys = {1, 0.6, 0.1}, .dashed = true};
  const std::string svg =
      line_chart({a, b}, {.title = "accuracy by length", .x_label = "length", .y_label = "accuracy"}).str();
  const std::vector<std::string> labels = texts(svg);
  for (const char* want : {"with attention", "without attention", "accuracy by length", "length", "accuracy"})
    REQUIRE(contains(labels, want));
  REQUIRE(count(svg, "<polyline") == 2);
  REQUIRE(count(svg, "stroke-dasharray=\"6,4\"") == 2);  // the dashed series and its legend line
}

TEST_CASE("attention_overlay lays the grid over the image and fits its caption", "[lessons]") {
  const int h = 4, w = 4;
  std::vector<float> rgb(static_cast<size_t>(h * w * 3), 1.0f);
  rgb[0] = 0.0f;  // one pixel cyan: (0, 1, 1)
  const std::vector<double> alpha = {0.7, 0.1, 0.1, 0.1};
  const std::string caption = "a red circle left of a blue square, the longest caption here";
  const std::string svg = attention_overlay(rgb, h, w, alpha, 2, 2, caption, 2).str();
  REQUIRE(contains(texts(svg), caption));
  REQUIRE(count(svg, "#00ffff") == 1);
  REQUIRE(count(svg, "fill=\"#ff2020\"") == 4);
  REQUIRE(svg.find("fill-opacity=\"0.600\"") != std::string::npos);  // the cell with the most weight
  REQUIRE(canvas_width(svg) >= 10.0 * static_cast<double>(caption.size()));

  REQUIRE_THROWS_WITH(attention_overlay(rgb, h, w, {1.0}, 2, 2, "x"), Catch::Contains("attention_overlay"));
}

TEST_CASE("Svg::save names the path it cannot write", "[lessons]") {
  REQUIRE_THROWS_WITH(Svg(1, 1).save("/nonexistent-dir/figure.svg"), Catch::Contains("/nonexistent-dir/figure.svg"));
}
