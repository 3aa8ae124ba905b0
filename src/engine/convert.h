// Conversions between the store's records, the probe's reading and the scheduler's types.
// Pure functions; the engine's tick and submit share them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fastgpu/gpu/probe.h"
#include "fastgpu/sched/job.h"
#include "fastgpu/sched/snapshot.h"
#include "fastgpu/store/state_store.h"

namespace fastgpu::engine {

using PidAttribution = std::function<std::optional<JobId>(std::uint32_t pid)>;

// Seconds since the Unix epoch: the one clock the engine's snapshots use.
double to_seconds(store::WallTime time);
store::WallTime from_seconds(double seconds);

// The scheduler's view of a stored job. `attained_run_s` is its run time in earlier runs.
sched::Job to_sched_job(JobId id, const store::JobSpec& spec, double attained_run_s);

// One GpuState per device of the reading, on node `node`: total, reserved, health and the
// measurements. foreign_bytes is left 0 (see foreign_bytes_on).
std::vector<sched::GpuState> gpu_states(const GpuReading& reading, const std::string& node);

// Memory on `device` held by processes that are not our running jobs on it. With an
// attribution, the bytes of every process it does not attribute to a job for which
// `ours_here` is true (a running job placed on this GPU; a process of a job that no longer
// runs, or of one placed elsewhere, counts as foreign). Without one, the processes' bytes
// minus `declared_ours` (what our jobs on the GPU declared), floored at 0: an estimate.
// Also foreign: memory in use that no listed process accounts for, when every listed
// process's memory is known; and, when the process list could not be read, what is in use
// beyond `declared_ours`.
Bytes foreign_bytes_on(const GpuDevice& device, const PidAttribution& attribute,
                       const std::function<bool(JobId)>& ours_here, Bytes declared_ours);

// The run record of one attempt: state_dir/runs/<id>.<attempt>.jsonl (src/exec/run_files.h).
std::filesystem::path run_file_of(const std::filesystem::path& state_dir, JobId job,
                                  std::uint32_t attempt);
// Where a daemon before 2026-12-02 kept that run: the folder state_dir/runs/<id>/<attempt>.
std::filesystem::path legacy_run_dir_of(const std::filesystem::path& state_dir, JobId job,
                                        std::uint32_t attempt);
std::filesystem::path log_path_of(const std::filesystem::path& state_dir, JobId job);

}  // namespace fastgpu::engine
