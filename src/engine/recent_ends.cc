#include "engine/recent_ends.h"

#include <utility>

#include "engine/convert.h"
#include "engine/snapshot_builder.h"

namespace fastgpu::engine {

using store::JobRecord;
using store::JobState;

namespace {

bool weighed(const JobRecord& job, double oldest_s) {
  return store::is_terminal(job.state) && job.end_time && to_seconds(*job.end_time) >= oldest_s;
}

}  // namespace

Status RecentEnds::refresh(store::StateStore& store, double oldest_s) {
  if (stale_) {
    store::JobFilter filter;
    filter.states = {JobState::kCompleted, JobState::kFailed, JobState::kCancelled,
                     JobState::kTimeout};
    Result<std::vector<JobRecord>> jobs = store.list_jobs(filter);
    if (!jobs.ok()) return jobs.status().with_context("reading the ended jobs");
    jobs_.clear();
    for (const JobRecord& job : *jobs) {
      if (weighed(job, oldest_s)) jobs_.emplace(job.id, finished_job(job));
    }
    pending_.clear();
    stale_ = false;
    ++reads_;
    return {};
  }
  for (JobId id : pending_) {
    Result<JobRecord> job = store.get_job(id);
    if (!job.ok()) {
      invalidate();
      return job.status().with_context("reading ended job " + to_string(id));
    }
    if (weighed(*job, oldest_s)) jobs_.insert_or_assign(id, finished_job(*job));
  }
  pending_.clear();
  std::erase_if(jobs_,
                [oldest_s](const auto& entry) { return entry.second.end_time_s < oldest_s; });
  return {};
}

}  // namespace fastgpu::engine
