// Spawning a supervisor and waiting for its first report (used by LocalLauncher::launch).
// Thread-safety: callable from any thread; posix_spawn makes no unsafe calls in the child.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"

namespace fastgpu::exec {

// What the supervisor said on its notify pipe.
struct SupervisorReport {
  pid_t supervisor_pid = 0;
  bool started = false;  // true: job_pid and started are set; false: message says why not
  pid_t job_pid = 0;
  WallTime started_at{};
  std::string message;
};

// Spawns `supervisor_path RUN_DIR --notify-fd 3` with stdin from /dev/null, stdout and
// stderr appended to run_dir/supervisor.log, no other descriptor of ours, default signal
// dispositions and SIGTERM/SIGINT/SIGUSR1/SIGCHLD blocked (so a stop request waits until
// it is ready), then waits up to timeout_s for its one-line report.
// Errors: kUnavailable when the spawn fails or the supervisor stays silent (its pid is in
// the message's context; the caller must still reap it: see `spawned_pid`).
Result<SupervisorReport> spawn_supervisor(const std::filesystem::path& supervisor_path,
                                          const std::filesystem::path& run_dir, double timeout_s,
                                          pid_t& spawned_pid);

// Parses the report line ("started PID MICROS" or "failed MESSAGE").
Result<SupervisorReport> parse_supervisor_report(const std::string& line);

}  // namespace fastgpu::exec
