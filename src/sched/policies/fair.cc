// fair: the user who has used the least GPU time goes first. Usage is the GPU-seconds of
// each user's finished jobs, halved every fair_half_life_s, plus what their running jobs
// have used so far. Within one call a user's queued jobs add their expected GPU-seconds
// one after another, so two users' queues interleave instead of one draining first. The
// arithmetic (fair_usage.h) is the kept scheduler's too (fair_keys.h), which keeps these
// keys as the queue changes instead of calling rank() on the whole queue.
#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "sched/policies/fair_usage.h"
#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

class FairPolicy final : public Policy {
 public:
  std::string_view name() const override { return "fair"; }
  bool stable_keys() const override { return false; }  // usage changes with time and runs
  bool keys_from_user_usage() const override { return true; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& context,
            std::span<double> keys) const override {
    const Snapshot& snapshot = context.snapshot;
    const SchedulerConfig& config = context.config;
    struct Usage {
      fair::UserUsage used;
      std::int64_t queued_ms = 0;  // the user's jobs ranked so far
    };
    std::map<std::string, Usage> usage;
    for (const FinishedJob& done : snapshot.finished) {
      usage[done.user].used.add_finished(done, config);
    }
    for (const RunningJob& running : snapshot.running) {
      usage[running.job.user].used.change_running(running, 1);
    }
    for (auto& [user, one] : usage) one.used.settle(snapshot.now_s, config);
    std::vector<std::size_t> order(jobs.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (jobs[a]->submit_time_s != jobs[b]->submit_time_s) {
        return jobs[a]->submit_time_s < jobs[b]->submit_time_s;
      }
      return jobs[a]->id < jobs[b]->id;
    });
    for (std::size_t i : order) {
      Usage& one = usage[jobs[i]->user];
      keys[i] = one.used.key(one.queued_ms);
      one.queued_ms += fair::expected_ms(*jobs[i], config);
    }
  }
};

}  // namespace

std::unique_ptr<Policy> make_fair_policy() { return std::make_unique<FairPolicy>(); }

}  // namespace fastgpu::sched
