// Dependency lookups for one snapshot. Only jobs that something depends on are indexed,
// so a 100k-job queue without dependencies costs one pass.
#pragma once

#include <unordered_map>

#include "fastgpu/core/result.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched {

enum class TargetState { kUnknown, kQueued, kRunning, kSucceeded, kFailed };

class DependencyIndex {
 public:
  explicit DependencyIndex(const Snapshot& snapshot);

  TargetState state(JobId id) const;
  // Every dependency ended the way it asks for.
  bool satisfied(const Job& job) const;
  // Some after-ok dependency failed or was cancelled: the job can never start.
  bool never_satisfiable(const Job& job) const;
  // Unknown targets and cycles among queued jobs, as a clear error.
  Status check(const Snapshot& snapshot) const;

 private:
  bool satisfied(const Dependency& dependency) const;
  std::unordered_map<JobId, TargetState> targets_;
  std::unordered_map<JobId, const Job*> queued_targets_;
};

}  // namespace fastgpu::sched
