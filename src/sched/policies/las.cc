// las: least attained service, after Tiresias (NSDI'19): jobs sit in discretized queues by
// the GPU-seconds they have received (GPUs x run time); a lower queue runs first, FIFO
// within a queue. Discretizing keeps jobs from flapping on every small service change.
// Preemptive: a waiting job evicts a restartable running job from a higher queue.
#include <algorithm>

#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

double queue_of(double attained_gpu_s, const std::vector<double>& thresholds) {
  const auto passed =
      std::upper_bound(thresholds.begin(), thresholds.end(), attained_gpu_s) - thresholds.begin();
  return static_cast<double>(passed);
}

double gpu_count(const Job& job) { return job.gpus > 0 ? job.gpus : 1; }

class LasPolicy final : public Policy {
 public:
  std::string_view name() const override { return "las"; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& context,
            std::span<double> keys) const override {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const double attained = jobs[i]->attained_run_s * gpu_count(*jobs[i]);
      keys[i] = queue_of(attained, context.config.las_thresholds_gpu_s);
    }
  }
  bool preemptive() const override { return true; }
  double running_key(const RunningJob& running, const PolicyContext& context) const override {
    const double ran = context.snapshot.now_s - running.start_time_s;
    const double attained = (running.job.attained_run_s + ran) * gpu_count(running.job);
    return queue_of(attained, context.config.las_thresholds_gpu_s);
  }
};

}  // namespace

std::unique_ptr<Policy> make_las_policy() { return std::make_unique<LasPolicy>(); }

}  // namespace fastgpu::sched
