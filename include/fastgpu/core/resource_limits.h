// The resource limits (setrlimit) a job carries from the shell it was submitted from, as
// Slurm's PropagateResourceLimits=ALL does: `ulimit -s unlimited; fastgpu submit ...` runs the
// job with an unlimited stack, whatever the daemon's own limits are.
// Names as prlimit(1) gives them; values in the kernel's units (bytes; seconds for cpu; a
// count for nofile and nproc); nullopt is unlimited (RLIM_INFINITY).
// Thread-safety: pure functions, but own_resource_limits() reads the calling process's.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastgpu {

struct ResourceLimit {
  std::string name;                   // "stack", "nofile", ...: one of carried_limit_names()
  std::optional<std::uint64_t> soft;  // nullopt: unlimited
  std::optional<std::uint64_t> hard;  // nullopt: unlimited; never below soft

  friend bool operator==(const ResourceLimit&, const ResourceLimit&) = default;
};
using ResourceLimits = std::vector<ResourceLimit>;  // empty: the daemon's own, as they are

// The carried limits, in this order: as, core, cpu, data, fsize, memlock, nofile, nproc,
// rss, stack (Slurm's list).
std::span<const std::string_view> carried_limit_names();

// The RLIMIT_* number of a carried limit; nullopt for any other name.
std::optional<int> rlimit_resource(std::string_view name);

// The calling process's own value of every carried limit, in carried_limit_names()' order.
ResourceLimits own_resource_limits();

// One carried limit of process `pid` (0: this one), read with prlimit, or from
// /proc/PID/limits (readable by all) when prlimit may not (another user's process, and no
// CAP_SYS_RESOURCE); nullopt when `name` is not carried or the process cannot be read (errno
// says why: ESRCH, gone).
std::optional<ResourceLimit> process_resource_limit(int pid, std::string_view name);

// A kernel value as kept here (RLIM_INFINITY is nullopt), and back.
std::optional<std::uint64_t> from_rlim(rlim_t value);
rlim_t to_rlim(std::optional<std::uint64_t> value);

// "unlimited", or the value in the limit's unit, exactly: "8M" (bytes, binary units as
// parse_bytes reads them), "3600 s" (cpu), "1024".
std::string format_limit_value(std::string_view name, std::optional<std::uint64_t> value);

// "stack 8M" when soft and hard agree, else "nofile 1024 (hard 524288)".
std::string format_limit(const ResourceLimit& limit);

// Whether `value` (nullopt: unlimited) is above `bound` (nullopt: unlimited).
bool limit_above(std::optional<std::uint64_t> value, std::optional<std::uint64_t> bound);

// The option of bash's `ulimit` that sets a carried limit: "-v" for as, "-t" for cpu.
std::string_view ulimit_option(std::string_view name);

// Of `limits`, the hard limits a shell got from a `ulimit` meant for a job: below what a
// Linux login has (unlimited for as, cpu, data, fsize, rss and stack; at least 1024
// open files). Only root raises a hard limit again, so a daemon started from such a shell
// keeps it, and holds every job it runs to it.
ResourceLimits job_sized_hard_limits(const ResourceLimits& limits);

// "cpu 60 s (ulimit -t), as 4G (ulimit -v)": each limit's hard value and its option.
std::string format_hard_limits(const ResourceLimits& limits);

}  // namespace fastgpu
