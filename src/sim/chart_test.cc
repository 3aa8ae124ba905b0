// The chart writer: well-formed SVG/HTML holding every series, escaping, the JCT CDF.
#include "fastgpu/sim/chart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "sim/sim_test_util.h"

namespace fastgpu::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A small XML well-formedness check: every element closes in order, attribute values are
// quoted, and no raw '&' or '<' appears in text. Returns "" or what is wrong.
std::string xml_problem(const std::string& xml) {
  std::vector<std::string> open;
  std::size_t i = 0;
  while (i < xml.size()) {
    if (xml[i] == '&') {
      const std::size_t semi = xml.find(';', i);
      if (semi == std::string::npos || semi - i > 6) return "raw '&' at " + std::to_string(i);
      i = semi + 1;
      continue;
    }
    if (xml[i] != '<') {
      ++i;
      continue;
    }
    const std::size_t end = xml.find('>', i);
    if (end == std::string::npos) return "unclosed tag at " + std::to_string(i);
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.starts_with("?") || tag.starts_with("!")) continue;  // declaration, doctype
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0) return "odd quotes in <" + tag + ">";
    if (tag.starts_with("/")) {
      if (open.empty() || open.back() != tag.substr(1)) return "mismatched </" + tag + ">";
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.ends_with("/");
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    if (!self_closing && name != "meta") open.push_back(name);
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

LineChart two_series() {
  return {"JCT CDF",
          "hours",
          "share",
          {{"fifo", {{1, 0.5}, {2, 1.0}}, false}, {"a<b & \"c\"", {{0.5, 0.2}, {3, 1.0}}, true}},
          true};
}

TEST(Chart, SvgIsWellFormedAndHasEverySeries) {
  const std::string svg = render_svg_document({two_series(), two_series()});
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_THAT(svg, HasSubstr("xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg, HasSubstr("data-series=\"fifo\""));
  EXPECT_THAT(svg, HasSubstr("a&lt;b &amp; &quot;c&quot;"));  // escaped, never raw
  EXPECT_THAT(svg, Not(HasSubstr("a<b")));
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray"));  // the dashed reference series
  std::size_t lines = 0;
  for (std::size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1))
    ++lines;
  EXPECT_EQ(lines, 4u);  // two series in each of two charts
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("http://www.w3.org/1999")));  // nothing fetched
}

TEST(Chart, HtmlEmbedsTheSvgs) {
  const std::string html = render_html({two_series()}, "Results & more");
  EXPECT_EQ(xml_problem(html.substr(html.find("<html"))), "");
  EXPECT_THAT(html, HasSubstr("<title>Results &amp; more</title>"));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("data-series=\"fifo\""));
}

TEST(Chart, EmptyChartStillRenders) {
  const std::string svg = render_svg({"nothing", "x", "y", {}, false});
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_THAT(svg, HasSubstr("nothing"));
}

TEST(Chart, WriteChartsPicksTheFormatByName) {
  const testing::ScratchDir dir;
  ASSERT_TRUE(write_charts(dir.path("c.svg"), {two_series()}, "t").ok());
  ASSERT_TRUE(write_charts(dir.path("c.html"), {two_series()}, "t").ok());
  std::stringstream svg;
  svg << std::ifstream(dir.path("c.svg")).rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<?xml"));
  std::stringstream html;
  html << std::ifstream(dir.path("c.html")).rdbuf();
  EXPECT_THAT(html.str(), HasSubstr("<!DOCTYPE html>"));

  const Status png = write_charts(dir.path("c.png"), {two_series()}, "t");
  EXPECT_EQ(png.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(png.message(), HasSubstr(".svg or .html"));
  const Status unwritable = write_charts(dir.path("no/such/dir/c.svg"), {two_series()}, "t");
  EXPECT_EQ(unwritable.code(), ErrorCode::kIoError);
  EXPECT_THAT(unwritable.message(), HasSubstr("no/such/dir/c.svg"));
}

JobRecord finished(double submit_h, double end_h) {
  JobRecord job;
  job.submit_s = submit_h * 3600;
  job.first_start_s = job.submit_s;
  job.end_s = end_h * 3600;
  return job;
}

TEST(Chart, JctCdfCountsCompletedJobsOnly) {
  JobRecord rejected;
  rejected.rejected = true;
  JobRecord waiting;
  const std::vector<JobRecord> jobs = {finished(0, 1), finished(1, 2), finished(0, 2),
                                       finished(0, 4), rejected,       waiting};
  // JCTs 1, 1, 2, 4 hours: CDF 0.5 at 1, 0.75 at 2, 1 at 4.
  const auto cdf = jct_cdf_hours(jobs);
  ASSERT_EQ(cdf.size(), 3u);
  EXPECT_DOUBLE_EQ(cdf[0].first, 1);
  EXPECT_DOUBLE_EQ(cdf[0].second, 0.5);
  EXPECT_DOUBLE_EQ(cdf[1].second, 0.75);
  EXPECT_DOUBLE_EQ(cdf[2].first, 4);
  EXPECT_DOUBLE_EQ(cdf[2].second, 1);
  EXPECT_TRUE(jct_cdf_hours({rejected}).empty());
  // Thinned to at most 2 points, the last one (CDF 1) is always kept.
  const auto thin = jct_cdf_hours(jobs, 2);
  ASSERT_LE(thin.size(), 2u);
  EXPECT_DOUBLE_EQ(thin.back().second, 1);
}

}  // namespace
}  // namespace fastgpu::sim
