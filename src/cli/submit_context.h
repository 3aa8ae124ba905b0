// The SubmitContext of this process: its folder, environment, user and the time
// now.
#pragma once

#include <cstddef>
#include <optional>
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
  // A script given in place of a job file: its flags as its lines gave them (and its
  // #SBATCH options left out); nullopt for a job file.
  std::optional<engine::ScriptFlags> script = std::nullopt;
};
// A folder, a file that cannot be read and the file's own errors are told as
// engine::parse_job_file tells them. Without `inherit_environment`, the jobs' environment
// holds only HOME (for a workdir of ~) and what the file sets: for `slurm`, whose sbatch
// passes the environment on itself.
//
// A batch script (a file whose first line starts with "#!", as sbatch takes one) is read
// in place of a job file: one job (or an array), as `fastgpu submit ./SCRIPT` queues it,
// its #FASTGPU and #SBATCH lines read, named after the script unless a line names it. Its
// command is the script's absolute path, or, when it has no x bit, its #! line's
// interpreter on it (as the kernel runs it). A file with such lines but no #! line is
// told so, not as bad YAML.
//
// `script_args` are passed to a script after its path, as sbatch passes the words after
// the script's name; given with a job file, they are refused (each job there has its
// command).
Result<JobFile> load_job_file(const std::string& path, bool inherit_environment = true,
                              const std::vector<std::string>& script_args = {});

// The first job of `specs` whose program cannot be found as the job will look for it
// (execvp from its working folder, with its PATH as the daemon gives it: this fastgpu's
// folders first, api::job_path_prefix), and why: a bare name on no folder of the PATH, or a
// path to nothing. So a typo is told at submit, not hours later when the job starts and
// fails (exit 127). Not checked: a shell command (`--wrap`), and a job that waits
// (`--after`, held), which may find its program made by then.
struct MissingProgram {
  std::size_t index = 0;  // in `specs`
  std::string why;
};
std::optional<MissingProgram> first_missing_program(const std::vector<store::JobSpec>& specs);

// "fastgpu VERB: train.sh: #SBATCH options that mean nothing here were left out: ..." on
// stderr, when the script's lines had any.
void tell_left_out(const std::string& verb, const std::string& script,
                   const engine::ScriptFlags& flags);

}  // namespace fastgpu::cli
