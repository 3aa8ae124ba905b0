#include "engine/convert.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace fastgpu::engine {

double to_seconds(store::WallTime time) {
  return static_cast<double>(time.time_since_epoch().count()) / 1e6;
}

store::WallTime from_seconds(double seconds) {
  return store::WallTime(std::chrono::microseconds(std::llround(seconds * 1e6)));
}

namespace {

sched::DependencyKind to_sched(store::DependencyKind kind) {
  return kind == store::DependencyKind::kAfterAny ? sched::DependencyKind::kAfterAny
                                                  : sched::DependencyKind::kAfterOk;
}

}  // namespace

sched::Job to_sched_job(JobId id, const store::JobSpec& spec, double attained_run_s) {
  sched::Job job;
  job.id = id;
  job.signature = spec.signature;
  job.user = spec.user;
  job.gpus = spec.gpus;
  job.gpu_mem = spec.gpu_mem;
  job.util_share = spec.util_share;
  job.priority = spec.priority;
  if (spec.time_limit_s) job.time_limit_s = static_cast<double>(*spec.time_limit_s);
  if (spec.deadline) job.deadline_s = to_seconds(*spec.deadline);
  for (const store::Dependency& dependency : spec.dependencies) {
    job.dependencies.push_back({dependency.job, to_sched(dependency.kind)});
  }
  if (spec.array) job.array_index = static_cast<int>(spec.array->index);
  job.restartable = spec.restartable;
  job.submit_time_s = to_seconds(spec.submit_time);
  job.attained_run_s = std::max(0.0, attained_run_s);
  return job;
}

std::vector<sched::GpuState> gpu_states(const GpuReading& reading, const std::string& node) {
  std::vector<sched::GpuState> gpus;
  gpus.reserve(reading.devices.size());
  for (const GpuDevice& device : reading.devices) {
    sched::GpuState gpu;
    gpu.index = static_cast<int>(device.index);
    gpu.node = node;
    gpu.total_bytes = device.memory_total_bytes.value_or(0);
    gpu.reserved_bytes = std::min(gpu.total_bytes, device.memory_reserved_bytes.value_or(0));
    gpu.healthy = device.health.healthy && device.memory_total_bytes.has_value();
    gpu.used_bytes = device.memory_used_bytes;
    if (device.gpu_utilization_percent) {
      gpu.utilization = std::min(1.0, *device.gpu_utilization_percent / 100.0);
    }
    if (device.temperature_celsius) gpu.temperature_c = *device.temperature_celsius;
    gpu.power_w = device.power_watts;
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

Bytes foreign_bytes_on(const GpuDevice& device, const PidAttribution& attribute,
                       const std::function<bool(JobId)>& ours_here, Bytes declared_ours) {
  if (!device.processes) {
    // The list could not be read (no permission, some virtualised drivers): what is in use
    // beyond our jobs' declarations is taken as another's, as without an attribution. It
    // counted as free, and a job placed there could run out of memory.
    if (!device.memory_used_bytes || *device.memory_used_bytes <= declared_ours) return 0;
    return *device.memory_used_bytes - declared_ours;
  }
  Bytes foreign = 0;
  Bytes all = 0;
  for (const GpuProcess& process : *device.processes) {
    const Bytes bytes = process.used_memory_bytes.value_or(0);
    all += bytes;
    if (!attribute) continue;
    const std::optional<JobId> owner = attribute(process.pid);
    if (!owner || !ours_here(*owner)) foreign += bytes;
  }
  Bytes result = attribute ? foreign : (all > declared_ours ? all - declared_ours : 0);
  // Memory in use that no listed process accounts for is no job's of ours either: a
  // graphics process (the compute list leaves those out), or a process the driver does not
  // list to us. It counted as free, and a job placed there could run out of memory. Only when
  // every listed process's memory is known: an unknown one may be a job's of ours, whose
  // declaration the ledger already holds.
  const bool every_known =
      std::all_of(device.processes->begin(), device.processes->end(),
                  [](const GpuProcess& process) { return process.used_memory_bytes.has_value(); });
  if (every_known && device.memory_used_bytes && *device.memory_used_bytes > all) {
    result += *device.memory_used_bytes - all;
  }
  return result;
}

std::filesystem::path run_file_of(const std::filesystem::path& state_dir, JobId job,
                                  std::uint32_t attempt) {
  return state_dir / "runs" / (to_string(job) + "." + std::to_string(attempt) + ".jsonl");
}

std::filesystem::path legacy_run_dir_of(const std::filesystem::path& state_dir, JobId job,
                                        std::uint32_t attempt) {
  return state_dir / "runs" / to_string(job) / std::to_string(attempt);
}

std::filesystem::path log_path_of(const std::filesystem::path& state_dir, JobId job) {
  return state_dir / "logs" / (to_string(job) + ".log");
}

}  // namespace fastgpu::engine
