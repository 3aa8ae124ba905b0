// Process attribution: which job does a process belong to?
//
// NVML reports the pids that hold GPU memory; the engine maps each to a job. Where the
// system lets the supervisor make one, every process of a job is in its run's cgroup
// (src/exec/job_cgroup.h), whose name says the job and the supervisor: that is asked
// first. Every process of a job lives in the session its supervisor created (setsid), so a
// process's session id is its supervisor's pid. A process that left the session (it called setsid
// itself) is found by walking its parent pids up to a supervisor instead (the supervisor is a child
// subreaper, so orphans of a job are re-parented to it).
//
// Everything here reads /proc (the root is a parameter so tests can point at a fake tree).
// A process that is gone, or a /proc entry that cannot be read or parsed, is simply not
// attributed: processes come and go between NVML's list and our read, which is normal.
// Thread-safety: plain functions over the file system; safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fastgpu/core/ids.h"

namespace fastgpu::exec {

// The fields of /proc/<pid>/stat that FastGPU uses (proc(5) field numbers in brackets).
struct ProcStat {
  pid_t pid = 0;                       // (1)
  char state = '?';                    // (3) R, S, D, Z, ...
  pid_t parent_pid = 0;                // (4)
  pid_t process_group = 0;             // (5)
  pid_t session = 0;                   // (6)
  std::uint64_t start_time_ticks = 0;  // (22) clock ticks after boot; with the pid, unique
};

// Parses the text of a /proc/<pid>/stat file. The command name (field 2) may hold spaces
// and parentheses, so the fields are counted from its last ')'. nullopt: malformed.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// Reads <proc_root>/<pid>/stat. nullopt: the process is gone or the file is unreadable.
std::optional<ProcStat> read_proc_stat(pid_t pid, const std::filesystem::path& proc_root = "/proc");

// The session id of a process (its supervisor's pid for a job's process).
std::optional<pid_t> session_of(pid_t pid, const std::filesystem::path& proc_root = "/proc");

// The pids of every process listed under proc_root (its numeric folder names).
std::vector<pid_t> list_pids(const std::filesystem::path& proc_root = "/proc");

// Maps each pid in `pids` to the job whose supervisor it belongs to, given each running
// supervisor's pid and job. First by the run cgroup it is in (if that run's supervisor is
// in `supervisors` with that job), then by session id; failing that by walking parent pids
// (at most 64 steps) until one is a supervisor. Last, by the FASTGPU_JOB_ID in its
// environment (a `fastgpu alloc` command's processes, started by the client, not the
// supervisor), when that job runs under `supervisors` and the process has the real uid of
// the job's own process (the supervisor's first child, in task/<pid>/children). Pids that
// belong to no job are left out.
std::unordered_map<pid_t, JobId> attribute_pids(const std::vector<pid_t>& pids,
                                                const std::unordered_map<pid_t, JobId>& supervisors,
                                                const std::filesystem::path& proc_root = "/proc");

}  // namespace fastgpu::exec
