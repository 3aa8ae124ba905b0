// The engine: the one loop that binds the GPU probe, the scheduler, the launcher, the
// store and the clock (DESIGN.md section 2). Each tick() reads the GPUs, collects ended
// jobs, asks sched::schedule() for decisions, applies them through the Launcher, and
// records everything in the StateStore. The daemon runs tick() on a timer; tests drive it
// with a simulated probe, a fake launcher, an in-memory store and a manual clock.
//
// Crash safety: a job is claimed in the store (QUEUED -> RUNNING) before it is launched,
// and open() re-adopts every RUNNING job a previous engine left behind, so a restart after
// kill -9 runs nothing twice and loses nothing.
//
// Thread-safety: not thread-safe; the daemon serialises calls (one mutex around the engine).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"
#include "fastgpu/gpu/probe.h"
#include "fastgpu/sched/config.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

using store::WallTime;

// Each running job's supervisor pid, and the job.
using SupervisorJobs = std::unordered_map<pid_t, JobId>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime now() = 0;
};

// std::chrono::system_clock, truncated to microseconds.
std::unique_ptr<Clock> make_system_clock();

struct EngineOptions {
  // Not owned; must outlive the engine.
  GpuProbe* probe = nullptr;
  exec::Launcher* launcher = nullptr;
  store::StateStore* store = nullptr;
  Clock* clock = nullptr;

  sched::SchedulerConfig scheduler;
  std::filesystem::path state_dir;  // logs in state_dir/logs/<id>.log, runs in state_dir/runs/<id>
  double kill_grace_s = 10.0;
  double sample_interval_s = 1.0;  // GPU samples recorded at most this often
  // GPU samples older than this are deleted (0 keeps them all): at 1 s on 8 GPUs the table
  // gains 690,000 rows a day. Checked at most once an hour, in short deletes.
  double sample_retention_s = 7 * 24 * 3600.0;
  // Jobs that ended longer ago than this are forgotten, as `fastgpu purge` does (their
  // records, transitions, events and logs; a job an unended job waits on is kept); 0, the
  // default, keeps them all. Checked at the first tick and then hourly, 5,000 jobs a tick.
  double job_retention_s = 0.0;

  // Which job a GPU process belongs to (nullopt: not one of ours), given the supervisor pid
  // of each running job that has one, from the engine's mirror of its RUNNING jobs (so the
  // attribution reads no store). Used for foreign memory (processes of no job of ours) and
  // for per-job peak GPU memory. Empty (the default): nothing is attributed, so per-job
  // peak memory is unknown and a GPU's foreign memory is estimated as its processes' memory
  // minus what our jobs on it declared. The daemon plugs in the exec component's
  // /proc-based attribution (exec::attribute_pids).
  std::function<std::optional<JobId>(std::uint32_t pid, const SupervisorJobs& supervisors)>
      attribute_pid;
  // The node name GPUs are reported under (a multi-GPU job stays within one node).
  std::string node_name = "local";
  // Launch each job as its owner (JobSpec::uid and that user's primary group). Only a
  // daemon running as root for several users sets this; otherwise jobs run as we are.
  bool run_jobs_as_owner = false;
  // At most this many CPU-only jobs (gpus 0) run at once; 0: no limit. Those beyond it wait
  // in the queue, higher priority first, then in submission order. The daemon sets it to
  // the number of CPUs unless told otherwise (--cpu-slots).
  std::size_t cpu_slots = 0;
  // Each tick also builds the whole snapshot and calls the pure schedule(), and when the
  // scheduler the engine keeps between ticks decides otherwise, the tick warns
  // ("schedule.diverged", with both decisions) and applies the pure decisions. For tests
  // (the daemon sets it from FASTGPU_CHECK_SCHEDULE=1): it costs every tick what keeping
  // the scheduler saves.
  bool check_schedule = false;
  // The scheduler kept between ticks holds every job that ended since it was built (for
  // jobs depending on them); it is rebuilt after this many ends to forget them.
  std::size_t rebuild_scheduler_after_ends = 50'000;
};

// The outcome of one tick, for logs and tests.
struct TickReport {
  std::vector<JobId> started;
  std::vector<JobId> ended;
  std::vector<JobId> preempted;
  std::vector<std::string> warnings;  // e.g. memory-pressure warnings, a GPU lost
  std::vector<std::string> notes;     // what the daemon's log says it did: ended jobs purged
  // Why the scheduler the engine keeps between ticks was rebuilt from the whole queue at
  // this tick; empty when it was told only what changed (src/engine/kept_schedule.h).
  std::string schedule_rebuilt;
};

