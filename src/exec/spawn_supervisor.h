// Spawning a supervisor and waiting for its first report (used by LocalLauncher::launch).
// Thread-safety: callable from any thread; posix_spawn makes no unsafe calls in the child.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"

namespace fastgpu::exec {

class SupervisorSpawner;

// What the supervisor said on its notify pipe.
struct SupervisorReport {
  pid_t supervisor_pid = 0;
  bool started = false;  // true: job_pid and started are set; false: message says why not
  pid_t job_pid = 0;
  WallTime started_at{};
  std::string message;
};

// A supervisor spawned as `supervisor_path RUN_FILE --notify-fd 3`, with the request JSON
// on its stdin (a memfd), stdout and stderr appended to the shared supervisor.log beside
// run_file (supervisor_log_of), no other descriptor of
// ours, default signal dispositions and SIGTERM/SIGINT/SIGUSR1/SIGCHLD blocked (so a stop
// request waits until it is ready). Its one-line report is read with
// await_supervisor_report (blocking, up to timeout_s) or poll_supervisor_report (not);
// several can be started before any report is read, so they start in parallel. A silent
// supervisor's pid is in the error's context; the caller must kill and reap it.
// With a spawner (supervisor_spawner.h) the supervisor is its clone, in the same state and
// the caller's child all the same; without one, or when it fails, a posix_spawn.
struct SpawnedSupervisor {
  pid_t pid = 0;
  int report_fd = -1;   // read end of the notify pipe; closed once the report is read
  std::string partial;  // what poll_supervisor_report has read of the report so far
};
Result<SpawnedSupervisor> start_supervisor(const std::filesystem::path& supervisor_path,
                                           const std::filesystem::path& run_file,
                                           std::string_view request_json,
                                           SupervisorSpawner* spawner = nullptr);
Result<SupervisorReport> await_supervisor_report(SpawnedSupervisor& spawned,
                                                 const std::filesystem::path& run_file,
                                                 double timeout_s);

// What the supervisor has reported so far, without blocking: nullopt until its whole report
// line (or the end of the pipe) has arrived.
std::optional<Result<SupervisorReport>> poll_supervisor_report(
    SpawnedSupervisor& spawned, const std::filesystem::path& run_file);

// Parses the report line ("started PID MICROS" or "failed MESSAGE").
Result<SupervisorReport> parse_supervisor_report(const std::string& line);

}  // namespace fastgpu::exec
