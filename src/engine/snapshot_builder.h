// Builds the scheduler's input for one tick from the store, the latest GPU reading and the
// in-memory accounting: GPUs (with foreign memory), queued jobs (minus those withheld),
// running jobs with their placed bytes, the finished jobs dependencies and the fair policy
// need, and per-signature history.
//
// Queued jobs are withheld from the snapshot (not from the store) when:
//   - their array already runs its limit of members (--array 0-15%4);
//   - they are CPU-only and EngineOptions::cpu_slots CPU-only jobs already run (or would);
//   - they no longer fit the cluster the probe sees (a GPU vanished): they wait, named in
//     `withheld`, instead of making every schedule() call fail;
//   - they depend on a job that is itself withheld or between states.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/accounting.h"
#include "engine/queued_jobs.h"
#include "engine/running_jobs.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::engine {

struct Withheld {
  JobId job;
  std::string why;
};

struct TickInput {
  sched::Snapshot snapshot;
  // Every job of snapshot.queue; the records belong to the engine's QueuedJobs and stay
  // valid until it next changes.
  std::map<JobId, const store::JobRecord*> queued;
  std::vector<Withheld> withheld;  // queued jobs that do not fit the cluster now
};

// Per-signature history as the store last gave it, kept between ticks: a queue of many
// distinct commands otherwise costs one history query per signature per tick. The engine
// forgets a signature when a job with it ends (its end adds a history entry); the builder
// drops the signatures no longer queued.
using HistoryCache = std::map<std::string, sched::SignatureHistory>;

// `queued` and `running`: the engine's mirrors of the store's QUEUED and RUNNING jobs;
// `history`: the engine's cache.
Result<TickInput> build_tick_input(const EngineOptions& options, const GpuReading& reading,
                                   const UsageMeter& meter, store::WallTime now,
                                   const QueuedJobs& queued, const RunningJobs& running,
                                   HistoryCache& history);

// Run time of a job's earlier, ended runs, from its transitions (RUNNING -> anything).
double ended_run_seconds(const std::vector<store::Transition>& transitions);

}  // namespace fastgpu::engine
