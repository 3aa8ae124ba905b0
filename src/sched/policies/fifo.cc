// fifo: first submitted, first served. The key is the submit time itself.
#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

class FifoPolicy final : public Policy {
 public:
  std::string_view name() const override { return "fifo"; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& /*context*/,
            std::span<double> keys) const override {
    for (std::size_t i = 0; i < jobs.size(); ++i) keys[i] = jobs[i]->submit_time_s;
  }
};

}  // namespace

std::unique_ptr<Policy> make_fifo_policy() { return std::make_unique<FifoPolicy>(); }

}  // namespace fastgpu::sched
