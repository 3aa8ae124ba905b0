// Self-contained line charts for simulation results: hand-written SVG (no scripts, no
// fonts or styles fetched from anywhere), or an HTML page holding the same SVGs inline.
//
// Used for the JCT CDF per policy, GPU utilization over time per policy, and the FGD
// protocol's GPU allocation ratio against arrived requests. Thread-safety: reentrant.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sim/metrics.h"

namespace fastgpu::sim {

struct ChartSeries {
  std::string name;                               // legend text
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in the given order
  bool dashed = false;                            // reference curves are drawn dashed
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
  bool log_x = false;  // logarithmic x axis (points with x <= 0 are left out)
};

// One chart as an <svg> element (with the XML namespace, so it stands alone as a file).
std::string render_svg(const LineChart& chart);
// Several charts stacked in one SVG document.
std::string render_svg_document(const std::vector<LineChart>& charts);
// An HTML page with a heading and each chart inline.
std::string render_html(const std::vector<LineChart>& charts, const std::string& title);

// Writes the charts to `path`: SVG for a name ending in ".svg", HTML for ".html"/".htm".
// Errors: another extension (the message says which to use), or a file that cannot be
// written (the message names the path and the system's reason).
Status write_charts(const std::string& path, const std::vector<LineChart>& charts,
                    const std::string& title);

// The empirical CDF of the completed jobs' JCTs in hours: (JCT, share of jobs with JCT
// <= it), one point per distinct JCT (at most `max_points`, evenly spaced by rank).
std::vector<std::pair<double, double>> jct_cdf_hours(const std::vector<JobRecord>& jobs,
                                                     std::size_t max_points = 400);

}  // namespace fastgpu::sim
