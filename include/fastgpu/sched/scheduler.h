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

#include <memory>
#include <optional>
#include <string>
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
  // With backfill, or when a preemption makes room for the blocked job.
  std::optional<Reservation> reservation;
};

// Why a queued job did not start at the last schedule() call, as the scheduler's state
// reads since (Scheduler::why_waiting): what a user asks of a job that waits.
struct WaitReason {
  enum class Kind {
    kDependency,  // waits for `jobs` to end (or to succeed: Dependency::kind)
    kHeld,        // held by the caller (Scheduler::hold): a limit of the caller's own
    kReserved,    // the first job in the order that does not fit; `reservation` when backfill
                  // made one (GPUs held for it from a time), else it waits for room
    kResources,   // does not fit the GPUs' free memory and compute now
    kPriority,    // fits now, but starting it would delay `jobs` (the first blocked job),
                  // which comes before it in the order
    kNextPass,    // nothing holds it back: the next schedule() call considers it
  };
  Kind kind = Kind::kNextPass;
  std::vector<JobId> jobs;
  std::optional<Reservation> reservation;  // kReserved: its own; kPriority: the blocked job's
  std::string detail;  // one line for people: what it needs and what the GPUs have now
};
// "dependency", "held", "next in line", "resources", "priority", "next pass".
const char* wait_kind_name(WaitReason::Kind kind);

Result<ScheduleResult> schedule(const Snapshot& snapshot, const SchedulerConfig& config);

// The same scheduler kept between calls, for callers that schedule often over a large
// queue (the simulator, benchmarks, a busy daemon). It holds the snapshot itself and is
// told what changed; each schedule() call then costs about what it places, not what waits
// (the queue stays ordered, the ledger and the release times stay built). Decisions are
// exactly those of the pure schedule() on snapshot(): schedule(s.snapshot(), config) and
// s.schedule(now) agree, and the tests hold them to it.
//
// A caller that keeps limits of its own (CPU slots, an array's %N) holds a queued job with
// hold(): it stays queued (jobs may depend on it, cancel() finds it) but does not start.
// snapshot() leaves it out, with every job waiting on it, so the agreement above stands.
//
// Start and Move decisions are applied to the held state when they are returned (the job
// is running there from now on); a caller that fails to start a job reports it with
// finish(). Preempt and MemoryAction change nothing until the caller reports the outcome
// with requeue() or finish().
// Thread-safety: none; one caller at a time.
class Scheduler {
 public:
  // Checks the config and the GPUs as validate_config and validate_snapshot do.
  static Result<std::unique_ptr<Scheduler>> create(const SchedulerConfig& config,
                                                   std::vector<GpuState> gpus);
  // The state of a whole snapshot, after validate_snapshot().
  static Result<std::unique_ptr<Scheduler>> from_snapshot(const Snapshot& snapshot,
                                                          const SchedulerConfig& config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Adds a waiting job. Refused (nothing changes) when validate_job refuses it, its id is
  // already known, or it depends on a job never seen.
  Status enqueue(Job job);
  // Removes a waiting job (cancelled); it counts as ended for jobs that depend on it.
  // gpu_seconds: what its earlier runs used, as the caller accounts them (the fair policy
  // weighs it); none by default.
  Status cancel(JobId job, double now_s, std::optional<double> gpu_seconds = std::nullopt);
  // A job that ended before this scheduler knew of it, so that jobs depending on it can be
  // enqueued (a scheduler built from a snapshot lists only the finished jobs the queue
  // named then). Refused when the id is already known.
  Status add_finished(FinishedJob done);
  // Whether the id is queued, running or finished here.
  bool knows(JobId job) const;
  // A running job ended: its GPUs are free from now on. gpu_seconds: the GPU time it used,
  // as the caller accounts it (the engine, from its records), for the fair policy; by
  // default its run time over every run, times its GPUs and share.
  Status finish(JobId job, EndState state, double now_s,
                std::optional<double> gpu_seconds = std::nullopt);
  // A running job was stopped and waits again, with its attained service grown by the run.
  // It comes back not held, whatever hold() said before it started.
  Status requeue(JobId job, double now_s);
  // Keeps a queued job from starting (on_hold true) or lets it compete again (false), for
  // limits the caller keeps itself (CPU slots, an array's %N). A held job stays queued:
  // jobs that depend on it keep waiting, and it keeps its rank. While held it is invisible
  // to schedule(), as a job waiting on a dependency is. Holding a held job, or releasing
  // one not held, changes nothing. Refused (not_found) when the job is not queued.
  // Costs about what an enqueue does (a class's update), not the queue's length.
  Status hold(JobId job, bool on_hold);
  // What the probe says of a GPU now (memory held by others, health, measurements).
  // REQUIRES: a GPU given at create(), on the same node.
  Status update_gpu(const GpuState& gpu);
  // Past runs of a signature, for "auto" memory and sjf estimates: all of them at once,
  // or one more run (either measurement may be missing).
  void set_history(const std::string& signature, SignatureHistory history);
  void add_run(const std::string& signature, std::optional<Bytes> peak_bytes,
               std::optional<double> run_seconds);
  // A running job's measured peak memory per GPU, for memory-pressure decisions.
  Status set_used_bytes(JobId job, std::optional<Bytes> used_bytes);

  Result<ScheduleResult> schedule(double now_s);

  // Why a queued job waits: its dependencies, a hold, or, against the GPUs as the ledger
  // holds them now (after the last call's decisions and any end told since), whether it
  // fits and which job's turn comes first. Refused (not_found) when the job is not queued.
  // Costs one placement attempt, and with_detail a pass over the GPUs (for `detail`, left
  // empty without it: a listing of 100,000 jobs that shows only the kind); changes nothing.
  Result<WaitReason> why_waiting(JobId job, bool with_detail = true) const;

  // The held state as a plain snapshot (queue in id order), at the last schedule() time.
  // Jobs on hold() are left out, and so is every queued job that depends on one, directly
  // or through others: the pure schedule() must neither start them nor refuse the
  // snapshot for a dependency on a job it does not see. Costs a pass over the queue.
  Snapshot snapshot() const;
  std::size_t queued() const;
  std::size_t running() const;

  struct State;  // defined in src/sched/scheduler_state.h; opaque to users
  // The held state, for the scheduler's own tests (its definition is private to src/sched).
  const State& state() const { return *state_; }

 private:
  explicit Scheduler(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Checks the config alone: known policy and strategy names, ranges.
Status validate_config(const SchedulerConfig& config);
// Checks one job against the cluster it will run on; the engine calls it at submit time so
// that a bad job is refused there instead of failing every later schedule() call.
Status validate_job(const Job& job, const std::vector<GpuState>& gpus);
// Checks the whole snapshot: each job, unique ids, known GPUs, dependency cycles.
Status validate_snapshot(const Snapshot& snapshot);

}  // namespace fastgpu::sched
