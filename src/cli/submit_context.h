// The SubmitContext of this process: its folder, environment, user and the time
// now.
#pragma once

#include <string>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {

Result<engine::SubmitContext> submit_context();

// Gives every job the caller's umask and resource limits (`ulimit`), as Slurm does
// (SLURM_UMASK, PropagateResourceLimits=ALL): the daemon runs it with those of the shell it
// was submitted from, not its own.
void give_callers_umask_and_limits(std::vector<store::JobSpec>& specs);

// A job file read and parsed for this process (submit_context()), as `run` and `slurm`
// take it: its jobs, and where each is in the file ("jobs.yaml:4:3: job 2 'train'").
struct JobFile {
  engine::SubmitContext context;
  std::vector<store::JobSpec> specs;
  std::vector<std::string> places;
};
// A folder, a file that cannot be read and the file's own errors are told as
// engine::parse_job_file tells them. Without `inherit_environment`, the jobs' environment
// holds only HOME (for a workdir of ~) and what the file sets: for `slurm`, whose sbatch
// passes the environment on itself.
Result<JobFile> load_job_file(const std::string& path, bool inherit_environment = true);

}  // namespace fastgpu::cli
