#include "lessons/common/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "tensor/error.h"

namespace lumen::lessons {
namespace {
// Colour-blind-safe palette (Okabe and Ito).
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"};

std::string num(double v) { return fmt::format("{:.2f}", v); }
}  // namespace

Svg::Svg(double width, double height) : width_(width), height_(height) {}

void Svg::rect(double x, double y, double w, double h, const std::string& fill, const std::string& stroke,
               double opacity) {
  body_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"{}\"", num(x), num(y),
                       num(w), num(h), fill, stroke);
  if (opacity < 1.0) body_ += fmt::format(" fill-opacity=\"{:.3f}\"", opacity);
  body_ += "/>\n";
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
               const std::string& dash) {
  body_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"", num(x1),
                       num(y1), num(x2), num(y2), stroke, num(width));
  if (!dash.empty()) body_ += fmt::format(" stroke-dasharray=\"{}\"", dash);
  body_ += "/>\n";
}

void Svg::polyline(const std::vector<double>& xs, const std::vector<double>& ys, const std::string& stroke,
                   double width, const std::string& dash) {
  std::string pts;
  for (size_t i = 0; i < xs.size() && i < ys.size(); ++i) pts += fmt::format("{}{},{}", i ? " " : "", num(xs[i]), num(ys[i]));
  body_ += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"", pts, stroke, num(width));
  if (!dash.empty()) body_ += fmt::format(" stroke-dasharray=\"{}\"", dash);
  body_ += "/>\n";
}

void Svg::circle(double cx, double cy, double r, const std::string& fill) {
  body_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/>\n", num(cx), num(cy), num(r), fill);
}

void Svg::text(double x, double y, const std::string& s, double size, const std::string& anchor, double rotate,
               const std::string& fill, bool bold) {
  body_ += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\" fill=\"{}\"", num(x), num(y),
                       num(size), anchor, fill);
  if (bold) body_ += " font-weight=\"bold\"";
  if (rotate != 0) body_ += fmt::format(" transform=\"rotate({} {} {})\"", num(rotate), num(x), num(y));
  body_ += ">" + svg_escape(s) + "</text>\n";
}

std::string Svg::str() const {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}</svg>\n",
      num(width_), num(height_), num(width_), num(height_), body_);
}

void Svg::save(const std::string& path) const {
  std::ofstream f(path);
  if (!f) throw ValueError("svg: cannot write '" + path + "'");
  f << str();
  if (!f) throw ValueError("svg: writing '" + path + "' failed");
}

