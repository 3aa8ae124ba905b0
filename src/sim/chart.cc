#include "fastgpu/sim/chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

namespace fastgpu::sim {
namespace {

constexpr double kWidth = 760;
constexpr double kHeight = 420;
constexpr double kLeft = 70;    // room for the y labels
constexpr double kRight = 190;  // room for the legend
constexpr double kTop = 40;     // room for the title
constexpr double kBottom = 50;  // room for the x labels
constexpr int kTicks = 5;

// Colour-blind-safe palette (Okabe-Ito), cycled.
constexpr const char* kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                   "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void add(double value) {
    low = std::min(low, value);
    high = std::max(high, value);
  }
  bool empty() const { return !(high >= low); }
};

// A "nice" step (1, 2 or 5 times a power of ten) giving about kTicks ticks over the span.
double nice_step(double span) {
  const double raw = span / kTicks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double factor : {1.0, 2.0, 5.0}) {
    if (raw <= factor * power) return factor * power;
  }
  return 10 * power;
}

std::string tick_label(double value) {
  if (std::abs(value) >= 1000 || value == std::floor(value)) return fmt::format("{:g}", value);
  return fmt::format("{:.3g}", value);
}

class Plot {
 public:
  Plot(const LineChart& chart, double y_offset) : chart_(chart), y_offset_(y_offset) {
    for (const ChartSeries& series : chart.series) {
      for (const auto& [x, y] : series.points) {
        if (chart.log_x && x <= 0) continue;
        x_.add(chart.log_x ? std::log10(x) : x);
        y_.add(y);
      }
    }
    if (x_.empty()) x_ = {0, 1};
    if (y_.empty()) y_ = {0, 1};
    if (!chart.log_x) x_.low = std::min(x_.low, 0.0);
    y_.low = std::min(y_.low, 0.0);
    if (x_.high - x_.low <= 0) x_.high = x_.low + 1;
    if (y_.high - y_.low <= 0) y_.high = y_.low + 1;
    y_step_ = nice_step(y_.high - y_.low);
    y_.high = std::ceil(y_.high / y_step_) * y_step_;
  }

  std::string render() const {
    std::string out = fmt::format("<g transform=\"translate(0,{:g})\">\n", y_offset_);
    out += fmt::format(
        "<text x=\"{:g}\" y=\"24\" font-family=\"sans-serif\" font-size=\"16\" "
        "font-weight=\"bold\">{}</text>\n",
        kLeft, escaped(chart_.title));
    out += axes();
    for (std::size_t i = 0; i < chart_.series.size(); ++i) out += line(i);
    out += legend();
    out += "</g>\n";
    return out;
  }

 private:
  double px(double x) const {
    const double value = chart_.log_x ? std::log10(x) : x;
    return kLeft + (value - x_.low) / (x_.high - x_.low) * (kWidth - kLeft - kRight);
  }
  double py(double y) const {
    return kHeight - kBottom - (y - y_.low) / (y_.high - y_.low) * (kHeight - kTop - kBottom);
  }

  std::string axes() const {
    const double x0 = kLeft;
    const double x1 = kWidth - kRight;
    const double y0 = kHeight - kBottom;
    const double y1 = kTop;
    std::string out = fmt::format(
        "<rect x=\"{:g}\" y=\"{:g}\" width=\"{:g}\" height=\"{:g}\" fill=\"none\" "
        "stroke=\"#444\"/>\n",
        x0, y1, x1 - x0, y0 - y1);
    for (double y = y_.low; y <= y_.high + 1e-9 * y_step_; y += y_step_) {
      out += fmt::format(
          "<line x1=\"{:g}\" y1=\"{:.1f}\" x2=\"{:g}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
          "<text x=\"{:g}\" y=\"{:.1f}\" font-family=\"sans-serif\" font-size=\"11\" "
          "text-anchor=\"end\">{}</text>\n",
          x0, py(y), x1, py(y), x0 - 6, py(y) + 4, tick_label(y));
    }
    out += x_ticks();
    out += fmt::format(
        "<text x=\"{:g}\" y=\"{:g}\" font-family=\"sans-serif\" font-size=\"12\" "
        "text-anchor=\"middle\">{}</text>\n",
        (x0 + x1) / 2, kHeight - 12, escaped(chart_.x_label));
    out += fmt::format(
        "<text x=\"16\" y=\"{:g}\" font-family=\"sans-serif\" font-size=\"12\" "
        "text-anchor=\"middle\" transform=\"rotate(-90 16 {:g})\">{}</text>\n",
        (y0 + y1) / 2, (y0 + y1) / 2, escaped(chart_.y_label));
    return out;
  }

