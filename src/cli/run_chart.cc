#include "cli/run_chart.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>

namespace fastgpu::cli {
namespace {

double seconds_of(store::WallTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

// A quantity that changes by steps at moments: its chart line, holding each value until the
// next change.
class Steps {
 public:
  void change(double at, double by) { changes_[at] += by; }
  std::vector<std::pair<double, double>> points(double origin, double unit, double until) const {
    std::vector<std::pair<double, double>> points{{0.0, 0.0}};
    double value = 0;
    for (const auto& [at, by] : changes_) {
      const double x = (at - origin) / unit;
      points.emplace_back(x, value);
      value += by;
      if (std::abs(value) < 1e-9) value = 0;  // shares added and taken away again
      points.emplace_back(x, value);
    }
    points.emplace_back((until - origin) / unit, value);
    return points;
  }

 private:
  std::map<double, double> changes_;  // moment -> change, summed
};

}  // namespace

std::vector<sim::LineChart> batch_charts(const std::vector<store::JobRecord>& jobs,
                                         std::uint32_t cluster_gpus) {
  if (jobs.empty()) return {};
  double origin = seconds_of(jobs.front().spec.submit_time);
  double until = origin;
  for (const store::JobRecord& job : jobs) {
    origin = std::min(origin, seconds_of(job.spec.submit_time));
    for (const auto& moment : {job.start_time, job.end_time}) {
      if (moment) until = std::max(until, seconds_of(*moment));
    }
  }
  Steps running;
  Steps waiting;
  Steps allocated;
  for (const store::JobRecord& job : jobs) {
    const double submitted = seconds_of(job.spec.submit_time);
    const double ended = job.end_time ? seconds_of(*job.end_time) : until;
    waiting.change(submitted, 1);
    if (!job.start_time) {
      waiting.change(ended, -1);  // cancelled while queued, or still queued
      continue;
    }
    const double started = seconds_of(*job.start_time);
    waiting.change(started, -1);
    running.change(started, 1);
    running.change(ended, -1);
    const double gpus = static_cast<double>(job.placed_gpus.size()) * job.spec.util_share;
    if (gpus > 0) {
      allocated.change(started, gpus);
      allocated.change(ended, -gpus);
    }
  }
  const double span = until - origin;
  const auto [unit, unit_name] = span <= 600     ? std::pair{1.0, "seconds"}
                                 : span <= 36000 ? std::pair{60.0, "minutes"}
                                                 : std::pair{3600.0, "hours"};
  const std::string x_label = std::string(unit_name) + " since the first submission";
  sim::LineChart jobs_chart{"Jobs", x_label, "jobs", {}, false};
  jobs_chart.series.push_back({"running", running.points(origin, unit, until), false});
  jobs_chart.series.push_back({"waiting", waiting.points(origin, unit, until), false});
  sim::LineChart gpus_chart{"GPUs allocated (GPUs x compute share)", x_label, "GPUs", {}, false};
  gpus_chart.series.push_back({"allocated", allocated.points(origin, unit, until), false});
  if (cluster_gpus > 0) {
    const auto total = static_cast<double>(cluster_gpus);
    gpus_chart.series.push_back(
        {"GPUs there are", {{0.0, total}, {(until - origin) / unit, total}}, true});
  }
  return {jobs_chart, gpus_chart};
}

}  // namespace fastgpu::cli