// What a running job has used so far, from the GPU samples taken while it ran (the same
// figures its accounting gets at its end; docs/engine.md).
struct RunningUsage {
  // Per GPU; nullopt until a sample measured one. For a run adopted after a restart it goes
  // on from the peak the store kept.
  std::optional<Bytes> peak_gpu_mem;
  std::optional<double> mean_util_percent;
  // Up to the last sample, apportioned on shared GPUs and prorated at the run's start (an
  // estimate); nullopt while any of its GPUs' energy counters has not been read across the
  // run so far.
  std::optional<double> energy_joules;
};

// A running job's hold on one GPU, as the scheduler's ledger counts it.
struct GpuHold {
  JobId job;
  std::uint32_t uid = 0;
  std::string name;     // the job's --name; empty when it has none
  std::string command;  // its program (argv[0]) or shell string, for a job without a name
  Bytes bytes = 0;      // per GPU, as placed (auto resolved, or the whole GPU)
  double share = 1.0;   // --share; 1: the GPU to itself
};

// One GPU as the scheduler's ledger holds it now (the last reading, the jobs running now):
// what FastGPU's jobs hold of it and what is left for a new job.
struct GpuLedger {
  std::uint32_t index = 0;
  bool open = true;          // healthy and still listed: new jobs may start on it
  bool gone = false;         // no longer listed; kept for the jobs still placed on it
  Bytes usable_bytes = 0;    // total - driver-reserved - foreign
  Bytes foreign_bytes = 0;   // held by processes of no FastGPU job
  Bytes declared_bytes = 0;  // the jobs' holds, summed
  Bytes free_bytes = 0;      // the most a job starting now may ask here (0 when not open)
  double share_used = 0.0;   // R_i: the jobs' shares, times the GPU's r_i
  // The largest --share a job starting now may ask here: 1 (the whole GPU) when no job
  // holds it, 0 when one holds it whole or it is not open.
  double free_share = 0.0;
  std::vector<GpuHold> jobs;  // by job id
  // The GPU processes of the last reading that belong to a running job, in the reading's order.
  struct Process {
    std::uint32_t pid = 0;
    JobId job;
    std::uint32_t uid = 0;  // the job's user
  };
  std::vector<Process> processes;
};

// Why a queued job has not started (`fastgpu show`, the queue's PLACED column).
struct WaitingReason {
  // One of: "held", "dependency", "array limit", "cpu slots", "next in line", "resources",
  // "priority", "unfit", "next pass" (docs/cli.md says what each means).
  std::string reason;
  std::string detail;  // one line: what it waits for, and what the GPUs have now
};

// A running job that was asked to stop and has not ended yet (`fastgpu queue`, `show`): its
// processes got SIGTERM at `since`, and get SIGKILL at `kill_at` if still running then. The
// store holds it RUNNING until it has ended.
struct Stopping {
  // Why: "cancelled" (its user or root cancelled it), "time limit" (it ran past its time
  // limit), "preempted" (the scheduler stops it to requeue it), "moving" (the balancer moves
  // it to other GPUs), or "memory" (over its declared GPU memory: requeued or killed).
  std::string cause;
  std::optional<std::uint32_t> by_uid;  // who cancelled it ("cancelled"), when known
  std::string detail;  // the scheduler's or the memory check's words; empty when none
  WallTime since{};    // when SIGTERM went out
  WallTime kill_at{};  // since + the grace period
  // When SIGTERM went out for an earlier request (a cancel after a preemption), that
  // request's cause and who asked, and when this one (cause, by_uid) was asked: a cancel is
  // told at its own moment, not the preemption's. nullopt when this request sent SIGTERM.
  struct Earlier {
    std::string cause;
    std::optional<std::uint32_t> by_uid;
  };
  std::optional<Earlier> sigterm_for;
  std::optional<WallTime> asked;
};

class Engine {
 public:
  // Opens the engine over its seams and re-adopts RUNNING jobs left by a previous engine.
  static Result<std::unique_ptr<Engine>> open(EngineOptions options);
  virtual ~Engine() = default;

