// sjf: shortest job first, by the best run-time guess available: the true duration in
// oracle mode (simulation only), else the learned median of the signature's past runs,
// else the time limit. Jobs with none of these go last, in FIFO order.
#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

double expected_seconds(const Job& job, const PolicyContext& context) {
  if (context.config.sjf_oracle && job.oracle_duration_s) return *job.oracle_duration_s;
  if (auto learned = context.estimates.run_seconds(job.signature)) return *learned;
  if (job.time_limit_s) return *job.time_limit_s;
  return kUnknownKey;
}

class SjfPolicy final : public Policy {
 public:
  std::string_view name() const override { return "sjf"; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& context,
            std::span<double> keys) const override {
    for (std::size_t i = 0; i < jobs.size(); ++i) keys[i] = expected_seconds(*jobs[i], context);
  }
  bool reads_run_estimates() const override { return true; }
  bool reads_run_estimate(const Job& job, const SchedulerConfig& config) const override {
    return !(config.sjf_oracle && job.oracle_duration_s);
  }
  bool key_is_run_estimate(const Job& job, const SchedulerConfig& config) const override {
    return reads_run_estimate(job, config);
  }
};

}  // namespace

std::unique_ptr<Policy> make_sjf_policy() { return std::make_unique<SjfPolicy>(); }

}  // namespace fastgpu::sched
