// Starting the job's first process, as the supervisor does it.
//
// Everything that can fail on the supervisor's side (user lookup, the log file) happens in
// make_job_plan(), before the fork. What can fail only in the child (entering the working
// folder as the job's user, exec) is sent back over a close-on-exec pipe: an empty read
// means exec succeeded.
// Thread-safety: for the single-threaded supervisor; the child runs plain system calls.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/exec/launcher.h"

namespace fastgpu::exec {

// One resource limit as the job's process sets it.
struct JobLimit {
  std::string name;  // as carried_limit_names() gives it
  int resource = 0;  // RLIMIT_*
  rlimit value{};
};

struct JobPlan {
  std::vector<std::string> args;         // argv for execvp
  std::vector<std::string> environment;  // the job's whole environment, "KEY=VALUE"
  std::string working_dir;
  int log_fd = -1;  // close-on-exec; the child's stdout and stderr
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::vector<gid_t> groups;    // supplementary groups when gid is set and we are root
  int cgroup_procs_fd = -1;     // not owned: the child joins this cgroup when set
  std::optional<mode_t> umask;  // set in the child just before exec; nullopt: inherited
  // Set in the child before it takes the job's user (setrlimit); what is not here is
  // inherited.
  std::vector<JobLimit> limits;
};

// The job's environment: the submitted one without any variable FastGPU sets, then
// CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, FASTGPU_JOB_ID, and FASTGPU_ARRAY_INDEX and
// FASTGPU_GPU_MEM_QUOTA when set.
std::vector<std::string> job_environment(const LaunchRequest& request);

// Whether `entry` ("NAME=value") is one of the variables FastGPU sets for every job
// (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, FASTGPU_JOB_ID, FASTGPU_ARRAY_INDEX,
// FASTGPU_GPU_MEM_QUOTA), which the job's submitted environment cannot change: a
// CUDA_VISIBLE_DEVICES of its own would take another job's GPUs. Also the Slurm backend's.
bool is_set_by_fastgpu(std::string_view entry);

// The job's limits as the child can set them: each as submitted, but unless `may_raise`
// (root, with CAP_SYS_RESOURCE) a hard limit above ours lowered to ours, and the soft limit
// with it. Each lowering
// is told in `notes`, one line each, for the job's log.
std::vector<JobLimit> plan_limits(const ResourceLimits& limits, bool may_raise,
                                  std::vector<std::string>& notes);

// Resolves the user and groups, plans the limits, and opens the log (appending; created
// 0640 and owned by the job's user), writing into it the notes of any lowered limit. The
// plan owns log_fd; close it with close_job_plan().
Result<JobPlan> make_job_plan(const LaunchRequest& request);
void close_job_plan(JobPlan& plan);

struct StartedJob {
  pid_t pid = 0;
  std::optional<std::string> exec_error;  // set: the child exited without running the job
  // With exec_error when the program itself could not be run: 127 (not found) or 126 (not
  // runnable), the child's status, as a shell reports such a command. Unset when an earlier
  // step failed (the working folder, a limit, the user).
  std::optional<int> exit_code;
};

// Forks the job: its own process group, stdin from /dev/null, stdout and stderr to the
// log, groups, gid, uid, working folder, exec. Blocked signals are unblocked and ignored
// ones reset in the child. Error: fork itself failed.
Result<StartedJob> start_job(const JobPlan& plan);

}  // namespace fastgpu::exec
