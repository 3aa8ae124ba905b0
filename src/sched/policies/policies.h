// Factories of the built-in policies, one file each; policy_registry.cc lists them by name.
#pragma once

#include <memory>

#include "fastgpu/sched/policy.h"

namespace fastgpu::sched {

std::unique_ptr<Policy> make_fifo_policy();
std::unique_ptr<Policy> make_priority_policy();
std::unique_ptr<Policy> make_sjf_policy();
std::unique_ptr<Policy> make_srtf_policy();
std::unique_ptr<Policy> make_edf_policy();
std::unique_ptr<Policy> make_las_policy();
std::unique_ptr<Policy> make_fair_policy();

// A key no real estimate reaches, for jobs with nothing to order by (they go last, FIFO).
inline constexpr double kUnknownKey = 1e300;

}  // namespace fastgpu::sched
