// fair: the user who has used the least GPU time goes first. Usage is the GPU-seconds of
// each user's finished jobs, halved every fair_half_life_s, plus what their running jobs
// have used so far. Within one call a user's queued jobs add their expected GPU-seconds
// one after another, so two users' queues interleave instead of one draining first.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

std::map<std::string, double> decayed_usage(const PolicyContext& context) {
  std::map<std::string, double> usage;
  const Snapshot& snapshot = context.snapshot;
  const double half_life = context.config.fair_half_life_s;
  for (const FinishedJob& done : snapshot.finished) {
    const double age = std::max(0.0, snapshot.now_s - done.end_time_s);
    usage[done.user] += done.gpu_seconds * std::exp2(-age / half_life);
  }
  for (const RunningJob& running : snapshot.running) {
    const double ran = std::max(0.0, snapshot.now_s - running.start_time_s);
    usage[running.job.user] += ran * static_cast<double>(running.gpus.size());
  }
  return usage;
}

double expected_gpu_seconds(const Job& job, const PolicyContext& context) {
  const double gpus = job.gpus > 0 ? job.gpus * job.util_share : 0.0;
  return gpus * job.time_limit_s.value_or(context.config.fair_default_job_gpu_s);
}

class FairPolicy final : public Policy {
 public:
  std::string_view name() const override { return "fair"; }
  bool stable_keys() const override { return false; }  // usage changes with time and runs
  void rank(std::span<const Job* const> jobs, const PolicyContext& context,
            std::span<double> keys) const override {
    std::map<std::string, double> usage = decayed_usage(context);
    std::vector<std::size_t> order(jobs.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (jobs[a]->submit_time_s != jobs[b]->submit_time_s) {
        return jobs[a]->submit_time_s < jobs[b]->submit_time_s;
      }
      return jobs[a]->id < jobs[b]->id;
    });
    for (std::size_t i : order) {
      double& used = usage[jobs[i]->user];
      keys[i] = used;
      used += expected_gpu_seconds(*jobs[i], context);
    }
  }
};

}  // namespace

std::unique_ptr<Policy> make_fair_policy() { return std::make_unique<FairPolicy>(); }

}  // namespace fastgpu::sched
