#include "cli/run_chart.h"

#include <gtest/gtest.h>

namespace fastgpu::cli {
namespace {

store::WallTime at(double seconds) {
  return store::WallTime(
      std::chrono::microseconds(static_cast<std::int64_t>((1'764'000'000.0 + seconds) * 1e6)));
}

store::JobRecord job(double submitted, std::optional<double> started, std::optional<double> ended,
                     int gpus, double share) {
  store::JobRecord record;
  record.spec.submit_time = at(submitted);
  record.spec.gpus = gpus;
  record.spec.util_share = share;
  if (started) {
    record.start_time = at(*started);
    for (int g = 0; g < gpus; ++g) record.placed_gpus.push_back(static_cast<std::uint32_t>(g));
  }
  if (ended) record.end_time = at(*ended);
  return record;
}

// The value a step line holds just after `x`.
double value_after(const sim::ChartSeries& series, double x) {
  double value = 0;
  for (const auto& [px, py] : series.points) {
    if (px <= x) value = py;
  }
  return value;
}

TEST(RunCharts, StepsFollowTheJobsAndTheirSharedGpus) {
  // Two half-share jobs packed on one GPU from 0 to 2 s and 3 s; a 2-GPU job waits until 3 s
  // and runs to 4 s; a job cancelled while queued waits from 1 s to 1.5 s.
  const std::vector<store::JobRecord> jobs = {job(0, 0, 2, 1, 0.5), job(0, 0, 3, 1, 0.5),
                                              job(0, 3, 4, 2, 1.0),
                                              job(1, std::nullopt, 1.5, 1, 1)};
  const std::vector<sim::LineChart> charts = batch_charts(jobs, 2);
  ASSERT_EQ(charts.size(), 2u);
  EXPECT_EQ(charts[0].x_label, "seconds since the first submission");
  const sim::ChartSeries& running = charts[0].series.at(0);
  const sim::ChartSeries& waiting = charts[0].series.at(1);
  EXPECT_EQ(running.name, "running");
  EXPECT_EQ(waiting.name, "waiting");
  EXPECT_EQ(value_after(running, 0.5), 2);
  EXPECT_EQ(value_after(running, 2.5), 1);
  EXPECT_EQ(value_after(running, 3.5), 1);
  EXPECT_EQ(value_after(waiting, 0.5), 1);
  EXPECT_EQ(value_after(waiting, 1.2), 2);
  EXPECT_EQ(value_after(waiting, 2), 1);
  EXPECT_EQ(value_after(waiting, 3.5), 0);
  EXPECT_EQ(running.points.back(), (std::pair<double, double>{4, 0}));

  const sim::ChartSeries& allocated = charts[1].series.at(0);
  EXPECT_EQ(value_after(allocated, 1), 1.0);  // two halves of one GPU
  EXPECT_EQ(value_after(allocated, 2.5), 0.5);
  EXPECT_EQ(value_after(allocated, 3.5), 2.0);
  EXPECT_EQ(value_after(allocated, 4), 0.0);
  const sim::ChartSeries& there = charts[1].series.at(1);
  EXPECT_TRUE(there.dashed);
  EXPECT_EQ(there.points, (std::vector<std::pair<double, double>>{{0, 2}, {4, 2}}));
}

TEST(RunCharts, ALongBatchIsDrawnInMinutesOrHoursAndUnknownGpusAreLeftOut) {
  std::vector<sim::LineChart> charts = batch_charts({job(0, 0, 1800, 1, 1)}, 0);
  ASSERT_EQ(charts.size(), 2u);
  EXPECT_EQ(charts[0].x_label, "minutes since the first submission");
  EXPECT_EQ(charts[0].series.at(0).points.back(), (std::pair<double, double>{30, 0}));
  EXPECT_EQ(charts[1].series.size(), 1u) << "no line for the GPUs there are when unknown";
  charts = batch_charts({job(0, 0, 7200 * 10, 1, 1)}, 8);
  EXPECT_EQ(charts[0].x_label, "hours since the first submission");
  EXPECT_TRUE(batch_charts({}, 8).empty());
}

}  // namespace
}  // namespace fastgpu::cli
