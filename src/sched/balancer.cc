#include "fastgpu/sched/balancer.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>

namespace fastgpu::sched {

namespace {

struct Candidate {
  const RunningJob* job;
  int from_slot;
};

std::string percent(double fraction) {
  return std::to_string(static_cast<int>(fraction * 100.0 + 0.5)) + "%";
}

std::string two_decimals(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  return text;
}

bool movable(const RunningJob& running, const Snapshot& snapshot, const SchedulerConfig& config,
             const std::unordered_set<JobId>& busy) {
  return running.job.restartable && running.gpus.size() == 1 &&
         snapshot.now_s - running.start_time_s >= config.min_run_before_move_s &&
         busy.count(running.job.id) == 0;
}

Demand demand_of(const RunningJob& running) {
  Demand demand;
  demand.gpus = 1;
  demand.bytes = running.declared_bytes;
  demand.share = running.job.util_share;
  demand.load = running.job.util_share * priority_weight(running.job.priority);
  return demand;
}

// Overloaded GPUs, the most loaded first.
std::vector<int> overloaded_slots(const Snapshot& snapshot, const SchedulerConfig& config,
                                  const Ledger& ledger) {
  std::vector<int> slots;
  for (const GpuState& gpu : snapshot.gpus) {
    const int s = ledger.slot_of(gpu.index);
    if (gpu.utilization.value_or(0.0) >= config.overload_utilization && ledger.slot(s).jobs >= 2) {
      slots.push_back(s);
    }
  }
  std::sort(slots.begin(), slots.end(), [&](int a, int b) {
    if (ledger.slot(a).load != ledger.slot(b).load)
      return ledger.slot(a).load > ledger.slot(b).load;
    return a < b;
  });
  return slots;
}

bool idle(const GpuSlot& slot, const SchedulerConfig& config) {
  return slot.healthy && slot.empty() && slot.utilization <= config.idle_utilization;
}

// The movable job on `from` that lowers max(LB_from, LB_to) the most, if by enough.
const RunningJob* best_job(const std::vector<const RunningJob*>& jobs, const GpuSlot& from,
                           const GpuSlot& to, const SchedulerConfig& config) {
  const RunningJob* best = nullptr;
  double best_peak = from.load;
  for (const RunningJob* running : jobs) {
    const double moved = running->job.util_share * priority_weight(running->job.priority);
    const double peak = std::max(from.load - moved, to.load + moved);
    if (from.load - peak >= config.balance_min_gain && peak < best_peak) {
      best = running;
      best_peak = peak;
    }
  }
  return best;
}

}  // namespace

std::vector<Move> balance_moves(const Snapshot& snapshot, const SchedulerConfig& config,
                                Ledger& ledger, const std::unordered_set<JobId>& busy) {
  std::vector<Move> moves;
  if (!config.balance) return moves;
  std::unordered_map<int, std::vector<const RunningJob*>> by_slot;
  for (const RunningJob& running : snapshot.running) {
    const int s = running.gpus.empty() ? -1 : ledger.slot_of(running.gpus.front());
    if (s >= 0 && movable(running, snapshot, config, busy)) by_slot[s].push_back(&running);
  }
  std::vector<char> used(ledger.slots().size(), 0);
  for (int from : overloaded_slots(snapshot, config, ledger)) {
    for (int to = 0; to < static_cast<int>(ledger.slots().size()); ++to) {
      if (used[to] != 0 || to == from || !idle(ledger.slot(to), config)) continue;
      const RunningJob* job = best_job(by_slot[from], ledger.slot(from), ledger.slot(to), config);
      if (job == nullptr || !ledger.fits(to, demand_of(*job))) continue;
      ledger.commit({to}, demand_of(*job));
      used[to] = used[from] = 1;
      const GpuSlot& source = ledger.slot(from);
      moves.push_back({job->job.id,
                       {source.gpu_index},
                       {ledger.slot(to).gpu_index},
                       "gpu " + std::to_string(source.gpu_index) + " overloaded (utilization " +
                           percent(source.utilization) + ", LB " + two_decimals(source.load) +
                           "); gpu " + std::to_string(ledger.slot(to).gpu_index) + " idle"});
      break;
    }
  }
  return moves;
}

}  // namespace fastgpu::sched
