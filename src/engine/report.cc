// The batch report's figures, from job records. Rendering is in report_render.cc.
#include "fastgpu/engine/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>

#include "fastgpu/core/units.h"

namespace fastgpu::engine {
namespace {

using store::JobRecord;
using store::JobState;
using store::WallTime;

constexpr std::array kStates = {JobState::kQueued,   JobState::kRunning,   JobState::kCompleted,
                                JobState::kFailed,   JobState::kCancelled, JobState::kTimeout,
                                JobState::kPreempted};

double seconds_between(WallTime from, WallTime to) {
  return std::chrono::duration<double>(to - from).count();
}

// `to - from` when both are known and in order; a clock that stepped back gives nothing.
std::optional<double> span(const std::optional<WallTime>& from, const std::optional<WallTime>& to) {
  if (!from || !to || *to < *from) return std::nullopt;
  return seconds_between(*from, *to);
}

// Adds `value` to `sum` (which starts missing) and counts it.
void add(std::optional<double>& sum, std::size_t& count, const std::optional<double>& value) {
  if (!value) return;
  sum = sum.value_or(0.0) + *value;
  ++count;
}

std::optional<double> makespan(const std::vector<JobRecord>& records) {
  std::optional<WallTime> first_submit;
  std::optional<WallTime> last_end;
  for (const JobRecord& record : records) {
    if (!first_submit || record.spec.submit_time < *first_submit) {
      first_submit = record.spec.submit_time;
    }
    if (record.end_time && (!last_end || *record.end_time > *last_end)) last_end = record.end_time;
  }
  return span(first_submit, last_end);
}

// How many of the jobs ran at the same time as another job on one of their GPUs: per GPU,
// the runs sorted by start; a run shares when it starts before an earlier one ends or the
// next one starts before it ends.
std::size_t jobs_that_shared_a_gpu(const std::vector<JobRecord>& records) {
  struct Run {
    WallTime start;
    WallTime end;
    std::size_t job;
  };
  std::map<std::uint32_t, std::vector<Run>> runs_by_gpu;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const JobRecord& record = records[i];
    if (!record.start_time || !record.end_time || *record.end_time <= *record.start_time) {
      continue;
    }
    for (std::uint32_t gpu : record.placed_gpus) {
      runs_by_gpu[gpu].push_back({*record.start_time, *record.end_time, i});
    }
  }
  std::vector<bool> shared(records.size(), false);
  for (auto& [gpu, runs] : runs_by_gpu) {
    std::sort(runs.begin(), runs.end(),
              [](const Run& a, const Run& b) { return a.start < b.start; });
    std::optional<WallTime> latest_end;
    for (std::size_t k = 0; k < runs.size(); ++k) {
      const bool after_earlier = latest_end && runs[k].start < *latest_end;
      const bool before_later = k + 1 < runs.size() && runs[k + 1].start < runs[k].end;
      if (after_earlier || before_later) shared[runs[k].job] = true;
      if (!latest_end || runs[k].end > *latest_end) latest_end = runs[k].end;
    }
  }
  return static_cast<std::size_t>(std::count(shared.begin(), shared.end(), true));
}

void add_ratios(BatchSummary& summary) {
  if (summary.busy_gpu_seconds) summary.gpu_hours = *summary.busy_gpu_seconds / 3600.0;
  const bool has_span = summary.makespan_s && *summary.makespan_s > 0;
  if (has_span && summary.allocated_gpu_seconds && summary.cluster_gpus > 0) {
    // A batch of instant jobs read "makespan 0s ... GPU util 43.9 %": a share of a span
    // made mostly of the daemon's latencies, as the speedup below.
    if (*summary.makespan_s < kShortestComparableSeconds) {
      summary.utilization_missing_reason =
          fmt::format("too short to measure: makespan {} (a share of it needs {} or more)",
                      format_duration(Seconds(*summary.makespan_s)),
                      format_duration(Seconds(kShortestComparableSeconds)));
    } else {
      summary.utilization_percent =
          100.0 * *summary.allocated_gpu_seconds / (summary.cluster_gpus * *summary.makespan_s);
    }
  }
  if (!summary.makespan_s || !summary.sequential_s) return;
  if (*summary.makespan_s < kShortestComparableSeconds ||
      *summary.sequential_s < kShortestComparableSeconds) {
    summary.speedup_missing_reason = fmt::format(
        "too short to compare: makespan {}, run times added up {} (a ratio needs both to be {} "
        "or more)",
        format_duration(Seconds(*summary.makespan_s)),
        format_duration(Seconds(*summary.sequential_s)),
        format_duration(Seconds(kShortestComparableSeconds)));
    return;
  }
  summary.speedup = *summary.sequential_s / *summary.makespan_s;
}

BatchSummary summarize(const std::vector<JobRecord>& records, const std::vector<JobReport>& jobs,
                       std::uint32_t cluster_gpus) {
  BatchSummary summary;
  summary.jobs = jobs.size();
  summary.cluster_gpus = cluster_gpus;
  for (JobState state : kStates) {
    const auto count = std::count_if(jobs.begin(), jobs.end(),
                                     [state](const JobReport& job) { return job.state == state; });
    summary.state_counts.emplace_back(state, static_cast<std::size_t>(count));
  }
  summary.finished = std::all_of(
      jobs.begin(), jobs.end(), [](const JobReport& job) { return store::is_terminal(job.state); });
  summary.makespan_s = makespan(records);
  std::size_t allocated_jobs = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const JobReport& job = jobs[i];
    // A job that never started used no GPU time: a known 0, not a gap in the sum.
    add(summary.busy_gpu_seconds, summary.gpu_seconds_jobs,
        job.started ? job.gpu_seconds : std::optional(0.0));
    if (job.gpu_seconds) {
      add(summary.allocated_gpu_seconds, allocated_jobs,
          *job.gpu_seconds * records[i].spec.util_share);
    }
    add(summary.energy_joules, summary.energy_jobs, job.energy_joules);
    add(summary.sequential_s, summary.run_time_jobs, job.run_s);
    // A lower bound is not in the sum, nor is its estimate mark.
    summary.energy_is_estimate =
        summary.energy_is_estimate || (job.energy_joules && job.energy_is_estimate);
  }
  summary.shared_gpu_jobs = jobs_that_shared_a_gpu(records);
  add_ratios(summary);
  return summary;
}

}  // namespace

