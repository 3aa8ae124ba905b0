// Input checks for schedule(). Every message names the bad value and says how to fix it.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "fastgpu/sched/placer.h"
#include "fastgpu/sched/policy.h"
#include "fastgpu/sched/scheduler.h"
#include "sched/dependencies.h"
#include "sched/validate_internal.h"

namespace fastgpu::sched {

namespace {

std::string job_name(const Job& job) { return "job " + to_string(job.id); }

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

bool finite_nonnegative(double value) { return std::isfinite(value) && value >= 0.0; }

Status check_fraction(const char* field, double value, bool zero_ok) {
  const bool low_ok = zero_ok ? value >= 0.0 : value > 0.0;
  if (std::isfinite(value) && low_ok && value <= 1.0) return {};
  return invalid_argument(std::string(field) + " = " + std::to_string(value) +
                          (zero_ok ? " is outside [0, 1]" : " is outside (0, 1]") +
                          "; use a fraction such as 0.5");
}

Status check_names(const SchedulerConfig& config) {
  if (make_policy(config.policy) == nullptr) {
    return invalid_argument("unknown policy '" + config.policy + "'; use one of " +
                            join(policy_names()));
  }
  if (make_placer(config.strategy) == nullptr) {
    return invalid_argument("unknown placement strategy '" + config.strategy + "'; use one of " +
                            join(placer_names()));
  }
  return {};
}

Status check_job_numbers(const Job& job) {
  if (job.gpus < 0) {
    return invalid_argument(job_name(job) + " asks for " + std::to_string(job.gpus) +
                            " GPUs; use 0 or more");
  }
  if (!(std::isfinite(job.util_share) && job.util_share > 0.0 && job.util_share <= 1.0)) {
    return invalid_argument(job_name(job) + " has utilization share " +
                            std::to_string(job.util_share) +
                            "; use a share in (0, 1], 1 for exclusive use");
  }
  if (job.time_limit_s && !(std::isfinite(*job.time_limit_s) && *job.time_limit_s > 0.0)) {
    return invalid_argument(
        fmt::format("{} has time limit {:g} s; give a positive, finite duration, or none for no "
                    "limit",
                    job_name(job), *job.time_limit_s));
  }
  if (job.deadline_s && !std::isfinite(*job.deadline_s)) {
    return invalid_argument(job_name(job) + " has a deadline that is not a finite time");
  }
  if (!std::isfinite(job.submit_time_s) || !finite_nonnegative(job.attained_run_s)) {
    return invalid_argument(job_name(job) +
                            " has a submit time or attained service that is not a finite, "
                            "non-negative number of seconds");
  }
  if (job.oracle_duration_s && !finite_nonnegative(*job.oracle_duration_s)) {
    return invalid_argument(job_name(job) + " has a negative or infinite oracle duration");
  }
  return {};
}

}  // namespace

Status validate_config(const SchedulerConfig& config) {
  FASTGPU_RETURN_IF_ERROR(check_names(config));
  if (!finite_nonnegative(config.aging_per_hour)) {
    return invalid_argument("aging_per_hour must be a finite number >= 0");
  }
  if (!std::is_sorted(config.las_thresholds_gpu_s.begin(), config.las_thresholds_gpu_s.end())) {
    return invalid_argument("las thresholds must be in increasing order of GPU-seconds");
  }
  if (!(std::isfinite(config.fair_half_life_s) && config.fair_half_life_s > 0.0)) {
    return invalid_argument("fair_half_life_s must be a positive number of seconds");
  }
  FASTGPU_RETURN_IF_ERROR(check_fraction("auto_percentile", config.auto_percentile, false));
  FASTGPU_RETURN_IF_ERROR(
      check_fraction("overload_utilization", config.overload_utilization, true));
  FASTGPU_RETURN_IF_ERROR(check_fraction("idle_utilization", config.idle_utilization, true));
  if (!finite_nonnegative(config.auto_margin) || !finite_nonnegative(config.balance_min_gain) ||
      !finite_nonnegative(config.min_run_before_preempt_s) ||
      !finite_nonnegative(config.min_run_before_move_s) ||
      !finite_nonnegative(config.fair_default_job_gpu_s)) {
    return invalid_argument(
        "auto_margin, balance_min_gain, fair_default_job_gpu_s and the minimum run times "
        "must be finite numbers >= 0");
  }
  return {};
}

namespace detail {

ClusterLimits cluster_limits(const std::vector<GpuState>& gpus) {
  ClusterLimits limits;
  std::map<std::string, int> per_node;
  for (const GpuState& gpu : gpus) {
    per_node[gpu.node] += 1;
    limits.total_gpus += 1;
    limits.largest_bytes = std::max(limits.largest_bytes, gpu.total_bytes);
  }
  for (const auto& [node, count] : per_node) {
    if (count > limits.most_gpus) limits.most_gpus = count, limits.most_node = node;
  }
  return limits;
}

Status check_job(const Job& job, const ClusterLimits& limits) {
  FASTGPU_RETURN_IF_ERROR(check_job_numbers(job));
  if (job.gpus == 0) return {};
  if (limits.multi_node && job.gpus > limits.most_gpus) {
    if (job.gpus > limits.total_gpus) {
      return invalid_argument(job_name(job) + " asks for " + std::to_string(job.gpus) +
                              " GPUs, but the cluster has " + std::to_string(limits.total_gpus) +
                              "; ask for at most " + std::to_string(limits.total_gpus));
    }
  } else if (job.gpus > limits.most_gpus) {
    return invalid_argument(
        job_name(job) + " asks for " + std::to_string(job.gpus) + " GPUs on one node, but " +
        (limits.most_gpus == 0 ? std::string("the cluster has no GPU")
                               : "the largest node (" + limits.most_node + ") has " +
                                     std::to_string(limits.most_gpus)) +
        "; ask for at most " + std::to_string(limits.most_gpus));
  }
  if (job.gpu_mem && *job.gpu_mem > limits.largest_bytes) {
    return invalid_argument(job_name(job) + " declares " + format_bytes(*job.gpu_mem) +
                            " per GPU, more than the largest GPU's " +
                            format_bytes(limits.largest_bytes) + "; declare at most " +
                            format_bytes_exact(limits.largest_bytes));
  }
  return {};
}

Status check_gpu_list(const std::vector<GpuState>& gpus) {
  std::set<int> seen;
  for (const GpuState& gpu : gpus) {
    if (gpu.index < 0 || !seen.insert(gpu.index).second) {
      return invalid_argument("GPU index " + std::to_string(gpu.index) +
                              " is negative or listed twice; give each GPU a unique index >= 0");
    }
    if (!(std::isfinite(gpu.util_cap) && gpu.util_cap > 0.0 && gpu.util_cap <= 1.0)) {
      return invalid_argument("GPU " + std::to_string(gpu.index) + " has utilization cap r = " +
                              std::to_string(gpu.util_cap) + "; use a value in (0, 1]");
    }
  }
  return {};
}

}  // namespace detail

Status validate_job(const Job& job, const std::vector<GpuState>& gpus) {
  return detail::check_job(job, detail::cluster_limits(gpus));
}

namespace {

// Ids are usually handed out in increasing order, so a sorted queue is checked in one pass.
Status check_unique_ids(const Snapshot& snapshot) {
  std::vector<JobId> ids;
  ids.reserve(snapshot.queue.size() + snapshot.running.size());
  for (const Job& job : snapshot.queue) ids.push_back(job.id);
  for (const RunningJob& running : snapshot.running) ids.push_back(running.job.id);
  if (!std::is_sorted(ids.begin(), ids.end())) std::sort(ids.begin(), ids.end());
  auto duplicate = std::adjacent_find(ids.begin(), ids.end());
  if (duplicate == ids.end()) return {};
  return invalid_argument("job id " + to_string(*duplicate) +
                          " appears twice among queued and running jobs; ids must be unique");
}

Status check_running(const Snapshot& snapshot) {
  std::set<int> known;
  for (const GpuState& gpu : snapshot.gpus) known.insert(gpu.index);
  for (const RunningJob& running : snapshot.running) {
    FASTGPU_RETURN_IF_ERROR(check_job_numbers(running.job));
    for (int gpu : running.gpus) {
      if (known.count(gpu) == 0) {
        return invalid_argument("running " + job_name(running.job) + " is on GPU " +
                                std::to_string(gpu) + ", which the snapshot does not list");
      }
    }
  }
  return {};
}

}  // namespace

Status validate_snapshot(const Snapshot& snapshot) {
  return detail::validate_snapshot(snapshot, false);
}

Status detail::validate_snapshot(const Snapshot& snapshot, bool multi_node) {
  if (!std::isfinite(snapshot.now_s)) return invalid_argument("the snapshot time is not finite");
  FASTGPU_RETURN_IF_ERROR(detail::check_gpu_list(snapshot.gpus));
  detail::ClusterLimits limits = detail::cluster_limits(snapshot.gpus);
  limits.multi_node = multi_node;
  for (const Job& job : snapshot.queue) FASTGPU_RETURN_IF_ERROR(detail::check_job(job, limits));
  FASTGPU_RETURN_IF_ERROR(check_unique_ids(snapshot));
  FASTGPU_RETURN_IF_ERROR(check_running(snapshot));
  return DependencyIndex(snapshot).check(snapshot);
}

}  // namespace fastgpu::sched
