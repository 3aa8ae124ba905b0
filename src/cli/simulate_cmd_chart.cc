// The replay charts of `fastgpu simulate --chart`: JCT CDF and GPU utilization over time.
#include <algorithm>
#include <limits>

#include "cli/simulate_cmd.h"

namespace fastgpu::cli {
namespace {

constexpr std::size_t kUsageBuckets = 100;

std::string label(const Run& run, bool several_clusters) {
  return several_clusters ? run.policy + " on " + run.result.cluster : run.policy;
}

std::vector<std::pair<double, double>> utilization_percent(const sim::SimResult& result) {
  double first = std::numeric_limits<double>::infinity();
  for (const sim::JobRecord& job : result.jobs) {
    if (!job.rejected) first = std::min(first, job.submit_s);
  }
  std::vector<std::pair<double, double>> points;
  if (!(result.metrics.makespan_s > 0)) return points;
  for (const sim::UsageBucket& bucket :
       sim::usage_over_time(result.usage, result.total_gpus, first,
                            first + result.metrics.makespan_s, kUsageBuckets)) {
    const double middle_h = ((bucket.start_s + bucket.end_s) / 2 - first) / 3600.0;
    points.emplace_back(middle_h, 100.0 * bucket.utilization);
  }
  return points;
}

}  // namespace

std::vector<sim::LineChart> replay_charts(const std::vector<Run>& runs) {
  bool several_clusters = false;
  for (const Run& run : runs) several_clusters |= run.result.cluster != runs.front().result.cluster;
  sim::LineChart cdf{
      "JCT CDF", "job completion time (hours, log scale)", "share of jobs", {}, true};
  sim::LineChart usage{
      "GPU utilization over time", "hours since the first submit", "busy GPUs (%)", {}, false};
  for (const Run& run : runs) {
    cdf.series.push_back(
        {label(run, several_clusters), sim::jct_cdf_hours(run.result.jobs), false});
    usage.series.push_back({label(run, several_clusters), utilization_percent(run.result), false});
  }
  return {cdf, usage};
}

}  // namespace fastgpu::cli
