// A cgroup (v2) of each run's own, where the system lets the supervisor make one.
//
// The supervisor makes `<its own cgroup>/fastgpu-<job>.<attempt>-<supervisor pid>` and the
// job's first process joins it before its exec, so every process of the job is a member
// from its start on, wherever it moves in the process tree. Attribution then names a GPU
// process's job by its membership before it walks the tree, and the supervisor's cleanup
// kills every member. Where there is no cgroup v2 hierarchy, or we may not write to our
// own cgroup (an unprivileged daemon outside a delegated subtree), nothing is made and the
// process tree (session, parent pids) is all there is: that is the "where available".
// Thread-safety: plain functions and a movable owner; no shared state.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/ids.h"

namespace fastgpu::exec {

// The run a cgroup name belongs to, from its name.
struct CgroupRun {
  JobId job;
  pid_t supervisor = 0;
};

// "fastgpu-<job>.<attempt>-<supervisor pid>"; `run` is the run record's stem ("12.1").
std::string job_cgroup_name(std::string_view run, pid_t supervisor);

// The run named by the cgroup v2 line ("0::/path") of a /proc/<pid>/cgroup text, if its
// path has a component made by job_cgroup_name. nullopt: none, or malformed.
std::optional<CgroupRun> run_of_cgroup_file(std::string_view text);
// The same, read from <proc_root>/<pid>/cgroup. nullopt also when the process is gone.
std::optional<CgroupRun> run_of_process(pid_t pid,
                                        const std::filesystem::path& proc_root = "/proc");

// Where the cgroup v2 hierarchy holds the cgroup of this process, from the texts of
// /proc/self/mountinfo and /proc/self/cgroup. nullopt: no cgroup v2 mount, or our cgroup
// is outside it (another cgroup namespace).
std::optional<std::filesystem::path> own_cgroup_dir(std::string_view mountinfo,
                                                    std::string_view cgroup);

// For a run whose supervisor is gone without cleaning up (killed): SIGKILLs every member
// of its cgroup, if there is one under ours, and removes the cgroup once they have left
// (waiting at most about 100 ms). Returns how many it killed.
int kill_run_cgroup(std::string_view run, pid_t supervisor);

// One run's cgroup, removed (when empty) by its destructor.
class JobCgroup {
 public:
  // Makes the cgroup under our own; nullopt where that is not possible (see above).
  static std::optional<JobCgroup> create(std::string_view run, pid_t supervisor);

  JobCgroup(JobCgroup&& other) noexcept;
  JobCgroup& operator=(JobCgroup&& other) noexcept;
  JobCgroup(const JobCgroup&) = delete;
  JobCgroup& operator=(const JobCgroup&) = delete;
  ~JobCgroup();

  const std::filesystem::path& dir() const { return dir_; }
  // Write end of its cgroup.procs (close-on-exec): the forked child writes "0" to it to
  // join before its exec.
  int procs_fd() const { return procs_fd_; }
  // The pids in it now (empty when it cannot be read).
  std::vector<pid_t> members() const;

 private:
  JobCgroup(std::filesystem::path dir, int procs_fd) : dir_(std::move(dir)), procs_fd_(procs_fd) {}
  static std::optional<JobCgroup> create_at(const std::filesystem::path& dir);
  void remove();
  std::filesystem::path dir_;
  int procs_fd_ = -1;
};

}  // namespace fastgpu::exec
