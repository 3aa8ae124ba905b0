// The batch report: what every job of a batch cost and what the batch as a whole achieved
// (DESIGN.md step 5), from the jobs' records in the store. Rendered as a text table for a
// terminal and as JSON; both layouts are documented in docs/batch-report.md and stable.
//
// Missing stays missing: a figure the records do not carry (a job that never started, a
// GPU whose energy counter was not read) is nullopt here, "n/a" in the table and null in
// JSON, never 0. Sums say how many jobs they cover.
//
// Units: seconds, bytes, joules, percent (0-100). Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

struct JobReport {
  JobId id;
  std::string name;                          // empty when the job has none
  std::string user;                          // who submitted it
  std::optional<std::uint32_t> array_index;  // for array members
  store::JobState state = store::JobState::kQueued;
  bool started = false;          // it ran (has a start time)
  std::optional<double> wait_s;  // latest start - submit
  std::optional<double> run_s;   // end - start of the latest run
  // GPUs held by the latest run, or asked for when the job never started.
  int gpus = 0;
  std::vector<std::uint32_t> gpu_indices;  // of the latest run
  // The engine's accounting when it recorded one, else run time x GPUs held.
  std::optional<double> gpu_seconds;
  std::optional<Bytes> peak_gpu_mem;
  std::optional<double> mean_util_percent;
  std::optional<double> energy_joules;
  // Apportioned on a shared GPU or prorated over a sample interval (of either figure).
  bool energy_is_estimate = false;
  // Set, with energy_joules nullopt, when the energy counters of energy_unread_gpus could
  // not be read across the run: the joules measured on its other GPUs, a lower bound.
  std::optional<double> energy_at_least_joules;
  std::vector<std::uint32_t> energy_unread_gpus;
};

// Below this a makespan or a sum of run times says more about the daemon's start-up and
// scheduling latency (milliseconds to a tick) than about the jobs: no speedup is given when
// the makespan or the run times added up are under it, and no GPU utilization (a share of
// the makespan) when the makespan is; each says why instead (speedup_missing_reason,
// utilization_missing_reason).
inline constexpr double kShortestComparableSeconds = 1.0;

struct BatchSummary {
  std::size_t jobs = 0;
  // One entry per state, in lifecycle order (QUEUED ... PREEMPTED), zeros included.
  std::vector<std::pair<store::JobState, std::size_t>> state_counts;
  bool finished = false;  // every job is COMPLETED, FAILED, CANCELLED or TIMEOUT
  // First submission to the last end of any job (so far, when not finished).
  std::optional<double> makespan_s;
  // Sum over the jobs that have GPU-seconds, a job that never started counting 0;
  // gpu_seconds_jobs says how many.
  std::optional<double> busy_gpu_seconds;
  std::size_t gpu_seconds_jobs = 0;
  std::optional<double> gpu_hours;
  std::uint32_t cluster_gpus = 0;
  // GPU-seconds weighted by each job's compute share (a job at share 0.25 holds a quarter
  // of its GPUs), so packed jobs never add up to more than the GPUs there are.
  std::optional<double> allocated_gpu_seconds;
  // allocated_gpu_seconds / (cluster_gpus x makespan_s), in percent.
  std::optional<double> utilization_percent;
  // Why utilization_percent is missing although its figures are there: the makespan is
  // under kShortestComparableSeconds; empty otherwise.
  std::string utilization_missing_reason;
  std::optional<double> energy_joules;
  bool energy_is_estimate = false;  // some job's energy is apportioned
  std::size_t energy_jobs = 0;      // jobs whose energy was measured
  // The measured run times added up: the same jobs run one after another.
  std::optional<double> sequential_s;
  std::size_t run_time_jobs = 0;
  std::optional<double> speedup;  // sequential_s / makespan_s
  // Jobs that ran at the same time as another job on one of their GPUs. Sharing a GPU
  // lengthens a job's run time, so when there are any, sequential_s is more than the same
  // jobs would take one at a time and the speedup is an upper bound: 16 jobs packed eight to
  // a GPU, each computing all the time, read 7.9x where one at a time was as fast.
  std::size_t shared_gpu_jobs = 0;
  // Why speedup is missing although both its figures are there: one of them is under
  // kShortestComparableSeconds; empty otherwise.
  std::string speedup_missing_reason;
};

struct BatchReport {
  std::vector<JobReport> jobs;  // by increasing id
  BatchSummary summary;
};

// `cluster_gpus`: the GPUs the batch could use (for utilization; 0 leaves it missing).
BatchReport make_batch_report(const std::vector<store::JobRecord>& jobs,
                              std::uint32_t cluster_gpus);
// One job's figures, as the batch report gives them (`fastgpu show`, `fastgpu history`).
JobReport make_job_report(const store::JobRecord& job);

// The table: one line per job, then the summary; plain ASCII, "n/a" for missing figures.
std::string render_batch_report_table(const BatchReport& report);
// The per-job lines of that table alone, with a USER column after NAME when `with_user`,
// and the footnote on estimated energy when a job has one.
std::string render_job_report_table(const std::vector<JobReport>& jobs, bool with_user);

// {"jobs": [...], "summary": {...}}; missing figures are null.
nlohmann::ordered_json batch_report_json(const BatchReport& report);

// "350 J", "12.3 kJ", "4.5 MJ".
std::string format_energy(double joules);

// A job's energy in words, as `fastgpu show` and the `run` report give it: "350 J",
// "350 J (estimate: ...)", "at least 350 J (GPU 3's energy counter could not be read)";
// nullopt when none was measured.
std::optional<std::string> energy_words(const JobReport& job);

}  // namespace fastgpu::engine
