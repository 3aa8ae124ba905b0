// Conversions between the store's C++ values and SQLite column values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fastgpu/store/state_store.h"
#include "store/sqlite_db.h"

namespace fastgpu::store {

// Why an ended job ended: the reason of its last transition (the store's own record of
// it, kept for every job that ever ended, so no column duplicates it); NULL for a job
// that has not ended, without reading the transitions (the engine lists queued and running
// jobs at every tick).
#define FASTGPU_STORE_END_REASON                                                     \
  "CASE WHEN state IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'PREEMPTED') " \
  "THEN (SELECT reason FROM transitions WHERE job = jobs.id ORDER BY seq DESC LIMIT 1) END"

// The columns read_job_row expects, in order, for "SELECT " kJobColumns " FROM jobs ...".
// A macro so that it joins string literals at compile time (statements are cached by
// their literal's address).
#define FASTGPU_STORE_JOB_COLUMNS                                                              \
  "id, name, argv, shell_command, working_dir, environment_id, gpus, gpu_mem, util_share, "    \
  "priority, time_limit_s, deadline_us, array_id, array_index, restartable, uid, user, "       \
  "signature, submit_us, state, placed_gpus, start_us, end_us, exit_code, signal, "            \
  "supervisor_pid, job_pid, log_path, peak_gpu_mem, gpu_seconds, energy_joules, "              \
  "energy_estimate, mean_util, attempts, "                                                     \
  "(SELECT json_group_array(json_array(after, kind)) FROM dependencies WHERE job = jobs.id), " \
  "array_max_running, placed_bytes, " FASTGPU_STORE_END_REASON                                 \
  ", umask, "                                                                                  \
  "energy_at_least, energy_unread, run_peak_gpu_mem, kill_grace_s, limits, held_by, "          \
  "resubmitted_from"

// std::optional::transform arrives in C++23; this is its C++20 stand-in.
template <typename T, typename F>
auto map_optional(const std::optional<T>& value, F&& function)
    -> std::optional<decltype(function(*value))> {
  if (!value) return std::nullopt;
  return function(*value);
}

inline std::int64_t to_micros(WallTime time) { return time.time_since_epoch().count(); }
inline WallTime from_micros(std::int64_t micros) {
  return WallTime(std::chrono::microseconds(micros));
}

std::string strings_to_json(const std::vector<std::string>& values);
std::string gpus_to_json(const std::vector<std::uint32_t>& gpus);
std::string_view dependency_kind_name(DependencyKind kind);

// The column `limits`: {"stack": [soft, hard], ...}, null for unlimited; NULL (nullopt) for
// none.
std::optional<std::string> limits_to_json(const ResourceLimits& limits);

// Builds a JobRecord from the current row of a statement selecting FASTGPU_STORE_JOB_COLUMNS
// and the environment its environment_id (column 5) names, as the caller read it.
// Fails (kInternal) if a stored JSON list or state name is malformed, or with the
// environment's error.
Result<JobRecord> read_job_row(const sqlite::Statement& row, Result<Environment> environment);

}  // namespace fastgpu::store
