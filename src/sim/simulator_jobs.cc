// Turning a trace and a cluster spec into what the scheduler sees, and deciding up front
// which jobs can never run.
#include <algorithm>
#include <cmath>
#include <map>

#include "fastgpu/sched/scheduler.h"
#include "sim/simulator_internal.h"

namespace fastgpu::sim {

std::vector<sched::GpuState> gpu_states(const ClusterSpec& cluster,
                                        std::uint64_t default_memory_bytes) {
  std::vector<sched::GpuState> gpus;
  for (const NodeSpec& node : cluster.nodes) {
    for (int k = 0; k < node.gpu_count; ++k) {
      sched::GpuState gpu;
      gpu.index = static_cast<int>(gpus.size());
      gpu.node = node.name;
      gpu.total_bytes = node.gpu_memory_bytes.value_or(default_memory_bytes);
      gpus.push_back(std::move(gpu));
    }
  }
  return gpus;
}

double rounded_time_limit(double seconds) {
  // What people type into a batch system: 1, 2, 4, 8, 12 hours, then whole days, then weeks.
  constexpr double kHour = 3600;
  for (const double hours : {1.0, 2.0, 4.0, 8.0, 12.0, 24.0, 48.0, 72.0, 168.0}) {
    if (seconds <= hours * kHour) return hours * kHour;
  }
  const double week = 168 * kHour;
  return std::ceil(seconds / week) * week;
}

namespace detail {

std::uint64_t largest_declared_memory(const Trace& trace) {
  std::uint64_t largest = 0;
  for (const TraceJob& job : trace.jobs) largest = std::max(largest, job.gpu_mem_bytes.value_or(0));
  return largest;
}

sched::Job to_sched_job(const TraceJob& source, std::size_t index, const SimOptions& options) {
  sched::Job job;
  job.id = JobId(index);
  job.signature = source.signature;
  job.user = source.user;
  job.gpus = source.gpu_count;
  job.util_share = source.gpu_count > 0 ? source.gpu_milli / 1000.0 : 1.0;
  // Traces without GPU memory do not constrain it: the job declares 0 bytes, not "auto"
  // (which would take each GPU's whole memory and forbid sharing).
  job.gpu_mem = source.gpu_mem_bytes.value_or(0);
  job.priority = source.priority.value_or(0);
  job.restartable = options.restartable;
  job.submit_time_s = source.submit_s / options.time_scale;
  job.oracle_duration_s = source.duration_s;
  if (source.deadline_s) {
    // Keep the job's slack (deadline - submit); only the arrival is compressed.
    job.deadline_s = job.submit_time_s + (*source.deadline_s - source.submit_s);
  }
  if (options.time_limit_factor > 0 && source.duration_s && *source.duration_s > 0) {
    job.time_limit_s = *source.duration_s * options.time_limit_factor;
    if (options.round_time_limits) job.time_limit_s = rounded_time_limit(*job.time_limit_s);
  }
  return job;
}

NodeFit::NodeFit(const std::vector<sched::GpuState>& gpus, bool multi_node)
    : all_(gpus), multi_node_(multi_node) {
  std::map<std::string, std::vector<sched::GpuState>> by_node;
  for (const sched::GpuState& gpu : gpus) by_node[gpu.node].push_back(gpu);
  for (auto& [name, node_gpus] : by_node) nodes_.push_back(std::move(node_gpus));
}

const std::vector<sched::GpuState>* NodeFit::node_for(int gpus, Bytes bytes) const {
  std::size_t most = 0;
  for (const auto& node : nodes_) most = std::max(most, node.size());
  if (multi_node_ && static_cast<std::size_t>(gpus) > most) {
    const auto big_enough = std::count_if(
        all_.begin(), all_.end(), [&](const auto& gpu) { return gpu.total_bytes >= bytes; });
    return big_enough >= gpus ? &all_ : nullptr;
  }
  for (const std::vector<sched::GpuState>& node : nodes_) {
    if (static_cast<int>(node.size()) < gpus) continue;
    // A gang takes GPUs of one node; it fits when enough of them hold the bytes.
    const auto big_enough = std::count_if(
        node.begin(), node.end(), [&](const auto& gpu) { return gpu.total_bytes >= bytes; });
    if (big_enough >= gpus) return &node;
  }
  return nullptr;
}

std::string NodeFit::reject_reason(const sched::Job& job) const {
  std::size_t most = 0;
  for (const auto& node : nodes_) most = std::max(most, node.size());
  if (multi_node_ && static_cast<std::size_t>(job.gpus) > most) {
    return "needs " + std::to_string(job.gpus) + " GPUs large enough for it; the cluster has " +
           std::to_string(all_.size()) + " GPUs";
  }
  if (static_cast<std::size_t>(job.gpus) > most) {
    return "needs " + std::to_string(job.gpus) + " GPUs on one node; the largest node has " +
           std::to_string(most);
  }
  return "needs " + std::to_string(job.gpus) + " GPUs with " + format_bytes(*job.gpu_mem) +
         " each on one node; no node has them";
}

std::optional<std::string> NodeFit::why_never_runs(const TraceJob& source, const sched::Job& job) {
  if (!source.duration_s) return std::string(kNoDurationReason);
  if (job.gpus == 0) {
    const Status status = sched::validate_job(job, {});
    return status.ok() ? std::nullopt : std::optional<std::string>(status.message());
  }
  const std::pair<int, Bytes> key{job.gpus, job.gpu_mem.value_or(0)};
  auto found = memo_.find(key);
  if (found == memo_.end()) found = memo_.emplace(key, node_for(key.first, key.second)).first;
  if (found->second == nullptr) return reject_reason(job);
  // The numbers (share, limits) are checked the way the engine checks at submit time.
  if (found->second == &all_) return std::nullopt;  // whole nodes; checked by the scheduler
  const Status status = sched::validate_job(job, *found->second);
  return status.ok() ? std::nullopt : std::optional<std::string>(status.message());
}

}  // namespace detail
}  // namespace fastgpu::sim
