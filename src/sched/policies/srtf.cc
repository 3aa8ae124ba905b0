// srtf: shortest remaining time first, preemptive, with the true duration (a simulation
// baseline). A waiting job evicts a restartable running job with more time left. Without
// an oracle duration the time limit stands in for it.
#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

double total_seconds(const Job& job) {
  if (job.oracle_duration_s) return *job.oracle_duration_s;
  if (job.time_limit_s) return *job.time_limit_s;
  return kUnknownKey;
}

class SrtfPolicy final : public Policy {
 public:
  std::string_view name() const override { return "srtf"; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& /*context*/,
            std::span<double> keys) const override {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      keys[i] = total_seconds(*jobs[i]) - jobs[i]->attained_run_s;
    }
  }
  bool preemptive() const override { return true; }
  double running_key(const RunningJob& running, const PolicyContext& context) const override {
    const double ran = context.snapshot.now_s - running.start_time_s;
    return total_seconds(running.job) - running.job.attained_run_s - ran;
  }
};

}  // namespace

std::unique_ptr<Policy> make_srtf_policy() { return std::make_unique<SrtfPolicy>(); }

}  // namespace fastgpu::sched
