// The event-driven simulator: replays a trace on a simulated cluster through the same
// sched::schedule() the daemon uses, with a simulated clock and a simulated launcher.
//
// Event model (docs/simulator.md):
// - Events are job arrivals (submit times divided by time_scale), job completions, and,
//   for preemptive policies only, wake-ups at the moments a running job's rank can change
//   (it passes min_run_before_preempt_s; for las, it crosses a queue threshold), plus an
//   optional fixed quantum. All events at one instant are applied together (completions,
//   then arrivals) and schedule() is called once for the batch.
// - The launcher applies decisions at once: Start runs a job for its remaining service
//   (trace duration minus service already attained); Preempt puts it back in the queue
//   keeping its attained service; Move restarts it on the new GPUs without losing service;
//   MemoryAction requeue/kill requeue or end the job (the simulator reports no measured
//   memory, so the scheduler never asks for these in practice).
// - schedule() is skipped only where it provably decides nothing: an empty queue, or a
//   non-preemptive policy on a cluster with no GPU share left and no CPU-only job queued.
// - A job that can never run (more GPUs than any node has, more memory per GPU than any
//   node's GPUs, no duration in the trace, or invalid numbers) is rejected at its arrival
//   and reported with the reason; it never enters the queue.
// Deterministic: the same trace, cluster and options give the same records.
// Thread-safety: simulate() is reentrant; its inputs are read-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sched/config.h"
#include "fastgpu/sched/snapshot.h"
#include "fastgpu/sim/cluster_spec.h"
#include "fastgpu/sim/metrics.h"
#include "fastgpu/sim/trace.h"

namespace fastgpu::sim {

// JobRecord::reject_reason of a job whose trace gives no duration (openb's never do), so a
// caller can point at a way to use such a trace (`simulate --protocol fgd`).
inline constexpr const char* kNoDurationReason = "the trace gives no duration";

struct SimOptions {
  sched::SchedulerConfig scheduler;  // policy, strategy, backfill, ...
  // Submit times (and deadlines, keeping each job's slack) are divided by this; 4 replays
  // the trace four times as fast, a more congested cluster. Must be > 0.
  double time_scale = 1.0;
  // Trace jobs are restartable (checkpointed training), so preemptive policies may evict.
  bool restartable = true;
  // When > 0, each job's time limit is its duration times this (>= 1), so EASY backfill
  // has limits to plan with. 0: no time limits (trace jobs carry none).
  double time_limit_factor = 0;
  // With a time_limit_factor: round each limit up as people do when they type one (1, 2,
  // 4, 8, 12 hours, 1, 2, 3 days, then whole weeks; rounded_time_limit()). Limits then rank
  // jobs only coarsely, which keeps sjf-by-limit from being an oracle in disguise.
  bool round_time_limits = false;
  // Preemptive policies: also wake the scheduler every quantum_s while jobs wait (0: only
  // at the exact moments ranks can change).
  double quantum_s = 0;
  // Per-GPU memory for GPUs whose cluster spec gives none; 0 picks the largest per-GPU
  // memory any job declares, so memory never rejects a job there.
  std::uint64_t default_gpu_memory_bytes = 0;
  // Record finished run times per job signature, so sjf/las without an oracle can learn.
  bool learn_history = true;
  // Called about every 1% of jobs settled (completed or rejected) with (settled, total).
  std::function<void(std::size_t, std::size_t)> progress;
};

struct SimResult {
  std::string cluster;  // ClusterSpec::name
  std::string policy;
  int total_gpus = 0;
  std::vector<JobRecord> jobs;   // one per trace job, in trace order
  std::vector<UsageStep> usage;  // occupancy steps, in time order
  RunMetrics metrics;
  std::size_t schedule_calls = 0;  // schedule() invocations (for benchmarks)
  std::size_t events = 0;          // arrivals + completions + wake-ups processed
};

// Replays `trace` on `cluster` under `options`. Errors: an invalid scheduler config or
// options (the message names the value), a cluster with no GPU, or a schedule() error
// (a bug: the simulator only feeds it validated jobs).
Result<SimResult> simulate(const Trace& trace, const ClusterSpec& cluster,
                           const SimOptions& options);

// `seconds` rounded up to the next of 1, 2, 4, 8, 12, 24, 48, 72, 168 hours, beyond that
// to whole weeks.
double rounded_time_limit(double seconds);

// The cluster's GPUs as the scheduler sees them: indexes 0..N-1 in node order, named by
// node; GPUs without memory in the spec get `default_memory_bytes`.
std::vector<sched::GpuState> gpu_states(const ClusterSpec& cluster,
                                        std::uint64_t default_memory_bytes);

}  // namespace fastgpu::sim
