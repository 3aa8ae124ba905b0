// The files a supervisor keeps in a job's run folder, and how they are read and written.
//
//   request.json    the LaunchRequest, written by launch() before the supervisor starts
//   supervisor.pid  {"pid", "start_time_ticks"}: written before the job starts, so a
//                   restarted daemon can find (and verify) a supervisor the store never
//                   learnt about
//   job.pid         {"pid", "started_us"}: the job's first process, once it exists
//   outcome.json    how the job ended, its start and end times and resource use; written
//                   last, just before the supervisor exits
//   supervisor.log  the supervisor's own stdout and stderr (normally empty)
//
// Every file but the log is written whole (temp file, then rename), so a reader sees either
// nothing or the complete file, even after a process crash (see write_file_atomically).
// Thread-safety: plain functions over the file system.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"

namespace fastgpu::exec {

inline constexpr std::string_view kRequestFile = "request.json";
inline constexpr std::string_view kSupervisorPidFile = "supervisor.pid";
inline constexpr std::string_view kJobPidFile = "job.pid";
inline constexpr std::string_view kOutcomeFile = "outcome.json";
inline constexpr std::string_view kSupervisorLogFile = "supervisor.log";

struct SupervisorPid {
  pid_t pid = 0;
  std::uint64_t start_time_ticks = 0;  // /proc/<pid>/stat field 22: tells a reused pid apart
};

struct JobPid {
  pid_t pid = 0;
  WallTime started{};
};

// What outcome.json holds: a Finished without the job id (the folder belongs to one job).
struct RunOutcome {
  Outcome outcome;
  WallTime started{};
  WallTime ended{};
  Usage usage;
};

// Writes `contents` to `path` through a temporary file in the same folder, then renames it:
// readers see the old file or the whole new one, and a process killed with SIGKILL loses
// nothing (the page cache outlives it). No fsync: that is the store's own promise (SQLite
// WAL, synchronous=NORMAL). After a power loss a run whose files were lost reads as never
// started (queued again) or lost (FAILED), never as one to run twice. Two fsyncs per file
// cost several ms per job on the development VM.
Status write_file_atomically(const std::filesystem::path& path, std::string_view contents);

// The whole file. kNotFound when it does not exist, kIoError when it cannot be read.
Result<std::string> read_whole_file(const std::filesystem::path& path);

Status write_request(const std::filesystem::path& run_dir, const LaunchRequest& request);
Result<LaunchRequest> read_request(const std::filesystem::path& run_dir);

Status write_supervisor_pid(const std::filesystem::path& run_dir, const SupervisorPid& pid);
Result<SupervisorPid> read_supervisor_pid(const std::filesystem::path& run_dir);

Status write_job_pid(const std::filesystem::path& run_dir, const JobPid& pid);
Result<JobPid> read_job_pid(const std::filesystem::path& run_dir);

Status write_outcome(const std::filesystem::path& run_dir, const RunOutcome& outcome);
Result<RunOutcome> read_outcome(const std::filesystem::path& run_dir);

// JSON text forms, exposed for tests (round trips) and for readers of the files.
std::string request_to_json(const LaunchRequest& request);
Result<LaunchRequest> request_from_json(std::string_view text);
std::string outcome_to_json(const RunOutcome& outcome);
Result<RunOutcome> outcome_from_json(std::string_view text);

WallTime wall_now();

}  // namespace fastgpu::exec
