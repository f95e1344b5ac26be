#pragma once
// A small SVG writer for the lessons' figures: attention heatmaps with tokens on both axes,
// line charts with axes, ticks and a legend, and images with an attention overlay and caption.
// Output is plain text, deterministic (fixed number formatting), and opens in any browser.
#include <string>
#include <vector>

namespace lumen::lessons {

// A canvas of primitive shapes; coordinates in pixels, origin top left.
class Svg {
 public:
  Svg(double width, double height);
  void rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke = "none",
            double opacity = 1.0);
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1.0,
            const std::string& dash = "");
  void polyline(const std::vector<double>& xs, const std::vector<double>& ys, const std::string& stroke,
                double width = 2.0, const std::string& dash = "");
  void circle(double cx, double cy, double r, const std::string& fill);
  // anchor: "start", "middle" or "end"; rotate in degrees about (x, y).
  void text(double x, double y, const std::string& s, double size = 12, const std::string& anchor = "start",
            double rotate = 0, const std::string& fill = "#222", bool bold = false);
  std::string str() const;
  // Writes the file; throws lumen::ValueError naming the path if it cannot.
  void save(const std::string& path) const;

 private:
  double width_, height_;
  std::string body_;
};

// Escapes &, <, >, " for SVG text.
std::string svg_escape(const std::string& s);
// A colour for v in [0, 1] on a white-to-dark-blue scale (0 white, 1 dark blue).
std::string heat_colour(double v);
// Round tick values inside [lo, hi], about `count` of them, a step of 1, 2 or 5 times a power of ten.
std::vector<double> nice_ticks(double lo, double hi, int count = 5);
// Ticks for a log axis, as log10 values covering [lo, hi] (themselves log10): one per power of
// ten, or 1, 2 and 5 times each power when the range spans fewer than three decades.
std::vector<double> log_ticks(double lo, double hi);
// A tick label: no trailing zeros ("0.5", "100", "1e-06").
std::string format_tick(double v);

struct HeatmapOptions {
  std::string title;
  std::string x_label = "source";  // columns
  std::string y_label = "target";  // rows
  bool show_values = true;         // print each weight in its cell (small maps only)
  double cell = 36;                // cell size in pixels
};
// values[row][col] in [0, 1] (attention weights: each row sums to 1).
Svg heatmap(const std::vector<std::vector<double>>& values, const std::vector<std::string>& row_labels,
            const std::vector<std::string>& col_labels, const HeatmapOptions& options);

struct Series {
  std::string name;
  std::vector<double> xs, ys;
  std::string colour = "";  // empty: the next colour of the palette
  bool dashed = false;
};
struct ChartOptions {
  std::string title, x_label, y_label;
  double width = 640, height = 400;
  bool y_from_zero = false;
  bool log_y = false;
  bool points = true;  // draw a marker at each point
};
Svg line_chart(const std::vector<Series>& series, const ChartOptions& options);

// An RGB image (h x w x 3, values in [0, 1], row-major) drawn in pixels of `scale`, with a
// grid_h x grid_w attention map laid over it in translucent red, and a caption underneath.
Svg attention_overlay(const std::vector<float>& rgb, int h, int w, const std::vector<double>& alpha, int grid_h,
                      int grid_w, const std::string& caption, double scale = 6);

}  // namespace lumen::lessons
