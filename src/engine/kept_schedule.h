// The scheduler the engine keeps between ticks (sched::Scheduler, as the simulator keeps
// it), so that a tick costs what changed and what it starts, not what waits. Building the
// whole snapshot and calling the pure schedule() every tick cost a daemon with 100,000
// queued GPU jobs about 75 ms per tick (docs/benchmarks.md).
//
// It is rebuilt from a snapshot of every queued job (build_tick_input with
// QueueSelection::kAll) whenever it cannot be trusted: at the first tick; when one of the
// engine's mirrors of the store was read whole again (a change the mirror could not apply,
// or its resync every minute); after a change the scheduler refused (such as a dependency
// on a job that ended before the last rebuild); when the GPUs change beyond their readings
// (one more or less, another size or node); and after EngineOptions::rebuild_scheduler_after_ends
// ends, so that it forgets the ended jobs it holds for dependencies (about 100 bytes each) instead
// of growing for as long as the daemon runs.
//
// The fair policy ranks users by the GPU time of their recently ended jobs. Those are kept in
// memory (RecentEnds, each read from the store once, when it ends) for the snapshots, and each
// end is told to the kept scheduler with the GPU time the store records for it, so that its
// keys are the pure schedule()'s on the snapshot: the scheduler's own account would count the
// job's share and its earlier runs, the store's does not. One more difference there: the
// snapshot weighs the ends of the last ten half-lives, the kept scheduler also older ones
// (under 0.1% of their weight) until its next rebuild.
//
// Between rebuilds the engine tells it each change it makes to a job (submitted,
// cancelled, ended, requeued, held or released by its user) and each end of a signature's run
// (history_changed); they are applied in order at the next decide(), which also passes on the GPUs
// whose reading changed, the running jobs' measured peaks, the history of any new signature a
// decision reads, and which jobs under the engine's own limits (CPU slots, an array's %N) may start
// now (the others are held: sched::Scheduler::hold).
//
// Its decisions are those of the pure schedule() on the snapshot the builder makes each
// tick (QueueSelection::kAdmitted), with one difference in what it knows: a running job
// started at the tick that claimed it, where the store has the supervisor's start, a few
// milliseconds later. EngineOptions::check_schedule compares the two at every tick.
// Thread-safety: none; the engine's callers serialize.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/snapshot_builder.h"
#include "fastgpu/sched/scheduler.h"

namespace fastgpu::engine {

class KeptSchedule {
 public:
  explicit KeptSchedule(std::size_t ends_before_rebuild)
      : ends_before_rebuild_(ends_before_rebuild) {}

  // The store took these jobs as QUEUED.
  void submitted(std::span<const JobId> jobs);
  // A queued job ended without running: cancelled, or its dependency failed.
  void cancelled(JobId job, store::WallTime at);
  // A running job's end was recorded, other than a preemption that requeues it.
  void ended(JobId job, store::JobState state, store::WallTime at);
  // A running job that stopped at `stopped` is QUEUED again.
  void requeued(JobId job, store::WallTime stopped);
  // A queued job was held by a user (`fastgpu hold`), or released: told to the kept
  // scheduler (sched::Scheduler::hold, which costs what an enqueue does), not rebuilt.
  void user_held(JobId job, bool held);
  // A run of `signature` ended, so its history grew (nullopt: a run of some signature).
  void history_changed(std::optional<std::string_view> signature);
  // Rebuilds at the next decide().
  void invalidate();
  // Ended jobs were deleted from the store: the fair policy's ended jobs are read again, and
  // the scheduler rebuilt from them, at the next decide().
  void ended_jobs_purged();

  struct Decided {
    std::vector<sched::Decision> decisions;
    // Queued jobs that do not fit the GPUs now; listed when the snapshot was built whole.
    std::vector<Withheld> withheld;
    // Why the kept scheduler was rebuilt for this tick; empty when it was not.
    std::string rebuilt;
    // With EngineOptions::check_schedule: the kept scheduler's decisions and the pure
    // schedule()'s, when they differed (the pure ones are in `decisions`); else empty.
    std::string diverged;
  };
  // This tick's decisions. Start and Move decisions are already applied to the kept
  // scheduler: a claim or launch that fails must be told as an end (ended()), or the
  // mirrors invalidated.
  Result<Decided> decide(const TickSources& sources);

  // Why a queued job did not start at the last decide() (sched::Scheduler::why_waiting);
  // not_found when the scheduler does not hold it (submitted since, or withheld), and
  // unavailable before the first decide().
  Result<sched::WaitReason> why_waiting(JobId job, bool with_detail) const;
  // Whether the job was submitted since the last decide(): the scheduler has not
  // considered it yet. One compare (a listing asks it of every job). A job requeued since
  // needs no such question: the scheduler still holds it as running (not_found).
  bool unseen(JobId job) const;

 private:
  struct Change {
    enum class Kind { kSubmitted, kCancelled, kEnded, kRequeued, kHeld, kReleased };
    Kind kind;
    JobId job;
    sched::EndState end = sched::EndState::kSucceeded;
    double at_s = 0.0;
  };

  void forget_changes();
  // The pure schedule() on the tick's snapshot.
  Result<Decided> decide_pure(const TickSources& sources) const;
  Status read_recent_ends(const TickSources& sources);
  const sched::FinishedJob* recorded_end(const TickSources& sources, JobId job) const;
  Result<Decided> rebuild(const TickSources& sources, std::string why);
  // Why the kept scheduler cannot be fed this tick; nullopt when it can.
  std::optional<std::string> untrusted(const TickSources& sources) const;
  // Brings the kept scheduler up to date; an error means it must be rebuilt.
  Status feed(const TickSources& sources);
  Status update_gpus(const TickSources& sources);
  // `gone`: the submitted jobs skipped because they already left the queue.
  Status apply_change(const TickSources& sources, const Change& change, std::set<JobId>& gone);
  Status apply_user_hold(const TickSources& sources, const Change& change);
  // A queued job entered the kept scheduler: held if the engine limits it.
  Status entered(const EngineOptions& options, const store::JobRecord& job);
  Status add_ended_targets(const TickSources& sources, const sched::Job& job);
  Status give_history(const TickSources& sources, const sched::Job& job);
  Status refresh_history(const TickSources& sources);
  Status update_holds(const TickSources& sources);
  Result<Decided> run(const TickSources& sources, Decided decided);
  void check(const TickSources& sources, Decided& decided);

  std::unique_ptr<sched::Scheduler> kept_;
  // Under fair: the ended jobs it weighs, for the snapshots (a rebuild's, the check's), and
  // the mirrors' reads() when they were last read whole.
  RecentEnds recent_ends_;
  std::uint64_t ends_queued_reads_ = 0;
  std::uint64_t ends_running_reads_ = 0;
  std::vector<Change> changes_;
  // The smallest id submitted since the last decide().
  std::optional<JobId> first_unseen_;
  std::set<std::string> history_changed_;
  bool every_history_changed_ = false;
  // What the kept scheduler was last given.
  std::vector<sched::GpuState> gpus_;
  std::set<std::string> signatures_;  // the histories it holds
  bool every_signature_ = false;      // the policy reads every signature's history
  std::set<JobId> released_;          // engine-limited jobs it may start
  // The mirrors' reads() when it was built.
  std::uint64_t queued_reads_ = 0;
  std::uint64_t running_reads_ = 0;
  const std::size_t ends_before_rebuild_;
  std::size_t ends_ = 0;  // jobs it was told ended since it was built
};

}  // namespace fastgpu::engine
