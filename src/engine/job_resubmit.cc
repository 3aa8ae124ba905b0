// `fastgpu resubmit`: a job queued again as it was submitted, with what the flags change.
#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine {
namespace {

// The job's resources as they stand once the changes are in: a CPU-only job declares no GPU
// memory and no share (as submit's check_cpu_only says of one submission's flags).
Status check_cpu_only(const store::JobSpec& spec, const SubmitOptions& changes) {
  if (spec.gpus != 0) return {};
  if (spec.gpu_mem) {
    return invalid_argument(fmt::format(
        "--gpu-mem '{}' is given but the job is a CPU-only one (gpus 0); add --gpus 1 (or "
        "more) to give it GPUs",
        changes.gpu_mem.value_or("")));
  }
  if (spec.util_share < 1.0) {
    return invalid_argument(fmt::format(
        "--share '{}' is given but the job is a CPU-only one (gpus 0); add --gpus 1 (or more) "
        "to give it GPUs",
        changes.share.value_or("")));
  }
  return {};
}

}  // namespace

Result<store::JobSpec> resubmitted_spec(JobId from, const store::JobSpec& job,
                                        SubmitOptions changes, SubmitContext context) {
  // The changes are parsed as submit parses its flags, with the job's own command, and with
  // its environment for --env to add to (and for ~ in --workdir).
  changes.array.reset();
  changes.argv = job.argv;
  changes.shell_command.reset();
  if (!job.shell_command.empty()) changes.shell_command = job.shell_command;
  const bool clear_deadline = changes.deadline == "none";
  if (clear_deadline) changes.deadline.reset();
  context.environment = job.environment.entries();
  Result<std::vector<store::JobSpec>> parsed = build_job_specs(changes, context);
  if (!parsed.ok()) return parsed.status();
  store::JobSpec& given = parsed->front();

  store::JobSpec spec = job;
  spec.uid = context.uid;
  spec.user = context.user;
  spec.submit_time = context.submit_time;
  spec.held_by = given.held_by;  // its submitter's hold when --hold, else none
  spec.resubmitted_from = from;  // the job it runs again, not the one that job ran again
  if (changes.gpus) {
    spec.gpus = given.gpus;
    // A job made CPU-only leaves its GPU memory and share behind, unless they are given.
    if (given.gpus == 0) {
      spec.gpu_mem = given.gpu_mem;
      spec.util_share = given.util_share;
    }
  }
  if (changes.gpu_mem) spec.gpu_mem = given.gpu_mem;
  if (changes.share) spec.util_share = given.util_share;
  if (changes.time) spec.time_limit_s = given.time_limit_s;
  if (changes.grace) spec.kill_grace_s = given.kill_grace_s;
  if (changes.priority) spec.priority = given.priority;
  if (changes.deadline) spec.deadline = given.deadline;
  if (clear_deadline) spec.deadline.reset();
  if (changes.name) {
    spec.name = given.name;
    spec.signature = given.signature;
  }
  if (!changes.after.empty()) spec.dependencies = std::move(given.dependencies);
  if (changes.restartable) spec.restartable = given.restartable;
  if (changes.workdir) spec.working_dir = given.working_dir;
  if (!changes.env.empty()) spec.environment = std::move(given.environment);
  if (Status cpu_only = check_cpu_only(spec, changes); !cpu_only.ok()) return cpu_only;
  return spec;
}

}  // namespace fastgpu::engine
