#include "engine/mirror_check.h"

#include <algorithm>
#include <vector>

namespace fastgpu::engine {

Result<bool> must_read_again(store::StateStore& store, store::JobState state,
                             const std::map<JobId, store::JobRecord>& jobs, bool stale,
                             double& checked_at_s, double now_s) {
  if (stale) return true;
  if (now_s - checked_at_s < kMirrorCheckSeconds) return false;
  store::JobFilter filter;
  filter.states = {state};
  Result<std::vector<JobId>> ids = store.list_job_ids(filter);
  if (!ids.ok()) return ids.status();
  std::sort(ids->begin(), ids->end());
  const bool same = std::equal(ids->begin(), ids->end(), jobs.begin(), jobs.end(),
                               [](JobId id, const auto& entry) { return id == entry.first; });
  if (same) checked_at_s = now_s;
  return !same;
}

}  // namespace fastgpu::engine
