// A command run here, in the foreground of this terminal, on the GPUs of a running job:
// `alloc` (the job holds them for it) and `exec` (a job's GPUs, shared with it).
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/daemon_client.h"

namespace fastgpu::cli {

// The last of SIGINT, SIGTERM and SIGHUP that came since catch_stop_signals(); 0 for none.
extern volatile std::sig_atomic_t foreground_stop_signal;
// From now on those three set foreground_stop_signal, and interrupt a blocking call.
void catch_stop_signals();

// The GPUs a job record was placed on, as the foreground verbs say them: "GPU 1",
// "GPUs 0,1", or "no GPU".
std::string placed_gpus_text(const api::Json& job);

// A pidfd on process `pid` (pidfd_open(2)): readable once the process has ended; -1 when
// there is no such process (or the kernel has no pidfd_open, before Linux 5.3).
int open_pidfd(pid_t pid);

// The program and its arguments (argv, else /bin/sh -c `shell_command`, else the user's
// $SHELL, else /bin/sh).
std::vector<std::string> command_or_shell(const std::vector<std::string>& argv,
                                          const std::optional<std::string>& shell_command);

// `environment` without the variables FastGPU sets for a job, then `variables` (a job's).
std::vector<std::string> with_job_variables(const std::vector<std::string>& environment,
                                            const std::vector<std::string>& variables);

// Runs `command` in `working_dir` with `environment`, in the foreground: SIGINT and SIGQUIT
// (Ctrl-C, Ctrl-backslash) are its own, as a shell leaves them to the program in its foreground,
// and a SIGTERM or SIGHUP for this process is passed on to it. Meanwhile job `id` is watched: once
// it has ended (its time limit, a cancel) the GPUs are no longer the command's, which is said on
// stderr as `fastgpu VERB: ...` and the command gets SIGHUP, then SIGKILL 10 s later.
// Returns its exit status as a shell gives it (128 + the signal that ended it; 127 for a
// program not found, 126 for one that cannot be run).
int run_in_foreground(ReconnectingClient& client, std::uint64_t id,
                      const std::vector<std::string>& command, const std::string& working_dir,
                      const std::vector<std::string>& environment, const std::string& verb);

}  // namespace fastgpu::cli
