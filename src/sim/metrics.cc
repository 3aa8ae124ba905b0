#include "fastgpu/sim/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fastgpu::sim {

double nearest_rank(std::vector<double> values, double q) {
  const auto n = values.size();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank - 1),
                   values.end());
  return values[rank - 1];
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

namespace {

// Integrals of busy GPUs and allocated demand over [from, to], in GPU-seconds.
struct UsageIntegral {
  double busy = 0;
  double allocated = 0;
};

// Steps before `first` are known to end before `from`.
UsageIntegral integrate(const std::vector<UsageStep>& usage, double from, double to,
                        std::size_t first = 0) {
  UsageIntegral sum;
  for (std::size_t i = first; i < usage.size() && usage[i].time_s < to; ++i) {
    const double begin = std::max(usage[i].time_s, from);
    const double end = std::min(i + 1 < usage.size() ? usage[i + 1].time_s : to, to);
    if (end <= begin) continue;
    sum.busy += usage[i].busy_gpus * (end - begin);
    sum.allocated += usage[i].allocated * (end - begin);
  }
  return sum;
}

void add_job_statistics(const std::vector<JobRecord>& jobs, RunMetrics& metrics) {
  std::vector<double> jcts;
  double delay_sum = 0;
  for (const JobRecord& job : jobs) {
    metrics.preemptions += static_cast<std::size_t>(job.preemptions);
    if (job.rejected) {
      ++metrics.rejected;
    } else if (job.end_s) {
      jcts.push_back(*job.end_s - job.submit_s);
      delay_sum += job.first_start_s.value_or(*job.end_s) - job.submit_s;
    } else {
      ++metrics.unfinished;
    }
  }
  metrics.completed = jcts.size();
  if (jcts.empty()) return;
  double jct_sum = 0;
  for (double jct : jcts) jct_sum += jct;
  const auto n = static_cast<double>(jcts.size());
  metrics.avg_jct_s = jct_sum / n;
  metrics.avg_queueing_delay_s = delay_sum / n;
  metrics.median_jct_s = median_of(jcts);
  metrics.p99_jct_s = nearest_rank(std::move(jcts), 0.99);
}

void add_deadlines(const std::vector<JobRecord>& jobs, RunMetrics& metrics) {
  for (const JobRecord& job : jobs) {
    if (!job.deadline_s) continue;
    ++metrics.with_deadline;
    if (!job.end_s || *job.end_s > *job.deadline_s) ++metrics.deadline_misses;
  }
  if (metrics.with_deadline > 0) {
    metrics.deadline_miss_rate =
        static_cast<double>(metrics.deadline_misses) / static_cast<double>(metrics.with_deadline);
  }
}

// The run's span: first submit to last completion, over jobs that were not rejected.
std::pair<double, double> run_span(const std::vector<JobRecord>& jobs) {
  double first = std::numeric_limits<double>::infinity();
  double last = -std::numeric_limits<double>::infinity();
  for (const JobRecord& job : jobs) {
    if (job.rejected) continue;
    first = std::min(first, job.submit_s);
    if (job.end_s) last = std::max(last, *job.end_s);
  }
  return {first, last};
}

void add_usage(const std::vector<UsageStep>& usage, int total_gpus, RunMetrics& metrics) {
  if (metrics.makespan_s <= 0 || total_gpus <= 0) return;
  const double capacity = static_cast<double>(total_gpus);
  for (const UsageStep& step : usage) {
    metrics.peak_allocation_ratio =
        std::max(metrics.peak_allocation_ratio, step.allocated / capacity);
  }
}

}  // namespace

RunMetrics compute_metrics(const std::vector<JobRecord>& jobs, const std::vector<UsageStep>& usage,
                           int total_gpus) {
  RunMetrics metrics;
  metrics.jobs = jobs.size();
  add_job_statistics(jobs, metrics);
  add_deadlines(jobs, metrics);
  const auto [first, last] = run_span(jobs);
  if (metrics.completed == 0 || !(last > first)) return metrics;
  metrics.makespan_s = last - first;
  if (total_gpus > 0) {
    const UsageIntegral sum = integrate(usage, first, last);
    const double capacity = static_cast<double>(total_gpus) * metrics.makespan_s;
    metrics.gpu_utilization = sum.busy / capacity;
    metrics.gpu_allocation_ratio = sum.allocated / capacity;
  }
  add_usage(usage, total_gpus, metrics);
  return metrics;
}

std::vector<UsageBucket> usage_over_time(const std::vector<UsageStep>& usage, int total_gpus,
                                         double start_s, double end_s, std::size_t buckets) {
  std::vector<UsageBucket> out;
  if (!(end_s > start_s) || total_gpus <= 0 || buckets == 0) return out;
  const double width = (end_s - start_s) / static_cast<double>(buckets);
  const double capacity = static_cast<double>(total_gpus) * width;
  out.reserve(buckets);
  // One pass: each bucket integrates only the steps that overlap it.
  std::size_t first_step = 0;
  for (std::size_t b = 0; b < buckets; ++b) {
    const double from = start_s + width * static_cast<double>(b);
    const double to = b + 1 == buckets ? end_s : from + width;
    while (first_step + 1 < usage.size() && usage[first_step + 1].time_s <= from) ++first_step;
    const UsageIntegral sum = integrate(usage, from, to, first_step);
    out.push_back({from, to, sum.busy / capacity, sum.allocated / capacity});
  }
  return out;
}

}  // namespace fastgpu::sim