JobReport make_job_report(const JobRecord& record) {
  JobReport job;
  job.id = record.id;
  job.name = record.spec.name;
  job.user = record.spec.user;
  if (record.spec.array) job.array_index = record.spec.array->index;
  job.state = record.state;
  job.wait_s = span(record.spec.submit_time, record.start_time);
  job.run_s = span(record.start_time, record.end_time);
  const bool ran = record.start_time.has_value();
  job.started = ran;
  job.gpus = ran ? static_cast<int>(record.placed_gpus.size()) : record.spec.gpus;
  job.gpu_indices = record.placed_gpus;
  job.gpu_seconds = record.accounting.gpu_seconds;
  if (!job.gpu_seconds && job.run_s && ran) job.gpu_seconds = *job.run_s * job.gpus;
  job.peak_gpu_mem = record.accounting.peak_gpu_mem;
  job.mean_util_percent = record.accounting.mean_util_percent;
  job.energy_joules = record.accounting.energy_joules;
  job.energy_at_least_joules = record.accounting.energy_at_least_joules;
  if (job.energy_at_least_joules) job.energy_unread_gpus = record.accounting.energy_unread_gpus;
  job.energy_is_estimate =
      record.accounting.energy_is_estimate && (job.energy_joules || job.energy_at_least_joules);
  return job;
}

BatchReport make_batch_report(const std::vector<store::JobRecord>& records,
                              std::uint32_t cluster_gpus) {
  std::vector<JobRecord> sorted = records;
  std::sort(sorted.begin(), sorted.end(),
            [](const JobRecord& a, const JobRecord& b) { return a.id < b.id; });
  BatchReport report;
  for (const JobRecord& record : sorted) report.jobs.push_back(make_job_report(record));
  report.summary = summarize(sorted, report.jobs, cluster_gpus);
  return report;
}

}  // namespace fastgpu::engine
