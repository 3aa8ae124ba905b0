// Launcher: the seam between the engine and the processes that run jobs.
//
// The local implementation starts one small supervisor per job in its own session
// (setsid). The supervisor starts the job in its own process group, enforces the time
// limit (SIGTERM to the group, SIGKILL after the grace period), forwards stop requests
// and changes of the time limit, and writes the job's outcome and resource use to a file in the
// job's run folder before it exits. So a daemon killed with SIGKILL loses nothing: running jobs
// keep running, and the restarted daemon adopts their supervisors and reads the outcome when they
// end.
//
// Units: seconds for durations, bytes for memory. Times are store::WallTime (microseconds
// since the Unix epoch).
// Thread-safety: one thread calls a Launcher (the engine loop).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "fastgpu/core/ids.h"
#include "fastgpu/core/result.h"
#include "fastgpu/core/units.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::exec {

using store::WallTime;

struct LaunchRequest {
  JobId job;
  std::vector<std::string> argv;         // exactly one of argv and shell_command is non-empty
  std::string shell_command;             // run with /bin/sh -c
  std::string working_dir;               // absolute path
  std::vector<std::string> environment;  // "KEY=VALUE", the job's whole environment as submitted
  // The job also gets CUDA_VISIBLE_DEVICES (these indexes, comma-separated; empty for a
  // CPU-only job), CUDA_DEVICE_ORDER=PCI_BUS_ID, FASTGPU_JOB_ID, FASTGPU_ARRAY_INDEX (when
  // set) and FASTGPU_GPU_MEM_QUOTA (bytes per GPU, when set).
  std::vector<std::uint32_t> gpus;
  std::optional<Bytes> gpu_mem_quota;
  std::optional<std::uint32_t> array_index;
  std::optional<double> time_limit_s;  // nullopt: no limit
  double kill_grace_s = 10.0;          // between SIGTERM and SIGKILL
  std::filesystem::path log_path;      // stdout and stderr, appended
  // The run's record, written by its supervisor (src/exec/run_files.h); its folder is
  // created if missing and holds every supervisor's shared log.
  std::filesystem::path run_file;
  // Run as this user (a system-wide daemon runs jobs as their owner); nullopt: as we are.
  // A uid without a gid gets the user's primary group.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  // Supplementary groups, when gid is set and we are root; nullopt: the user's groups as
  // initgroups() would set them. The launcher looks them up before the supervisor starts,
  // so the supervisor (a static program) reads no user database.
  std::optional<std::vector<gid_t>> groups;
  // The job's umask, set just before its exec; nullopt: the supervisor's (the daemon's).
  std::optional<mode_t> umask;
  // The job's resource limits, set just before it takes its user; empty: the supervisor's
  // (the daemon's). A hard limit above the supervisor's own, which an unprivileged
  // supervisor cannot raise, is lowered to it, with a line in the job's log saying so.
  ResourceLimits limits;
};

struct Launched {
  pid_t supervisor_pid = 0;  // also the session id of every process of the job
  pid_t job_pid = 0;         // the job's first process, leader of its process group
  WallTime started{};
};

// How a launch ended: the job runs (its pids) or it could not be started.
struct LaunchResult {
  JobId job;
  Result<Launched> launched;
};

// How a run ended. Handled exhaustively (std::visit).
struct Exited {
  int code = 0;
};
struct Signaled {
  int signal = 0;
};
struct TimedOut {  // stopped at its time limit (SIGTERM, then SIGKILL after the grace period)
  // How the job's first process then ended: the signal that killed it (SIGTERM, or SIGKILL
  // when the grace period ran out), or the status it exited with when it caught SIGTERM.
  // Both nullopt in the record of a supervisor older than these fields.
  std::optional<int> signal;
  std::optional<int> exit_code;
};
struct Stopped {  // stopped on request (cancel or preempt)
  bool preempted = false;
  // How the job's process ended: the signal that killed it (SIGTERM, or SIGKILL after the
  // grace period), or its exit status if it caught SIGTERM and exited. Both unknown in a
  // record written before these fields.
  std::optional<int> signal = std::nullopt;
  std::optional<int> exit_code = std::nullopt;
};
struct LaunchFailed {  // the job never ran (bad working folder, exec failed, ...)
  std::string message;
  // 127 or 126 when the program could not be run, as a shell reports it (`submit --wait`
  // exits with it); unset when the job failed before (its folder, its limits, its user).
  std::optional<int> exit_code = std::nullopt;
};
struct Lost {  // the supervisor vanished without writing an outcome (e.g. SIGKILLed)
  std::string message;
};
using Outcome = std::variant<Exited, Signaled, TimedOut, Stopped, LaunchFailed, Lost>;