  std::string x_ticks() const {
    std::vector<double> ticks;
    if (chart_.log_x) {
      for (double p = std::floor(x_.low); p <= std::ceil(x_.high); ++p) {
        if (p >= x_.low - 1e-9 && p <= x_.high + 1e-9) ticks.push_back(std::pow(10.0, p));
      }
    } else {
      const double step = nice_step(x_.high - x_.low);
      for (double x = std::ceil(x_.low / step) * step; x <= x_.high + 1e-9 * step; x += step) {
        ticks.push_back(x);
      }
    }
    std::string out;
    for (double x : ticks) {
      out += fmt::format(
          "<line x1=\"{:.1f}\" y1=\"{:g}\" x2=\"{:.1f}\" y2=\"{:g}\" stroke=\"#ddd\"/>"
          "<text x=\"{:.1f}\" y=\"{:g}\" font-family=\"sans-serif\" font-size=\"11\" "
          "text-anchor=\"middle\">{}</text>\n",
          px(x), kTop, px(x), kHeight - kBottom, px(x), kHeight - kBottom + 16, tick_label(x));
    }
    return out;
  }

  std::string line(std::size_t i) const {
    const ChartSeries& series = chart_.series[i];
    std::string points;
    for (const auto& [x, y] : series.points) {
      if (chart_.log_x && x <= 0) continue;
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(x), py(y));
    }
    return fmt::format(
        "<polyline data-series=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} "
        "points=\"{}\"/>\n",
        escaped(series.name), kColors[i % std::size(kColors)],
        series.dashed ? " stroke-dasharray=\"6 4\"" : "", points);
  }

  std::string legend() const {
    std::string out;
    const double x = kWidth - kRight + 14;
    for (std::size_t i = 0; i < chart_.series.size(); ++i) {
      const double y = kTop + 14 + 18 * static_cast<double>(i);
      out += fmt::format(
          "<line x1=\"{:g}\" y1=\"{:g}\" x2=\"{:g}\" y2=\"{:g}\" stroke=\"{}\" "
          "stroke-width=\"2\"{}/><text x=\"{:g}\" y=\"{:g}\" font-family=\"sans-serif\" "
          "font-size=\"11\">{}</text>\n",
          x, y, x + 22, y, kColors[i % std::size(kColors)],
          chart_.series[i].dashed ? " stroke-dasharray=\"6 4\"" : "", x + 28, y + 4,
          escaped(chart_.series[i].name));
    }
    return out;
  }

  const LineChart& chart_;
  double y_offset_;
  Range x_;
  Range y_;
  double y_step_ = 1;
};

std::string svg_open(double height) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:g}\" height=\"{:g}\" "
      "viewBox=\"0 0 {:g} {:g}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      kWidth, height, kWidth, height);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string render_svg(const LineChart& chart) {
  return svg_open(kHeight) + Plot(chart, 0).render() + "</svg>\n";
}

std::string render_svg_document(const std::vector<LineChart>& charts) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += svg_open(kHeight * static_cast<double>(std::max<std::size_t>(charts.size(), 1)));
  for (std::size_t i = 0; i < charts.size(); ++i) {
    out += Plot(charts[i], kHeight * static_cast<double>(i)).render();
  }
  return out + "</svg>\n";
}

std::string render_html(const std::vector<LineChart>& charts, const std::string& title) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>" +
                    escaped(title) +
                    "</title></head>\n<body style=\"font-family:sans-serif\">\n<h1>" +
                    escaped(title) + "</h1>\n";
  for (const LineChart& chart : charts) out += "<div>\n" + render_svg(chart) + "</div>\n";
  return out + "</body>\n</html>\n";
}

Status write_charts(const std::string& path, const std::vector<LineChart>& charts,
                    const std::string& title) {
  std::string text;
  if (ends_with(path, ".svg")) {
    text = render_svg_document(charts);
  } else if (ends_with(path, ".html") || ends_with(path, ".htm")) {
    text = render_html(charts, title);
  } else {
    return invalid_argument("--chart '" + path +
                            "': name the file .svg or .html, e.g. results.html");
  }
  // errno right after the failed call carries the system's reason (libstdc++'s filebuf
  // opens, writes and closes through the C library), which the message needs to be acted on.
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return io_error("cannot write the chart file '" + path + "': " + std::strerror(errno));
  out << text;
  out.close();
  if (!out) return io_error("cannot write the chart file '" + path + "': " + std::strerror(errno));
  return {};
}

std::vector<std::pair<double, double>> jct_cdf_hours(const std::vector<JobRecord>& jobs,
                                                     std::size_t max_points) {
  std::vector<double> jcts;
  for (const JobRecord& job : jobs) {
    if (!job.rejected && job.end_s) jcts.push_back((*job.end_s - job.submit_s) / 3600.0);
  }
  std::vector<std::pair<double, double>> points;
  if (jcts.empty() || max_points == 0) return points;
  std::sort(jcts.begin(), jcts.end());
  const std::size_t n = jcts.size();
  const std::size_t stride = std::max<std::size_t>(1, (n + max_points - 1) / max_points);
  for (std::size_t i = 0; i < n; ++i) {
    // The last job of a run of equal JCTs carries the CDF value; thin by rank, and always
    // keep the last point (CDF = 1).
    const bool last_of_value = i + 1 == n || jcts[i + 1] != jcts[i];
    if (!last_of_value) continue;
    if (i + 1 != n && (i + 1) % stride != 0) continue;
    points.emplace_back(jcts[i], static_cast<double>(i + 1) / static_cast<double>(n));
  }
  return points;
}

}  // namespace fastgpu::sim
