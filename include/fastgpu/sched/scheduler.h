// The scheduler's entry point: a snapshot and a config in, decisions out.
//
// schedule() is pure: no clock, no I/O, no globals, no randomness. The same snapshot and
// config always give the same decisions in the same order. Each call:
//   1. validates the input (bad input is an error Status, never a crash);
//   2. names jobs overrunning their memory declaration on GPUs under pressure;
//   3. orders the queue by the policy and starts jobs in that order while they fit the
//      ledger, with EASY backfill past the first blocked job (a later job starts only if
//      it provably does not delay that job's reservation), and, for preemptive policies,
//      preempts lower-ranked restartable jobs the first blocked job needs;
//   4. optionally proposes balancing moves.
// Thread-safety: reentrant; concurrent calls on different snapshots are fine.
#pragma once

#include <optional>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sched/config.h"
#include "fastgpu/sched/decision.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

// Where and when the first blocked job will start at the latest, as backfill computed it.
struct Reservation {
  JobId job;
  double start_s = 0.0;
  std::vector<int> gpus;  // GpuState::index values
};

struct ScheduleResult {
  std::vector<Decision> decisions;
  std::optional<Reservation> reservation;
};

Result<ScheduleResult> schedule(const Snapshot& snapshot, const SchedulerConfig& config);

// Checks the config alone: known policy and strategy names, ranges.
Status validate_config(const SchedulerConfig& config);
// Checks one job against the cluster it will run on; the engine calls it at submit time so
// that a bad job is refused there instead of failing every later schedule() call.
Status validate_job(const Job& job, const std::vector<GpuState>& gpus);
// Checks the whole snapshot: each job, unique ids, known GPUs, dependency cycles.
Status validate_snapshot(const Snapshot& snapshot);

}  // namespace fastgpu::sched
