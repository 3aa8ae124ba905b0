// Everything a scheduler call may be tuned by. Plain data with defaults that suit a
// shared multi-GPU server; validate() checks names and ranges.
#pragma once

#include <string>
#include <vector>

#include "fastgpu/core/units.h"
#include "fastgpu/sched/decision.h"

namespace fastgpu::sched {

// What to do with an "auto" memory job whose signature has no history yet.
enum class AutoWithoutHistory {
  kWholeGpu,  // reserve the GPU's whole usable memory: safe, never over-commits
};

struct SchedulerConfig {
  std::string policy = "fifo";    // fifo, priority, sjf, srtf, edf, las, fair
  std::string strategy = "pack";  // pack, spread
  bool backfill = true;           // EASY backfill on top of the policy's order
  // A job that needs more GPUs than any node has may take whole nodes (as multi-node jobs
  // do on a cluster; the simulator replays such traces). Off: a gang stays on one node.
  bool multi_node = false;

  // priority: effective priority = priority + aging_per_hour * hours waited.
  double aging_per_hour = 1.0;
  // sjf: order by the true duration (simulation only) instead of estimate or limit.
  bool sjf_oracle = false;
  // las: attained-service thresholds in GPU-seconds between the discretized queues.
  std::vector<double> las_thresholds_gpu_s = {3600.0, 36000.0};
  // fair: usage half-life, and the GPU-seconds assumed for a queued job with no limit.
  double fair_half_life_s = 86400.0;
  double fair_default_job_gpu_s = 3600.0;
  // Preemptive policies (srtf, las) leave a job alone for this long after it starts.
  double min_run_before_preempt_s = 60.0;

  // Balancer: move restartable jobs from an overloaded GPU to an idle one.
  bool balance = false;
  double overload_utilization = 0.95;  // measured utilization at or above: overloaded
  double idle_utilization = 0.10;      // measured utilization at or below: idle
  double balance_min_gain = 0.5;       // LB_src - LB_dst after the move must exceed this
  double min_run_before_move_s = 300.0;

  // Memory pressure.
  MemoryActionKind memory_action = MemoryActionKind::kRequeue;
  Bytes memory_tolerance_bytes = 0;  // measured use may exceed the ledger by this much

  // History: "auto" memory is this percentile of observed peaks times (1 + margin).
  double auto_percentile = 0.95;
  double auto_margin = 0.10;
  AutoWithoutHistory auto_without_history = AutoWithoutHistory::kWholeGpu;
};

}  // namespace fastgpu::sched
