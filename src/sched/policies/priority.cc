// priority: larger priority first, with aging so nothing starves. A job's effective
// priority grows by aging_per_hour for every hour it waits, so a low-priority job
// eventually overtakes any stream of newer higher-priority jobs.
#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

class PriorityPolicy final : public Policy {
 public:
  std::string_view name() const override { return "priority"; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& context,
            std::span<double> keys) const override {
    // The effective priority at time t is priority + per_second * (t - submit). Every
    // waiting job ages at the same rate, so the order never changes with t: the key drops
    // the common term per_second * t and stays fixed while the job waits.
    const double per_second = context.config.aging_per_hour / 3600.0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      keys[i] = -(static_cast<double>(jobs[i]->priority) - per_second * jobs[i]->submit_time_s);
    }
  }
};

}  // namespace

std::unique_ptr<Policy> make_priority_policy() { return std::make_unique<PriorityPolicy>(); }

}  // namespace fastgpu::sched