std::string svg_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string heat_colour(double v) {
  v = std::clamp(std::isfinite(v) ? v : 0.0, 0.0, 1.0);
  // From white (255, 255, 255) to a dark blue (8, 48, 107).
  auto mix = [&](int lo, int hi) { return static_cast<int>(std::lround(lo + (hi - lo) * v)); };
  return fmt::format("#{:02x}{:02x}{:02x}", mix(255, 8), mix(255, 48), mix(255, 107));
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    hi = lo + 1;
  }
  double raw = (hi - lo) / std::max(count, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

std::string format_tick(double v) {
  if (v == 0) return "0";
  double a = std::abs(v);
  if (a >= 1e5 || a < 1e-3) return fmt::format("{:.0e}", v);
  std::string s = fmt::format("{:.4f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::vector<double> log_ticks(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  const double first = std::floor(lo), last = std::ceil(hi);
  // Several decades: one tick each. Within a decade or two: 1, 2 and 5 times each power of ten.
  const std::vector<double> mantissas = last - first >= 3 ? std::vector<double>{1} : std::vector<double>{1, 2, 5};
  std::vector<double> ticks;
  for (double e = first; e <= last; ++e)
    for (double m : mantissas) {
      const double t = e + std::log10(m);
      if (t <= last + 1e-9) ticks.push_back(t);
    }
  return ticks;
}

Svg heatmap(const std::vector<std::vector<double>>& values, const std::vector<std::string>& row_labels,
            const std::vector<std::string>& col_labels, const HeatmapOptions& o) {
  const size_t rows = values.size(), cols = rows ? values[0].size() : 0;
  if (row_labels.size() != rows || col_labels.size() != cols)
    throw ValueError(fmt::format("heatmap: {} x {} values but {} row labels and {} column labels", rows, cols,
                                 row_labels.size(), col_labels.size()));
  size_t longest_row = 1, longest_col = 1;
  for (auto& l : row_labels) longest_row = std::max(longest_row, l.size());
  for (auto& l : col_labels) longest_col = std::max(longest_col, l.size());
  const double left = 30 + 7.5 * static_cast<double>(longest_row), top = 50 + 7 * static_cast<double>(longest_col);
  const double c = o.cell, bar = 16;
  // Wide enough for the grid and its colour bar, and for the title (about 9 px a character at 15 px bold).
  const double width = std::max(left + c * static_cast<double>(cols) + 90, left + 9.0 * static_cast<double>(o.title.size()) + 20);
  const double height = top + c * static_cast<double>(rows) + 50;
  Svg svg(width, height);
  svg.text(left, 22, o.title, 15, "start", 0, "#222", true);
  for (size_t i = 0; i < rows; ++i) {
    double y = top + c * static_cast<double>(i);
    svg.text(left - 6, y + c / 2 + 4, row_labels[i], 12, "end");
    for (size_t j = 0; j < cols; ++j) {
      double x = left + c * static_cast<double>(j), v = values[i][j];
      svg.rect(x, y, c, c, heat_colour(v), "#ffffff");
      if (o.show_values && c >= 28)
        svg.text(x + c / 2, y + c / 2 + 4, fmt::format("{:.2f}", v), 10, "middle", 0, v > 0.55 ? "#ffffff" : "#222");
    }
  }
  for (size_t j = 0; j < cols; ++j) {
    double x = left + c * static_cast<double>(j) + c / 2 + 4;
    svg.text(x, top - 6, col_labels[j], 12, "start", -60);
  }
  svg.text(left + c * static_cast<double>(cols) / 2, height - 14, o.x_label, 13, "middle");
  svg.text(14, top + c * static_cast<double>(rows) / 2, o.y_label, 13, "middle", -90);
  // Colour bar from 0 (bottom) to 1 (top).
  double bx = left + c * static_cast<double>(cols) + 24, bh = std::max(c * static_cast<double>(rows), 60.0);
  for (int k = 0; k < 20; ++k)
    svg.rect(bx, top + bh * (19 - k) / 20.0, bar, bh / 20.0 + 0.5, heat_colour((k + 0.5) / 20.0));
  svg.rect(bx, top, bar, bh, "none", "#888");
  svg.text(bx + bar + 4, top + 10, "1", 11);
  svg.text(bx + bar + 4, top + bh, "0", 11);
  return svg;
}

Svg line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  auto ty = [&](double y) { return o.log_y ? std::log10(std::max(y, 1e-12)) : y; };
  for (const Series& s : series)
    for (size_t i = 0; i < s.xs.size() && i < s.ys.size(); ++i) {
      if (!std::isfinite(s.ys[i])) continue;
      xmin = std::min(xmin, s.xs[i]);
      xmax = std::max(xmax, s.xs[i]);
      ymin = std::min(ymin, ty(s.ys[i]));
      ymax = std::max(ymax, ty(s.ys[i]));
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (o.y_from_zero && !o.log_y) ymin = std::min(ymin, 0.0);
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1;
  std::vector<double> xt = nice_ticks(xmin, xmax), yt = o.log_y ? log_ticks(ymin, ymax) : nice_ticks(ymin, ymax);
  if (!xt.empty()) xmin = std::min(xmin, xt.front()), xmax = std::max(xmax, xt.back());
  if (!yt.empty()) ymin = std::min(ymin, yt.front()), ymax = std::max(ymax, yt.back());

  const double left = 70, right = 170, top = 40, bottom = 55;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * pw; };
  auto py = [&](double y) { return top + ph - (ty(y) - ymin) / (ymax - ymin) * ph; };
  auto py_raw = [&](double t) { return top + ph - (t - ymin) / (ymax - ymin) * ph; };

  Svg svg(o.width, o.height);
  svg.text(left, 24, o.title, 15, "start", 0, "#222", true);
  for (double t : yt) {
    svg.line(left, py_raw(t), left + pw, py_raw(t), "#e5e5e5");
    svg.text(left - 6, py_raw(t) + 4, o.log_y ? format_tick(std::pow(10.0, t)) : format_tick(t), 11, "end");
  }
  for (double t : xt) {
    svg.line(px(t), top + ph, px(t), top + ph + 5, "#444");
    svg.text(px(t), top + ph + 18, format_tick(t), 11, "middle");
  }
  svg.line(left, top + ph, left + pw, top + ph, "#444");
  svg.line(left, top, left, top + ph, "#444");
  svg.text(left + pw / 2, o.height - 12, o.x_label, 13, "middle");
  svg.text(18, top + ph / 2, o.y_label, 13, "middle", -90);

  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    std::string colour = s.colour.empty() ? kPalette[k % 8] : s.colour;
    std::vector<double> xs, ys;
    for (size_t i = 0; i < s.xs.size() && i < s.ys.size(); ++i) {
      if (!std::isfinite(s.ys[i])) continue;
      xs.push_back(px(s.xs[i]));
      ys.push_back(py(s.ys[i]));
    }
    svg.polyline(xs, ys, colour, 2.0, s.dashed ? "6,4" : "");
    if (o.points && xs.size() <= 60)
      for (size_t i = 0; i < xs.size(); ++i) svg.circle(xs[i], ys[i], 2.5, colour);
    // Legend entry.
    double ly = top + 10 + 20 * static_cast<double>(k);
    svg.line(left + pw + 16, ly, left + pw + 40, ly, colour, 2.0, s.dashed ? "6,4" : "");
    svg.text(left + pw + 46, ly + 4, s.name, 12);
  }
  return svg;
}

