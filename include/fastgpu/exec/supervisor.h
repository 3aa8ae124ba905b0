// The per-job supervisor: the process LocalLauncher starts for each job (the
// `fastgpu-supervisor` program is a thin main around run_supervisor()).
//
// It makes itself a session leader (its pid is the session id of every job process),
// ignores SIGHUP (it outlives the daemon and any terminal), becomes a child subreaper (the
// job's orphans are re-parented to it, so it can kill and reap them), starts the run's
// record, starts the job in its own process group, enforces the time limit, turns
// SIGTERM (cancel) and SIGUSR1 (preempt) into SIGTERM to the job's group and SIGKILL after
// the grace period, takes a new time limit from its record on SIGUSR2, kills whatever is left of
// the job when its first process exits, and appends the outcome to the record before it exits. See
// src/exec/run_files.h for the record and docs/exec.md for what users see.
#pragma once

#include <unistd.h>

#include <filesystem>

namespace fastgpu::exec {

// Supervises the job described by the launch request (JSON, request_to_json) read whole from
// `request_fd`, until it ends; run_file is its record (the launcher passes the request on
// stdin, and the record's folder must exist). `notify_fd` (-1:
// none) receives one line once the job's process exists or could not be made:
//   "started <job pid> <start time, microseconds since the epoch>\n"
//   "failed <message>\n"
// and is then closed. Returns the supervisor's exit status: 0 once the outcome is written
// (whatever the job did), 1 when the job could not be started at all, 2 when not even the
// record could be written, 3 when the daemon that launched it was gone before it started.
// REQUIRES: called in a single-threaded process that may exit afterwards; SIGTERM, SIGINT,
// SIGUSR1, SIGUSR2 and SIGCHLD are blocked (it blocks them itself; the launcher spawns it with them
// blocked so that a stop request cannot arrive before it is ready).
int run_supervisor(const std::filesystem::path& run_file, int notify_fd = -1,
                   int request_fd = STDIN_FILENO);

}  // namespace fastgpu::exec
