#include "fastgpu/sched/memory_pressure.h"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>

namespace fastgpu::sched {

namespace {

struct Overrun {
  const RunningJob* job = nullptr;
  Bytes by = 0;  // measured minus declared; 0 when the job was named for being alone
};

// The job that overruns its declaration the most on this GPU, if one can be named.
Overrun culprit(const std::vector<const RunningJob*>& on_gpu) {
  Overrun worst;
  for (const RunningJob* running : on_gpu) {
    if (!running->used_bytes || *running->used_bytes <= running->declared_bytes) continue;
    const Bytes by = *running->used_bytes - running->declared_bytes;
    if (worst.job == nullptr || by > worst.by) worst = {running, by};
  }
  if (worst.job == nullptr && on_gpu.size() == 1) worst.job = on_gpu.front();
  return worst;
}

MemoryAction action_for(const RunningJob& running, const GpuState& gpu, Bytes allowed,
                        const SchedulerConfig& config) {
  MemoryAction action{running.job.id, config.memory_action, ""};
  action.reason = "gpu " + std::to_string(gpu.index) + " uses " + format_bytes(*gpu.used_bytes) +
                  ", ledger allows " + format_bytes(allowed) + "; job " +
                  to_string(running.job.id) + " declared " + format_bytes(running.declared_bytes);
  if (running.used_bytes) action.reason += " and uses " + format_bytes(*running.used_bytes);
  if (action.action == MemoryActionKind::kRequeue && !running.job.restartable) {
    action.action = MemoryActionKind::kWarn;
    action.reason += " (not restartable, so only a warning)";
  }
  return action;
}

}  // namespace

std::vector<MemoryAction> memory_pressure_actions(const Snapshot& snapshot,
                                                  const SchedulerConfig& config) {
  std::vector<MemoryAction> actions;
  const bool measured = std::any_of(snapshot.gpus.begin(), snapshot.gpus.end(),
                                    [](const GpuState& gpu) { return gpu.used_bytes.has_value(); });
  if (!measured) return actions;  // nothing to compare the ledger with
  std::unordered_map<int, std::vector<const RunningJob*>> by_gpu;
  for (const RunningJob& running : snapshot.running) {
    for (int index : running.gpus) by_gpu[index].push_back(&running);
  }
  std::set<JobId> named;
  for (const GpuState& gpu : snapshot.gpus) {
    if (!gpu.used_bytes) continue;
    Bytes allowed = gpu.reserved_bytes + gpu.foreign_bytes + config.memory_tolerance_bytes;
    const std::vector<const RunningJob*>& on_gpu = by_gpu[gpu.index];
    for (const RunningJob* running : on_gpu) allowed += running->declared_bytes;
    if (*gpu.used_bytes <= allowed) continue;
    const Overrun worst = culprit(on_gpu);
    if (worst.job == nullptr || !named.insert(worst.job->job.id).second) continue;
    actions.push_back(action_for(*worst.job, gpu, allowed, config));
  }
  return actions;
}

}  // namespace fastgpu::sched
