// Checks shared by validate.cc and the Scheduler kept between calls (scheduler.cc).
#pragma once

#include <string>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched::detail {

// What the biggest job the cluster can hold looks like.
struct ClusterLimits {
  int most_gpus = 0;  // GPUs on the largest node
  std::string most_node;
  Bytes largest_bytes = 0;  // total memory of the largest GPU
  int total_gpus = 0;
  bool multi_node = false;  // SchedulerConfig::multi_node: a job may span nodes
};

ClusterLimits cluster_limits(const std::vector<GpuState>& gpus);
// One queued job's numbers and its fit on the cluster.
Status check_job(const Job& job, const ClusterLimits& limits);
// Unique indexes >= 0 and utilization caps in (0, 1].
Status check_gpu_list(const std::vector<GpuState>& gpus);
// validate_snapshot(), with jobs spanning nodes allowed or not.
Status validate_snapshot(const Snapshot& snapshot, bool multi_node);

}  // namespace fastgpu::sched::detail
