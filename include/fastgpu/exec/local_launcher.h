// LocalLauncher: runs jobs as processes on this machine, one supervisor per job.
//
// launch() writes the request to run_dir/request.json and spawns `fastgpu-supervisor
// RUN_DIR` (posix_spawn: safe in the multi-threaded daemon), which starts the job and
// reports its pid back over a pipe. The supervisor, not the launcher, owns the job from
// then on: it enforces the time limit, forwards stop requests, and writes
// run_dir/outcome.json when the job ends. So destroying a LocalLauncher (or killing the
// daemon) leaves running jobs running; a new LocalLauncher takes them back with adopt().
// docs/exec.md describes the run folder, the signals and what a user sees in the log.
//
// Thread-safety: as Launcher, one thread at a time.
#pragma once

#include <filesystem>
#include <memory>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"

namespace fastgpu::exec {

struct LocalLauncherOptions {
  // The supervisor program. Empty: `fastgpu-supervisor` in the folder of the running
  // executable (/proc/self/exe), where the build and the install put it.
  std::filesystem::path supervisor_path;
  // How long launch() waits for the supervisor to report that the job's process exists.
  double start_timeout_s = 30.0;
  // Start each supervisor as a clone of one long-lived spawner (`fastgpu-supervisor
  // --spawner`) instead of by a new exec of the program: about 0.45 ms less CPU per job
  // (src/exec/supervisor_spawner.h). Either way the supervisor is the launcher's child.
  bool use_spawner = true;
};

// `fastgpu-supervisor` beside the running executable.
std::filesystem::path default_supervisor_path();

// Errors: kNotFound when the supervisor program is missing or not executable (the message
// names the path), kInvalidArgument for a start_timeout_s that is not a positive number.
Result<std::unique_ptr<Launcher>> make_local_launcher(LocalLauncherOptions options = {});

}  // namespace fastgpu::exec
