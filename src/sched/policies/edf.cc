// edf: earliest deadline first. Jobs without a deadline go after every job with one.
#include "sched/policies/policies.h"

namespace fastgpu::sched {
namespace {

class EdfPolicy final : public Policy {
 public:
  std::string_view name() const override { return "edf"; }
  void rank(std::span<const Job* const> jobs, const PolicyContext& /*context*/,
            std::span<double> keys) const override {
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      keys[i] = jobs[i]->deadline_s.value_or(kUnknownKey);
    }
  }
};

}  // namespace

std::unique_ptr<Policy> make_edf_policy() { return std::make_unique<EdfPolicy>(); }

}  // namespace fastgpu::sched