  // Validates every job against the cluster as the probe sees it (GPUs, memory per GPU)
  // and stores the batch whole or not at all. The error names the job, field and limit.
  Result<std::vector<JobId>> submit(std::span<const store::JobSpec> jobs) {
    return submit(jobs, {});
  }
  // The same, with refusals the caller made already (each with its batch job: the API's of
  // a dependency on another user's job): told with the engine's own, all at once, in batch
  // order; nothing is stored when there is any.
  virtual Result<std::vector<JobId>> submit(std::span<const store::JobSpec> jobs,
                                            std::vector<Status> refused_by_caller) = 0;

  // Cancels a queued or running job of `uid` (root, uid 0, may cancel anyone's).
  // A running job is stopped through the launcher and ends CANCELLED. `by` names the caller
  // in the job's end reason ("cancelled by ana"): their login name, which the API reads
  // before it takes the engine's lock, as a name service may be slow to answer.
  virtual Status cancel(JobId job, std::uint32_t uid, std::string_view by) = 0;
  // The same, the caller named "uid 1000".
  Status cancel(JobId job, std::uint32_t uid) {
    return cancel(job, uid, "uid " + std::to_string(uid));
  }

  // Changes a queued job of `uid` (root, uid 0, may change anyone's): holds or releases it,
  // or changes its priority, time limit, grace or deadline (store::QueuedJobChange), with a
  // "job.change" event saying what changed and who asked. The next tick orders and places
  // the queue with the change. Of a running job only the time limit changes, through its
  // supervisor: its owner may shorten it, and lengthen or remove it too unless the daemon
  // serves several users (run_jobs_as_owner), where only root may, as Slurm lets only an
  // operator raise a running job's limit. The new limit must lie ahead of the time the job
  // has run.
  // Refused with kFailedPrecondition when the job has ended, is another user's, is held by
  // root and `uid` releases it, or is running and the change is anything else or may not
  // be made (the message says why and what to do); kInvalidArgument when the changed job is
  // invalid; kUnavailable while a running job is still starting.
  virtual Status change_job(JobId job, std::uint32_t uid, store::QueuedJobChange change) = 0;

  // One turn of the loop.
  virtual Result<TickReport> tick() = 0;

  // Why a queued job waits, as of the last tick (its decisions, the GPUs as read then);
  // nullopt when the job is not queued. Costs one placement attempt, not the queue; and
  // with_detail a pass over the GPUs (without it, `detail` may be empty: for listings).
  virtual std::optional<WaitingReason> why_waiting(JobId job, bool with_detail) const = 0;

  // Whether a RUNNING job is on its way out: asked to stop by this engine or the one before
  // it (a cancel, a preemption, a move, a memory kill), or past its time limit (start time
  // plus time limit, when its supervisor sends SIGTERM). nullopt when the job is not
  // RUNNING or nothing asked it to stop. `job` is the job as the caller read it from the
  // store (its start time and time limit); the clock is read now.
  virtual std::optional<Stopping> stopping(const store::JobRecord& job) const = 0;

  // Replaces the scheduler's settings (`fastgpu daemon reload`): the next tick orders and
  // places the queue under them; running jobs stay where they are. Refused, changing
  // nothing, when validate_config refuses them.
  virtual Status set_scheduler_config(const sched::SchedulerConfig& config) = 0;

  // The GPUs as last read (simulated or NVML); "simulated" in reading.source says so.
  virtual const GpuReading& last_reading() const = 0;

  // Each GPU's row of the ledger now, by index: the GPUs last read, and those still held by
  // a running job that the probe no longer lists.
  virtual std::vector<GpuLedger> gpu_ledger() const = 0;

  // How many queued jobs are held (`fastgpu hold`, `submit --hold`), as of the queue the
  // engine keeps (every user's).
  virtual std::size_t held_jobs() const = 0;

  // What a job running under this engine has used so far (a job adopted after a restart:
  // since it was adopted); nullopt for a job it does not meter.
  virtual std::optional<RunningUsage> running_usage(JobId job) const = 0;

  // Jobs that ended before `ended_before` were purged from the store (`fastgpu purge`): the
  // fair policy forgets them too, as a daemon started now would (it reads the ended jobs it
  // weighs again at the next tick, where some of them ended within its window).
  virtual void purged(store::WallTime ended_before) = 0;
};

}  // namespace fastgpu::engine
