// A job as the scheduler sees it: what it asks for and how it may be treated.
//
// Units: bytes for memory, seconds (double) for durations and times. Times are on one
// clock chosen by the caller (the engine's wall clock or the simulator's clock); the
// scheduler only compares and subtracts them, it never reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/core/ids.h"
#include "fastgpu/core/units.h"

namespace fastgpu::sched {

using fastgpu::JobId;  // the strong id from core/ids.h

enum class DependencyKind {
  kAfterOk,   // start only after the other job ended successfully (Slurm's afterok)
  kAfterAny,  // start after the other job ended, however it ended (Slurm's afterany)
};

struct Dependency {
  JobId job;
  DependencyKind kind = DependencyKind::kAfterOk;
};

struct Job {
  JobId id;
  std::string signature;  // name or command; ties the job to its history
  std::string user;

  // (gpus and priority side by side: the scheduler keeps a copy of every queued job in a
  // hash node, 224 bytes so, not 256 as with each int padded alone.)
  int gpus = 1;                        // 0 means a CPU-only job that needs no GPU
  int priority = 0;                    // larger runs first under the priority policy
  std::optional<Bytes> gpu_mem;        // declared bytes per GPU; nullopt means "auto"
  double util_share = 1.0;             // u in (0, 1]; 1.0 means exclusive compute
  std::optional<double> time_limit_s;  // C_j; nullopt means no limit
  std::optional<double> deadline_s;    // absolute time, for edf
  std::vector<Dependency> dependencies;
  std::optional<int> array_index;
  bool restartable = false;  // may be preempted: signalled, then requeued
  double submit_time_s = 0.0;

  // Service the job already received in earlier runs (it was preempted and requeued),
  // in seconds of run time. Used by las and srtf.
  double attained_run_s = 0.0;
  // The true run time, known only to a simulator (sjf oracle mode, srtf).
  std::optional<double> oracle_duration_s;

  // A job with u = 1 owns its GPUs' compute: nothing shares a GPU with it.
  bool exclusive() const { return util_share >= 1.0; }
};

}  // namespace fastgpu::sched
