// The SubmitContext of this process: its folder, environment, user and the time
// now.
#pragma once

#include <string>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {

Result<engine::SubmitContext> submit_context();

// Gives every job the caller's umask, as Slurm's SLURM_UMASK does: the daemon runs it with
// the umask of the shell it was submitted from, not its own.
void give_callers_umask(std::vector<store::JobSpec>& specs);

// The text of the job file at `path`; a folder or a file that cannot be read is an error
// that names it and an example.
Result<std::string> read_job_file(const std::string& path);

}  // namespace fastgpu::cli
