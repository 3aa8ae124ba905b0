// A run's record: the one file a supervisor keeps for one attempt of one job,
// state_dir/runs/<job>.<attempt>.jsonl, JSON Lines the supervisor appends, one write each:
//
//   {"supervisor": {"pid", "start_time_ticks"}}  before the job starts (the file is created
//                                                 afresh), so a restarted daemon can find and
//                                                 verify a supervisor the store never learnt of
//   {"job": {"pid", "started_us", "time_limit_s"}}
//                                                 once the job's first process exists, with
//                                                 the limit it started with (null: none)
//   {"limit": {"time_limit_s"}}                   a new time limit, appended by the launcher,
//                                                 which then sends the supervisor SIGUSR2
//   {"outcome": {"outcome", ..., "started_us", "ended_us", "usage"}}
//                                                 how the job ended; last, just before the
//                                                 supervisor exits
//
// One file per run, not a folder of files: on ext4 each new file or folder was a measurable
// part of a short job's cost (docs/benchmarks.md, trivial jobs). The launch request reaches
// the supervisor on its standard input, not through a file, and every supervisor's own
// messages go to one shared runs/supervisor.log.
//
// A line is written with one write() on an O_APPEND descriptor, so a process killed with
// SIGKILL leaves whole lines; a reader ignores a last line without its newline (a write cut
// by a machine crash). No fsync: that is the store's own promise (SQLite WAL,
// synchronous=NORMAL). After a power loss a run whose record was lost reads as never started
// (queued again) or lost (FAILED), never as one to run twice.
//
// Run folders of earlier versions (runs/<job>/<attempt>/ with supervisor.pid, job.pid and
// outcome.json) are still read, so a daemon upgraded while jobs run re-adopts them.
// Thread-safety: plain functions over the file system.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"

namespace fastgpu::exec {

// Every supervisor's own output (normally empty), beside the run records.
inline constexpr std::string_view kSupervisorLogFile = "supervisor.log";

struct SupervisorPid {
  pid_t pid = 0;
  std::uint64_t start_time_ticks = 0;  // /proc/<pid>/stat field 22: tells a reused pid apart
};

// A running job's time limit, in seconds from its start; nullopt: none.
struct TimeLimit {
  std::optional<double> seconds;
  bool operator==(const TimeLimit&) const = default;
};

struct JobPid {
  pid_t pid = 0;
  WallTime started{};
  // The limit the job started with; nullopt in a record of a supervisor older than changes
  // of a running job's limit, which cannot take one.
  std::optional<TimeLimit> time_limit = std::nullopt;
};

// How the job ended: a Finished without the job id (the record belongs to one job).
struct RunOutcome {
  Outcome outcome;
  WallTime started{};
  WallTime ended{};
  Usage usage;
};

// What a run record says so far.
struct RunRecord {
  std::optional<SupervisorPid> supervisor;
  std::optional<JobPid> job;
  std::optional<RunOutcome> outcome;
  // The limit the supervisor holds now: the last limit line's, else the job line's; nullopt
  // when the supervisor cannot take a change (see JobPid) or the job line is not there yet.
  std::optional<TimeLimit> time_limit;
};

// The supervisors' shared log for the run records in run_file's folder.
std::filesystem::path supervisor_log_of(const std::filesystem::path& run_file);

// Creates the record afresh (truncating what an earlier run left) with its supervisor line.
Status start_run_record(const std::filesystem::path& run_file, const SupervisorPid& pid);
// Append one line each. kIoError naming the file when it cannot be written.
Status append_job_pid(const std::filesystem::path& run_file, const JobPid& pid);
Status append_outcome(const std::filesystem::path& run_file, const RunOutcome& outcome);
Status append_time_limit(const std::filesystem::path& run_file, const TimeLimit& limit);

// The record at `path`, or, when `path` is a folder, an earlier version's run folder.
// kNotFound when neither exists (or the folder holds none of the files); kInvalidArgument
// naming the file and line for a line that is not understood.
Result<RunRecord> read_run_record(const std::filesystem::path& path);

// Writes all of `contents` to `fd`, retrying short writes and EINTR; kIoError naming
// `what` (e.g. "the run record '/x'") otherwise.
Status write_all(int fd, std::string_view contents, const std::string& what);

// The whole file. kNotFound when it does not exist, kIoError when it cannot be read.
Result<std::string> read_whole_file(const std::filesystem::path& path);

// JSON text forms: the request travels on the supervisor's standard input; both are
// exposed for tests (round trips).
std::string request_to_json(const LaunchRequest& request);
Result<LaunchRequest> request_from_json(std::string_view text);
std::string outcome_to_json(const RunOutcome& outcome);
Result<RunOutcome> outcome_from_json(std::string_view text);

WallTime wall_now();

}  // namespace fastgpu::exec