Svg attention_overlay(const std::vector<float>& rgb, int h, int w, const std::vector<double>& alpha, int grid_h,
                      int grid_w, const std::string& caption, double scale) {
  if (rgb.size() != static_cast<size_t>(h) * static_cast<size_t>(w) * 3 ||
      alpha.size() != static_cast<size_t>(grid_h) * static_cast<size_t>(grid_w))
    throw ValueError(fmt::format("attention_overlay: image {}x{}x3 needs {} values (got {}), grid {}x{} needs {} (got {})",
                                 h, w, h * w * 3, rgb.size(), grid_h, grid_w, grid_h * grid_w, alpha.size()));
  const double W = w * scale, H = h * scale;
  // The image is centred on a canvas wide enough for the caption (about 10 px a character).
  const double canvas_w = std::max(W + 20, 10.0 * static_cast<double>(caption.size()) + 20);
  const double x0 = (canvas_w - W) / 2;
  Svg svg(canvas_w, H + 44);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float* p = &rgb[(static_cast<size_t>(y) * static_cast<size_t>(w) + static_cast<size_t>(x)) * 3];
      auto c = [](float v) { return static_cast<int>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255)); };
      svg.rect(x0 + x * scale, 10 + y * scale, scale + 0.3, scale + 0.3, fmt::format("#{:02x}{:02x}{:02x}", c(p[0]), c(p[1]), c(p[2])));
    }
  double amax = *std::max_element(alpha.begin(), alpha.end());
  const double ch = H / grid_h, cw = W / grid_w;
  for (int gy = 0; gy < grid_h; ++gy)
    for (int gx = 0; gx < grid_w; ++gx) {
      double a = alpha[static_cast<size_t>(gy * grid_w + gx)] / (amax > 0 ? amax : 1);
      svg.rect(x0 + gx * cw, 10 + gy * ch, cw, ch, "#ff2020", "#ffffff", 0.6 * a);
    }
  svg.text(canvas_w / 2, H + 34, caption, 16, "middle", 0, "#222", true);
  return svg;
}

}  // namespace lumen::lessons
