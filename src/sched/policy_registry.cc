#include <array>

#include "fastgpu/sched/policy.h"
#include "sched/policies/policies.h"

namespace fastgpu::sched {

namespace {

struct Registration {
  const char* name;
  std::unique_ptr<Policy> (*make)();
};

// An explicit table rather than static self-registration: objects in a static library
// that nothing references are dropped by the linker, and the table keeps the order stable.
constexpr std::array<Registration, 7> kPolicies = {{
    {"fifo", make_fifo_policy},
    {"priority", make_priority_policy},
    {"sjf", make_sjf_policy},
    {"srtf", make_srtf_policy},
    {"edf", make_edf_policy},
    {"las", make_las_policy},
    {"fair", make_fair_policy},
}};

}  // namespace

double Policy::running_key(const RunningJob& /*running*/, const PolicyContext& /*context*/) const {
  return kUnknownKey;
}

std::unique_ptr<Policy> make_policy(std::string_view name) {
  for (const Registration& entry : kPolicies) {
    if (name == entry.name) return entry.make();
  }
  return nullptr;
}

std::vector<std::string> policy_names() {
  std::vector<std::string> names;
  for (const Registration& entry : kPolicies) names.emplace_back(entry.name);
  return names;
}

}  // namespace fastgpu::sched