// Resource use of the job's processes (getrusage of its children); nullopt: not known.
struct Usage {
  std::optional<double> user_cpu_s;
  std::optional<double> system_cpu_s;
  std::optional<Bytes> max_rss_bytes;
};

struct Finished {
  JobId job;
  Outcome outcome;
  WallTime started{};
  WallTime ended{};
  Usage usage;
};

enum class StopReason { kCancel, kPreempt };

class Launcher {
 public:
  virtual ~Launcher() = default;

  // Starts the job's supervisor; returns once the job's process exists (or failed to).
  // An exec failure of the job itself is reported later by poll() as LaunchFailed.
  // Errors (the job did not start; nothing to poll for): kInvalidArgument for a bad
  // request (the message names the field), kFailedPrecondition when the job could not
  // be started before its process existed (e.g. its log cannot be opened, or it is
  // already running), kUnavailable when the supervisor could not be spawned or did not
  // report in time, kIoError when the run folder cannot be written.
  virtual Result<Launched> launch(const LaunchRequest& request) = 0;

  // launch() without the wait: starts each request's supervisor and returns. Each launch
  // is settled exactly once, with launch()'s result and errors: in the vector returned here
  // when it is settled at once (a bad request, a failed spawn), else by a later
  // poll_launches(), once the supervisor has reported. So the caller's loop goes on while
  // supervisors start, in parallel. stop() works on a launch not yet settled (the
  // supervisor acts on it once the job runs); poll() reports a job's end only after its
  // launch was settled. The default launches at once and settles everything here.
  virtual std::vector<LaunchResult> begin_launches(std::span<const LaunchRequest> requests) {
    std::vector<LaunchResult> settled;
    settled.reserve(requests.size());
    for (const LaunchRequest& request : requests) {
      settled.push_back({request.job, launch(request)});
    }
    return settled;
  }
  // Launches begun earlier that are now settled, each once. Never blocks.
  virtual std::vector<LaunchResult> poll_launches() { return {}; }

  // Asks the job to stop: SIGTERM to its process group, SIGKILL after the grace period.
  // poll() reports it as Stopped once it is gone. Unknown job: kNotFound.
  virtual Status stop(JobId job, StopReason reason) = 0;

  // Changes a running job's time limit (nullopt: none), still counted from the job's start.
  // Its supervisor sends SIGTERM at once when the new limit has already passed, and writes
  // a line about the change in the job's log. A restarted launcher's adopt() leaves the
  // limit as the supervisor has it. Errors: kNotFound for a job not running under this
  // launcher, kUnavailable while the job is still starting (ask again in a moment),
  // kFailedPrecondition when its run already ended or its supervisor cannot take a change
  // (one started by an earlier version of FastGPU: the message says so).
  virtual Status set_time_limit(JobId job, std::optional<double> time_limit_s) = 0;

  // Takes back a job that a previous daemon launched (read from the store after a
  // restart): its supervisor pid and run record (or an earlier version's run folder). A
  // supervisor that already ended is reported by the next poll() with the outcome it wrote
  // (or Lost).
  // supervisor_pid 0 means the store never learnt it (the daemon died between claiming the
  // job and recording its pids): the launcher then looks for the record the supervisor
  // starts before it starts the job. No record: kNotFound, meaning the job never started
  // and may safely be queued again.
  // A recorded pid that now belongs to another process (its start time differs from the
  // one in the record) is not the supervisor: it is treated as ended.
  virtual Status adopt(JobId job, pid_t supervisor_pid, const std::filesystem::path& run_file) = 0;

  // Jobs that ended since the last call, each reported exactly once. Never blocks.
  virtual std::vector<Finished> poll() = 0;
};

}  // namespace fastgpu::exec
