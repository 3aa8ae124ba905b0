// Evaluation metrics of one simulated run: JCT statistics, queueing delay, makespan, GPU
// utilization and allocation over time, deadline misses. Pure functions over plain records;
// the simulator fills the records, tests fill them by hand.
//
// Units: seconds on the simulator's clock; GPU counts in whole-GPU units (a job with
// 2 GPUs at share 0.5 allocates 1.0 GPU). Thread-safety: reentrant, plain values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace fastgpu::sim {

// What happened to one job of the trace.
struct JobRecord {
  std::size_t trace_index = 0;  // position in Trace::jobs
  double submit_s = 0;          // after time scaling
  std::optional<double> first_start_s;
  std::optional<double> end_s;       // set when the job completed
  double duration_s = 0;             // service it needed
  double gpus = 0;                   // GPU demand in whole-GPU units (count x share)
  std::optional<double> deadline_s;  // absolute, after time scaling
  int preemptions = 0;
  bool rejected = false;
  std::string reject_reason;  // why it could never run
};

// The cluster's GPU occupancy from `time_s` until the next step (or the end of the run).
struct UsageStep {
  double time_s = 0;
  int busy_gpus = 0;     // GPUs with at least one job on them
  double allocated = 0;  // sum of running jobs' GPU demand (count x share)
};

// One bucket of the utilization-over-time series.
struct UsageBucket {
  double start_s = 0;
  double end_s = 0;
  double utilization = 0;       // time-weighted busy GPUs / total GPUs in the bucket
  double allocation_ratio = 0;  // time-weighted allocated GPUs / total GPUs in the bucket
};

struct RunMetrics {
  std::size_t jobs = 0;        // records given
  std::size_t completed = 0;   // jobs with an end time
  std::size_t rejected = 0;    // jobs that could never run
  std::size_t unfinished = 0;  // neither: still waiting or running when the events ran out
  std::size_t preemptions = 0;

  // Over completed jobs; 0 when none completed. JCT = end - submit; queueing delay =
  // first start - submit. Median: mean of the two middle values for an even count.
  // p99: nearest rank, the value at position ceil(0.99 n) in ascending order.
  double avg_jct_s = 0;
  double median_jct_s = 0;
  double p99_jct_s = 0;
  double avg_queueing_delay_s = 0;
  // Last completion minus first submit over the records that were not rejected.
  double makespan_s = 0;

  // Time averages over [first submit, last completion] of busy GPUs / total GPUs
  // (utilization) and allocated GPU demand / total GPUs (allocation ratio); they differ
  // only when jobs share GPUs. peak_allocation_ratio is the highest value at any time.
  double gpu_utilization = 0;
  double gpu_allocation_ratio = 0;
  double peak_allocation_ratio = 0;

  // Jobs with a deadline, and those of them that did not complete by it (a job that never
  // completed counts as a miss). miss rate = missed / with_deadline; nullopt when none.
  std::size_t with_deadline = 0;
  std::size_t deadline_misses = 0;
  std::optional<double> deadline_miss_rate;
};

// The value at quantile q in [0, 1] of `values` by nearest rank (q = 0.99 gives p99).
// REQUIRES: values is non-empty.
double nearest_rank(std::vector<double> values, double q);
// Median (mean of the two middle values for an even count). REQUIRES: non-empty.
double median_of(std::vector<double> values);

// Summarizes a run. `usage` is in time order; `total_gpus` is the cluster's GPU count.
RunMetrics compute_metrics(const std::vector<JobRecord>& jobs, const std::vector<UsageStep>& usage,
                           int total_gpus);

// The usage steps averaged into `buckets` equal time buckets over [start_s, end_s].
// Empty when end_s <= start_s, total_gpus <= 0 or buckets == 0.
std::vector<UsageBucket> usage_over_time(const std::vector<UsageStep>& usage, int total_gpus,
                                         double start_s, double end_s, std::size_t buckets);

}  // namespace fastgpu::sim
