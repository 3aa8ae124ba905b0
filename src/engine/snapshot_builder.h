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
// The first two are the engine's own limits; a snapshot of every queued job (for the
// engine's kept scheduler, src/engine/kept_schedule.h) lists the jobs they keep back in
// `on_hold` instead of leaving them out.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/accounting.h"
#include "engine/queued_jobs.h"
#include "engine/recent_ends.h"
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
  std::vector<Withheld> withheld;  // queued jobs that do not fit the cluster now
  // With QueueSelection::kAll: the jobs of snapshot.queue over a limit of the engine's
  // own (CPU slots, an array's %N) now, or held by a user, which the scheduler must hold.
  std::vector<JobId> on_hold;
};

// A running job the balancer moves (sched::Move): the engine stopped it, to start it again
// on `to` when its run ends. Until then the snapshot shows it where the scheduler that
// decided the move put it: on `to` since `at`, its run so far added to its attained
// service; the memory its process still holds on the GPUs it leaves is another's (foreign).
struct MovingJob {
  std::vector<std::uint32_t> to;
  store::WallTime at;
  std::optional<Bytes> bytes_per_gpu;  // what it held where it was, and will hold on `to`
};
using MovingJobs = std::map<JobId, MovingJob>;

// Per-signature history as the store last gave it, kept between ticks: a queue of many
// distinct commands otherwise costs one history query per signature per tick. The engine
// forgets a signature when a job with it ends (its end adds a history entry); the builder
// drops the signatures no longer queued.
using HistoryCache = std::map<std::string, sched::SignatureHistory>;

// What a tick's snapshot is built from: the engine's options, its latest GPU reading and
// accounting, the time, its mirrors of the store's QUEUED and RUNNING jobs (and, for the
// fair policy, of its recent ends), and its history cache (kept between ticks).
struct TickSources {
  const EngineOptions& options;
  const GpuReading& reading;
  const UsageMeter& meter;
  store::WallTime now;
  const QueuedJobs& queued;
  const RunningJobs& running;
  HistoryCache& history;
  const MovingJobs* moving = nullptr;  // none when null
  // Refreshed for this tick (fair_oldest_end_s()); when null, the fair policy's ends are
  // read from the store.
  const RecentEnds* recent_ends = nullptr;

  // The move of a running job, or null.
  const MovingJob* move_of(JobId job) const {
    if (moving == nullptr) return nullptr;
    auto found = moving->find(job);
    return found == moving->end() ? nullptr : &found->second;
  }
};

enum class QueueSelection {
  kAdmitted,  // the queued jobs that may start now (the pure schedule()'s input)
  kAll,       // every queued job that fits the cluster; those over a limit or held in `on_hold`
};

Result<TickInput> build_tick_input(const TickSources& sources,
                                   QueueSelection selection = QueueSelection::kAdmitted);

// The GPUs of the tick's snapshot: the reading's, with the memory held by others, and a
// placeholder (unhealthy) for a GPU a running job holds that the probe no longer lists.
// `attribution`: how the GPU processes are attributed to jobs (bind_supervisors), when the
// caller reads them too; bound here when null.
std::vector<sched::GpuState> tick_gpus(const TickSources& sources,
                                       const PidAttribution* attribution = nullptr);

// The GPUs and the running jobs of a tick's snapshot, without the queue: what the ledger
// holds now (GET /v1/gpus), the GPU processes attributed with `attribution`. Attained service
// is left at 0 (no store read): the ledger does not read it.
sched::Snapshot running_snapshot(const TickSources& sources, const PidAttribution& attribution);

// Whether a queued job is under a limit of the engine's own: a CPU-only job when CPU slots
// are counted, a member of an array with a running limit.
bool engine_limited(const EngineOptions& options, const store::JobRecord& job);

// The state of a job another waits for, when it has not ended ("QUEUED", "RUNNING");
// nullptr when it has.
const char* unended_state(JobId job, const QueuedJobs& queued, const RunningJobs& running);

// The engine-limited queued jobs that may start now: CPU-only jobs within the free CPU
// slots (highest priority first, then submission order), members of %N arrays within N
// running (lowest index first), none that waits on a job not ended. Reads the queue's
// indexes: it costs what it admits, and the waiting jobs it passes.
std::vector<const store::JobRecord*> admitted_limited(const TickSources& sources);

// Whether a decision can read the history of `job`'s signature: every signature under a
// policy that ranks by learned run times (`every_signature`), else "auto" memory of a GPU
// job.
bool reads_history(const sched::Job& job, bool every_signature);

// A signature's history, oldest first, from `cache` or else read from the store (newest
// first there) and kept in `cache`.
Result<sched::SignatureHistory> cached_history(store::StateStore& store, HistoryCache& cache,
                                               const std::string& signature);

// Whether the policy ranks by learned run times (then every signature's history counts);
// true for a policy it does not know.
bool policy_reads_run_estimates(const std::string& policy);

// The scheduler's end state for a job that ended in `state`.
sched::EndState end_state_of(store::JobState state);
// The scheduler's record of a job that ended.
sched::FinishedJob finished_job(const store::JobRecord& job);

// The fair policy weighs the jobs that ended at or after this time (ten half-lives before
// `now`: older usage weighs under 0.1%).
double fair_oldest_end_s(const EngineOptions& options, store::WallTime now);

// Run time of a job's earlier, ended runs, from its transitions (RUNNING -> anything).
double ended_run_seconds(const std::vector<store::Transition>& transitions);

}  // namespace fastgpu::engine
